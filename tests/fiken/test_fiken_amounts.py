"""Amounts to Fiken: kroner become whole øre exactly, a fraction of an øre is refused, and a VAT line is sent as net
parts whose VAT — computed by Fiken under any rounding rule — adds up to exactly the VAT the source meant."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.targets.fiken.amounts import RATES, SubØre, contained_vat, net_parts, vat_of_net, øre

RATE_VALUES = sorted(set(RATES.values()))


def fiken_vat(net: int, rate: Decimal, rounding: str) -> int:
    return int((Decimal(abs(net)) * rate / 100).quantize(Decimal(1), rounding=rounding))


@given(st.decimals(min_value=Decimal("-999999999999.99"), max_value=Decimal("999999999999.99"), places=2,
                   allow_nan=False, allow_infinity=False))
def test_kroner_become_whole_øre_exactly(amount: Decimal) -> None:
    assert Decimal(øre(amount)) / 100 == amount
    assert isinstance(øre(amount), int)


@pytest.mark.parametrize("amount", ["0.005", "125.001", "-0.0001", "1E-3", "NaN", "Infinity"])
def test_a_fraction_of_an_øre_is_refused_never_rounded(amount: str) -> None:
    with pytest.raises(SubØre):
        øre(Decimal(amount))


def test_trailing_zeros_are_not_fractions() -> None:
    assert øre(Decimal("125.5000")) == 12550 and øre(Decimal("1E+2")) == 10000 and øre(Decimal("-0.01")) == -1


@pytest.mark.parametrize("rate", RATE_VALUES)
@given(gross=st.integers(min_value=6, max_value=10**13), credit=st.booleans())
def test_every_gross_amount_is_booked_exactly_whatever_fiken_rounds(rate: Decimal, gross: int, credit: bool) -> None:
    """Each part's VAT is the same under half-up and half-even rounding (never exactly half an øre), and net + VAT
    of all parts is the gross amount, with the VAT contained in it (decision 0001: rounded half up)."""
    signed = -gross if credit else gross
    vat = contained_vat(gross, rate)
    parts = net_parts(signed, -vat if credit else vat, rate)
    assert parts is not None and 1 <= len(parts) <= 2
    assert all((p < 0) == credit for p in parts)
    for rounding in (ROUND_HALF_UP, ROUND_HALF_EVEN):
        assert sum(fiken_vat(p, rate, rounding) for p in parts) == vat
    assert sum(abs(p) for p in parts) + vat == gross


def test_a_line_fiken_rounds_the_same_way_is_one_part() -> None:
    assert net_parts(12500, 2500, Decimal(25)) == (10000,)
    assert net_parts(-11500, -1500, Decimal(15)) == (-10000,)


def test_a_net_amount_whose_vat_is_half_an_øre_is_split() -> None:
    """125.02 with 25 %: VAT 25.00, net 100.02, and 25 % of 100.02 is 25.005 — Fiken's rounding would decide."""
    assert vat_of_net(10002, Decimal(25)) is None
    parts = net_parts(12502, 2500, Decimal(25))
    assert parts is not None and len(parts) == 2 and sum(parts) == 10002
    assert sum(vat_of_net(p, Decimal(25)) or 0 for p in parts) == 2500


def test_the_sources_own_vat_is_kept_when_it_rounds_the_other_way() -> None:
    """A till that rounded 125.03's VAT down (25.00 instead of 25.01): Fiken books its 25.00."""
    parts = net_parts(12503, 2500, Decimal(25))
    assert parts is not None and len(parts) == 3 and sum(parts) == 10003
    assert sum(vat_of_net(p, Decimal(25)) or 0 for p in parts) == 2500


def test_a_vat_that_does_not_fit_the_rate_has_no_parts() -> None:
    assert net_parts(12500, 1000, Decimal(25)) is None  # 10.00 is not 25 % of 115.00
    assert net_parts(300, 300, Decimal(25)) is None  # all VAT, no net
    assert net_parts(3, 1, Decimal(25)) is None  # 3 øre: 2 øre net carry 0.5 øre VAT, 1 + 1 carry none
