"""The Fortnox sandbox keeps Fortnox's contract: single-use refresh tokens and codes, its consent page's refusals,
its ErrorInformation, its rate limit, and the vouchers it refuses."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandboxes.fortnox import FortnoxSandbox


def _token(sandbox: FortnoxSandbox, **form: str) -> httpx.Response:
    basic = base64.b64encode(f"{sandbox.client_id}:{sandbox.clients[sandbox.client_id]}".encode()).decode()
    return httpx.post(sandbox.token_url, data=form, headers={"Authorization": f"Basic {basic}"})


def _bearer(sandbox: FortnoxSandbox) -> dict[str, str]:
    answer = _token(sandbox, grant_type="refresh_token", refresh_token=next(iter(sandbox.refresh_tokens))).json()
    return {"Authorization": f"Bearer {answer['access_token']}"}


def test_a_refresh_token_is_good_once_and_each_refresh_gives_a_new_one(sandbox: FortnoxSandbox) -> None:
    first = next(iter(sandbox.refresh_tokens))
    answer = _token(sandbox, grant_type="refresh_token", refresh_token=first)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and body["refresh_token"] != first
    again = _token(sandbox, grant_type="refresh_token", refresh_token=first)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_the_consent_page_refuses_an_unknown_scope_and_a_code_is_good_once_for_its_redirect(
        sandbox: FortnoxSandbox) -> None:
    query: dict[str, Any] = {"client_id": sandbox.client_id, "redirect_uri": "http://127.0.0.1:1/cb", "state": "s",
                             "response_type": "code", "scope": "bookkeeping salary"}
    refused = httpx.get(sandbox.auth_url, params=query)
    assert refused.status_code == 400 and "invalid_scope" in refused.text
    query["scope"] = "bookkeeping"
    assert "Godkänn &amp; aktivera" in httpx.get(sandbox.auth_url, params=query).text
    moved = httpx.post(sandbox.auth_url, data={**query, "decision": "approve"})
    assert moved.status_code == 302
    code = parse_qs(urlsplit(moved.headers["location"]).query)["code"][0]
    assert _token(sandbox, grant_type="authorization_code", code=code, redirect_uri="http://evil/cb").status_code == 400
    moved = httpx.post(sandbox.auth_url, data={**query, "decision": "approve"})
    code = parse_qs(urlsplit(moved.headers["location"]).query)["code"][0]
    assert _token(sandbox, grant_type="authorization_code", code=code, redirect_uri=query["redirect_uri"]).is_success
    assert _token(sandbox, grant_type="authorization_code", code=code,
                  redirect_uri=query["redirect_uri"]).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(("rows", "message", "code"), [
    ([{"Account": 1920, "Debit": 10}, {"Account": 3000, "Credit": 9}], "inte i balans", 2000592),
    ([{"Account": 1920, "Debit": 10}, {"Account": 2999, "Credit": 10}], "Kunde inte hitta konto", 2001304),
    ([{"Account": 1920, "Debit": 10}, {"Account": 7700, "Credit": 10}], "inaktivt", 2000615),
])
def test_vouchers_fortnox_refuses_are_refused_in_its_words(sandbox: FortnoxSandbox, rows: list[dict[str, Any]],
                                                           message: str, code: int) -> None:
    answer = httpx.post(f"{sandbox.base_url}/vouchers", headers=_bearer(sandbox), json={"Voucher": {
        "VoucherSeries": "A", "TransactionDate": "2026-11-04", "Description": "x", "VoucherRows": rows}})
    assert answer.status_code == 400
    info = answer.json()["ErrorInformation"]
    assert message in info["message"] and info["code"] == code and info["error"] == 1
    assert sandbox.company.vouchers == []


def test_no_licence_and_no_scope_are_told_apart(sandbox: FortnoxSandbox) -> None:
    headers = _bearer(sandbox)
    sandbox.company.licensed = False
    answer = httpx.get(f"{sandbox.base_url}/financialyears", headers=headers)
    assert answer.status_code == 400 and answer.json()["ErrorInformation"]["code"] == 2001101
    token = headers["Authorization"][7:]
    sandbox.access[token] = (sandbox.access[token][0], {"companyinformation"})
    answer = httpx.get(f"{sandbox.base_url}/costcenters/1", headers=headers)
    assert answer.status_code == 403 and answer.json()["ErrorInformation"]["code"] == 2000663


def test_25_requests_in_5_seconds_then_429() -> None:
    with FortnoxSandbox() as sandbox:
        headers = _bearer(sandbox)
        now = [1000.0]
        sandbox.clock = lambda: now[0]  # all 26 within the same 5 seconds, however slow the machine is
        statuses = [httpx.get(f"{sandbox.base_url}/companyinformation", headers=headers).status_code
                    for _ in range(26)]
        now[0] += 5.01  # the window has passed: the next one is served
        after = httpx.get(f"{sandbox.base_url}/companyinformation", headers=headers).status_code
    assert statuses[:25] == [200] * 25 and statuses[25] == 429 and after == 200
