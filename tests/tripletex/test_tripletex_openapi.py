"""Every request the connector sends holds against Tripletex's official OpenAPI spec — and the check has teeth."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tripletex_support import Harness, SpecCheck

from pipeline.model import Voucher


@pytest.fixture
def check(spec_check: SpecCheck | None) -> SpecCheck:
    if spec_check is None:
        pytest.skip("../shared/specs absent: tripletex/openapi.json is needed to check requests against it")
    return spec_check


def request(method: str, path: str, *, params: dict[str, Any] | None = None, body: bytes | None = None
            ) -> httpx.Request:
    return httpx.Request(method, f"https://tripletex.no/v2{path}", params=params, content=body)


def test_every_request_of_a_full_run_matches_the_spec(h: Harness, check: SpecCheck) -> None:
    voucher = Voucher(
        reference="R-1", date="2026-11-02", description="Kontantsalg",
        lines=[{"account": "1500", "amount": "125.00", "customer": {"organization_number": "987654325"},
                "invoice_number": "9", "due_date": "2026-11-20", "kid": "12344"},
               {"account": "2400", "amount": "-5.00", "supplier": {"number": "20001"}},
               {"account": "3000", "amount": "-120.00", "vat_code": "3",
                "dimensions": {"department": "1", "project": "100"}}])
    draft = h.target()
    draft.check()
    assert draft.preflight([voucher]) == []
    draft.deliver(voucher)
    h.target(direct_posting=True).deliver(voucher.model_copy(update={"reference": "R-2"}))
    assert draft.find("R-1") is not None
    assert h.transport.sent >= 10  # session, whoAmI, 6 lookups, 2 posts, 1 search
    assert h.transport.violations == []
    assert check.checked >= h.transport.sent


def test_the_check_catches_invented_and_read_only_fields(check: SpecCheck) -> None:
    body = (b'{"date": "2026-11-02", "postings": [{"row": 1, "account": {"id": 1}, "amountGross": 5, '
            b'"kid": "123", "externalRef": "123"}], "number": 7}')
    problems = check.violations(request("POST", "/ledger/voucher", params={"sendToLedger": "false"}, body=body))
    assert any(".postings[0].kid: not a property" in p for p in problems)
    assert any(".postings[0].externalRef: read-only" in p for p in problems)
    assert any(".number: read-only" in p for p in problems)


def test_the_check_catches_wrong_types_params_and_paths(check: SpecCheck) -> None:
    wrong_type = b'{"date": "2026-11-02", "postings": [{"row": "1", "amountGross": "5.00"}]}'
    problems = check.violations(request("POST", "/ledger/voucher", body=wrong_type))
    assert any("'1' is not of type 'integer'" in p for p in problems)
    assert any("'5.00' is not of type 'number'" in p for p in problems)
    assert check.violations(request("GET", "/ledger/account", params={"accountNumber": "1500"}))
    assert check.violations(request("GET", "/ledger/account", params={"isInactive": "nei"}))
    assert check.violations(request("GET", "/ledger/voucher/>nonPosted"))  # includeNonApproved is required
    assert check.violations(request("GET", "/ledger/vouchers"))
    assert check.violations(request("PATCH", "/ledger/voucher/12"))
    assert check.violations(request("GET", "/ledger/voucher/>nonPosted", params={"includeNonApproved": "true"})) == []
    assert check.violations(request("GET", "/ledger/voucher/12", params={"fields": "*"})) == []
