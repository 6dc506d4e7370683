"""The Fiken sandbox refuses what Fiken refuses, in its own shapes: so the connector's preflight is tested against
real rules, not against what the sandbox happens to let through."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import httpx
import pytest

from sandboxes.fiken import Company, FikenSandbox

TOKEN = {"Authorization": "Bearer sandbox-personal-token"}


def post(box: FikenSandbox, lines: list[dict[str, Any]], *, date: str = "2026-11-04", text: str = "[S-1] Test",
         **extra: Any) -> httpx.Response:
    body = {"description": text, "journalEntries": [{"description": text, "date": date, "lines": lines}], **extra}
    return httpx.post(f"{box.base_url}/companies/{box.company.slug}/generalJournalEntries", json=body, headers=TOKEN)


SALE = [{"amount": 12500, "debitAccount": "1920"}, {"amount": 10000, "creditAccount": "3000", "creditVatCode": 3}]


def test_an_entry_is_booked_with_the_vat_fiken_adds_and_located_by_its_transaction(sandbox: FikenSandbox) -> None:
    answer = post(sandbox, SALE, open=True)
    assert answer.status_code == 201 and answer.content == b""
    assert answer.headers["Location"].startswith(f"{sandbox.base_url}/companies/fjordbakst-as/transactions/")
    [entry] = sandbox.entries
    assert entry["_open"] is True and entry["lines"] == [{"amount": 12500, "account": "1920"},
                                                         {"amount": -10000, "account": "3000", "vatCode": "3"},
                                                         {"amount": -2500, "account": "2700"}]
    listed = httpx.get(f"{sandbox.base_url}/companies/fjordbakst-as/journalEntries", headers=TOKEN,
                       params={"date": "2026-11-04"}).json()
    assert listed[0]["description"] == "Fri postering registrert via API: [S-1] Test"
    assert "_open" not in listed[0] and listed[0]["transactionId"] == int(answer.headers["Location"].split("/")[-1])


@pytest.mark.parametrize(("lines", "said"), [
    ([{"amount": 12500, "debitAccount": "1920"}, {"amount": 12500, "creditAccount": "3000", "creditVatCode": 3}],
     "går ikke i balanse"),
    ([{"amount": 100, "debitAccount": "2999"}, {"amount": 100, "creditAccount": "1920"}], "konto 2999 finnes ikke"),
    ([{"amount": 100, "debitAccount": "1500"}, {"amount": 100, "creditAccount": "1920"}], "reskontro"),
    ([{"amount": 100, "debitAccount": "1920", "debitVatCode": 3}, {"amount": 100, "creditAccount": "3000"}],
     "mva-kode 3 kan ikke brukes på konto 1920"),
    ([{"amount": 100, "debitAccount": "6800", "debitVatCode": 81}, {"amount": 100, "creditAccount": "1920"}],
     "ukjent mva-kode"),
    ([{"amount": 100, "debitVatCode": 1, "creditAccount": "1920"}], "uten debetkonto"),
    ([{"amount": 0, "debitAccount": "6800"}, {"amount": 0, "creditAccount": "1920"}], "større enn 0"),
    ([{"amount": "1.00", "debitAccount": "6800"}, {"amount": 100, "creditAccount": "1920"}], "heltall"),
    ([{"amount": 100, "debitAccount": "6800", "projectId": [1]}, {"amount": 100, "creditAccount": "1920"}],
     "skrivebeskyttet"),
    ([{"amount": 100, "debitAccount": "6800", "description": "x"}, {"amount": 100, "creditAccount": "1920"}],
     "Ukjent felt"),
])
def test_what_fiken_refuses_is_a_400_in_its_words(sandbox: FikenSandbox, lines: list[dict[str, Any]],
                                                  said: str) -> None:
    answer = post(sandbox, lines)
    assert answer.status_code == 400 and said in answer.json()["message"]
    assert answer.json()["status"] == 400 and answer.headers["X-Request-ID"]
    assert sandbox.entries == []


def test_the_description_counts_fikens_own_prefix(sandbox: FikenSandbox) -> None:
    assert post(sandbox, SALE, text="x" * 166).status_code == 201
    answer = post(sandbox, SALE, text="y" * 167)
    assert answer.status_code == 400 and "200 tegn" in answer.json()["message"]


def test_dates_before_the_accounting_start_or_in_a_locked_period_are_refused(sandbox: FikenSandbox) -> None:
    assert "startdato" in post(sandbox, SALE, date="2023-12-31").json()["message"]
    sandbox.company.locked_through = dt.date(2026, 10, 31)
    assert "låst" in post(sandbox, SALE, date="2026-10-31").json()["message"]
    assert post(sandbox, SALE, date="2026-11-01").status_code == 201


def test_json_only(sandbox: FikenSandbox) -> None:
    answer = httpx.post(f"{sandbox.base_url}/companies/fjordbakst-as/generalJournalEntries", content=b"a=b",
                        headers={**TOKEN, "Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 415


def test_keys_companies_and_the_api_add_on(sandbox: FikenSandbox) -> None:
    base = sandbox.base_url
    assert httpx.get(f"{base}/companies", headers={"Authorization": "Bearer nei"}).status_code == 401
    listed = httpx.get(f"{base}/companies", headers=TOKEN)
    assert listed.headers["Fiken-Api-Result-Count"] == "2" and {c["slug"] for c in listed.json()} == set(sandbox.reach)
    assert httpx.get(f"{base}/companies/finnes-ikke", headers=TOKEN).status_code == 404
    sandbox.reach.discard("annen-bedrift-as")
    assert httpx.get(f"{base}/companies/annen-bedrift-as", headers=TOKEN).status_code == 403
    sandbox.company.has_api_access = False
    assert httpx.get(f"{base}/companies/fjordbakst-as/accounts/3000", headers=TOKEN).status_code == 403


def test_lists_are_paged_as_fiken_pages_them(sandbox: FikenSandbox) -> None:
    url = f"{sandbox.base_url}/companies/fjordbakst-as/contacts"
    page = httpx.get(url, headers=TOKEN, params={"page": 1, "pageSize": 4})
    assert [page.headers[h] for h in ("Fiken-Api-Page", "Fiken-Api-Page-Size", "Fiken-Api-Page-Count",
                                      "Fiken-Api-Result-Count")] == ["1", "4", "2", "6"]
    assert len(page.json()) == 2
    assert httpx.get(url, headers=TOKEN, params={"pageSize": 101}).status_code == 400
    found = httpx.get(url, headers=TOKEN, params={"customerNumber": 10001}).json()
    assert [c["customerAccountCode"] for c in found] == ["1500:10001"]


def test_a_second_concurrent_request_is_refused_with_429(sandbox: FikenSandbox) -> None:
    # Long enough that the second request is surely sent while the first is held, however busy the machine (0.4 s
    # was not: the second client's set-up alone can take that long under load).
    sandbox.faults.slow_seconds = 2.0
    sandbox.faults.add(r"/accounts/3000$", "GET", "slow")
    slow = threading.Thread(target=httpx.get, args=(f"{sandbox.base_url}/companies/fjordbakst-as/accounts/3000",),
                            kwargs={"headers": TOKEN})
    slow.start()
    while not sandbox.faults.fired:
        pass
    second = httpx.get(f"{sandbox.base_url}/companies/fjordbakst-as/accounts/1920", headers=TOKEN)
    slow.join()
    assert second.status_code == 429 and second.headers["Retry-After"] == "1" and sandbox.concurrent_refusals == 1


def test_oauth_refresh_tokens_rotate_and_access_tokens_expire() -> None:
    with FikenSandbox(access_seconds=0.0) as box:
        client = ("bilagsbro-sandbox-app", "sandbox-client-secret")
        first = httpx.post(box.token_url, auth=client, data={"grant_type": "refresh_token",
                                                             "refresh_token": "sandbox-refresh-token"}).json()
        assert first["token_type"] == "bearer" and first["refresh_token"] != "sandbox-refresh-token"
        spent = httpx.post(box.token_url, auth=client, data={"grant_type": "refresh_token",
                                                             "refresh_token": "sandbox-refresh-token"})
        assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"
        wrong = httpx.post(box.token_url, auth=("bilagsbro-sandbox-app", "nei"),
                           data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        expired = httpx.get(f"{box.base_url}/companies", headers={"Authorization": f"Bearer {first['access_token']}"})
        assert expired.status_code == 401 and expired.json()["error"] == "invalid_token"


def test_a_company_can_be_made_for_a_test() -> None:
    company = Company(slug="tom-as", name="Tom AS").seed()
    assert "1500:10001" in company.accounts and company.contacts
