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
                                           "amount": "5.00", "kid": "0000055319"}), Payment)


def test_organization_number_is_normalised():
    v = DOC.validate_python({**voucher("1.00", "-1.00"), "lines": [
        {"account": "1500", "amount": "1.00", "customer": {"organization_number": "NO 999 999 999 MVA"}},
        {"account": "3000", "amount": "-1.00"}]})
    assert v.lines[0].customer.organization_number == "999999999"


@settings(max_examples=200, deadline=None)
@given(st.lists(cents, min_size=1, max_size=20).filter(any))  # all zero is refused (decision 0002)
def test_money_survives_json_round_trip_and_balances(amounts):
    lines = [{"account": "1920", "amount": f"{a:.2f}"} for a in amounts]
    lines.append({"account": "3000", "amount": f"{-sum(amounts, Decimal(0)):.2f}"})
    v = DOC.validate_python({"type": "voucher", "reference": "r", "date": "2026-01-01", "lines": lines})
    again = DOC.validate_json(v.model_dump_json())
    assert [line.amount for line in again.lines] == [Decimal(x["amount"]) for x in lines]
    assert sum(line.amount for line in again.lines) == 0


def test_the_shared_form_takes_only_saft_vat_codes_but_a_document_in_target_terms_keeps_the_targets():
    from pipeline.model import TARGET_TERMS
    from pipeline.norway.vat import VAT_CODES

    body = {**voucher("1.00", "-1.00")}
    body["lines"][1]["vat_code"] = "99"
    with pytest.raises(ValidationError, match="not a SAF-T standard VAT code") as caught:
        DOC.validate_python(body)
    assert caught.value.errors()[0]["type"] == "unknown_vat_code"
    assert DOC.validate_python(body, context=TARGET_TERMS).lines[1].vat_code == "99"
    for code in VAT_CODES:
        body["lines"][1]["vat_code"] = f" {code} "
        assert DOC.validate_python(body).lines[1].vat_code == code


def test_a_kid_must_pass_mod10_or_mod11_wherever_it_appears():
    from pipeline.norway.kid import kid_mod10, kid_mod11

    line = {"account": "1500", "amount": "1.00"}
    for good in (kid_mod10("12345678"), kid_mod11("12345678")):
        assert DOC.validate_python({**voucher("1.00", "-1.00"), "lines": [{**line, "kid": good},
                                                                          {"account": "3000", "amount": "-1.00"}]})
    for bad in ("12345670", "abc", "1"):
        with pytest.raises(ValidationError, match="MOD10 and the MOD11"):
            DOC.validate_python({"type": "payment", "reference": "p", "date": "2026-11-20", "amount": "5.00",
                                 "kid": bad})


def test_a_voucher_that_moves_no_money_is_refused():
    with pytest.raises(ValidationError, match="every line is 0.00") as caught:
        DOC.validate_python(voucher("0.00", "0"))
    assert caught.value.errors()[0]["type"] == "zero_voucher"
    assert DOC.validate_python({**voucher("1.00", "-1.00"), "lines": [
        {"account": "1920", "amount": "1.00"}, {"account": "3000", "amount": "-1.00"},
        {"account": "7790", "amount": "0.00"}]})  # a zero line beside others is fine


@pytest.mark.parametrize("quantity, ok", [("1.5", True), (2, True), ("-1", True), ("0.333333", True),
                                          ("abc", False), ("1,5", False), (1.5, False), ("NaN", False),
                                          ("1e999999", False), (True, False), ("0.1234567", False)])
def test_a_quantity_is_an_exact_decimal_and_never_raises_anything_but_a_validation_error(quantity, ok):
    invoice = {"type": "sales_invoice", "reference": "i", "date": "2026-11-20", "invoice_number": "1",
               "customer": {"name": "Kari"}, "total": "10.00",
               "lines": [{"description": "x", "amount": "10.00", "quantity": quantity}]}
    if ok:
        assert str(DOC.validate_python(invoice).lines[0].quantity) == str(quantity)
    else:
        with pytest.raises(ValidationError, match="quantity"):
            DOC.validate_python(invoice)


def test_a_party_may_be_known_by_its_phone_alone_kept_in_one_form() -> None:
    from pipeline.model import Party

    assert Party(phone="912 34 567").phone == "+4791234567"
    with pytest.raises(ValidationError, match="not a telephone number"):
        Party(phone="ring meg")
