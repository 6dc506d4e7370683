"""Payments registered in Visma.net against the invoice they pay, exactly once: a customer payment applied to it.

`POST /v1/customerPayment` (`PaymentUpdateDto`, spec 2025-04-24): type Payment, the customer of the invoice, the
payment method and cash account the tenant names for the payment method, the amount, our reference in `paymentRef`,
and one payment line applying it to the invoice's ref. no. Paid in full or in part: applied as paid. Short by at most
the tolerance (fees, rounding): the shortfall is written off on the line (`balanceWriteOff` with the tenant's reason
code, whose account takes it). Over the open amount: refused, or on opt-in the surplus stays unapplied on the payment
(the customer in credit) — Visma.net writes off an open balance, not a surplus. On hold (a draft) unless the tenant
posts directly; then released (`…/action/release`). After an unknown outcome the payment is found by our
`paymentRef` among the invoice's payments (`GET /v1/customerPayment?invoiceRefNbr=`). A payment dated in a financial period closed in the customer ledger (or
inactive) is refused in preflight, with the others (`GET /v1/financialPeriod`, kept per connection: register.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.sales import checks
from connectors.targets.visma_net import invoicing, register, sales
from connectors.targets.visma_net.mapping import NAME, period_id, period_of, short_reference
from pipeline.errors import DataError, OutcomeUnknown, Problem
from pipeline.model import Payment
from pipeline.ports import Delivery

if TYPE_CHECKING:
    from connectors.targets.visma_net.target import VismaNetTarget


def _plan(target: VismaNetTarget, payment: Payment) -> tuple[dict[str, Any], list[Problem]]:
    settings = target.settings

    def problem(code: str, where: str, message: str) -> Problem:
        return Problem(message, field=where, reference=payment.reference, code=code)

    found: list[Problem] = []
    if payment.currency != "NOK":
        found.append(problem("unsupported-currency", "currency", "Visma.net payments are registered in NOK only"))
    period = period_of(payment.date, register.periods(target))  # the connection's periods, kept PERIOD_SECONDS
    if period is None or not period.get("active", True) or period.get("closedInCustomerLedger"):
        said = "no financial period in Visma.net covers" if period is None else (
            f"the financial period {period.get('description') or period_id(period)} is "
            + ("inactive" if not period.get("active", True) else "closed in the customer ledger") + " for")
        found.append(problem("closed-period", "date", f"{said} the payment date {payment.date}: reopen the period in "
                                                      "Visma.net's customer ledger, or date the payment in an open one"))
    method = payment.payment_method or "bank"
    method_id = settings.payment_methods.get(method)
    methods = target.payment_methods()
    if method_id is None or method_id not in methods or not methods[method_id].get("active", True):
        found.append(problem("unknown-payment-method", "payment_method",
                             f"payment method {method!r} has no active Visma.net payment method "
                             + (f"(settings.payment_methods names {method_id!r}, which Visma.net lacks or has "
                                "inactive)" if method_id else "in settings.payment_methods")))
    cash = settings.cash_accounts.get(method, payment.bank_account)
    if cash not in target.cash_accounts():
        found.append(problem("unknown-cash-account", "bank_account", f"{cash} is no cash account in Visma.net "
                             "(settings.cash_accounts names one per payment method)"))
    invoice = sales.locate(target, payment.invoice_number, payment.kid)
    if invoice is None:
        found.append(problem("missing-invoice", "invoice_number", f"no Visma.net invoice has number "
                             f"{payment.invoice_number} or KID {payment.kid}"))
        return {}, found
    if invoice.get("status") not in sales.OPEN:
        found.append(problem("invoice-not-posted", "invoice_number", f"invoice {payment.invoice_number} is "
                             f"{invoice.get('status')} in Visma.net: it is paid once it is released"))
        return {}, found
    balance = Decimal(str(invoice.get("balance") or 0))
    steps, refusals = checks.payment_plan(payment, balance, tolerance=Decimal(settings.payment_tolerance),
                                          difference_type=settings.write_off_reason is not None,
                                          overpayments=settings.overpayments,
                                          difference_setting="no reason code to write it off with is set "
                                                             "(settings.write_off_reason)")
    difference = next((amount for kind, amount in steps if kind == "difference"), Decimal(0))
    if difference < 0 and settings.overpayments != "accept":  # Visma.net writes off an open balance, not a surplus
        refusals.append(("overpaid", f"the payment {payment.amount:.2f} is {-difference:.2f} more than the open "
                                     f"amount {balance:.2f}; Visma.net keeps a surplus unapplied on the payment "
                                     "(settings.overpayments: accept)"))
    found += [problem(code, "amount", message) for code, message in refusals]
    customer = (invoice.get("customer") or {}).get("number")
    return {"invoice": str(invoice["referenceNumber"]), "balance": balance, "customer": customer,
            "method": method_id, "cash": cash, "applied": min(payment.amount, balance),
            "write_off": max(difference, Decimal(0))}, found


def payment_problems(target: VismaNetTarget, payment: Payment) -> list[Problem]:
    """Whether the payment can be registered: its invoice released, its method and account, its amount."""
    return _plan(target, payment)[1]


def render_payment(target: VismaNetTarget, payment: Payment) -> dict[str, Any]:
    plan, _ = _plan(target, payment)
    body = invoicing.payment_body(payment, customer=plan.get("customer"), invoice=plan.get("invoice"),
                                  method=plan.get("method"), cash_account=plan.get("cash") or payment.bank_account,
                                  applied=plan.get("applied", payment.amount),
                                  write_off=plan.get("write_off", Decimal(0)),
                                  reason=target.settings.write_off_reason, hold=target.draft)
    return {"payment": body, "lookup": {"invoiceNumber": payment.invoice_number, "kid": payment.kid}}


def _payment_by_reference(target: VismaNetTarget, invoice: str, reference: str) -> dict[str, Any] | None:
    ours = short_reference(reference)
    rows = [r for r in sales.get(target, "v1/customerPayment", {"invoiceRefNbr": invoice}) or ()
            if isinstance(r, dict) and r.get("paymentRef") == ours]
    return min(rows, key=lambda r: str(r.get("refNbr"))) if rows else None


def deliver_payment(target: VismaNetTarget, payment: Payment) -> Delivery:
    row = sales.progress(target, payment.reference)
    if row.get("State") == "done":
        return sales.delivery(row)
    number = str(row.get("Number") or "")
    if not number and row.get("Step") == "create":
        number = str((_payment_by_reference(target, str(row["Invoice"]), payment.reference) or {}).get("refNbr") or "")
    if not number:
        plan, problems = _plan(target, payment)
        if problems:
            raise DataError(f"payment {payment.reference} cannot be registered: "
                            + "; ".join(p.message for p in problems), tenant=target.context.tenant,
                            reference=payment.reference, connector=NAME, problems=tuple(problems))
        body = render_payment(target, payment)["payment"]
        sales.save(target, row, Step="create", Kind="payment", Invoice=plan["invoice"], Before=f"{plan['balance']:.2f}",
              WriteOff=f"{plan['write_off']:.2f}")
        response = target.send("POST", "v1/customerPayment", body=body, reference=payment.reference)
        number = sales.created(response) or str((_payment_by_reference(target, plan["invoice"], payment.reference)
                                            or {}).get("refNbr") or "")
        if not number:
            raise OutcomeUnknown(f"Visma.net answered {response.status_code} to payment {payment.reference} but does "
                                 "not list it yet", tenant=target.context.tenant, reference=payment.reference,
                                 connector=NAME, status=response.status_code)
    sales.save(target, row, Number=number, Kind="payment", Draft=target.draft)
    if not target.draft:
        sales.release(target, row, "payment", payment.reference)
    sales.save(target, row, State="done")
    return sales.delivery(row)
