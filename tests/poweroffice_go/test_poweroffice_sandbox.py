"""The sandbox keeps PowerOffice GO's contract: the gateway's key and rate limit, OAuth, lists, refusals."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from sandboxes.poweroffice_go import PowerOfficeSandbox


@pytest.fixture
def box() -> Iterator[PowerOfficeSandbox]:
    with PowerOfficeSandbox(rate_limit=1000) as running:
        yield running


def token(box: PowerOfficeSandbox, client_key: str | None = None, subscription: str | None = None) -> httpx.Response:
    basic = base64.b64encode(f"{box.application_key}:{client_key or box.client_key}".encode()).decode()
    return httpx.post(f"{box.root}/OAuth/Token", content=b"grant_type=client_credentials", headers={
        "Authorization": f"Basic {basic}", "Ocp-Apim-Subscription-Key": subscription or box.subscription_key,
        "Content-Type": "application/x-www-form-urlencoded"})


def api(box: PowerOfficeSandbox) -> httpx.Client:
    bearer = token(box).json()["access_token"]
    return httpx.Client(base_url=box.base_url + "/", headers={"Authorization": f"Bearer {bearer}",
                                                            "Ocp-Apim-Subscription-Key": box.subscription_key})


def test_oauth_client_credentials_and_its_errors(box: PowerOfficeSandbox) -> None:
    issued = token(box).json()
    assert issued["token_type"] == "bearer" and issued["expires_in"] == 1200
    refused = token(box, client_key="feil")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_client"
    gateway = token(box, subscription="feil")
    assert gateway.status_code == 401 and "invalid subscription key" in gateway.json()["message"]
    missing = httpx.get(f"{box.base_url}/VatCodes")
    assert missing.status_code == 401 and "missing subscription key" in missing.json()["message"]
    unsigned = httpx.get(f"{box.base_url}/VatCodes", params={"subscription-key": box.subscription_key})
    assert unsigned.status_code == 401  # the key as a query parameter passes the gateway; the token is missing


def test_expired_tokens_and_the_rate_limit(box: PowerOfficeSandbox) -> None:
    with api(box) as client:
        assert client.get("VatCodes").status_code == 200
        box.expire_tokens()
        assert client.get("VatCodes").status_code == 401
    with api(box) as client:
        box.rate_limit = 3
        box._window.clear()  # a fresh second
        answers = [client.get("VatCodes") for _ in range(4)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and limited[0].headers["Retry-After"] == "1"
    assert limited[0].json() == {"statusCode": "429", "message": "Rate limit is exceeded. Try again in 1 seconds."}


def test_lists_are_bare_arrays_paged_and_an_empty_one_is_204(box: PowerOfficeSandbox) -> None:
    with api(box) as client:
        accounts = client.get("GeneralLedgerAccounts", params={"accountNos": "1920,3000"}).json()
        assert sorted(a["AccountNo"] for a in accounts) == [1920, 3000]
        page = client.get("GeneralLedgerAccounts", params={"PageSize": 2, "PageNumber": 2, "Fields": "AccountNo"})
        assert len(page.json()) == 2 and set(page.json()[0]) == {"AccountNo"}
        empty = client.get("Customers", params={"customerNos": "55555"})
        assert empty.status_code == 204 and empty.content == b""


def test_vouchers_go_refuses(box: PowerOfficeSandbox) -> None:
    client_ = box.client
    bank, sales = client_.account(1920)["Id"], client_.account(3000)["Id"]
    no_vat, vat3 = client_.vat("0")["Id"], client_.vat("3")["Id"]

    def line(account: int, amount: str, vat: int) -> dict[str, object]:
        return {"AccountId": account, "CurrencyAmount": Decimal(amount), "VatId": vat, "PostingDate": "2026-11-20"}

    def post(*lines: dict[str, object], reference: str = "R-1") -> httpx.Response:
        body = {"VoucherDate": "2026-11-20", "CurrencyCode": "NOK", "ExternalImportReference": reference,
                "VoucherLines": list(lines)}
        with api(box) as client:
            return client.post("Vouchers/ManualJournals", content=_json(body),
                               headers={"Content-Type": "application/json"})

    unbalanced = post(line(bank, "100", no_vat), line(sales, "-90", vat3))
    assert unbalanced.status_code == 400 and "not balanced" in unbalanced.json()["detail"]
    assert unbalanced.json()["title"] == "Voucher validation error(s)" and unbalanced.json()["traceId"]
    unknown = post(line(999999, "100", no_vat), line(sales, "-100", vat3))
    assert "account with id = 999999 not found" in unknown.json()["detail"]
    client_.account(3000)["IsVatCodeLocked"] = True
    locked = post(line(bank, "100", no_vat), line(sales, "-100", client_.vat("31")["Id"]))
    assert "locked to vat code 3" in locked.json()["detail"]
    assert post(line(bank, "100", no_vat), line(sales, "-100", vat3)).status_code == 201
    twice = post(line(bank, "100", no_vat), line(sales, "-100", vat3))
    assert twice.status_code == 400 and "ExternalImportReference" in twice.json()["detail"]
    client_.lock_date = "2026-11-30"
    assert "lock date" in post(line(bank, "1", no_vat), line(sales, "-1", vat3), reference="R-2").json()["detail"]
    box.roles.discard("ManualVoucher_Full")
    assert post(line(bank, "1", no_vat), line(sales, "-1", vat3), reference="R-3").status_code == 403


def _json(body: object) -> bytes:
    from sandboxes.poweroffice_go.server import encode

    return encode(body)
