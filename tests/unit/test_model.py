"""The shared form's invariants: exact money, balanced vouchers, matching invoice totals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from pipeline.model import Document, Payment, SalesInvoice, Voucher

DOC = TypeAdapter(Document)
cents = st.integers(min_value=-10**13, max_value=10**13).map(lambda c: Decimal(c).scaleb(-2))


def voucher(*amounts: str, **extra):
    return {"type": "voucher", "reference": "r1", "date": "2026-11-20",
            "lines": [{"account": str(1000 + i), "amount": a} for i, a in enumerate(amounts)], **extra}


def test_balanced_voucher_parses_and_keeps_æøå():
    v = DOC.validate_python(voucher("10.00", "-10.00", description="Kjøp av ål på Ærø"))
    assert isinstance(v, Voucher)
    assert v.description == "Kjøp av ål på Ærø"
    assert v.lines[0].amount == Decimal("10.00")


@pytest.mark.parametrize("amounts, message", [
    (("10.00", "-9.99"), "does not balance: lines sum to 0.01"),
    (("10.001", "-10.001"), "at most two decimals"),
    (("1,5", "-1,5"), "point as decimal separator"),
    (("NaN", "0"), "not a decimal string"),
])
def test_bad_amounts_are_refused_with_a_clear_message(amounts, message):
    with pytest.raises(ValidationError) as exc:
        DOC.validate_python(voucher(*amounts))
    assert message in str(exc.value)


def test_float_is_never_money():
    with pytest.raises(ValidationError, match="not a number"):
        DOC.validate_python(voucher(10.0, "-10.00"))


def test_vat_amount_needs_code_and_same_sign():
    body = voucher("125.00", "-125.00")
    body["lines"][1]["vat_code"] = "3"
    body["lines"][1]["vat_amount"] = "25.00"
    with pytest.raises(ValidationError, match="opposite sign"):
        DOC.validate_python(body)
    body["lines"][1]["vat_amount"] = "-25.00"
    assert DOC.validate_python(body).lines[1].vat_amount == Decimal("-25.00")


def test_invoice_total_and_credit_note_rules():
    invoice = {"type": "sales_invoice", "reference": "i1", "invoice_number": "1", "date": "2026-11-20",
               "customer": {"name": "Åse"}, "total": "100.00",
               "lines": [{"description": "x", "amount": "60.00"}, {"description": "y", "amount": "40.00"}]}
    assert isinstance(DOC.validate_python(invoice), SalesInvoice)
    with pytest.raises(ValidationError, match="differs from the sum"):
        DOC.validate_python({**invoice, "total": "100.01"})
    with pytest.raises(ValidationError, match="credit note"):
        DOC.validate_python({**invoice, "credits": "0"})


def test_payment_must_say_what_it_pays():
    with pytest.raises(ValidationError, match="invoice_number, a kid or a customer"):
        DOC.validate_python({"type": "payment", "reference": "p", "date": "2026-11-20", "amount": "5.00"})
    assert isinstance(DOC.validate_python({"type": "payment", "reference": "p", "date": "2026-11-20",
                                           "amount": "5.00", "kid": "0000055318"}), Payment)


def test_organization_number_is_normalised():
    v = DOC.validate_python({**voucher("1.00", "-1.00"), "lines": [
        {"account": "1500", "amount": "1.00", "customer": {"organization_number": "NO 999 999 999 MVA"}},
        {"account": "3000", "amount": "-1.00"}]})
    assert v.lines[0].customer.organization_number == "999999999"


@settings(max_examples=200, deadline=None)
@given(st.lists(cents, min_size=1, max_size=20))
def test_money_survives_json_round_trip_and_balances(amounts):
    lines = [{"account": "1920", "amount": f"{a:.2f}"} for a in amounts]
    lines.append({"account": "3000", "amount": f"{-sum(amounts, Decimal(0)):.2f}"})
    v = DOC.validate_python({"type": "voucher", "reference": "r", "date": "2026-01-01", "lines": lines})
    again = DOC.validate_json(v.model_dump_json())
    assert [line.amount for line in again.lines] == [Decimal(x["amount"]) for x in lines]
    assert sum(line.amount for line in again.lines) == 0


def test_a_party_may_be_known_by_its_phone_alone_kept_in_one_form() -> None:
    from pipeline.model import Party

    assert Party(phone="912 34 567").phone == "+4791234567"
    with pytest.raises(ValidationError, match="not a telephone number"):
        Party(phone="ring meg")
