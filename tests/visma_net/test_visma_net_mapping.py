"""Visma.net's pure mapping: every balanced voucher becomes a balanced journal transaction, whatever its VAT; money
stays Decimal to the øre on the wire; references shorten deterministically; periods are found by date."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.targets.visma_net.mapping import (
    REFERENCE_MAX,
    Options,
    Register,
    computed_vat,
    encode,
    journal_transaction,
    period_of,
    short_reference,
)
from pipeline.model import Voucher
from sandboxes.visma_net.company import Company

COMPANY = Company().seed(years=range(2026, 2027))
REGISTER = Register(accounts=COMPANY.accounts, vats=COMPANY.vats, vat_categories=COMPANY.categories,
                    periods=list(COMPANY.periods.values()))

cents = st.integers(min_value=-10_000_000, max_value=10_000_000).filter(lambda c: c != 0)
vat_codes = st.sampled_from([None, "3", "31", "33", "5", "6", "1", "11", "13"])


@st.composite
def vouchers(draw: st.DrawFn) -> Voucher:
    amounts = draw(st.lists(cents, min_size=1, max_size=6))
    lines = [{"account": "3000", "amount": f"{Decimal(c) / 100:.2f}", "vat_code": draw(vat_codes)} for c in amounts]
    total = sum(Decimal(c) for c in amounts) / 100
    lines.append({"account": "1920", "amount": f"{-total:.2f}"})
    if total == 0:
        lines.append({"account": "1920", "amount": "1.00"})
        lines.append({"account": "3100", "amount": "-1.00"})
    return Voucher(reference="P-1", date="2026-06-15", lines=lines)


def sides(body: dict) -> tuple[Decimal, Decimal]:  # type: ignore[type-arg]
    debit = sum((line.get("debitAmountInCurrency", {}).get("value", Decimal(0))
                 for line in body["journalTransactionLines"]), Decimal(0))
    credit = sum((line.get("creditAmountInCurrency", {}).get("value", Decimal(0))
                  for line in body["journalTransactionLines"]), Decimal(0))
    return debit, credit


@settings(max_examples=200, deadline=None)
@given(vouchers())
def test_every_balanced_voucher_becomes_a_balanced_journal_transaction(voucher: Voucher) -> None:
    body = journal_transaction(voucher, REGISTER, Options())
    debit, credit = sides(body)
    assert debit == credit
    for line in body["journalTransactionLines"]:
        for side in ("debitAmountInCurrency", "creditAmountInCurrency"):
            if side in line:
                value = line[side]["value"]
                assert isinstance(value, Decimal) and value >= 0 and value == value.quantize(Decimal("0.01"))


def test_vat_is_rounded_half_up_to_the_ore_both_ways() -> None:
    assert computed_vat(Decimal("99.99"), Decimal(25)) == Decimal("20.00")  # 19.998
    assert computed_vat(Decimal("-99.99"), Decimal(25)) == Decimal("-20.00")
    assert computed_vat(Decimal("0.03"), Decimal(25)) == Decimal("0.01")  # 0.006
    assert computed_vat(Decimal("115.00"), Decimal(15)) == Decimal("15.00")
    assert computed_vat(Decimal("25.00"), Decimal(12)) == Decimal("2.68")
    assert computed_vat(Decimal("25.00"), Decimal(0)) == Decimal("0.00")


def test_amounts_go_on_the_wire_as_exact_numbers_and_text_as_utf8() -> None:
    voucher = Voucher(reference="Ø-1", date="2026-06-15", description="Blåbær fra Ærø",
                      lines=[{"account": "1920", "amount": "0.10"}, {"account": "3100", "amount": "-0.10"}])
    wire = encode(journal_transaction(voucher, REGISTER, Options(draft=False)))
    assert b'"debitAmountInCurrency": {"value": 0.10}' in wire and "Blåbær fra Ærø".encode() in wire
    parsed = json.loads(wire, parse_float=Decimal)
    assert parsed["hold"] == {"value": False} and parsed["financialPeriod"] == {"value": "202606"}


def test_references_shorten_deterministically_and_apart() -> None:
    assert short_reference("KASSE-1") == "KASSE-1"
    assert short_reference("X" * REFERENCE_MAX) == "X" * REFERENCE_MAX
    long = "shopify:order:100234:refund:2"
    assert short_reference(long) == short_reference(long) and len(short_reference(long)) == REFERENCE_MAX
    assert short_reference(long) != short_reference(long[:-1] + "3")


def test_the_period_of_a_date_and_an_adjustment_period_never_wins() -> None:
    periods = list(COMPANY.periods.values()) + [
        {"period": "202613", "startDate": "2026-12-31T00:00:00", "endDate": "2026-12-31T00:00:00"}]
    assert period_of(dt.date(2026, 12, 31), periods)["period"] == "202612"  # type: ignore[index]
    assert period_of(dt.date(2026, 2, 28), periods)["period"] == "202602"  # type: ignore[index]
    assert period_of(dt.date(2027, 1, 1), periods) is None
