"""Payments registered in Fiken on the sale of the invoice they pay, exactly once (decision 0013).

`POST /sales/{saleId}/payments` on the account settings.payment_accounts names for the payment method. Short by at most
the tolerance: the shortfall is the payment's `fee`. Over by at most the tolerance: the payment settles the open amount
and a journal entry moves the surplus from the payment's account to settings.payment_difference_account (a Fiken
payment has no negative fee). Further over: refused unless the tenant accepts overpayments. After an unknown outcome a
new payment of the amount and date among the sale's payments is ours; the surplus entry is found as a voucher is.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.sales import checks as terms
from connectors.targets.fiken import invoicing, notes
from connectors.targets.fiken.customers import created as _created
from connectors.targets.fiken.mapping import NAME, located, marker
from connectors.targets.fiken.sales import _save, locate, progress
from pipeline.errors import DataError, Problem
from pipeline.model import Payment
from pipeline.ports import Delivery, Entity

if TYPE_CHECKING:
    from connectors.targets.fiken.target import FikenTarget


# -- payments -------------------------------------------------------------------------------------------------

def _plan(target: FikenTarget, payment: Payment) -> tuple[dict[str, Any], list[Problem]]:
    settings = target.settings

    def problem(code: str, where: str, message: str) -> Problem:
        return Problem(message, field=where, reference=payment.reference, code=code)

    found: list[Problem] = []
    if payment.currency != "NOK":
        found.append(problem("unsupported-currency", "currency", "Fiken payments are registered in NOK only"))
    method = payment.payment_method or "bank"
    account = settings.payment_accounts.get(method)
    if account is None:
        found.append(problem("unknown-payment-method", "payment_method",
                             f"payment method {method!r} has no account in settings.payment_accounts"))
    elif account not in target.context.lookups.fill("accounts", [account], target._accounts):
        found.append(problem("missing-account", "payment_method", f"the account {account} that payment method "
                                                                  f"{method!r} lands on is not in Fiken"))
    invoice = locate(target, payment.invoice_number, payment.kid)
    if invoice is None:
        found.append(problem("missing-invoice", "invoice_number", f"no Fiken invoice has number "
                             f"{payment.invoice_number} or KID {payment.kid}"))
        return {}, found
    if "draft" in invoice:
        found.append(problem("invoice-not-posted", "invoice_number", f"invoice {payment.invoice_number} is still a "
                             "draft in Fiken: it is paid once it is made an invoice"))
        return {}, found
    sale = invoice.get("sale") or {}
    outstanding = Decimal(int(sale.get("outstandingBalance") or 0)) / 100
    over = payment.amount > outstanding
    surplus_account = settings.payment_difference_account
    # A shortfall within the tolerance is the payment's fee (Fiken books it beside the payment). A payment has no
    # negative fee: an excess within the tolerance is booked by the tenant's rule, a journal entry from the payment's
    # account to settings.payment_difference_account; without that account it is refused, unless the tenant accepts
    # overpayments (the customer then in credit, as with a larger one).
    lenient = over and surplus_account is None and settings.overpayments == "accept"
    steps, refusals = terms.payment_plan(
        payment, outstanding, tolerance=Decimal(0) if lenient else Decimal(settings.payment_tolerance),
        difference_type=not over or surplus_account is not None, overpayments=settings.overpayments,
        difference_setting="no account for an overpayment within the tolerance is set "
                           "(settings.payment_difference_account)")
    found += [problem(code, "amount", message) for code, message in refusals]
    difference = sum((amount for kind, amount in steps if kind == "difference"), Decimal(0))
    surplus = -difference if difference < 0 else Decimal(0)
    if surplus and surplus_account not in target.context.lookups.fill("accounts", [str(surplus_account)],
                                                                      target._accounts):
        found.append(problem("missing-account", "amount", f"the account {surplus_account} an overpayment within the "
                                                          "tolerance is booked to is not in Fiken"))
    body = invoicing.payment_body(payment.model_copy(update={"amount": payment.amount - surplus}), account,
                                  max(difference, Decimal(0)))
    return {"sale": sale.get("saleId"), "invoice": invoice.get("invoiceId"), "outstanding": outstanding,
            "body": body, "surplus": surplus, "account": account}, found


def payment_problems(target: FikenTarget, payment: Payment) -> list[Problem]:
    return _plan(target, payment)[1]


def render_payment(target: FikenTarget, payment: Payment) -> dict[str, Any]:
    plan, _ = _plan(target, payment)
    return {"payment": plan.get("body") or invoicing.payment_body(payment, None, Decimal(0)),
            "lookup": {"invoiceNumber": payment.invoice_number, "kid": payment.kid}, "sale": plan.get("sale")}


def deliver_payment(target: FikenTarget, payment: Payment) -> Delivery:
    row = progress(target, payment.reference)
    if row.get("State") == "done":
        return paid(row)
    path = ""
    if not row.get("Body"):
        plan, problems = _plan(target, payment)
        if problems:
            raise DataError(f"payment {payment.reference} cannot be registered: "
                            + "; ".join(p.message for p in problems), tenant=target.context.tenant,
                            reference=payment.reference, connector=NAME, problems=tuple(problems))
        path = f"{target.company}/sales/{int(plan['sale'])}/payments"
        before = [int(p["paymentId"]) for p in target._request("GET", path).json() or []]
        _save(target, row, Kind="payment", Sale=int(plan["sale"]), InvoiceId=int(plan["invoice"] or 0),
              Before=json.dumps(before), Open=f"{plan['outstanding']:.2f}", Body=json.dumps(plan["body"]),
              Surplus=invoicing._øre(plan["surplus"]), Account=str(plan["account"]))
    path = f"{target.company}/sales/{int(row['Sale'])}/payments"
    body = json.loads(str(row["Body"]))
    payment_id = int(row.get("Payment") or 0)
    if not payment_id and row.get("Step") == "pay":  # outcome unknown: a new payment of this amount is ours
        earlier = set(json.loads(str(row["Before"])))
        payment_id = next((int(p["paymentId"]) for p in target._request("GET", path).json() or []
                           if int(p["paymentId"]) not in earlier and p.get("amount") == body["amount"]
                           and p.get("date") == body["date"]), 0)
    if not payment_id:
        _save(target, row, Step="pay")
        payment_id = _created(target._request("POST", path, body=body, reference=payment.reference))
    _save(target, row, Payment=payment_id)
    if row.get("Surplus") and not row.get("SurplusEntry"):
        _book_surplus(target, payment, row)
    _save(target, row, State="done")
    return paid(row)


def _book_surplus(target: FikenTarget, payment: Payment, row: Entity) -> None:
    """An overpayment within the tolerance: a journal entry moving it from the payment's account to the tenant's
    difference account, under a reference of its own (`<payment>#overpaid`), found again as vouchers are (notes.py)."""
    reference = f"{payment.reference}#overpaid"
    if row.get("Step") == "surplus":  # outcome unknown: look for it as a voucher's retry does
        found = target.find(reference)
        if found is not None:
            _save(target, row, SurplusEntry=found.remote_id)
            return
    øre = int(str(row["Surplus"]))
    text = f"{marker(reference)} Overbetaling {payment.invoice_number or payment.kid or ''}".strip()
    body = {"description": text, "open": target.settings.open_entries, "journalEntries": [{
        "description": text, "date": payment.date.isoformat(),
        "lines": [{"amount": øre, "debitAccount": row["Account"],
                   "creditAccount": target.settings.payment_difference_account}]}]}
    _save(target, row, Step="surplus")
    notes.remember(target.context, reference, payment.date)
    response = target._request("POST", f"{target.company}/generalJournalEntries", body=body,
                               reference=payment.reference)
    _, ident = located(response.headers.get("Location"))
    _save(target, row, SurplusEntry=ident or "made")


def paid(row: Entity) -> Delivery:
    body = json.loads(str(row.get("Body") or "{}"))
    return Delivery(remote_id=f"payment:{row['Payment']}", draft=False, details={
        "kind": "payment", "sale_id": row.get("Sale"), "invoice_id": row.get("InvoiceId"), "open_before": row.get("Open"),
        "account": body.get("account"), "amount_øre": body.get("amount"), "fee_øre": body.get("fee", 0),
        **({"overpaid_øre": row["Surplus"], "overpaid_entry": row.get("SurplusEntry")} if row.get("Surplus") else {})})
