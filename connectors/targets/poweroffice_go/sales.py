"""Sales invoices, credit notes and payments delivered to PowerOffice GO, each step exactly once (invoicing.py maps).

A delivery is a few calls (customer, sales order, createAndSendInvoice, sentState; a payment: one bank voucher), and a
timeout may leave any of them done or not. Every document has a progress row in the ledger table (connectors/sales/
progress.py, partition `<tenant>|poweroffice-go|invoicing`) written before each call; where a call's outcome is
unknown the next attempt asks GO before calling again:
- the sales order by our `ExternalImportReference` among the sales orders this integration created
  (`GET /SalesOrders?onlyCreatedByCurrentIntegration=true&lastChangedDateTimeOffsetGreaterThan=`), or — posted
  meanwhile — among its outgoing invoices (`GET /OutgoingInvoices?customMatchingReferences=`); a second POST with the
  same reference is refused by GO's own duplicate check all the same;
- posting by `GET /SalesOrders/sentState?id=`: sent (an invoice number), being processed (look again later), or never
  queued — only then is `createAndSendInvoice` called again, so an invoice is never posted or sent twice;
- a payment by its `ExternalImportReference` among the account transactions of its date (GO refuses the reference
  twice as well).
Invoices we delivered are indexed by our invoice number (`invoice-numbers`) and by the KID they came with (`kids`):
how a payment or credit note finds its invoice first; GO's own invoice with that number next.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from connectors.sales import checks
from connectors.sales import progress as rows
from connectors.targets.poweroffice_go import customers
from connectors.targets.poweroffice_go.invoicing import order_body, send_body
from connectors.targets.poweroffice_go.mapping import NAME, TITLE, external_reference
from pipeline.errors import DataError, TransientError
from pipeline.model import SalesInvoice
from pipeline.ports import Delivery, Entity
from pipeline.records.names import TABLE_LEDGER

if TYPE_CHECKING:
    from connectors.targets.poweroffice_go.target import PowerOfficeTarget

DUPLICATE = "externalimportreference"
PAGE = 5000
POLLS = 10  # sentState asked this often, a second apart, before the delivery is retried later


def progress(target: PowerOfficeTarget, reference: str) -> Entity:
    return rows.progress(target.context, NAME, TITLE, reference)


def save(target: PowerOfficeTarget, row: Entity, **changes: Any) -> None:
    rows.save(target.context, NAME, TITLE, row, **changes)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _index(target: PowerOfficeTarget, kind: str, key: str, **values: Any) -> None:
    rows.tables(target.context, NAME, TITLE).upsert(TABLE_LEDGER, {
        "PartitionKey": rows.partition(target.context, NAME, kind), "RowKey": rows.key(key), **values})


def _indexed(target: PowerOfficeTarget, kind: str, key: str) -> Entity | None:
    tables = target.context.tables
    return None if tables is None else tables.get(TABLE_LEDGER, rows.partition(target.context, NAME, kind),
                                                  rows.key(key))


# -- finding invoices -----------------------------------------------------------------------------------------

def outgoing(target: PowerOfficeTarget, **params: str) -> list[dict[str, Any]]:
    return target.records("OutgoingInvoices", params, role="OutgoingInvoices")


def sent_state(target: PowerOfficeTarget, order_id: str) -> dict[str, Any]:
    """`InvoiceSentStateDto` of a sales order (the generated client reads a list; a single object is taken too)."""
    answer = target.request("GET", "SalesOrders/sentState", params={"id": order_id}, missing_ok=True)
    if isinstance(answer, list):
        return dict(answer[0]) if answer else {}
    return dict(answer or {})


def locate(target: PowerOfficeTarget, number: str | None, kid: str | None) -> dict[str, Any] | None:
    """The GO invoice a payment or credit note names (`OutgoingInvoiceDto`): ours by our invoice number or by the
    KID we delivered it with, else GO's own with that number. `{"_draft": order id}` for ours not yet posted."""
    row = _indexed(target, "invoice-numbers", number) if number else None
    if row is None and kid:
        by_kid = _indexed(target, "kids", kid)
        row = _indexed(target, "invoice-numbers", str(by_kid["Number"])) if by_kid else None
    if row is not None:
        return _ours(target, row)
    if number and number.isdigit():
        found = _numbered(target, number)
        if found is not None:
            return found
    if kid:  # GO's own KID: among the open invoices (GO has no KID filter)
        open_ = [f for f in target.records("OutgoingInvoices", {"unpaid": "true"}, page_size=PAGE,
                                           role="OutgoingInvoices")
                 if str(f.get("Cid") or "") == kid]
        return dict(open_[0]) if len(open_) == 1 else None
    return None


def _numbered(target: PowerOfficeTarget, number: str) -> dict[str, Any] | None:
    found = [f for f in outgoing(target, invoiceNos=number) if str(f.get("InvoiceNo")) == number]
    return dict(found[0]) if found else None


def _ours(target: PowerOfficeTarget, row: Entity) -> dict[str, Any]:
    """Our invoice as GO holds it: by our invoice number in its CustomMatchingReference (filtered again here: that
    GO's filter matches exactly is [unverified]), else — posted from GO's own screens — by the number sentState
    gives its sales order; `{"_draft": …}` while it is a sales order."""
    cmr = external_reference(str(row["Number"]))
    found = [f for f in outgoing(target, customMatchingReferences=cmr) if f.get("CustomMatchingReference") == cmr]
    found = [f for f in found if f.get("ExternalImportReference") == row.get("Reference")] or found
    if found:
        return dict(found[0])
    number = sent_state(target, str(row["OrderId"])).get("InvoiceNo") if row.get("OrderId") else None
    posted = _numbered(target, str(number)) if number is not None else None
    return posted if posted is not None else {"_draft": row.get("OrderId")}


def _order_by_reference(target: PowerOfficeTarget, invoice: SalesInvoice, since: str | None
                        ) -> tuple[str, dict[str, Any] | None] | None:
    """(order id, GO's invoice if it was posted) of ours with this reference, after an unknown outcome."""
    ours = external_reference(invoice.reference)
    posted = [f for f in outgoing(target, customMatchingReferences=external_reference(invoice.invoice_number))
              if f.get("ExternalImportReference") == ours]  # filtered again: the filter's exactness is [unverified]
    if posted:
        return str(posted[0]["Id"]), dict(posted[0])
    moment = (dt.datetime.fromisoformat(since) if since else dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=10)
    orders = target.records("SalesOrders", {"onlyCreatedByCurrentIntegration": "true",
                                            "lastChangedDateTimeOffsetGreaterThan": moment.isoformat()})
    found = [o for o in orders if o.get("ExternalImportReference") == ours]
    return (str(found[0]["Id"]), None) if found else None


# -- invoices and credit notes --------------------------------------------------------------------------------

def render_invoice(target: PowerOfficeTarget, invoice: SalesInvoice, found: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """What deliver sends: the sales order, and — on opt-in — how it is posted."""
    if found is None:
        found, _ = customers.customer(target, invoice.customer, invoice.reference, create=False)
    related = None
    if invoice.credits is not None:
        credited = locate(target, invoice.credits, None)
        related = int(credited["InvoiceNo"]) if credited and credited.get("InvoiceNo") is not None else None
    due = checks.due_date(invoice, target.settings.due_days)
    rendered: dict[str, Any] = {"order": order_body(
        invoice, customer_id=None if found is None else int(found["Id"]), products=target.settings.products,
        rates=line_rates(target, invoice), due=due, related=related)}
    if not target.draft:
        rendered["send"] = send_body(invoice, due=due, send=target.settings.send_invoices,
                                     email=invoice.customer.email)
    return rendered


def line_rates(target: PowerOfficeTarget, invoice: SalesInvoice) -> list[Decimal]:
    """Each line's VAT rate as GO applies it: its product's sales account's code; the line's own code where the
    product or its account is unknown (preflight reports that)."""
    rates, products, out = target.vat_rates(), target.products(), []
    for line in invoice.lines:
        product = products.get(line.product or target.settings.products.get(line.vat_code) or "")
        account = target.sales_account(product) if product else None
        code = target.account_vat_code(account) or line.vat_code
        out.append(rates.get(code, Decimal(0)))
    return out


def deliver_invoice(target: PowerOfficeTarget, invoice: SalesInvoice) -> Delivery:
    row = progress(target, invoice.reference)
    if row.get("State") == "done":
        return delivery(row)
    found, what = customers.customer(target, invoice.customer, invoice.reference, create=True)
    if found is None:
        raise DataError(f"customer of invoice {invoice.reference} is {what} in PowerOffice GO",
                        tenant=target.context.tenant, reference=invoice.reference, connector=NAME)
    kind = "credit" if invoice.credits is not None else "invoice"
    row.setdefault("Customer", str(found.get("Number") or found["Id"]))
    row.setdefault("CustomerWas", what)
    order_id = str(row.get("OrderId") or "")
    if not order_id and row.get("Step") == "create":  # an earlier attempt's outcome is unknown: look first
        again = _order_by_reference(target, invoice, row.get("Since"))
        if again is not None:
            order_id = again[0]
            save(target, row, OrderId=order_id, GoTotal=_total(target, again), **_posted(again[1]))
    if not order_id:
        rendered = render_invoice(target, invoice, found)
        save(target, row, Step="create", Kind=kind, Since=_now(), Draft=True,
             Credited=str(rendered["order"].get("RelatedInvoiceNo") or ""))
        try:
            created = target.request("POST", "SalesOrders/Complete", body=rendered["order"],
                                     reference=invoice.reference, role="SalesOrders_Full")
        except DataError as exc:
            again = _order_by_reference(target, invoice, row.get("Since")) \
                if DUPLICATE in (exc.provider_message or "").lower() else None
            if again is None:
                raise
            save(target, row, **_posted(again[1]))
            created = {"Id": again[0], "TotalAmount": _total(target, again)}
        order_id = str(created["Id"])
        save(target, row, OrderId=order_id, GoTotal=str(created.get("TotalAmount") or ""))
    if kind == "invoice":
        _index(target, "invoice-numbers", invoice.invoice_number, Number=invoice.invoice_number, OrderId=order_id,
               Reference=external_reference(invoice.reference))
        if invoice.kid:
            _index(target, "kids", invoice.kid, Number=invoice.invoice_number)
    if row.get("GoTotal") and Decimal(str(row["GoTotal"])) != invoice.total:
        save(target, row, Refused=f"GO's total {row['GoTotal']} is not ours {invoice.total}")
        raise DataError(f"PowerOffice GO made sales order {order_id} of invoice {invoice.reference} total "
                        f"{row['GoTotal']}, not {invoice.total:.2f}: check the products' sales accounts and VAT codes; "
                        "it stays a draft in GO", tenant=target.context.tenant, reference=invoice.reference,
                        connector=NAME)
    if not target.draft and not row.get("InvoiceNo"):
        _post(target, row, invoice)
    save(target, row, State="done")
    return delivery(row)


def _total(target: PowerOfficeTarget, found: tuple[str, dict[str, Any] | None]) -> str:
    """GO's total of an order found again (VAT included): the posted invoice's, else the sales order's
    (`GET /SalesOrders/{id}`; that its lightweight SalesOrderDto carries TotalAmount is [unverified] — without it the
    check is GO's alone, as when the answer was never lost)."""
    order_id, posted = found
    if posted is not None:
        return str(posted.get("TotalAmount") or "")
    order = target.request("GET", f"SalesOrders/{order_id}", missing_ok=True) or {}
    return str(order.get("TotalAmount") or "")


def _posted(invoice: dict[str, Any] | None) -> dict[str, Any]:
    if not invoice or invoice.get("InvoiceNo") is None:
        return {}
    return {"InvoiceNo": str(invoice["InvoiceNo"]), "Cid": str(invoice.get("Cid") or ""), "Draft": False,
            "DueDate": str(invoice.get("DueDate") or "")[:10]}


def _post(target: PowerOfficeTarget, row: Entity, invoice: SalesInvoice) -> None:
    """createAndSendInvoice once: after an unknown outcome, sentState says whether GO took it."""
    order_id = str(row["OrderId"])
    if row.get("Step") == "send":
        state = sent_state(target, order_id)
        if not _settled(target, row, state, invoice):
            if state.get("IsInvoiceBeingProcessed"):
                raise TransientError(f"PowerOffice GO is still posting invoice {invoice.reference}; will look again",
                                     tenant=target.context.tenant, reference=invoice.reference, connector=NAME)
        else:
            return
    body = render_invoice(target, invoice)["send"]
    save(target, row, Step="send", Delivery=body["DeliveryType"])
    target.request("POST", f"SalesOrders/{order_id}/createAndSendInvoice", body=body, reference=invoice.reference,
                   role="SalesOrders_Full")
    for _attempt in range(POLLS):
        if _settled(target, row, sent_state(target, order_id), invoice):
            return
        target.wait(1.0)
    raise TransientError(f"PowerOffice GO accepted invoice {invoice.reference} for posting but has not posted it "
                         "yet; will look again", tenant=target.context.tenant, reference=invoice.reference,
                         connector=NAME)


def _settled(target: PowerOfficeTarget, row: Entity, state: dict[str, Any], invoice: SalesInvoice) -> bool:
    """Record what sentState says when GO is done: the invoice number (and GO's KID and due date), or its error."""
    if state.get("LastErrorMessage") and not state.get("InvoiceNo"):
        save(target, row, Refused=str(state["LastErrorMessage"]))
        raise DataError(f"PowerOffice GO did not post invoice {invoice.reference}: {state['LastErrorMessage']}",
                        tenant=target.context.tenant, reference=invoice.reference, connector=NAME)
    if state.get("InvoiceNo") is None:
        return False
    number = str(state["InvoiceNo"])
    found = [f for f in outgoing(target, invoiceNos=number) if str(f.get("InvoiceNo")) == number]
    sent = "auto" if row.get("Delivery") == "Auto" else "not delivered (PdfPrintForDownload)"
    save(target, row, **_posted(found[0] if found else {"InvoiceNo": number}), Sent=sent,
         SentAt=str(state.get("SentDateTimeOffset") or ""), DeliveredAs=str(state.get("InvoiceDeliveryType") or ""))
    return True


def delivery(row: Entity) -> Delivery:
    names = {"Kind": "kind", "OrderId": "sales_order", "InvoiceNo": "invoice_number", "Cid": "kid",
             "DueDate": "due_date", "Customer": "customer_number", "CustomerWas": "customer", "Sent": "sent",
             "DeliveredAs": "delivered_as", "Credited": "credits_invoice", "Invoice": "invoice",
             "Before": "open_before", "Fee": "fee", "VoucherNo": "voucher_number"}
    details = {name: row[k] for k, name in names.items() if row.get(k) not in (None, "")}
    remote = str(row.get("VoucherId") or row.get("OrderId"))
    return Delivery(remote_id=remote, draft=bool(row.get("Draft")), details=details)


def find(target: PowerOfficeTarget, reference: str) -> Delivery | None | Literal[False]:
    """A finished invoice/credit/payment by its progress row; None when unfinished (deliver resumes it, looking up
    first); False when the reference is no invoice or payment of ours (a voucher: sent.find)."""
    tables = target.context.tables
    if tables is None:
        return False
    row = tables.get(TABLE_LEDGER, rows.partition(target.context, NAME, "invoicing"), rows.key(reference))
    if row is None:
        return False
    return delivery(dict(row)) if row.get("State") == "done" else None
