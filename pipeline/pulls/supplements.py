"""Supplements and corrections: a voucher that books only the difference between what is due and what was booked.

A daily summary booked before a late order arrived, or an order changed after it was posted, must not be
posted again in full (the ledger would refuse it as a duplicate of its reference, losing the change) nor
ignored. What is due now and what was booked are both mapped to vouchers by the source; `difference` nets
them line by line — same account, VAT code, text, dimensions and party — into one balanced voucher with its
own reference. Pure functions; the pipeline's booking state (`pipeline.pulls.bookings`) decides what to net.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pipeline.model import Posting, Voucher

ZERO = Decimal("0.00")


def supplement_reference(reference: str, number: int) -> str:
    """The n-th voucher of a summary: the first keeps the summary's reference, then `-2`, `-3`, …

    For daily summaries (`omnium-<store>-<yyyy-mm-dd>`): the date in the reference keeps `-2` unambiguous.
    """
    return reference if number <= 1 else f"{reference}-{number}"


def correction_reference(reference: str, number: int) -> str:
    """The n-th posting of one record's voucher: the first keeps its reference, then `-korr-1`, `-korr-2`, …

    Per-order references end in the source's own id (`omnium-<order id>`), which may itself end in `-2`:
    the `-korr-` marker keeps a correction from ever colliding with another order's reference.
    """
    return reference if number <= 1 else f"{reference}-korr-{number - 1}"


def _key(line: Posting) -> str:
    """Everything about a line except its amounts: lines with equal keys net against each other."""
    return json.dumps(line.model_dump(mode="json", exclude={"amount", "vat_amount"}, exclude_none=True),
                      sort_keys=True, ensure_ascii=False)


def _net(due: Iterable[Posting], booked: Iterable[Posting]) -> list[Posting]:
    sums: dict[str, list[Any]] = {}  # key → [first line, amount, VAT, VAT known on every line]
    for sign, lines in ((1, due), (-1, booked)):
        for line in lines:
            entry = sums.setdefault(_key(line), [line, ZERO, ZERO, True])
            entry[1] += sign * line.amount
            if line.vat_amount is None:
                entry[3] = False
            else:
                entry[2] += sign * line.vat_amount
    out: list[Posting] = []
    for first, amount, vat, vat_known in sums.values():
        if amount == 0:
            continue
        keep_vat = first.vat_code is not None and vat_known and amount * vat >= 0 and abs(vat) <= abs(amount)
        # Øre rounded per order can leave a VAT difference that no longer fits its gross difference; then
        # the code stays and the target computes the VAT from the gross amount (decision 0001).
        out.append(first.model_copy(update={"amount": amount, "vat_amount": vat if keep_vat else None}))
    return out


def difference(due: Voucher | None, booked: Voucher | None, *, reference: str,
               description: str | None = None) -> Voucher | None:
    """What must still be booked so that `booked` plus the result equals `due`; None when nothing is.

    Both vouchers balance, so their difference balances. The result is dated like `due` (or `booked`,
    when nothing is due any more: an order cancelled after its day was booked is reversed on that day).
    """
    model = due or booked
    if model is None:
        return None
    lines = _net(due.lines if due else (), booked.lines if booked else ())
    if not lines:
        return None
    lines.sort(key=lambda p: (p.account, p.description or "", p.vat_code or ""))
    return Voucher(reference=reference, date=model.date, currency=model.currency, voucher_type=model.voucher_type,
                   description=description or model.description, lines=tuple(lines), origin=model.origin)
