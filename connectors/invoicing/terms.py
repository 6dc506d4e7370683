"""The tenant's rules for invoices and payments, the same in every accounting system: due dates by payment method,
how a payment settles an open amount (fees and rounding, part payments, overpayments), which customer field
matches, and the checks before posting an invoice (lines add up, VAT follows the rate, due date follows the terms).
Pure: no I/O, no system's field names. Moved out of the Tripletex connector when Fiken took invoices too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal

from pipeline.errors import Problem
from pipeline.model import Party, Payment, SalesInvoice

CENT = Decimal("0.01")
MATCH_FIELDS = ("number", "organization_number", "email", "phone")


def due_date(invoice: SalesInvoice, due_days: Mapping[str, int]) -> dt.date:
    """The invoice's due date: its own, else the tenant's terms for its payment method, else the invoice date."""
    if invoice.due_date is not None:
        return invoice.due_date
    days = due_days.get(invoice.payment_method or "", due_days.get("default"))
    return invoice.date + dt.timedelta(days=days or 0)


def count_and_price(amount: Decimal, quantity: Decimal) -> tuple[Decimal, Decimal]:
    """(count, unit price) that multiply back to the amount exactly: the quantity when it divides the amount to the
    øre, else 1."""
    if quantity and quantity > 0:
        price = amount / quantity
        if price == price.quantize(CENT):
            return quantity, price.quantize(CENT)
    return Decimal("1"), amount


def matching_party(party: Party, field: str | None) -> Party:
    """The party with only the identifier the tenant matches customers by (None: every identifier, best first)."""
    if field is None:
        return party
    cleared = {name: None for name in MATCH_FIELDS if name != field}
    if getattr(party, field) is None:
        return party.model_copy(update={**cleared, "name": party.name or "?"})
    return party.model_copy(update=cleared)


def invoice_problems(invoice: SalesInvoice, rate: Callable[[str | None], Decimal | None], due_days: Mapping[str, int], *,
                     system: str) -> list[Problem]:
    """The checks before posting an invoice in any system: each line's quantity × unit price is its amount, its VAT
    is the rate of its VAT code (`rate`: the code's percentage, None when the system lacks the code), and a due date
    follows the tenant's terms for the payment method. Every problem, each naming its field."""
    problems: list[Problem] = []

    def problem(code: str, where: str, message: str) -> None:
        problems.append(Problem(message, field=where, reference=invoice.reference, code=code,
                                file=invoice.origin.file if invoice.origin else None,
                                line=invoice.origin.line if invoice.origin else None))

    for i, line in enumerate(invoice.lines):
        at = f"lines[{i}]"
        if line.unit_price is not None and (line.unit_price * line.quantity).quantize(CENT) != line.amount:
            problem("line-total", f"{at}.amount", f"{line.quantity} × {line.unit_price:.2f} is "
                                                  f"{line.unit_price * line.quantity:.2f}, not the amount {line.amount:.2f}")
        percent = rate(line.vat_code)
        if percent is None:
            problem("unknown-vat-code", f"{at}.vat_code", f"VAT code {line.vat_code} is not a {system} VAT code")
        elif line.vat_amount is not None:
            expected = (line.amount * percent / (100 + percent)).quantize(CENT, ROUND_HALF_UP)
            if abs(expected - line.vat_amount) > CENT:
                problem("vat-mismatch", f"{at}.vat_amount",
                        f"VAT {line.vat_amount:.2f} is not {percent}% of the gross {line.amount:.2f} "
                        f"(that is {expected:.2f}); {system} would book {expected:.2f}")
    days = due_days.get(invoice.payment_method or "", due_days.get("default"))
    if invoice.due_date is not None and days is not None and invoice.credits is None:
        terms = invoice.date + dt.timedelta(days=days)
        if invoice.due_date != terms:
            problem("due-date-terms", "due_date",
                    f"due date {invoice.due_date} does not follow the terms for payment method "
                    f"{invoice.payment_method or 'default'}: {days} days, {terms}")
    return problems


def payment_plan(payment: Payment, outstanding: Decimal, *, tolerance: Decimal, difference_type: bool,
                 overpayments: str, difference_setting: str = "settings.payment_difference_type") -> tuple[list[tuple[str, Decimal]], list[tuple[str, str]]]:
    """How a payment settles an invoice with `outstanding` open: the registrations [("paid"|"difference", amount)]
    and the problems [(code, message)] that refuse it instead.

    Paid exactly: one registration. Short or over by at most `tolerance` (fees, rounding): the payment, then the
    difference booked by the tenant's rule — refused when the tenant has none (`difference_type` False). Short by
    more: a part payment (the invoice stays open with the rest). Over by more: refused unless the tenant accepts
    overpayments."""
    difference = outstanding - payment.amount
    plan = [("paid", payment.amount)]
    if difference == 0 or outstanding <= 0 and payment.amount < 0:
        return plan, []
    if abs(difference) <= tolerance:
        if not difference_type:
            return [], [("payment-difference", f"the payment {payment.amount:.2f} leaves {difference:.2f} of the open "
                                               f"{outstanding:.2f}, and no rule for fees and rounding is set "
                                               f"({difference_setting})")]
        return plan + [("difference", difference)], []
    if difference > 0:
        return plan, []  # partly paid: the rest stays open
    if overpayments == "accept":
        return plan, []
    return [], [("overpaid", f"the payment {payment.amount:.2f} is {-difference:.2f} more than the open amount "
                             f"{outstanding:.2f} (settings.overpayments: refuse)")]
