"""Sales invoices, credit notes and payments delivered to Visma.net, each step exactly once (invoicing.py maps them).

A delivery is a few calls (create, release, send), and a timeout may leave any of them done or not. Every document
has a progress row in the ledger table (partition `<tenant>|visma-net|invoicing`, one row per reference) written
before each call; where a call's outcome is unknown the next attempt asks Visma.net before calling again: the
document by our reference in its `externalReference` (a payment: in its `paymentRef`, among the invoice's
payments), and a release by the document's status. Sending is never repeated: a send whose outcome is unknown is
reported as `sent: unknown`. `find` answers only for a finished row; an unfinished one is resumed by `deliver`.
Invoices we delivered are indexed by our invoice number (partition `<tenant>|visma-net|invoice-numbers`): how a
payment or credit note finds its invoice first; Visma.net's own ref. no. and then its payment reference (KID) next.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from connectors.sales import checks
from connectors.sales import progress as rows
from connectors.targets.visma_net import customers, invoicing, rules
from connectors.targets.visma_net.mapping import NAME, short_reference
from pipeline.errors import BilagsbroError, ConfigError, DataError, OutcomeUnknown, Problem
from pipeline.model import SalesInvoice
from pipeline.ports import Delivery, Entity
from pipeline.records.names import TABLE_LEDGER

if TYPE_CHECKING:
    from connectors.targets.visma_net.target import VismaNetTarget

TITLE = "Visma.net"  # how a missing ledger table is refused: "<TITLE> invoices need the ledger table"

OPEN = ("Open", "Closed", "PendingPrint", "PendingEmail")  # released: in the customer ledger
DRAFTS = ("Hold", "Balanced")
ENDPOINTS = {"invoice": "customerinvoice", "credit": "customerCreditNote", "payment": "customerPayment"}


# -- progress rows --------------------------------------------------------------------------------------------

def _partition(target: VismaNetTarget, kind: str) -> str:
    return rows.partition(target.context, NAME, kind)


_key = rows.key


def _tables(target: VismaNetTarget, reference: str | None = None) -> Any:
    return rows.tables(target.context, NAME, TITLE, reference)


def progress(target: VismaNetTarget, reference: str) -> Entity:
    return rows.progress(target.context, NAME, TITLE, reference)


def save(target: VismaNetTarget, row: Entity, **changes: Any) -> None:
    rows.save(target.context, NAME, TITLE, row, **changes)


# -- finding documents ----------------------------------------------------------------------------------------

def get(target: VismaNetTarget, path: str, params: dict[str, Any] | None = None) -> Any:
    """The answer, or None where Visma.net says there is no such document (404)."""
    try:
        return target.get(path, params)
    except BilagsbroError as exc:
        if exc.status == 404:
            return None
        raise


def document(target: VismaNetTarget, kind: str, number: str) -> dict[str, Any] | None:
    found = get(target, f"v1/{ENDPOINTS[kind]}/{quote(number, safe='')}")
    return dict(found) if isinstance(found, dict) else None


def _by_reference(target: VismaNetTarget, kind: str, reference: str) -> dict[str, Any] | None:
    """Our document by our reference in its externalReference ([unverified] that the filter matches exactly: the
    answer is filtered again here)."""
    ours = short_reference(reference)
    rows = [r for r in get(target, f"v1/{ENDPOINTS[kind]}", {"externalReference": ours}) or ()
            if isinstance(r, dict) and r.get("externalReference") == ours]
    return min(rows, key=lambda r: str(r.get("referenceNumber"))) if rows else None


def locate(target: VismaNetTarget, number: str | None, kid: str | None) -> dict[str, Any] | None:
    """The Visma.net invoice a payment or credit note names: ours by our invoice number, else Visma.net's with that
    ref. no., else the one whose payment reference is the KID."""
    tables = target.context.tables
    if number and tables is not None:
        row = tables.get(TABLE_LEDGER, _partition(target, "invoice-numbers"), _key(number))
        if row is not None:
            return document(target, "invoice", str(row["Number"]))
    if number:
        found = document(target, "invoice", number)
        if found is not None and found.get("documentType", "Invoice") == "Invoice":
            return found
    if kid:
        rows = [r for r in get(target, "v1/customerinvoice", {"paymentReference": kid}) or ()
                if isinstance(r, dict) and r.get("paymentReference") == kid]
        if len(rows) == 1:
            return dict(rows[0])
    return None


# -- invoices and credit notes --------------------------------------------------------------------------------

def render_invoice(target: VismaNetTarget, invoice: SalesInvoice, found: dict[str, Any] | None = None,
                   ) -> dict[str, Any]:
    """What deliver sends: the customer invoice, or the credit note applied to the invoice it credits."""
    if found is None:
        found, _ = customers.customer(target, invoice.customer, invoice.reference, create=False)
    register = target.register_for_invoices(invoice)
    credited, apply = None, None
    if invoice.credits is not None:
        credited_doc = locate(target, invoice.credits, None)
        if credited_doc is not None:
            credited = str(credited_doc["referenceNumber"])
            if credited_doc.get("status") in OPEN:  # on hold (a draft): nothing to apply to yet; the text names it
                apply = min(-invoice.total, Decimal(str(credited_doc.get("balance") or 0)))
    body = invoicing.document_body(
        invoice, customer=None if found is None else str(found["number"]), vats=register.vats,
        categories=register.vat_categories, chosen=target.settings.vat_categories,
        due=checks.due_date(invoice, target.settings.due_days), hold=target.draft,
        department_segment=target.settings.department_segment, credited=credited, apply=apply)
    kind = "credit" if invoice.credits is not None else "invoice"
    rendered: dict[str, Any] = {"endpoint": f"v2/{ENDPOINTS[kind]}", "document": body}
    if invoice.credits is not None:
        rendered["credits"] = {"invoice": credited, "applied": apply}
    return rendered


def deliver_invoice(target: VismaNetTarget, invoice: SalesInvoice) -> Delivery:
    row = progress(target, invoice.reference)
    if row.get("State") == "done":
        return delivery(row)
    found, what = customers.customer(target, invoice.customer, invoice.reference, create=True)
    if found is None:
        raise DataError(f"customer of invoice {invoice.reference} is missing, ambiguous or inactive in Visma.net",
                        tenant=target.context.tenant, reference=invoice.reference, connector=NAME)
    kind = "credit" if invoice.credits is not None else "invoice"
    row.setdefault("Customer", str(found["number"]))
    row.setdefault("CustomerWas", what)
    number = str(row.get("Number") or "")
    if not number and row.get("Step") == "create":  # an earlier attempt's outcome is unknown: look first
        number = str((_by_reference(target, kind, invoice.reference) or {}).get("referenceNumber") or "")
    if not number:
        rendered = render_invoice(target, invoice, found)
        save(target, row, Step="create", Kind=kind, Credited=(rendered.get("credits") or {}).get("invoice") or "")
        response = target.send("POST", rendered["endpoint"], body=rendered["document"], reference=invoice.reference)
        number = created(response) or str((_by_reference(target, kind, invoice.reference) or {})
                                           .get("referenceNumber") or "")
        if not number:
            raise OutcomeUnknown(f"Visma.net answered {response.status_code} to {kind} {invoice.reference} but does "
                                 "not list it yet", tenant=target.context.tenant, reference=invoice.reference,
                                 connector=NAME, status=response.status_code)
    save(target, row, Number=number, Kind=kind, Draft=target.draft)
    if kind == "invoice":
        _tables(target, invoice.reference).upsert(TABLE_LEDGER, {
            "PartitionKey": _partition(target, "invoice-numbers"), "RowKey": _key(invoice.invoice_number),
            "Number": number, "Reference": invoice.reference})
    if not target.draft:
        release(target, row, kind, invoice.reference)
        if not row.get("Refused"):
            _send(target, row, kind, invoice.reference)
    save(target, row, State="done")
    return delivery(row)


def release(target: VismaNetTarget, row: Entity, kind: str, reference: str) -> None:
    """Release the document once: after an unknown outcome its status says whether it was. A refusal leaves it on
    the ledger as balanced (not released) and is said in the delivery, as for journal transactions."""
    if row.get("Released"):
        return
    number = str(row["Number"])
    if row.get("Step") == "release":
        status = (document(target, kind, number) or {}).get("status")
        if status not in DRAFTS:
            save(target, row, Released=True, Draft=False, Status=status or "")
            return
    save(target, row, Step="release")
    body = {"type": {"value": "Payment"}} if kind == "payment" else None
    try:
        answer = target.send("POST", f"v1/{ENDPOINTS[kind]}/{quote(number, safe='')}/action/release", body=body,
                             reference=reference).json() or {}
    except (ConfigError, DataError) as exc:
        save(target, row, Refused=exc.provider_message or exc.message, Draft=True)
        return
    if answer.get("actionResult") == "Failed":
        save(target, row, Refused=str(answer.get("errorInfo") or "Visma.net gave no reason"), Draft=True)
        return
    save(target, row, Released=True, Draft=False, Status=str(answer.get("actionResult") or "Done"))


def _send(target: VismaNetTarget, row: Entity, kind: str, reference: str) -> None:
    """AutoInvoice sends the document (EHF/PEPPOL, e-mail or print, as the customer is set up), on opt-in, at most
    once: a send whose outcome is unknown stays unknown."""
    if not target.settings.send_invoices or row.get("Sent"):
        return
    if row.get("Sending"):
        save(target, row, Sent="unknown")  # an earlier attempt's outcome is unknown: never sent twice
        return
    save(target, row, Sending=True)
    answer = target.send("POST", f"v1/{ENDPOINTS[kind]}/{quote(str(row['Number']), safe='')}/action/sendToAutoInvoice",
                         reference=reference).json() or {}
    result = str(answer.get("actionResult") or "Done")
    save(target, row, Sent="autoinvoice" if result != "Failed" else f"failed: {answer.get('errorInfo') or ''}")


def delivery(row: Entity) -> Delivery:
    names = {"Kind": "kind", "Number": "number", "Customer": "customer_number", "CustomerWas": "customer",
             "Sent": "sent", "Refused": "release_refused", "Status": "release", "Invoice": "invoice",
             "Before": "open_before", "WriteOff": "written_off", "Credited": "credits_invoice"}
    details = {name: row[k] for k, name in names.items() if row.get(k) not in (None, "")}
    return Delivery(remote_id=f"{row.get('Kind')}:{row['Number']}", draft=bool(row.get("Draft")), details=details)


def created(response: Any) -> str | None:
    """The new document's number: the last segment of the 201's `Location` [unverified for these endpoints]."""
    location = response.headers.get("Location") or ""
    return location.rstrip("/").rsplit("/", 1)[-1] or None if location else None


def find(target: VismaNetTarget, reference: str) -> Delivery | None | Literal[False]:
    """A finished invoice/credit/payment by its progress row; None when unfinished (deliver resumes it, looking up
    first); False when the reference is no invoice or payment of ours (a voucher: search the journal)."""
    tables = target.context.tables
    if tables is None:
        return False
    row = tables.get(TABLE_LEDGER, _partition(target, "invoicing"), _key(reference))
    if row is None:
        return False
    return delivery(dict(row)) if row.get("State") == "done" else None



def invoice_problems(target: VismaNetTarget, invoice: SalesInvoice) -> list[Problem]:
    """Preflight of an invoice or credit note: the company's rules (rules.invoice_problems), its customer, and the
    invoice it credits (released, where the tenant posts directly)."""
    problems = rules.invoice_problems(invoice, target.register_for_invoices(invoice),
                                      vat_categories=target.settings.vat_categories,
                                      due_days=target.settings.due_days)
    found, why = customers.customer(target, invoice.customer, invoice.reference, create=False)
    settings = target.settings
    creatable = why == "missing" and settings.create_customers and bool(customers.keys(
        checks.matching_party(invoice.customer, settings.customer_match)))
    if found is None and not creatable:
        who = invoice.customer.name or invoice.customer.number
        problems.append(Problem(f"customer {who} is {why} in Visma.net" + (
            " (the connection may create missing customers: setting create_customers)"
            if why == "missing" and not settings.create_customers else
            ": merge them in Visma.net" if why == "ambiguous" else ""),
            field="customer", reference=invoice.reference, code="missing-customer"))
    if invoice.credits is not None:
        credited = locate(target, invoice.credits, None)
        if credited is None or not target.draft and credited.get("status") not in OPEN:
            problems.append(Problem(f"the invoice credited, {invoice.credits}, is " + (
                "not in Visma.net" if credited is None else f"{credited.get('status')} in Visma.net, not released"),
                field="credits", reference=invoice.reference, code="missing-invoice"))
    return problems
