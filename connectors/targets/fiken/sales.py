"""Sales invoices, credit notes and payments delivered to Fiken, each step exactly once (invoicing.py maps them).

Every document has a progress row in the ledger table (partition `<tenant>|fiken|invoicing`, one row per reference)
written before each call; where a call's outcome is unknown the next attempt asks Fiken before calling again — by
Fiken's own means where it has them: the draft by its UUID (`GET /invoices/drafts?uuid=`), the invoice by the draft
it was made of (`GET /invoices?invoiceDraftUuid=`), a credit note by the invoice it credits and its text, a payment
by the sale's payments against those before (payments.py). Sending is never repeated: a send whose outcome is unknown is reported
as `sent: unknown`. Invoices we delivered are indexed by our invoice number and KID (partition
`<tenant>|fiken|invoice-numbers`), which is how a payment or a credit note finds its invoice first.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from connectors.sales import checks as terms
from connectors.sales import progress as rows
from connectors.targets.fiken import external, invoicing
from connectors.targets.fiken.customers import created as _created
from connectors.targets.fiken.customers import customer
from connectors.targets.fiken.mapping import NAME
from pipeline.errors import DataError
from pipeline.model import SalesInvoice
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
    index(target, invoice, {"DraftId": draft_id, "InvoiceId": invoice_id or 0,
                            "Uuid": invoicing.draft_uuid(target.context.tenant, invoice.reference)})


def index(target: FikenTarget, invoice: SalesInvoice, found: dict[str, Any]) -> None:
    """Our invoice number and KID → what Fiken made of the invoice (`found`: its draft, invoice or sale ids)."""
    for key in [invoice.invoice_number] + ([f"kid:{invoice.kid}"] if invoice.kid else []):
        _tables(target).upsert(TABLE_LEDGER, {
            "PartitionKey": _partition(target, "invoice-numbers"), "RowKey": _key(key), **found,
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
        if row.get("SaleId"):  # an «Annet salg» (external.py)
            return {"sale": target._request("GET", f"{target.company}/sales/{int(row['SaleId'])}").json()}
        if row.get("SaleDraftId"):
            return {"draft": row["SaleDraftId"]}
        if row.get("InvoiceId"):
            return dict(target._request("GET", f"{target.company}/invoices/{int(row['InvoiceId'])}").json())
        made = list(target._pages(f"{target.company}/invoices", {"invoiceDraftUuid": str(row["Uuid"])}))
        return dict(made[0]) if made else {"draft": row.get("DraftId")}  # a person may have made it in Fiken
    queries = ([{"orderReference": number}, {"invoiceNumber": number}] if number else [])
    for query in queries:
        hits = list(target._pages(f"{target.company}/invoices", query))
        if len(hits) == 1:
            return dict(hits[0])
    if number and target.settings.invoice_flow == "external_sale":  # an «Annet salg» booked by someone else
        sales = [s for s in target._pages(f"{target.company}/sales", {"saleNumber": number})
                 if s.get("kind") == "external_invoice"]
        if len(sales) == 1:
            return {"sale": sales[0]}
    return None


# -- invoices and credit notes --------------------------------------------------------------------------------

def render_invoice(target: FikenTarget, invoice: SalesInvoice, found: dict[str, Any] | None = None) -> dict[str, Any]:
    """What deliver sends: the draft, and (a credit note posted) the credit note of the invoice it credits."""
    if found is None:
        found, _ = customer(target, invoice.customer, invoice.reference, create=False)
    customer_id = int(found["contactId"]) if found else None
    settings = target.settings
    due = terms.due_date(invoice, settings.due_days)
    project = target.project_of(invoice)
    if settings.invoice_flow == "external_sale":
        made = external.sale_payload if not target.draft else external.draft_payload
        return {"sale" if not target.draft else "draft": made(invoice, customer_id=customer_id, due=due,
                                                               income_account=settings.income_account,
                                                               project_id=project)}
    credited_number = None
    if invoice.credits is not None and target.draft:  # Fiken's credit-note draft cannot name the invoice
        credited = locate(target, invoice.credits, None)
        credited_number = (credited or {}).get("invoiceNumber") or ""
    rendered: dict[str, Any] = {"draft": invoicing.draft_payload(invoice, tenant=target.context.tenant,
                                                                 customer_id=customer_id, due=due,
                                                                 income_account=settings.income_account,
                                                                 project_id=project, credited=credited_number)}
    if invoice.credits is not None and target.draft:
        rendered["link"] = invoicing.DRAFT_UNLINKED
    if invoice.credits is not None and not target.draft:
        credited = locate(target, invoice.credits, None)
        invoice_id = int(credited["invoiceId"]) if credited and "invoiceId" in credited else None
        whole = invoice_id is not None and Decimal(int(credited.get("gross") or 0)) / 100 == -invoice.total  # type: ignore[union-attr]
        rendered["creditNote"] = invoicing.credit_payload(invoice, invoice_id=invoice_id, whole=whole,
                                                          customer_id=customer_id,
                                                          income_account=settings.income_account,
                                                          project_id=project)
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
    project = target.project_of(invoice)
    if project is not None:
        row.setdefault("Project", project)
    if target.settings.invoice_flow == "external_sale":
        return external.deliver(target, invoice, row, rendered)
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
    _save(target, row, Draft=draft_id, Kind=kind, **({"Credits": invoice.credits} if invoice.credits else {}))
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
    if str(row.get("Kind") or "").startswith("sale"):
        return external.delivery(row)
    names = {"Kind": "kind", "Draft": "draft_id", "Invoice": "invoice_id", "InvoiceNumber": "invoice_number",
             "Kid": "kid", "Customer": "customer_id", "CustomerWas": "customer", "Credited": "credits_invoice_id",
             "Sent": "sent", "Project": "project_id", "Credits": "credits"}
    details = {name: row[k] for k, name in names.items() if row.get(k) not in (None, "")}
    if row.get("Kind") == "credit" and row.get("IsDraft"):
        details["credit_link"] = invoicing.DRAFT_UNLINKED
    what = "creditNote" if row.get("Kind") == "credit" else "invoice"
    remote = f"{what}:{row['Invoice']}" if row.get("Invoice") else f"draft:{row.get('Draft')}"
    return Delivery(remote_id=remote, draft=bool(row.get("IsDraft")), details=details)


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
    from connectors.targets.fiken.payments import paid

    return paid(dict(row)) if row.get("Kind") == "payment" else _delivery(dict(row))

