"""Amounts as Fiken takes them: whole øre, and on a side with a VAT code the net amount Fiken adds the VAT to.

**Øre.** Fiken's amounts are integers: "the number of cents in the amount. Fractions will be ignored" (spec,
Data Types → Amount). So `øre(Decimal("125.50")) == 12550`, exactly, and an amount with a fraction of an øre
is refused (`SubØre`), never rounded: Fiken would silently drop the fraction and the voucher would no longer
be what the source said.

**VAT.** On a line with a VAT code Fiken computes the VAT itself, from the line's amount and the code's rate,
and books it beside the line. The spec (journalEntryLine.amount): "the net amount (excluding VAT) for
debitAccount lines and gross amount (including VAT) for creditAccount lines"; a public client that checked it
against Fiken (jonasbarsten/fiken-mcp, README, "verified 2026-10-05"): "the amount on a side with a code is net
and Fiken adds the VAT", codes 1 and 3 tried. We send the net amount on either side. [unverified] for credit
lines, where the spec's sentence says gross: if the spec is right, every such entry is off by its VAT and Fiken
refuses it as unbalanced — a loud refusal with Fiken's words, never a wrong booking.

[unverified] how Fiken rounds a VAT of a fraction of an øre. A gross amount G whose VAT is V (the source's
`vat_amount`, or the VAT contained in G rounded half up, decision 0001) is therefore sent as *net parts* whose
VAT is never exactly half an øre — so every rounding rule gives the same VAT — and adds up to V: one part
(G − V) when that works, else two or three (parts of a few øre beside the rest). Fiken then books exactly G, of
which exactly V is VAT, whatever its rounding. A line whose V is further from the rate than rounding can explain
(a source's `vat_amount` that does not fit its code) is refused in preflight, naming the line.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

ØRE = Decimal("0.01")
HALF = Decimal("0.5")
# Fiken's VAT codes that add VAT to the line they are on, and their rate in percent (spec: the VAT code table;
# rates as in force, pipeline/norway/vat.py). Input VAT 1/11/12/13, output VAT 3/31/32/33.
RATES: dict[int, Decimal] = {1: Decimal(25), 3: Decimal(25), 11: Decimal(15), 31: Decimal(15),
                             12: Decimal("11.11"), 32: Decimal("11.11"), 13: Decimal(12), 33: Decimal(12)}
MAX_SMALL_PART = 2000  # øre: how far the search for a second part goes (a few øre always suffice, see tests)
THREE_PARTS = 60  # øre: the same for the two small parts of a three-way split


class SubØre(ValueError):
    """An amount with a fraction of an øre: Fiken takes whole øre only."""


def øre(amount: Decimal) -> int:
    """An exact amount in kroner as whole øre; a fraction of an øre is refused, never rounded."""
    if not amount.is_finite():
        raise SubØre(f"{amount} is not an amount")
    scaled = amount * 100
    if scaled != scaled.to_integral_value():
        raise SubØre(f"{amount} has a fraction of an øre ({amount.normalize()} kr); Fiken takes whole øre only")
    return int(scaled)


def kroner(value: int) -> str:
    """Øre as kroner for a message: 12550 → "125.50"."""
    return f"{Decimal(value) / 100:.2f}"


def vat_of_net(net: int, rate: Decimal) -> int | None:
    """The VAT Fiken books on a net amount (øre), or None when it is exactly half an øre (rounding decides)."""
    exact = Decimal(net) * rate / 100
    if exact - exact.to_integral_value(rounding=ROUND_FLOOR) == HALF:
        return None
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def contained_vat(gross: int, rate: Decimal) -> int:
    """The VAT contained in a gross amount (øre), rounded half up to whole øre (decision 0001)."""
    return int((Decimal(gross) * rate / (100 + rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def net_parts(gross: int, vat: int, rate: Decimal) -> tuple[int, ...] | None:
    """Net amounts (øre, same sign as `gross`) whose sum is `gross - vat` and whose VAT, as Fiken computes it under
    any rounding rule, sums to `vat`: one part when possible, else two, else three (a source's own VAT may be up to
    about an øre from the rate's); None when no such split exists."""
    sign = -1 if gross < 0 else 1
    gross, vat = abs(gross), abs(vat)
    net = gross - vat
    if net <= 0:
        return None
    if vat_of_net(net, rate) == vat:
        return (sign * net,)
    for small in range(1, min(net, MAX_SMALL_PART)):
        if _fits((net - small, small), vat, rate):
            return (sign * (net - small), sign * small)
    for first in range(1, min(net, THREE_PARTS)):
        for second in range(first, min(net - first, THREE_PARTS)):
            if _fits((net - first - second, first, second), vat, rate):
                return (sign * (net - first - second), sign * first, sign * second)
    return None


def _fits(parts: tuple[int, ...], vat: int, rate: Decimal) -> bool:
    if min(parts) <= 0:
        return False
    each = [vat_of_net(part, rate) for part in parts]
    return None not in each and sum(v for v in each if v is not None) == vat
