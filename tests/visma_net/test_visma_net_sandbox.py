"""The Visma.net sandbox follows Visma.net's published contract — its token flow, its error bodies, its rate-limit
headers, and the rules of its journal transactions — so that the connector is tested against real rules, not
against what it happens to send."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from sandboxes.visma_net import VismaNetSandbox
from sandboxes.visma_net.server import SCOPES


def token(sandbox: VismaNetSandbox, **form: str) -> httpx.Response:
    fields = {"grant_type": "client_credentials", "client_id": sandbox.client_id, "client_secret": sandbox.client_secret,
              "scope": " ".join(SCOPES[:2]), "tenant_id": sandbox.tenant_id, **form}
    return httpx.post(sandbox.token_url, data=fields)


def api(sandbox: VismaNetSandbox, **form: str) -> httpx.Client:
    answer = token(sandbox, **form).json()
    return httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {answer['access_token']}"})


def line(account: str, amount: str, **more: Any) -> dict[str, Any]:
    side = "creditAmountInCurrency" if amount.startswith("-") else "debitAmountInCurrency"
    return {"operation": "Insert", "accountNumber": {"value": account}, side: {"value": float(amount.lstrip("-"))},
            "referenceNumber": {"value": "S-1"}, **{k: {"value": v} for k, v in more.items()}}


def journal(*lines: dict[str, Any], hold: bool = True, day: str = "2026-11-04", **more: Any) -> dict[str, Any]:
    return {"hold": {"value": hold}, "transactionDate": {"value": f"{day}T00:00:00"}, "description": {"value": "Test"},
            "journalTransactionLines": list(lines), **{k: {"value": v} for k, v in more.items()}}


def refusal(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    message: str = response.json()["message"]
    assert message.startswith("VismaId: ")
    return message


# -- Visma Connect ----------------------------------------------------------------------------------------------


def test_a_token_for_the_client_credentials_and_the_tenant(sandbox: VismaNetSandbox) -> None:
    answer = token(sandbox)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert set(body["scope"].split()) == set(SCOPES[:2])


@pytest.mark.parametrize(("form", "error"), [
    ({"client_secret": "feil"}, "invalid_client"),
    ({"client_id": "isv_someone_else"}, "invalid_client"),
    ({"tenant_id": "00000000-0000-0000-0000-000000000000"}, "invalid_tenant"),
    ({"grant_type": "password"}, "unsupported_grant_type"),
])
def test_token_refusals_are_oauth_errors(sandbox: VismaNetSandbox, form: dict[str, str], error: str) -> None:
    answer = token(sandbox, **form)
    assert answer.status_code == 400 and answer.json()["error"] == error


def test_a_scope_the_company_did_not_grant_is_refused(sandbox: VismaNetSandbox) -> None:
    sandbox.granted.discard(SCOPES[1])
    assert token(sandbox).json() == {"error": "invalid_scope"}


def test_a_token_ends_with_its_lifetime(sandbox: VismaNetSandbox) -> None:
    sandbox.token_lifetime = 1
    with api(sandbox) as client:
        assert client.get("/v1/branch").status_code == 200
        time.sleep(1.1)
        answer = client.get("/v1/branch")
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"


def test_the_customer_agreements_tenant_reaches_no_company(sandbox: VismaNetSandbox) -> None:
    with api(sandbox, tenant_id=sandbox.customer_tenant_id) as client:
        answer = client.get("/v1/branch")
    assert answer.status_code == 403
    body = answer.json()
    assert body["ExceptionType"] == "IPPException" and body["ExceptionFaultCode"] == "12027"
    assert body["ExceptionMessage"] == "No license for this company."


# -- rate limits ------------------------------------------------------------------------------------------------


def test_every_answer_says_the_rate_limit_and_a_spent_window_answers_429(sandbox: VismaNetSandbox) -> None:
    sandbox.rate_limit = 2
    with api(sandbox) as client:
        first = client.get("/v1/branch")
        assert first.headers["X-RateLimit-Limit"] == "2" and first.headers["X-RateLimit-Remaining"] == "1"
        assert first.headers["X-RateLimit-Policy"] == "4-fixed-window" and int(first.headers["X-RateLimit-Reset"]) > 0
        client.get("/v1/branch")
        spent = client.get("/v1/branch")
    assert spent.status_code == 429 and int(spent.headers["Retry-After"]) > 0
    assert spent.headers["X-RateLimit-Remaining"] == "0"


# -- journal transactions ---------------------------------------------------------------------------------------


def test_a_batch_on_hold_may_be_out_of_balance_one_off_hold_may_not(sandbox: VismaNetSandbox) -> None:
    with api(sandbox) as client:
        held = client.post("/v2/journaltransaction", json=journal(line("1920", "100"), line("3100", "-90")))
        assert held.status_code == 201 and held.headers["Location"].endswith("/v2/journaltransaction/000001")
        loose = client.post("/v2/journaltransaction", json=journal(line("1920", "100"), line("3100", "-90"), hold=False))
    assert "Batch is out of balance, please review." in refusal(loose)
    assert [b["status"] for b in sandbox.batches] == ["Hold"]


@pytest.mark.parametrize(("lines", "words"), [
    ([line("2999", "10"), line("1920", "-10")], "Account '2999' cannot be found in the system."),
    ([line("1500", "10"), line("1920", "-10")], "Account 1500 is a control account of the AR module"),
    ([line("3000", "-10", vatId="1"), line("1920", "10")], "VAT ID '1' cannot be used on account 3000"),
    ([line("3000", "-10", vatCodeId="HOY"), line("1920", "10")], "VAT category 'HOY' cannot be found in the system."),
    ([line("3000", "-10", vatId="86"), line("1920", "10")], "VAT ID '86' cannot be found in the system."),
    ([line("3000", "-10", project="404"), line("1920", "10")], "Project '404' cannot be found in the system."),
    ([line("3000", "-10", project="200"), line("1920", "10")], "Project '200' is not active."),
    ([{**line("3000", "-10"), "subaccount": [{"segmentId": 1, "segmentValue": "404"}]}, line("1920", "10")],
     "Segment value '404' of subaccount segment 1 cannot be found in the system."),
    ([{**line("3000", "-10"), "referenceNumber": {"value": "X" * 16}}, line("1920", "10")],
     "'Ref. number' can be at most 15 characters long."),
])
def test_what_visma_net_refuses_in_a_line(sandbox: VismaNetSandbox, lines: list[dict[str, Any]], words: str) -> None:
    sandbox.company.accounts["1500"]["allowManualEntry"] = False
    with api(sandbox) as client:
        answer = client.post("/v2/journaltransaction", json=journal(*lines))
    assert words in refusal(answer)
    assert sandbox.batches == []


def test_an_inactive_account_is_refused(sandbox: VismaNetSandbox) -> None:
    sandbox.company.deactivate_account("6300")
    with api(sandbox) as client:
        answer = client.post("/v2/journaltransaction", json=journal(line("6300", "10"), line("1920", "-10")))
    assert "Account 6300: Account is inactive." in refusal(answer)


def test_closed_inactive_and_missing_financial_periods_are_refused(sandbox: VismaNetSandbox) -> None:
    sandbox.company.close_period("202610")
    sandbox.company.periods["202609"]["active"] = False
    balanced = (line("1920", "10"), line("3100", "-10"))
    with api(sandbox) as client:
        closed = client.post("/v2/journaltransaction", json=journal(*balanced, day="2026-10-31"))
        inactive = client.post("/v2/journaltransaction", json=journal(*balanced, day="2026-09-01"))
        missing = client.post("/v2/journaltransaction", json=journal(*balanced, day="2031-01-01"))
        wrong = client.post("/v2/journaltransaction", json=journal(*balanced, financialPeriod="202612"))
    assert "The 10-2026 financial period is closed." in refusal(closed)
    assert "The 09-2026 financial period is inactive." in refusal(inactive)
    assert "does not exist in the Fjellbekk Handel AS company" in refusal(missing)
    assert "The date is outside the range of the selected financial period." in refusal(wrong)
    assert sandbox.batches == []


def test_vat_lines_must_match_the_rate_unless_validation_is_skipped(sandbox: VismaNetSandbox) -> None:
    lines = (line("1920", "125"), line("3000", "-100", vatId="3", vatCodeId="SALG"), line("2700", "-24", vatId="3"),
             line("7770", "-1"))
    with api(sandbox) as client:
        checked = client.post("/v2/journaltransaction", json=journal(*lines, createVatTransaction=True))
        skipped = client.post("/v2/journaltransaction", json=journal(*lines, createVatTransaction=True,
                                                                      skipVatAmountValidation=True))
    assert "The VAT amount -24.00 for VAT ID '3' does not match" in refusal(checked)
    assert skipped.status_code == 201


def test_release_takes_a_balanced_batch_off_hold_ones_are_refused(sandbox: VismaNetSandbox) -> None:
    balanced = (line("1920", "10"), line("3100", "-10"))
    with api(sandbox) as client:
        client.post("/v2/journaltransaction", json=journal(*balanced))
        client.post("/v2/journaltransaction", json=journal(*balanced, hold=False))
        on_hold = client.post("/v2/journaltransaction/000001/action/release")
        released = client.post("/v2/journaltransaction/000002/action/release")
        again = client.post("/v2/journaltransaction/000002/action/release")
        unknown = client.post("/v2/journaltransaction/999999/action/release")
    assert "Batch Status invalid for processing." in refusal(on_hold)
    assert released.status_code == 200 and released.json()["actionResult"] == "Done"
    assert "Batch Status invalid for processing." in refusal(again)
    assert unknown.status_code == 404
    assert [b["status"] for b in sandbox.batches] == ["Hold", "Posted"]


def test_the_listing_needs_a_period_or_a_time_and_pages_by_lines(sandbox: VismaNetSandbox) -> None:
    with api(sandbox) as client:
        for _ in range(3):
            client.post("/v2/journaltransaction", json=journal(line("1920", "10"), line("3100", "-10")))
        assert "periodId or lastModifiedDateTime" in refusal(client.get("/v2/journaltransaction"))
        first = client.get("/v2/journaltransaction", params={"periodId": "202611", "pageSize": 4, "pageNumber": 1}).json()
        second = client.get("/v2/journaltransaction", params={"periodId": "202611", "pageSize": 4, "pageNumber": 2}).json()
        other = client.get("/v2/journaltransaction", params={"periodId": "202610"}).json()
        later = client.get("/v2/journaltransaction", params={"lastModifiedDateTime": "2099-01-01"}).json()
    assert [b["batchNumber"] for b in first] == ["000001", "000002"]
    assert [b["batchNumber"] for b in second] == ["000003"] and first[0]["metadata"]["totalCount"] == 6
    assert other == [] and later == []
