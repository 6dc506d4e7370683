"""Sales invoices, credit notes and payments delivered to Fiken, each step exactly once (invoicing.py maps them).

Every document has a progress row in the ledger table (partition `<tenant>|fiken|invoicing`, one row per reference)
written before each call; where a call's outcome is unknown the next attempt asks Fiken before calling again — by
Fiken's own means where it has them: the draft by its UUID (`GET /invoices/drafts?uuid=`), the invoice by the draft
it was made of (`GET /invoices?invoiceDraftUuid=`), a credit note by the invoice it credits and its text, a payment
by the sale's payments against those before. Sending is never repeated: a send whose outcome is unknown is reported
as `sent: unknown`. Invoices we delivered are indexed by our invoice number and KID (partition
`<tenant>|fiken|invoice-numbers`), which is how a payment or a credit note finds its invoice first.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from connectors.sales import checks as terms
from connectors.sales import progress as rows
from connectors.targets.fiken import invoicing
from connectors.targets.fiken.customers import created as _created
from connectors.targets.fiken.customers import customer
from connectors.targets.fiken.mapping import NAME
from pipeline.errors import DataError, Problem
from pipeline.model import Payment, SalesInvoice
from pipeline.ports import Delivery, Entity
from pipeline.records.names import TABLE_LEDGER

if TYPE_CHECKING:
    from connectors.targets.fiken.target import FikenTarget

TITLE = "Fiken"  # how a missing ledger table is refused: "<TITLE> invoices need the ledger table"

# -- progress rows --------------------------------------------------------------------------------------------

def _partition(target: FikenTarget, kind: str) -> str:
    return rows.partition(target.context, NAME, kind)


_key = rows.key


def _tables(target: FikenTarget) -> Any:
    return rows.tables(target.context, NAME, TITLE)


def progress(target: FikenTarget, reference: str) -> Entity:
    return rows.progress(target.context, NAME, TITLE, reference)


def _save(target: FikenTarget, row: Entity, **changes: Any) -> None:
    rows.save(target.context, NAME, TITLE, row, **changes)


def _index(target: FikenTarget, invoice: SalesInvoice, *, draft_id: int, invoice_id: int | None) -> None:
    for key in [invoice.invoice_number] + ([f"kid:{invoice.kid}"] if invoice.kid else []):
        _tables(target).upsert(TABLE_LEDGER, {
            "PartitionKey": _partition(target, "invoice-numbers"), "RowKey": _key(key), "DraftId": draft_id,
            "InvoiceId": invoice_id or 0, "Uuid": invoicing.draft_uuid(target.context.tenant, invoice.reference),
            "Reference": invoice.reference})


# -- the invoice a payment or credit note names ---------------------------------------------------------------

def locate(target: FikenTarget, number: str | None, kid: str | None) -> dict[str, Any] | None:
    """The Fiken invoice named: ours by number or KID (our ledger), else Fiken's by our order reference, by its own
    invoice number, by its KID. One still a draft is `{"draft": draftId}`."""
    tables = target.context.tables
    for key in ([number] if number else []) + ([f"kid:{kid}"] if kid else []):
        row = tables.get(TABLE_LEDGER, _partition(target, "invoice-numbers"), _key(key)) if tables else None
        if row is None:
            continue
        if row.get("InvoiceId"):
            return dict(target._request("GET", f"{target.company}/invoices/{int(row['InvoiceId'])}").json())
        made = list(target._pages(f"{target.company}/invoices", {"invoiceDraftUuid": str(row["Uuid"])}))
        return dict(made[0]) if made else {"draft": row.get("DraftId")}  # a person may have made it in Fiken
    queries = ([{"orderReference": number}, {"invoiceNumber": number}] if number else [])
    for query in queries:
        hits = list(target._pages(f"{target.company}/invoices", query))
        if len(hits) == 1:
            return dict(hits[0])
    return None


# -- invoices and credit notes --------------------------------------------------------------------------------

def render_invoice(target: FikenTarget, invoice: SalesInvoice, found: dict[str, Any] | None = None) -> dict[str, Any]:
    """What deliver sends: the draft, and (a credit note posted) the credit note of the invoice it credits."""
    if found is None:
        found, _ = customer(target, invoice.customer, invoice.reference, create=False)
    customer_id = int(found["contactId"]) if found else None
    settings = target.settings
    due = terms.due_date(invoice, settings.due_days)
    rendered: dict[str, Any] = {"draft": invoicing.draft_payload(invoice, tenant=target.context.tenant,
                                                                 customer_id=customer_id, due=due,
                                                                 income_account=settings.income_account)}
    if invoice.credits is not None:
        credited = locate(target, invoice.credits, None)
        invoice_id = int(credited["invoiceId"]) if credited and "invoiceId" in credited else None
        whole = invoice_id is not None and Decimal(int(credited.get("gross") or 0)) / 100 == -invoice.total  # type: ignore[union-attr]
        rendered["creditNote"] = invoicing.credit_payload(invoice, invoice_id=invoice_id, whole=whole,
                                                          customer_id=customer_id,
                                                          income_account=settings.income_account)
        rendered["whole"] = whole
    return rendered


def deliver_invoice(target: FikenTarget, invoice: SalesInvoice) -> Delivery:
    row = progress(target, invoice.reference)
    if row.get("State") == "done":
        return _delivery(row)
    found, what = customer(target, invoice.customer, invoice.reference, create=True)
    if found is None:
        raise DataError(f"the customer of invoice {invoice.reference} is missing or ambiguous in Fiken",
                        tenant=target.context.tenant, reference=invoice.reference, connector=NAME)
    row.setdefault("Customer", int(found["contactId"]))
    row.setdefault("CustomerWas", what)
    rendered = render_invoice(target, invoice, found)
    kind = "credit" if invoice.credits else "invoice"
    drafts = f"{target.company}/{'creditNotes' if invoice.credits else 'invoices'}/drafts"
    uuid = rendered["draft"]["uuid"]
    if invoice.credits is not None and not target.draft:
        return _credit(target, invoice, row, rendered, found)
    draft_id = int(row.get("Draft") or 0)
    if not draft_id and row.get("Step") == "draft":  # an earlier attempt's outcome is unknown: ask Fiken first
        query = {"uuid": uuid} if kind == "invoice" else {}  # credit-note drafts have no uuid filter: read them all
        draft_id = next((int(d["draftId"]) for d in target._pages(drafts, query) if d.get("uuid") == uuid), 0)
    if not draft_id:
        _save(target, row, Step="draft", Kind=kind)
        draft_id = _created(target._request("POST", drafts, body=rendered["draft"], reference=invoice.reference))
    _save(target, row, Draft=draft_id, Kind=kind)
    if kind == "invoice":
        _index(target, invoice, draft_id=draft_id, invoice_id=None)
    if target.draft:
        _save(target, row, State="done", IsDraft=True)
        return _delivery(row)
    invoice_id = int(row.get("Invoice") or 0)
    if not invoice_id and row.get("Step") == "invoice":
        invoice_id = next((int(i["invoiceId"]) for i in target._pages(f"{target.company}/invoices",
                                                                       {"invoiceDraftUuid": uuid})), 0)
    if not invoice_id:
        _save(target, row, Step="invoice")
        invoice_id = _created(target._request("POST", f"{drafts}/{draft_id}/createInvoice",
                                              reference=invoice.reference))
    made = target._request("GET", f"{target.company}/invoices/{invoice_id}").json()
    _save(target, row, Invoice=invoice_id, IsDraft=False, InvoiceNumber=made.get("invoiceNumber"),
          Kid=made.get("kid") or "")
    _index(target, invoice, draft_id=draft_id, invoice_id=invoice_id)
    _send(target, row, "invoices", "invoiceId", invoice)
    _save(target, row, State="done")
    return _delivery(row)


def _credit(target: FikenTarget, invoice: SalesInvoice, row: Entity, rendered: dict[str, Any],
            found: dict[str, Any]) -> Delivery:
    body = rendered["creditNote"]
    if body.get("invoiceId") is None:
        raise DataError(f"the invoice credited, {invoice.credits}, is not a posted Fiken invoice",
                        tenant=target.context.tenant, reference=invoice.reference, connector=NAME)
    note_id = int(row.get("Invoice") or 0)
    if not note_id and row.get("Step") == "credit":
        notes = target._pages(f"{target.company}/creditNotes", {"customerId": str(found["contactId"]),
                                                                 "issueDate": invoice.date.isoformat()})
        note_id = next((int(n["creditNoteId"]) for n in notes if n.get("associatedInvoiceId") == body["invoiceId"]
                        and n.get("creditNoteText") == body["creditNoteText"]), 0)
    if not note_id:
        _save(target, row, Step="credit", Kind="credit")
        path = f"{target.company}/creditNotes/{'full' if rendered['whole'] else 'partial'}"
        note_id = _created(target._request("POST", path, body=body, reference=invoice.reference))
    made = target._request("GET", f"{target.company}/creditNotes/{note_id}").json()
    _save(target, row, Invoice=note_id, Credited=body["invoiceId"], IsDraft=False,
          InvoiceNumber=made.get("creditNoteNumber"))
    _send(target, row, "creditNotes", "creditNoteId", invoice)
    _save(target, row, State="done")
    return _delivery(row)


def _send(target: FikenTarget, row: Entity, kind: str, id_field: str, invoice: SalesInvoice) -> None:
    """Sent by Fiken itself, on opt-in, at most once: a send whose outcome is unknown stays unknown."""
    if not target.settings.send_invoices or row.get("Sent"):
        return
    if row.get("SendMethod"):
        row["Sent"] = "unknown"  # an earlier attempt's outcome is unknown: never sent twice
        return
    methods = invoicing.SEND_METHODS[invoice.customer.delivery_method]
    _save(target, row, SendMethod=",".join(methods))
    target._request("POST", f"{target.company}/{kind}/send", body={
        id_field: int(row["Invoice"]), "method": methods, "includeDocumentAttachments": True},
        reference=invoice.reference)
    _save(target, row, Sent=",".join(methods))


def _delivery(row: Entity) -> Delivery:
    names = {"Kind": "kind", "Draft": "draft_id", "Invoice": "invoice_id", "InvoiceNumber": "invoice_number",
             "Kid": "kid", "Customer": "customer_id", "CustomerWas": "customer", "Credited": "credits_invoice_id",
             "Sent": "sent"}
    details = {name: row[k] for k, name in names.items() if row.get(k) not in (None, "")}
    what = "creditNote" if row.get("Kind") == "credit" else "invoice"
    remote = f"{what}:{row['Invoice']}" if row.get("Invoice") else f"draft:{row.get('Draft')}"
    return Delivery(remote_id=remote, draft=bool(row.get("IsDraft")), details=details)


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
    # A shortfall within the tolerance is the payment's fee (Fiken books it beside the payment); an excess is an
    # overpayment by the tenant's rule (a payment has no negative fee).
    steps, refusals = terms.payment_plan(payment, outstanding, tolerance=Decimal(0) if over else
                                         Decimal(settings.payment_tolerance), difference_type=True,
                                         overpayments=settings.overpayments)
    found += [problem(code, "amount", message) for code, message in refusals]
    fee = sum((amount for kind, amount in steps if kind == "difference"), Decimal(0))
    return {"sale": sale.get("saleId"), "invoice": invoice.get("invoiceId"), "outstanding": outstanding,
            "body": invoicing.payment_body(payment, account, fee)}, found


def payment_problems(target: FikenTarget, payment: Payment) -> list[Problem]:
    return _plan(target, payment)[1]


def render_payment(target: FikenTarget, payment: Payment) -> dict[str, Any]:
    plan, _ = _plan(target, payment)
    return {"payment": plan.get("body") or invoicing.payment_body(payment, None, Decimal(0)),
            "lookup": {"invoiceNumber": payment.invoice_number, "kid": payment.kid}, "sale": plan.get("sale")}


def deliver_payment(target: FikenTarget, payment: Payment) -> Delivery:
    row = progress(target, payment.reference)
    if row.get("State") == "done":
        return _paid(row)
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
              Before=json.dumps(before), Open=f"{plan['outstanding']:.2f}", Body=json.dumps(plan["body"]))
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
    _save(target, row, Payment=payment_id, State="done")
    return _paid(row)


def _paid(row: Entity) -> Delivery:
    body = json.loads(str(row.get("Body") or "{}"))
    return Delivery(remote_id=f"payment:{row['Payment']}", draft=False, details={
        "kind": "payment", "sale_id": row.get("Sale"), "invoice_id": row.get("InvoiceId"), "open_before": row.get("Open"),
        "account": body.get("account"), "amount_øre": body.get("amount"), "fee_øre": body.get("fee", 0)})


def find(target: FikenTarget, reference: str) -> Delivery | None | Literal[False]:
    """A finished invoice/credit/payment by its progress row; None when unfinished (deliver resumes it, asking Fiken
    first); False when the reference is no invoice or payment of ours (a voucher: search Fiken's journal entries)."""
    tables = target.context.tables
    if tables is None:
        return False
    row = tables.get(TABLE_LEDGER, _partition(target, "invoicing"), _key(reference))
    if row is None:
        return False
    if row.get("State") != "done":
        return None
    return _paid(dict(row)) if row.get("Kind") == "payment" else _delivery(dict(row))

