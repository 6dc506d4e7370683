"""What PowerOffice GO refuses, found by preflight all at once — and refused by the sandbox in GO's own shape."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.errors import DataError
from pipeline.model import Voucher
from tests.contract.harnesses.poweroffice_go import Harness


def voucher(reference: str, *lines: dict[str, Any], date: str = "2026-11-20") -> Voucher:
    return Voucher(reference=reference, date=date, description="Regler i GO – æøå", lines=lines)


def codes(problems: list[Any]) -> set[tuple[str, str | None]]:
    return {(p.code, p.field) for p in problems}


def test_go_s_own_rules_are_all_reported_at_once(go: Harness, target: Any) -> None:
    client = go.sandbox.client
    client.account(3000)["IsVatCodeLocked"] = True  # locked to its code 3
    client.add_account(3990, "Salg prosjekt", vat="3", department_required=True, project_required=True)
    client.account(6800)["IsActive"] = False
    client.lock_date = "2026-10-31"
    problems = target.preflight([
        voucher("REGLER-1",
                {"account": "3000", "amount": "-100.00", "vat_code": "31"},  # not the locked code
                {"account": "3990", "amount": "-50.00", "vat_code": "3"},  # department and project required
                {"account": "6800", "amount": "25.00", "vat_code": "1"},  # inactive
                {"account": "1500", "amount": "100.00"},  # the customer ledger without a customer
                {"account": "3000", "amount": "-0.00", "vat_code": "3"},  # a zero line
                {"account": "1920", "amount": "25.00", "customer": {"number": "10001"}},  # customer on a bank account
                date="2026-10-15")])  # in the locked period
    assert codes(problems) >= {
        ("vat-locked-account", "lines[0].vat_code"), ("department-required", "lines[1].dimensions.department"),
        ("project-required", "lines[1].dimensions.project"), ("inactive-account", "lines[2].account"),
        ("customer-required", "lines[3].customer"), ("zero-line", "lines[4].amount"),
        ("customer-account-mismatch", "lines[5].account"), ("closed-period", "date")}
    assert all(p.reference == "REGLER-1" for p in problems)
    assert go.stored() == []


def test_customers_without_a_number_are_found_by_organisation_number_e_mail_or_phone(go: Harness, target: Any) -> None:
    client = go.sandbox.client
    client.add_contact("customers", 10009, "Annen Fjordkafé", org="987654325")  # shares 10001's org number
    lines = [{"account": "1500", "amount": "10.00", "customer": {"name": "Kari", "email": "KARI@nordmann.no"}},
             {"account": "1500", "amount": "10.00", "customer": {"name": "Kari", "phone": "+47 912 34 567"}},
             {"account": "1500", "amount": "10.00", "customer": {"name": "Kafé", "organization_number": "987654325"}},
             {"account": "3000", "amount": "-30.00", "vat_code": "3"}]
    problems = target.preflight([voucher("KUNDER-1", *lines)])
    assert codes(problems) == {("ambiguous-customer", "lines[2].customer")}
    delivered = target.deliver(voucher("KUNDER-2", *lines[:2], {"account": "3000", "amount": "-20.00", "vat_code": "3"}))
    draft = client.drafts[delivered.remote_id]
    kari = next(c for c in client.customers.values() if c["Number"] == 10003)
    assert [line.get("DebitAccountId") for line in draft["ManualVoucherLines"][:2]] == [kari["SubledgerAccountId"]] * 2


def test_an_empty_list_answered_204_is_no_error_but_a_missing_record(go: Harness, target: Any) -> None:
    problems = target.preflight([voucher("TOM-1", {"account": "1500", "amount": "5.00", "customer": {"number": "19999"}},
                                         {"account": "3000", "amount": "-5.00", "vat_code": "3",
                                          "dimensions": {"department": "77"}})])
    assert codes(problems) == {("missing-customer", "lines[0].customer"), ("missing-department",
                                                                           "lines[1].dimensions.department")}


@pytest.mark.parametrize("direct", [False, True])
def test_the_sandbox_refuses_what_go_refuses_with_problem_details(go: Harness, direct: bool) -> None:
    """Preflight is bypassed (the register changed after it ran): GO's own refusal comes back as a DataError."""
    target = go.connect(direct_posting=direct)
    from connectors.targets.poweroffice_go.descriptor import DESCRIPTOR

    connected = DESCRIPTOR.connect(target)
    sale = voucher("AVVIST-2", {"account": "3000", "amount": "-40.00", "vat_code": "3"},
                   {"account": "1920", "amount": "40.00"})
    assert connected.preflight([sale]) == []
    go.sandbox.client.lock_date = "2026-12-31"  # closed in GO meanwhile; the connector keeps it ten minutes
    with pytest.raises(DataError) as caught:
        connected.deliver(sale)
    assert caught.value.status == 400 and "lock date" in (caught.value.provider_message or "")
    assert caught.value.request_id and go.stored() == []
