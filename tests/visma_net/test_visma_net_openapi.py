"""Every request the Visma.net connector sends holds against Visma.net's official OpenAPI spec — and the check has
teeth: it catches what Visma.net would not take."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pipeline.model import Voucher
from tests.specs import SpecCheck
from tests.visma_net.visma_net_support import Wired

FULL = Voucher(reference="R-1", date="2026-11-02", description="Kontantsalg på Røros",
               lines=[{"account": "1920", "amount": "125.00", "kid": "12344"},
                      {"account": "3000", "amount": "-100.00", "vat_code": "3",
                       "dimensions": {"department": "1", "project": "100"}},
                      {"account": "3020", "amount": "-25.00", "vat_code": "33", "vat_amount": "-2.70"}])


@pytest.fixture
def spec(check: SpecCheck | None) -> SpecCheck:
    if check is None:
        pytest.skip("../shared/specs absent: visma-net/swagger.json is needed to check requests against it")
    return check


def request(method: str, path: str, *, params: dict[str, Any] | None = None, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> httpx.Request:
    return httpx.Request(method, f"https://api.finance.visma.net{path}", params=params, content=body, headers=headers)


def test_every_request_of_a_full_run_matches_the_spec(w: Wired, spec: SpecCheck) -> None:
    draft = w.target()
    draft.check()
    assert draft.preflight([FULL]) == []
    draft.deliver(FULL)
    w.target(direct_posting=True).deliver(FULL.model_copy(update={"reference": "R-2"}))
    assert draft.find("R-1") is not None
    assert draft.accounts_missing(["1920", "2999"]) == {"2999": "does not exist in Visma.net"}
    # two tokens (drafts; direct posting asks for one more scope), branch, periods, account, VAT, VAT categories,
    # the department segment, a project, two POSTs, one release, one search
    assert w.transport.sent >= 14
    assert w.transport.violations == []
    assert spec.checked >= w.transport.sent


def test_the_check_catches_invented_fields_and_unwrapped_values(spec: SpecCheck) -> None:
    body = (b'{"hold": true, "transactionDate": {"value": "2026-11-02T00:00:00"}, "externalReference": {"value": "R"},'
            b' "journalTransactionLines": [{"operation": "Add", "accountNumber": {"value": 3000},'
            b' "debitAmount": {"value": 5}}]}')
    problems = spec.violations(request("POST", "/v2/journaltransaction", body=body,
                                       headers={"Content-Type": "application/json"}))
    assert any("['hold']: True is not of type 'object'" in p for p in problems)
    assert any(".externalReference: not a property" in p for p in problems)
    assert any("'Add' is not one of" in p for p in problems)
    assert any("3000 is not of type 'string'" in p for p in problems)
    assert any(".journalTransactionLines[0].debitAmount: not a property" in p for p in problems)


def test_the_check_catches_wrong_paths_params_and_token_requests(spec: SpecCheck) -> None:
    assert spec.violations(request("POST", "/v1/journaltransaction", body=b"{}"))  # v2 in this spec
    assert spec.violations(request("POST", "/controller/api/v1/journaltransaction", body=b"{}"))  # the retired path
    assert spec.violations(request("GET", "/v2/journaltransaction", params={"referenceNumber": "R-1"}))
    assert spec.violations(request("GET", "/v2/journaltransaction", params={"status": "Draft"}))
    assert spec.violations(request("GET", "/v1/account", params={"pageSize": "100"}))
    assert spec.violations(request("GET", "/v2/journaltransaction", params={"periodId": "202611", "pageNumber": "x"}))
    assert spec.violations(request("GET", "/v2/journaltransaction", params={"periodId": "202611", "module": "GL"})) == []
    assert spec.violations(request("POST", "/v2/journaltransaction/000001/action/release")) == []
    token = httpx.Request("POST", "https://connect.visma.com/connect/token", data={"grant_type": "password"})
    assert any("client_credentials" in p for p in spec.violations(token))
    assert any("tenant_id missing" in p for p in spec.violations(token))
    good = httpx.Request("POST", "https://connect.visma.com/connect/token", data={
        "grant_type": "client_credentials", "client_id": "c", "client_secret": "s", "scope": "x", "tenant_id": "t"})
    assert spec.violations(good) == []
