"""Tripletex's rules beyond its spec, in the sandbox (with Tripletex's words) and in our preflight (per line).

VAT-locked accounts, the 70-character external voucher number, the required description, the balance per
posting date, closed accounting periods and reported VAT terms. Sources and what is unverified: docs/fidelity.md.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tripletex_support import Harness

from connectors.targets import tripletex
from connectors.targets.tripletex import Register, periods, voucher_payload
from connectors.targets.tripletex.mapping import balance_per_date
from pipeline.errors import ConfigError, DataError
from pipeline.ledger import deliver_once, ledger_entry
from pipeline.memory import MemoryTables
from pipeline.model import Voucher
from sandboxes.tripletex import TripletexSandbox


@pytest.fixture
def api(sandbox: TripletexSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url + "/", timeout=5) as client:
        token = client.put("token/session/:create", params={
            "consumerToken": sandbox.consumer_token, "employeeToken": sandbox.employee_token,
            "expirationDate": "2030-01-01"}).json()["value"]["token"]
        client.auth = httpx.BasicAuth("0", token)
        yield client


def body(sandbox: TripletexSandbox, *postings: tuple[int, str, str | None, str], **head: Any) -> dict[str, Any]:
    """A voucher body of (account, gross, VAT code, date) postings, rows from 1."""
    company = sandbox.company
    rows = []
    for row, (account, gross, vat, date) in enumerate(postings, 1):
        posting: dict[str, Any] = {"row": row, "date": date, "account": {"id": company.account(account)["id"]},
                                   "amountGross": float(gross), "amountGrossCurrency": float(gross)}
        if vat is not None:
            posting["vatType"] = {"id": company.vat_type(vat)["id"]}
        rows.append(posting)
    return {"date": postings[0][3], "description": "Kontantsalg Røros", "postings": rows, **head}


def post(api: httpx.Client, payload: dict[str, Any]) -> httpx.Response:
    return api.post("ledger/voucher", params={"sendToLedger": "false"},
                    content=json.dumps(payload, ensure_ascii=False).encode(),
                    headers={"Content-Type": "application/json; charset=utf-8"})


def refusal(response: httpx.Response) -> list[tuple[str, str | None, str]]:
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == 18000 and error["developerMessage"] == "VALIDATION_ERROR"
    return [(m["field"], m["path"], m["message"]) for m in error["validationMessages"]]


def sale(reference: str, *, date: str = "2026-11-02", vat_code: str | None = "3", account: str = "3000",
         description: str | None = "Kontantsalg") -> Voucher:
    return Voucher(reference=reference, date=date, description=description,
                   lines=[{"account": "1920", "amount": "500.00"},
                          {"account": account, "amount": "-500.00", "vat_code": vat_code}])


# -- VAT-locked accounts ----------------------------------------------------------------------------

def test_the_sandbox_refuses_another_vat_code_on_a_locked_account_in_tripletexs_words(
        api: httpx.Client, sandbox: TripletexSandbox) -> None:
    sandbox.company.lock_vat(3000, "3")
    found = api.get("ledger/account", params={"number": "3000"}).json()["values"][0]
    assert found["vatLocked"] is True and found["vatType"] == {"id": sandbox.company.vat_type("3")["id"]}
    assert found["legalVatTypes"] == [found["vatType"]]
    wrong = post(api, body(sandbox, (1920, "500", None, "2026-11-02"), (3000, "-500", "31", "2026-11-02")))
    assert refusal(wrong) == [("postings.vatType.id", None,
                               "Kontoen 3000 Salgsinntekt, avgiftspliktig er låst til mva-kode 3: "
                               "Utgående avgift, høy sats.")]
    none = post(api, body(sandbox, (1920, "500", None, "2026-11-02"), (3000, "-500", None, "2026-11-02")))
    assert "er låst til mva-kode 3" in refusal(none)[0][2]
    # 1920 is locked to VAT type 0 (as in real companies): no VAT type there is right, 0 is right, 3 is not.
    right = post(api, body(sandbox, (1920, "500", "0", "2026-11-02"), (3000, "-500", "3", "2026-11-02")))
    assert right.status_code == 201
    sandbox.company.allow_vat(3100, "5", "6")
    illegal = post(api, body(sandbox, (1920, "100", None, "2026-11-02"), (3100, "-100", "3", "2026-11-02")))
    assert refusal(illegal)[0][:2] == ("postings.vatType.id", None)
    assert len(sandbox.vouchers) == 1


def test_preflight_reports_each_line_on_a_vat_locked_account(h: Harness) -> None:
    h.sandbox.company.lock_vat(3000, "3")
    h.sandbox.company.allow_vat(3100, "5", "6")
    voucher = Voucher(reference="MVA-1", date="2026-11-02", description="Salg", lines=[
        {"account": "1920", "amount": "1000.00"},
        {"account": "3000", "amount": "-300.00", "vat_code": "31"},
        {"account": "3000", "amount": "-300.00", "vat_code": "3"},
        {"account": "3000", "amount": "-200.00"},
        {"account": "3100", "amount": "-200.00", "vat_code": "3"},
    ])
    problems = h.target().preflight([voucher])
    assert sorted((p.field, p.code) for p in problems) == [
        ("lines[1].vat_code", "vat-locked-account"), ("lines[3].vat_code", "vat-locked-account"),
        ("lines[4].vat_code", "vat-code-not-allowed")]
    by_field = {p.field: p.message for p in problems}
    assert by_field["lines[1].vat_code"] == ("account 3000 is locked to VAT code 3 (Utgående avgift, høy sats) in "
                                             "Tripletex; the line has VAT code 31")
    assert by_field["lines[3].vat_code"].endswith("the line has no VAT code")
    assert by_field["lines[4].vat_code"] == "VAT code 3 is not allowed on account 3100 in Tripletex (allowed: 5, 6)"
    with pytest.raises(DataError) as caught:
        h.target().deliver(voucher)
    assert {p.code for p in caught.value.problems} == {"vat-locked-account", "vat-code-not-allowed"}
    assert h.sandbox.count("POST", "/v2/ledger/voucher") == 0


def test_the_locked_vat_type_is_named_even_when_no_line_uses_it(h: Harness) -> None:
    h.sandbox.company.lock_vat(3000, "3")
    [problem] = h.target().preflight([sale("MVA-2", vat_code="31")])
    assert "locked to VAT code 3 (Utgående avgift, høy sats)" in problem.message
    asked = [httpx.URL(e.url).params.get("id", "").split(",") for e in h.exchanges.exchanges
             if "/ledger/vatType?" in e.url]
    assert any(str(h.sandbox.company.vat_type("3")["id"]) in ids for ids in asked)  # looked up by its id


def test_a_lock_made_after_preflight_is_refused_by_tripletex_and_put_on_our_line(h: Harness) -> None:
    target = h.target()
    voucher = sale("MVA-3", vat_code="31")
    assert target.preflight([voucher]) == []
    h.sandbox.company.lock_vat(3000, "3")  # the accountant locks it; our register still has it unlocked
    with pytest.raises(DataError) as caught:
        target.deliver(voucher)
    [problem] = caught.value.problems
    assert problem.field == "lines[1].vat_code" and problem.code == "refused-by-tripletex"
    assert problem.message == ("Tripletex refused line 2: Kontoen 3000 Salgsinntekt, avgiftspliktig er låst til "
                               "mva-kode 3: Utgående avgift, høy sats.")


# -- the external voucher number and the description ------------------------------------------------

def test_the_sandbox_refuses_an_external_number_over_70_characters_and_a_voucher_without_description(
        api: httpx.Client, sandbox: TripletexSandbox) -> None:
    lines = ((1920, "10", None, "2026-11-02"), (3000, "-10", "3", "2026-11-02"))
    assert refusal(post(api, body(sandbox, *lines, externalVoucherNumber="x" * 71)))[0][:2] == (
        "externalVoucherNumber", "externalVoucherNumber")
    assert post(api, body(sandbox, *lines, externalVoucherNumber="ø" * 70)).status_code == 201
    for missing in ({"description": ""}, {"description": "  "}):
        assert refusal(post(api, body(sandbox, *lines, **missing))) == [
            ("description", "description", "Kan ikke være null.")]
    undescribed = body(sandbox, *lines)
    del undescribed["description"]
    assert refusal(post(api, undescribed))[0][0] == "description"


def test_a_long_reference_is_shortened_to_70_kept_whole_in_description_and_ledger_and_found_again(
        h: Harness) -> None:
    reference = "omnium-Sport & Fritid Ålesund-" + "ordre-" * 15 + "2026-11-02"
    tables = MemoryTables()
    outcome = deliver_once(tables, h.target(), sale(reference), tenant="kunde-1", target_name="tripletex",
                           document_id="doc-1")
    [stored] = h.sandbox.vouchers
    number = stored["externalVoucherNumber"]
    assert tripletex.EXTERNAL_NUMBER_MAX == 70 and len(number) == 70
    assert number.startswith(reference[:53]) and re.fullmatch(r"~[0-9a-f]{16}", number[53:])
    assert stored["description"] == f"Kontantsalg (ref. {reference})"
    entry = ledger_entry(tables, tenant="kunde-1", target_name="tripletex", reference=reference)
    assert entry is not None and entry["Reference"] == reference and entry["TargetReference"] == number
    found = h.target().find(reference)
    assert found is not None and found.remote_id == outcome.delivery.remote_id == str(stored["id"])
    assert h.target().find(reference[:-1] + "3") is None  # a neighbour shortens to another number


@given(st.text(min_size=1, max_size=200).filter(lambda s: s.strip()), st.none() | st.text(max_size=40))
def test_every_payload_has_a_description_and_the_full_reference_when_shortened(reference: str,
                                                                                description: str | None) -> None:
    register = Register(accounts={"1920": {"id": 1}, "3000": {"id": 2}})
    voucher = Voucher(reference=reference, date="2026-11-02", description=description,
                      lines=[{"account": "1920", "amount": "1.00"}, {"account": "3000", "amount": "-1.00"}])
    payload = voucher_payload(voucher, register)
    assert payload["description"].strip()
    assert len(payload["externalVoucherNumber"]) <= 70
    if payload["externalVoucherNumber"] != voucher.reference:
        assert voucher.reference in payload["description"]


# -- the balance per posting date -------------------------------------------------------------------

def test_the_sandbox_balances_per_posting_date(api: httpx.Client, sandbox: TripletexSandbox) -> None:
    split = body(sandbox, (1920, "100", None, "2026-11-02"), (3000, "-100", "3", "2026-11-03"))
    assert refusal(post(api, split)) == [
        ("postings", None, "Summen av posteringene for 2026-11-02 er ikke lik 0."),
        ("postings", None, "Summen av posteringene for 2026-11-03 er ikke lik 0.")]
    shared_row = body(sandbox, (1920, "100", None, "2026-11-02"), (3000, "-100", "3", "2026-11-02"))
    shared_row["postings"][1]["row"] = 1  # two postings on one row are fine when that row balances
    assert post(api, shared_row).status_code == 201


def test_preflight_checks_the_balance_per_date_of_what_it_sends() -> None:
    voucher = sale("D-1")
    payload = voucher_payload(voucher, Register(accounts={"1920": {"id": 1}, "3000": {"id": 2}},
                                                vat_types={"3": {"id": 3}}))
    assert balance_per_date(voucher, payload) == []  # the shared form dates every line with the voucher
    payload["postings"][1]["date"] = "2026-11-03"
    problems = balance_per_date(voucher, payload)
    assert [(p.code, p.field) for p in problems] == [("unbalanced-date", "lines")] * 2
    assert problems[0].message.startswith("the postings dated 2026-11-02 sum to 500.00, not 0.00")


# -- closed accounting periods and reported VAT terms ----------------------------------------------

def test_the_sandbox_lists_periods_and_refuses_a_closed_one_and_a_reported_vat_term(
        api: httpx.Client, sandbox: TripletexSandbox) -> None:
    sandbox.company.periods.close(2026, 10)
    found = api.get("ledger/accountingPeriod", params={"startTo": "2027-01-01", "endFrom": "2026-01-01"})
    periods_2026 = [p for p in found.json()["values"] if p["start"].startswith("2026")]
    assert len(periods_2026) == 12 and [p["number"] for p in periods_2026] == list(range(1, 13))
    assert [p["start"] for p in periods_2026 if p["isClosed"]] == ["2026-10-01"]
    closed = refusal(post(api, body(sandbox, (1920, "10", None, "2026-10-31"), (3000, "-10", "3", "2026-10-31"))))
    assert [(f, p) for f, p, _ in closed] == [("date", None)] and "lukket" in closed[0][2]
    assert post(api, body(sandbox, (1920, "10", None, "2026-11-01"), (3000, "-10", "3", "2026-11-01"))).status_code == 201
    sandbox.company.periods.report_vat(dt.date(2026, 12, 31))
    reported = refusal(post(api, body(sandbox, (1920, "10", None, "2026-12-01"), (3000, "-10", "3", "2026-12-01"))))
    assert reported[0][:2] == ("date", None) and "6. termin 2026 er rapportert" in reported[0][2]
    assert post(api, body(sandbox, (1920, "10", None, "2026-12-01"), (6300, "-10", None, "2026-12-01"))).status_code == 201
    terms = api.get("vatTermSizeSettings").json()["values"]
    assert [t["termSize"] for t in terms] == ["TWO_MONTHS"]


def test_preflight_reports_a_closed_period_and_a_reported_vat_term(h: Harness) -> None:
    h.sandbox.company.periods.close(2026, 10)
    target = h.target(vat_reported_through="2026-08-31")
    vouchers = [sale("P-1", date="2026-10-31"), sale("P-2", date="2026-11-01"), sale("P-3", date="2026-08-15"),
                sale("P-4", date="2026-08-15", vat_code=None, account="6300"), sale("P-5", date="2026-09-01")]
    problems = target.preflight(vouchers)
    assert sorted((p.reference, p.field, p.code) for p in problems) == [
        ("P-1", "date", "closed-period"), ("P-3", "lines[1].vat_code", "vat-term-reported")]
    messages = {p.reference: p.message for p in problems}
    assert messages["P-1"].startswith("the accounting period Oktober 2026 is closed in Tripletex")
    assert "VAT term 4/2026 (July–August) is already reported" in messages["P-3"]
    before = h.sandbox.count("GET", "/v2/ledger/accountingPeriod")
    target.preflight(vouchers)
    assert h.sandbox.count("GET", "/v2/ledger/accountingPeriod") == before == 1  # one per year, then kept


def test_a_period_closed_after_preflight_is_tripletexs_refusal_on_the_voucher(h: Harness) -> None:
    target = h.target()
    assert target.preflight([sale("P-6")]) == []
    h.sandbox.company.periods.close(2026, 11)
    with pytest.raises(DataError) as caught:
        target.deliver(sale("P-6"))
    [problem] = caught.value.problems
    assert problem.field == "date" and problem.message.startswith("Tripletex refused the voucher (date): Perioden")


def test_periods_a_token_may_not_read_block_nothing_and_tripletex_still_refuses(
        h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    h.sandbox.forbidden_paths.add("/ledger/accountingPeriod")
    h.sandbox.company.periods.close(2026, 11)
    target = h.target()
    with caplog.at_level("WARNING", logger="connectors.targets.tripletex.periods"):
        assert target.preflight([sale("P-7")]) == []
    assert "accounting periods of 2026 not checked for tenant kunde-1" in caplog.text
    with pytest.raises(DataError) as caught:
        target.deliver(sale("P-7"))
    assert [p.field for p in caught.value.problems] == ["date"]


@pytest.mark.parametrize(("ends", "exclusive"), [
    ([("2026-10-01", "2026-11-01"), ("2026-11-01", "2026-12-01")], True),
    ([("2026-10-01", "2026-10-31"), ("2026-11-01", "2026-11-30")], False),
    ([("2026-10-01", "2026-11-01")], True),
    ([("2026-10-01", "2026-10-31")], False),
])
def test_either_reading_of_a_periods_end_is_understood(ends: list[tuple[str, str]], exclusive: bool) -> None:
    listed = [{"start": s, "end": e, "isClosed": s == "2026-10-01", "name": s} for s, e in ends]
    assert periods.end_is_exclusive(listed) is exclusive
    assert periods.closed_on(dt.date(2026, 10, 31), listed) is listed[0]
    assert periods.closed_on(dt.date(2026, 11, 1), listed) is None
    assert periods.closed_on(dt.date(2026, 9, 30), listed) is None


def test_a_vat_reported_through_that_is_no_date_is_a_config_error(h: Harness) -> None:
    with pytest.raises(ConfigError, match="vat_reported_through"):
        h.target(vat_reported_through="31.08.2026")
