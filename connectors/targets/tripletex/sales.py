"""Sales invoices, credit notes and payments delivered to Tripletex, each step exactly once (invoicing.py maps them).

Each delivery is a few calls (order, invoice, send; or one to three payment registrations), and a timeout may
leave any of them done or not. So every document has a progress row in the ledger table (partition
`<tenant>|tripletex|invoicing`, one row per reference) written before each call; a retry reads it, and where a call's
outcome is unknown it asks Tripletex before calling again: the order by customer and order date with our reference
on it, the invoice by the order it was made of, a credit note by the invoice it credits, a payment by the invoice's
open amount against the amount before it. Sending is never repeated: a send whose outcome is unknown is reported,
not sent again. `find` (the ledger's question after an unknown outcome) answers only for a finished row; an
unfinished one is resumed by `deliver`, which looks up before it creates.
Invoices we posted are indexed by their invoice number (partition `<tenant>|tripletex|invoice-numbers`), which is how
a payment or a credit note finds its invoice first; Tripletex's own search by invoice number and by KID next.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from connectors.sales import progress as rows
from connectors.sales.checks import matching_party
from connectors.targets.tripletex import invoicing, parties
from connectors.targets.tripletex.mapping import NAME, customer_payload, external_number, matched
from pipeline.errors import DataError, Problem
from pipeline.model import Party, Payment, SalesInvoice
from pipeline.ports import Delivery, Entity
from pipeline.records.names import TABLE_LEDGER

if TYPE_CHECKING:
    from connectors.targets.tripletex.target import TripletexTarget

TITLE = "Tripletex"  # how a missing ledger table is refused: "<TITLE> invoices need the ledger table"

SEARCH_BACK = dt.timedelta(days=3 * 366)  # how far back a payment or a credit note looks for its invoice
COMPARED = ("name", "email", "invoiceEmail", "invoiceSendMethod", "postalAddress", "organizationNumber")


# -- progress rows --------------------------------------------------------------------------------------------

def _partition(target: TripletexTarget, kind: str) -> str:
    return rows.partition(target.context, NAME, kind)


_key = rows.key


def _tables(target: TripletexTarget, reference: str | None = None) -> Any:
    return rows.tables(target.context, NAME, TITLE, reference)


def progress(target: TripletexTarget, reference: str) -> Entity:
    return rows.progress(target.context, NAME, TITLE, reference)


def _save(target: TripletexTarget, row: Entity, **changes: Any) -> None:
    rows.save(target.context, NAME, TITLE, row, **changes)


def _index(target: TripletexTarget, invoice: SalesInvoice, invoice_id: int | None, order_id: int) -> None:
    _tables(target, invoice.reference).upsert(TABLE_LEDGER, {
        "PartitionKey": _partition(target, "invoice-numbers"), "RowKey": _key(invoice.invoice_number),
        "InvoiceId": invoice_id or 0, "OrderId": order_id, "Reference": invoice.reference})


# -- customers ------------------------------------------------------------------------------------------------

def customer(target: TripletexTarget, party: Party, reference: str, *, create: bool) -> tuple[dict[str, Any] | None, str]:
    """The Tripletex customer (None: missing) and what happened: "found", "created", "updated"."""
    settings = target.settings
    wanted = matching_party(party, settings.customer_match)
    target._parties("customers", "customer", [wanted])
    found = matched(wanted, target.register.customers)
    if found is not None and (found.get("_ambiguous") or found.get("isInactive")):
        return None, "found"
    if found is None:
        if not create or not settings.create_customers:
            return None, "found"
        return parties.ensure(target, wanted, reference=reference, full=party), "created"
    if create and settings.update_customers and "version" in found:  # only a delivery changes customers
        body = customer_payload(party)
        changed = {k: body[k] for k in COMPARED if k in body and _differs(body[k], found.get(k))}
        if changed:
            updated = target._request("PUT", f"customer/{int(found['id'])}", body={
                "id": int(found["id"]), "version": found["version"], **changed}, reference=reference)["value"]
            found.update(updated)
            return found, "updated"
    return found, "found"


def _differs(sent: Any, held: Any) -> bool:
    """Whether what we would send differs from what Tripletex holds: an address by the lines we send (Tripletex's
    Address has more: id, country, …)."""
    if isinstance(sent, dict):
        held = held if isinstance(held, dict) else {}
        return any(value != held.get(key) for key, value in sent.items())
    return bool(sent != held)


# -- invoices -------------------------------------------------------------------------------------------------

def _day_after(day: dt.date) -> str:
    return (day + dt.timedelta(days=1)).isoformat()


def _order_by_reference(target: TripletexTarget, customer_id: int, day: dt.date, number: str) -> dict[str, Any] | None:
    found = target._list("order", {"customerId": str(customer_id), "orderDateFrom": day.isoformat(),
                                   "orderDateTo": _day_after(day), "fields": "id,number,reference,isClosed"})
    return next((o for o in found if o.get("reference") == number), None)


def _invoices(target: TripletexTarget, params: dict[str, Any], frm: dt.date, to: dt.date) -> list[dict[str, Any]]:
    return target._list("invoice", {**params, "invoiceDateFrom": frm.isoformat(), "invoiceDateTo": _day_after(to),
                                    "fields": "id,invoiceNumber,invoiceDate,kid,customer,orders,amount,"
                                              "amountOutstanding,isCreditNote,creditedInvoice,isCredited"})


def _invoice_of_order(target: TripletexTarget, customer_id: int, day: dt.date, order_id: int) -> dict[str, Any] | None:
    found = _invoices(target, {"customerId": str(customer_id)}, day, day + dt.timedelta(days=366))
    return next((i for i in found if any(int(o.get("id") or 0) == order_id for o in i.get("orders") or ())), None)


def locate(target: TripletexTarget, number: str | None, kid: str | None, on: dt.date) -> dict[str, Any] | None:
    """The Tripletex invoice a payment or credit note names: ours by number, else Tripletex's by number, else by KID.
    An invoice still a draft (an order) is `{"draft": order id}`."""
    tables = target.context.tables
    if number and tables is not None:
        row = tables.get(TABLE_LEDGER, _partition(target, "invoice-numbers"), _key(number))
        if row is not None:
            if not row.get("InvoiceId"):
                return {"draft": row.get("OrderId")}
            return dict(target._request("GET", f"invoice/{int(row['InvoiceId'])}")["value"])
    frm, to = on - SEARCH_BACK, on + dt.timedelta(days=366)
    if number and number.isdigit():
        hits = [i for i in _invoices(target, {"invoiceNumber": number}, frm, to) if not i.get("isCreditNote")]
        if len(hits) == 1:
            return hits[0]
    if kid:
        hits = [i for i in _invoices(target, {"kid": kid}, frm, to) if not i.get("isCreditNote")]
        if len(hits) == 1:
            return hits[0]
    return None


def render_invoice(target: TripletexTarget, invoice: SalesInvoice, found: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """What deliver sends: the order, then (posting) the invoice or (a credit note) the credit."""
    lookups = target.context.lookups
    register = target.register
    if found is None:
        found, _ = customer(target, invoice.customer, invoice.reference, create=False)
    dimensions = [line.dimensions for line in invoice.lines]
    lookups.fill("departments", [d["department"] for d in dimensions if "department" in d],
                 target._dimensions("department", "departmentNumber", "departmentNumber"))
    lookups.fill("projects", [d["project"] for d in dimensions if "project" in d],
                 target._dimensions("project", "number", "number"))
    order = invoicing.order_payload(invoice, customer=found, vat_types=register.vat_types,
                                    departments=register.departments, projects=register.projects,
                                    number=external_number(invoice.reference),
                                    due=invoicing.due_date(invoice, target.settings.due_days))
    rendered: dict[str, Any] = {"order": order}
    if invoice.credits is not None:
        credited = locate(target, invoice.credits, None, invoice.date)
        whole = credited is not None and "id" in credited and Decimal(str(credited.get("amount"))) == -invoice.total
        rendered["creditNote"] = {"invoice": (credited or {}).get("id"), "whole": whole,
                                  "date": invoice.date.isoformat()}
    else:
        rendered["invoice"] = invoicing.invoice_payload(invoice, None, invoicing.due_date(invoice,
                                                        target.settings.due_days), found)
    return rendered


def deliver_invoice(target: TripletexTarget, invoice: SalesInvoice) -> Delivery:
    row = progress(target, invoice.reference)
    if row.get("State") == "done":
        return _delivery(row)
    found, what = customer(target, invoice.customer, invoice.reference, create=True)
    if found is None:
        raise DataError(f"customer of invoice {invoice.reference} is missing, ambiguous or inactive in Tripletex",
                        tenant=target.context.tenant, reference=invoice.reference, connector=NAME)
    customer_id = int(found["id"])
    row.setdefault("Customer", customer_id)
    row.setdefault("CustomerWas", what)
    rendered = render_invoice(target, invoice, found)
    credit = rendered.get("creditNote")
    if credit is not None and not target.draft and credit["whole"]:
        return _credit_whole(target, invoice, row, int(credit["invoice"]), found)
    order_id = int(row.get("Order") or 0)
    if not order_id and row.get("Step") == "order":  # an earlier attempt's outcome is unknown: look first
        order_id = int((_order_by_reference(target, customer_id, invoice.date, external_number(invoice.reference))
                        or {}).get("id") or 0)
    if not order_id:
        _save(target, row, Step="order", Kind="credit" if credit else "invoice")
        order_id = int(target._request("POST", "order", body=rendered["order"], reference=invoice.reference)["value"]["id"])
    _save(target, row, Order=order_id, Kind="credit" if credit else "invoice")
    if target.draft:
        if credit is None:
            _index(target, invoice, None, order_id)
        _save(target, row, State="done", Draft=True)
        return _delivery(row)
    invoice_id = int(row.get("Invoice") or 0)
    if not invoice_id and row.get("Step") == "invoice":
        invoice_id = int((_invoice_of_order(target, customer_id, invoice.date, order_id) or {}).get("id") or 0)
    if not invoice_id:
        _save(target, row, Step="invoice")
        if credit is not None:
            made = target._request("PUT", f"order/{order_id}/:invoice", params={
                "invoiceDate": invoice.date.isoformat(), "sendToCustomer": "false",
                "invoiceIdIfIsCreditNote": int(credit["invoice"])}, reference=invoice.reference)["value"]
        else:
            body = {**rendered["invoice"], "orders": [{"id": order_id}]}
            made = target._request("POST", "invoice", params={"sendToCustomer": "false"}, body=body,
                                   reference=invoice.reference)["value"]
        invoice_id = int(made["id"])
        row["InvoiceNumber"] = made.get("invoiceNumber")
    _save(target, row, Invoice=invoice_id, Draft=False)
    if credit is None:
        _index(target, invoice, invoice_id, order_id)
    _send(target, row, found, invoice.reference)
    _save(target, row, State="done")
    return _delivery(row)


def _credit_whole(target: TripletexTarget, invoice: SalesInvoice, row: Entity, credited: int,
                  found: dict[str, Any]) -> Delivery:
    note_id = int(row.get("Invoice") or 0)
    if not note_id and row.get("Step") == "credit":
        note = _invoices(target, {"customerId": str(row["Customer"])}, invoice.date, invoice.date)
        note_id = int(next((n["id"] for n in note if n.get("creditedInvoice") == credited), 0))
    if not note_id:
        _save(target, row, Step="credit", Kind="credit")
        made = target._request("PUT", f"invoice/{credited}/:createCreditNote", params={
            "date": invoice.date.isoformat(), "comment": f"Kreditnota {invoice.invoice_number}",
            "sendToCustomer": "false"}, reference=invoice.reference)["value"]
        note_id = int(made["id"])
        row["InvoiceNumber"] = made.get("invoiceNumber")
    _save(target, row, Invoice=note_id, Credited=credited, Draft=False)
    _send(target, row, found, invoice.reference)
    _save(target, row, State="done")
    return _delivery(row)


def _send(target: TripletexTarget, row: Entity, found: dict[str, Any], reference: str) -> None:
    """E-mail or EHF by Tripletex itself, on opt-in, at most once: a send whose outcome is unknown stays unknown."""
    if not target.settings.send_invoices or row.get("Sent"):
        return
    if row.get("SendType"):
        row["Sent"] = "unknown"  # an earlier attempt's outcome is unknown: never sent twice
        return
    kind = "EHF" if str(found.get("invoiceSendMethod") or "").upper() == "EHF" else "EMAIL"
    _save(target, row, SendType=kind)
    target._request("PUT", f"invoice/{int(row['Invoice'])}/:send", params={"sendType": kind}, reference=reference)
    _save(target, row, Sent=kind)


def _delivery(row: Entity) -> Delivery:
    names = {"Kind": "kind", "Order": "order_id", "Invoice": "invoice_id", "InvoiceNumber": "invoice_number",
             "Customer": "customer_id", "CustomerWas": "customer", "Credited": "credits_invoice_id", "Sent": "sent"}
    details = {name: row[k] for k, name in names.items() if row.get(k) not in (None, "")}
    remote = f"invoice:{row['Invoice']}" if row.get("Invoice") else f"order:{row.get('Order')}"
    return Delivery(remote_id=remote, draft=bool(row.get("Draft")), details=details)


# -- payments -------------------------------------------------------------------------------------------------

def payment_type(target: TripletexTarget, description: str) -> int | None:
    types = target.context.lookups.fill("payment_types", [description], lambda wanted: {
        w: t for w in wanted for t in target._list("invoice/paymentType", {"description": w})
        if str(t.get("description", "")).lower() == w.lower()})
    return int(types[description]["id"]) if description in types else None


def payment_problems(target: TripletexTarget, payment: Payment) -> list[Problem]:
    """Whether the payment can be registered: its invoice, its payment type, its amount against the open amount."""
    plan, problems = _plan(target, payment)
    return problems


def _plan(target: TripletexTarget, payment: Payment) -> tuple[dict[str, Any], list[Problem]]:
    settings = target.settings

    def problem(code: str, where: str, message: str) -> Problem:
        return Problem(message, field=where, reference=payment.reference, code=code)

    found: list[Problem] = []
    if payment.currency != "NOK":
        found.append(problem("unsupported-currency", "currency", "Tripletex payments are registered in NOK only"))
    method = payment.payment_method or "bank"
    description = settings.payment_types.get(method)
    type_id = payment_type(target, description) if description else None
    if type_id is None:
        found.append(problem("unknown-payment-type", "payment_method",
                             f"payment method {method!r} has no Tripletex payment type "
                             + (f"(settings.payment_types names {description!r}, which Tripletex lacks)" if description
                                else "in settings.payment_types")))
    invoice = locate(target, payment.invoice_number, payment.kid, payment.date)
    if invoice is None:
        found.append(problem("missing-invoice", "invoice_number", f"no Tripletex invoice has number "
                             f"{payment.invoice_number} or KID {payment.kid}"))
        return {}, found
    if "draft" in invoice:
        found.append(problem("invoice-not-posted", "invoice_number", f"invoice {payment.invoice_number} is still a draft "
                             "(an order) in Tripletex: it is paid once it is invoiced"))
        return {}, found
    difference_id = payment_type(target, settings.payment_difference_type) if settings.payment_difference_type else None
    outstanding = Decimal(str(invoice.get("amountOutstanding") or 0))
    steps, refusals = invoicing.payment_plan(payment, outstanding, tolerance=Decimal(settings.payment_tolerance),
                                             difference_type=difference_id is not None,
                                             overpayments=settings.overpayments)
    found += [problem(code, "amount", message) for code, message in refusals]
    return {"invoice": int(invoice["id"]), "outstanding": outstanding, "type": type_id, "difference": difference_id,
            "steps": steps}, found


def render_payment(target: TripletexTarget, payment: Payment) -> dict[str, Any]:
    plan, _ = _plan(target, payment)
    return {"payment": {"invoice": plan.get("invoice"), "paymentDate": payment.date.isoformat(),
                        "paymentTypeId": plan.get("type"), "paidAmount": payment.amount},
            "lookup": {"invoiceNumber": payment.invoice_number, "kid": payment.kid},
            "registrations": [{"kind": kind, "paidAmount": amount} for kind, amount in plan.get("steps", ())]}


def deliver_payment(target: TripletexTarget, payment: Payment) -> Delivery:
    row = progress(target, payment.reference)
    if row.get("State") == "done":
        return _paid(row)
    if not row.get("Steps"):
        plan, problems = _plan(target, payment)
        if problems:
            raise DataError(f"payment {payment.reference} cannot be registered: "
                            + "; ".join(p.message for p in problems), tenant=target.context.tenant,
                            reference=payment.reference, connector=NAME, problems=tuple(problems))
        steps = [[kind, f"{amount:.2f}", plan["type"] if kind == "paid" else plan["difference"]]
                 for kind, amount in plan["steps"]]
        _save(target, row, Kind="payment", Invoice=plan["invoice"], Before=f"{plan['outstanding']:.2f}",
              Steps=json.dumps(steps), Done=0)
    steps = json.loads(str(row["Steps"]))
    done = int(row.get("Done") or 0)
    if row.get("Sending", "") != "":  # an earlier registration's outcome is unknown: the open amount tells how far it got
        now = Decimal(str(target._request("GET", f"invoice/{int(row['Invoice'])}",
                                          params={"fields": "id,amountOutstanding"})["value"]["amountOutstanding"]))
        left = Decimal(str(row["Before"]))
        for k in range(len(steps) + 1):
            if left == now:
                done = k
                break
            if k < len(steps):
                left -= Decimal(steps[k][1])
        row["Sending"] = ""
    for k in range(done, len(steps)):
        _kind, amount, type_id = steps[k]
        _save(target, row, Sending=str(k), Done=k)
        target._request("PUT", f"invoice/{int(row['Invoice'])}/:payment", params={
            "paymentDate": payment.date.isoformat(), "paymentTypeId": int(type_id), "paidAmount": amount},
            reference=payment.reference)
        _save(target, row, Sending="", Done=k + 1)
    _save(target, row, State="done")
    return _paid(row)


def _paid(row: Entity) -> Delivery:
    steps = json.loads(str(row.get("Steps") or "[]"))
    return Delivery(remote_id=f"invoice:{row['Invoice']}", draft=False, details={
        "kind": "payment", "invoice": row["Invoice"], "open_before": row.get("Before"),
        "registered": [{"kind": kind, "paid_amount": amount} for kind, amount, _ in steps]})


def find(target: TripletexTarget, reference: str) -> Delivery | None | Literal[False]:
    """A finished invoice/credit/payment by its progress row; None when unfinished (deliver resumes it, looking up
    first); False when the reference is no invoice or payment of ours (a voucher: search Tripletex's vouchers)."""
    tables = target.context.tables
    if tables is None:
        return False
    row = tables.get(TABLE_LEDGER, _partition(target, "invoicing"), _key(reference))
    if row is None:
        return False
    if row.get("State") != "done":
        return None
    return _paid(dict(row)) if row.get("Kind") == "payment" else _delivery(dict(row))
