"""Payments registered in Fortnox against the invoice they pay, exactly once: an invoice payment.

`POST /3/invoicepayments` ([spec-derived] InvoicePaymentsResourceApi, Model/InvoicePayment.md): the invoice's Fortnox
number, the amount, the date, the mode of payment the tenant names for the payment method (and its account, from
`GET /3/modesofpayments/{Code}`). Paid in full or in part: registered as paid. Short or over by at most the
tolerance (fees, rounding): the difference is written off (`WriteOffs`) on the tenant's account, so that the amount
and the write-off settle the open balance [unverified: Fortnox's sign for a write-off of a surplus]. Over by more:
refused, or registered on opt-in (the customer in credit). Unbooked (a draft) unless the tenant books; then
`PUT /3/invoicepayments/{n}/bookkeep`. A payment has no field of ours, so before the POST the invoice's payments are
noted in the progress row; after a lost answer the payment is the one of our amount and date that was not there.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.sales import checks
from connectors.targets.fortnox import sales
from connectors.targets.fortnox.invoicing import payment_body
from connectors.targets.fortnox.mapping import NAME
from pipeline.errors import DataError, OutcomeUnknown, Problem
from pipeline.model import Payment
from pipeline.ports import Delivery

if TYPE_CHECKING:
    from connectors.targets.fortnox.target import FortnoxTarget


def _plan(target: FortnoxTarget, payment: Payment) -> tuple[dict[str, Any], list[Problem]]:
    settings = target.settings

    def problem(code: str, where: str, message: str) -> Problem:
        return Problem(message, field=where, reference=payment.reference, code=code)

    found: list[Problem] = []
    if payment.currency != "NOK":
        found.append(problem("unsupported-currency", "currency", "Fortnox payments are registered in NOK only"))
    method = payment.payment_method or "bank"
    code = settings.modes_of_payment.get(method)
    mode = target.mode_of_payment(code) if code else None
    if mode is None:
        found.append(problem("unknown-payment-method", "payment_method", f"payment method {method!r} has no Fortnox "
                             "mode of payment " + (f"(settings.modes_of_payment names {code!r}, which Fortnox lacks: "
                                                   "Inställningar → Bokföring → Betalningsvillkor/Betalsätt)"
                                                   if code else "in settings.modes_of_payment")))
    invoice = sales.locate(target, payment.invoice_number, payment.kid)
    if invoice is None:
        found.append(problem("missing-invoice", "invoice_number", f"no Fortnox invoice has number "
                             f"{payment.invoice_number} or OCR {payment.kid}"))
        return {}, found
    if not invoice.get("Booked"):
        found.append(problem("invoice-not-posted", "invoice_number", f"invoice {payment.invoice_number} is not booked "
                             "in Fortnox: a payment is registered once it is"))
        return {}, found
    balance = Decimal(str(invoice.get("Balance") or 0))
    steps, refusals = checks.payment_plan(payment, balance, tolerance=Decimal(settings.payment_tolerance),
                                          difference_type=settings.write_off_account is not None,
                                          overpayments=settings.overpayments,
                                          difference_setting="no account to write it off on is set "
                                                             "(settings.write_off_account)")
    found += [problem(code, "amount", message) for code, message in refusals]
    difference = next((amount for kind, amount in steps if kind == "difference"), Decimal(0))
    return {"invoice": str(invoice["DocumentNumber"]), "balance": balance, "mode": mode,
            "write_off": difference}, found


def payment_problems(target: FortnoxTarget, payment: Payment) -> list[Problem]:
    """Whether the payment can be registered: its invoice booked, its mode of payment, its amount."""
    return _plan(target, payment)[1]


def render_payment(target: FortnoxTarget, payment: Payment) -> dict[str, Any]:
    plan, _ = _plan(target, payment)
    body = payment_body(payment, invoice=plan.get("invoice") or "", mode=plan.get("mode"),
                        write_off=plan.get("write_off", Decimal(0)), account=target.settings.write_off_account)
    return {**body, "lookup": {"invoiceNumber": payment.invoice_number, "kid": payment.kid},
            "progress": {"reference": payment.reference}}


def _payments_of(target: FortnoxTarget, invoice: str) -> list[dict[str, Any]]:
    return [p for p in target.pages("invoicepayments", "InvoicePayments", {"invoicenumber": invoice})
            if str(p.get("InvoiceNumber")) == invoice]


def _new(target: FortnoxTarget, invoice: str, known: str, payment: Payment) -> str:
    """The payment of ours that was not among the invoice's payments before our POST."""
    before = set(known.split(",")) - {""}
    ours = [p for p in _payments_of(target, invoice) if str(p.get("Number")) not in before
            and Decimal(str(p.get("Amount"))) == payment.amount and str(p.get("PaymentDate")) == payment.date.isoformat()]
    return str(min(int(p["Number"]) for p in ours)) if ours else ""


def deliver_payment(target: FortnoxTarget, payment: Payment) -> Delivery:
    row = sales.progress(target, payment.reference)
    if row.get("State") == "done":
        return sales.delivery(row)
    number = str(row.get("Number") or "")
    if not number and row.get("Step") == "create":  # an earlier attempt's outcome is unknown: look first
        number = _new(target, str(row["Invoice"]), str(row.get("Known") or ""), payment)
    if not number:
        plan, problems = _plan(target, payment)
        if problems:
            raise DataError(f"payment {payment.reference} cannot be registered: "
                            + "; ".join(p.message for p in problems), tenant=target.context.tenant,
                            reference=payment.reference, connector=NAME, problems=tuple(problems))
        known = ",".join(sorted(str(p.get("Number")) for p in _payments_of(target, plan["invoice"])))
        body = render_payment(target, payment)
        sales.save(target, row, Step="create", Kind="payment", Invoice=plan["invoice"], Known=known,
                   Before=f"{plan['balance']:.2f}", WriteOff=f"{plan['write_off']:.2f}")
        answer = target.request("POST", "invoicepayments", body={"InvoicePayment": body["InvoicePayment"]},
                                reference=payment.reference)
        number = str(((answer or {}).get("InvoicePayment") or {}).get("Number") or "")
        number = number or _new(target, plan["invoice"], known, payment)
        if not number:
            raise OutcomeUnknown(f"Fortnox answered payment {payment.reference} without its number, and does not list "
                                 "it yet", tenant=target.context.tenant, reference=payment.reference, connector=NAME)
    sales.save(target, row, Number=number, Kind="payment", Draft=True)
    if target.book:
        sales.bookkeep(target, row, "invoicepayments", payment.reference)
    sales.save(target, row, State="done")
    return sales.delivery(row)
