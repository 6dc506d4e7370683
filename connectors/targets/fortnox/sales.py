"""Sales invoices and credit notes delivered to Fortnox, each step exactly once (invoicing.py maps them).

A delivery is a few calls (create, bookkeep, send), and a timeout may leave any of them done or not. Every document
has a progress row in the ledger table (connectors/sales/progress.py: partition `<tenant>|fortnox|invoicing`)
written before each call; where a call's outcome is unknown the next attempt asks Fortnox before calling again: an
invoice by our reference in its `ExternalInvoiceReference1`, Fortnox's whole credit by the credited invoice's
`CreditInvoiceReference`, a booking by the invoice's `Booked`. Sending is never repeated: a send whose outcome is
unknown is reported as `sent: unknown`. Invoices we delivered are indexed by our invoice number (partition
`<tenant>|fortnox|invoice-numbers`): how a payment or credit note finds its invoice first; Fortnox's
`ExternalInvoiceReference2` (our invoice number) and then its OCR (the KID) next.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from connectors.sales import checks
from connectors.sales import progress as rows
from connectors.targets.fortnox import customers
from connectors.targets.fortnox.invoicing import invoice_body, rate_of, short_reference
from connectors.targets.fortnox.mapping import ACCOUNT, NAME
from pipeline.errors import ConfigError, DataError, OutcomeUnknown, Problem
from pipeline.model import SalesInvoice
from pipeline.ports import Delivery, Entity
from pipeline.records.names import TABLE_LEDGER

if TYPE_CHECKING:
    from connectors.targets.fortnox.target import FortnoxTarget

TITLE = "Fortnox"
NONE = ("", "0", None)  # what Fortnox's CreditInvoiceReference says when nothing credits the invoice


def progress(target: FortnoxTarget, reference: str) -> Entity:
    return rows.progress(target.context, NAME, TITLE, reference)


def save(target: FortnoxTarget, row: Entity, **changes: Any) -> None:
    rows.save(target.context, NAME, TITLE, row, **changes)


def _index(target: FortnoxTarget) -> str:
    return rows.partition(target.context, NAME, "invoice-numbers")


# -- finding invoices -----------------------------------------------------------------------------------------

def invoice(target: FortnoxTarget, number: str) -> dict[str, Any] | None:
    return target.found(f"invoices/{number}", "Invoice")


def _listed(target: FortnoxTarget, field: str, value: str) -> list[dict[str, Any]]:
    """Invoices whose `field` is exactly `value` (the filter is asked, and its answer held to it again)."""
    return [r for r in target.pages("invoices", "Invoices", {field.lower(): value}) if str(r.get(field)) == value]


def by_reference(target: FortnoxTarget, reference: str) -> str | None:
    """The Fortnox number of the invoice carrying our reference (the lowest, should a double exist)."""
    found = _listed(target, "ExternalInvoiceReference1", short_reference(reference))
    return str(min(int(r["DocumentNumber"]) for r in found)) if found else None


def locate(target: FortnoxTarget, number: str | None, kid: str | None) -> dict[str, Any] | None:
    """The Fortnox invoice a payment or credit note names: ours by our invoice number, else the one carrying that
    number in ExternalInvoiceReference2, else the one whose OCR is the KID (never a credit invoice)."""
    tables = target.context.tables
    if number and tables is not None:
        row = tables.get(TABLE_LEDGER, _index(target), rows.key(number))
        if row is not None:
            return invoice(target, str(row["Number"]))
    for field, value in (("ExternalInvoiceReference2", number), ("OCR", kid)):
        if value:
            found = [r for r in _listed(target, field, value) if str(r.get("Credit")).lower() != "true"
                     and not r.get("Cancelled")]
            if len(found) == 1:
                return invoice(target, str(found[0]["DocumentNumber"]))
    return None


def _whole(credit: SalesInvoice, credited: dict[str, Any]) -> bool:
    """Whether the credit note is Fortnox's own credit of the whole booked, uncredited invoice."""
    return (bool(credited.get("Booked")) and credited.get("CreditInvoiceReference") in NONE
            and Decimal(str(credited.get("Total") or 0)) == -credit.total)


# -- checks before posting ------------------------------------------------------------------------------------

def invoice_problems(target: FortnoxTarget, invoice: SalesInvoice) -> list[Problem]:
    """Preflight of an invoice or credit note: the shared checks (lines add up, VAT at the rates, due date by the
    terms), what the company's VAT setup takes, accounts in the invoice's financial year, the customer, and the
    invoice it credits."""
    settings = target.settings
    rates = tuple(settings.vat_rates)

    def problem(code: str, where: str, message: str) -> Problem:
        return Problem(message, field=where, reference=invoice.reference, code=code,
                       file=invoice.origin.file if invoice.origin else None,
                       line=invoice.origin.line if invoice.origin else None)

    found: list[Problem] = []
    if invoice.currency != "NOK":
        found.append(problem("unsupported-currency", "currency", f"Fortnox invoices are delivered in NOK only, not "
                                                                 f"{invoice.currency}"))
    # the rate of a sale's VAT code, whether or not the company takes it (that is the next check's)
    found += checks.invoice_problems(invoice, lambda code: rate_of(code, ())[0], settings.due_days,
                                     system="Fortnox", vat_noun="output VAT code")
    year = target.year_of(invoice.date.isoformat())
    if year is None:
        found.append(problem("no-financial-year", "date", f"the invoice is dated {invoice.date}, and the company has "
                             "no financial year in Fortnox that holds that date"))
    for i, line in enumerate(invoice.lines):
        rate, why = rate_of(line.vat_code, rates)
        if rate is not None and why:
            found.append(problem("unsupported-vat", f"lines[{i}].vat_code", why))
        if line.account is not None and year is not None:
            account = target.account(year, line.account) if ACCOUNT.match(line.account) else None
            if account is None or account.get("Active") is False:
                found.append(problem("missing-account", f"lines[{i}].account", f"account {line.account} is missing "
                                     "or inactive in Fortnox's chart of accounts for the invoice's financial year"))
    who, why_not = customers.customer(target, invoice.customer, invoice.reference, create=False)
    creatable = why_not == "missing" and settings.create_customers and bool(customers.keys(
        checks.matching_party(invoice.customer, settings.customer_match)))
    if who is None and not creatable:
        name = invoice.customer.name or invoice.customer.number
        found.append(problem("missing-customer", "customer", f"customer {name} is {why_not} in Fortnox" + (
            " (the connection may create missing customers: setting create_customers)"
            if why_not == "missing" and not settings.create_customers else
            ": merge them in Fortnox" if why_not == "ambiguous" else "")))
    if invoice.credits is not None:
        credited = locate(target, invoice.credits, None)
        if credited is None:
            found.append(problem("missing-invoice", "credits", f"the invoice credited, {invoice.credits}, is not in "
                                                               "Fortnox"))
        elif target.book and not credited.get("Booked"):
            found.append(problem("invoice-not-posted", "credits", f"the invoice credited, {invoice.credits}, is not "
                                 "booked in Fortnox: book it first, or let credit notes wait as unbooked drafts"))
    return found


# -- delivering -----------------------------------------------------------------------------------------------

def render_invoice(target: FortnoxTarget, invoice: SalesInvoice, who: dict[str, Any] | None = None) -> dict[str, Any]:
    """What deliver sends: the invoice, Fortnox's whole credit of the invoice credited, or a credit invoice."""
    if who is None:
        who, _ = customers.customer(target, invoice.customer, invoice.reference, create=False)
    customer = str((who or {}).get("CustomerNumber") or "")
    if invoice.credits is not None:
        credited = locate(target, invoice.credits, None)
        number = str((credited or {}).get("DocumentNumber") or "")
        if credited is not None and _whole(invoice, credited):
            return {"action": f"PUT /3/invoices/{number}/credit", "credits": number}
        return {"action": "POST /3/invoices", "credits": number,
                **invoice_body(invoice, customer=customer, due=invoice.date, rates=tuple(target.settings.vat_rates),
                               credited=number)}
    due = checks.due_date(invoice, target.settings.due_days)
    return {"action": "POST /3/invoices",
            **invoice_body(invoice, customer=customer, due=due, rates=tuple(target.settings.vat_rates))}


def deliver_invoice(target: FortnoxTarget, invoice: SalesInvoice) -> Delivery:
    row = progress(target, invoice.reference)
    if row.get("State") == "done":
        return delivery(row)
    who, what = customers.customer(target, invoice.customer, invoice.reference, create=True)
    if who is None:
        raise DataError(f"customer of invoice {invoice.reference} is {what} in Fortnox", tenant=target.context.tenant,
                        reference=invoice.reference, connector=NAME)
    kind = "credit" if invoice.credits is not None else "invoice"
    row.setdefault("Customer", str(who["CustomerNumber"]))
    row.setdefault("CustomerWas", what)
    number = str(row.get("Number") or "")
    if not number and row.get("Step") == "create":  # an earlier attempt's outcome is unknown: look first
        number = by_reference(target, invoice.reference) or ""
    if not number and row.get("Step") == "credit":
        number = str((invoice_of(target, str(row["Credited"])) or {}).get("CreditInvoiceReference") or "")
        number = "" if number in NONE else number
    if not number:
        rendered = render_invoice(target, invoice, who)
        if rendered["action"].startswith("PUT"):
            save(target, row, Step="credit", Kind=kind, Credited=rendered["credits"])
            answer = target.request("PUT", f"invoices/{rendered['credits']}/credit", reference=invoice.reference,
                                    idempotent=False)
            number = str(((answer or {}).get("Invoice") or {}).get("CreditInvoiceReference") or "")
            number = "" if number in NONE else number
        else:
            save(target, row, Step="create", Kind=kind, Credited=rendered.get("credits") or "")
            answer = target.request("POST", "invoices", body={"Invoice": rendered["Invoice"]},
                                    reference=invoice.reference)
            number = str(((answer or {}).get("Invoice") or {}).get("DocumentNumber") or "")
            number = number or by_reference(target, invoice.reference) or ""
        if not number:
            raise OutcomeUnknown(f"Fortnox answered the {kind} {invoice.reference} without its number, and does not "
                                 "list it yet", tenant=target.context.tenant, reference=invoice.reference,
                                 connector=NAME)
    save(target, row, Number=number, Kind=kind, Draft=True)
    if kind == "invoice":
        rows.tables(target.context, NAME, TITLE, invoice.reference).upsert(TABLE_LEDGER, {
            "PartitionKey": _index(target), "RowKey": rows.key(invoice.invoice_number), "Number": number,
            "Reference": invoice.reference})
    if target.book:
        bookkeep(target, row, "invoices", invoice.reference)
        if row.get("Booked"):
            send(target, row, who, invoice.reference)
    save(target, row, State="done")
    return delivery(row)


def invoice_of(target: FortnoxTarget, number: str) -> dict[str, Any] | None:
    return invoice(target, number) if number else None


def bookkeep(target: FortnoxTarget, row: Entity, resource: str, reference: str) -> None:
    """Book the invoice or payment once: after an unknown outcome its `Booked` says whether it was. A refusal leaves it
    unbooked in Fortnox (a draft) and is said in the delivery, never raised: raising would mark the document failed,
    and the retry after a fix would make it a second time."""
    if row.get("Booked"):
        return
    number = str(row["Number"])
    key = "Invoice" if resource == "invoices" else "InvoicePayment"
    if row.get("Step") == "bookkeep" and (target.found(f"{resource}/{number}", key) or {}).get("Booked"):
        save(target, row, Booked=True, Draft=False)
        return
    save(target, row, Step="bookkeep")
    try:
        target.request("PUT", f"{resource}/{number}/bookkeep", reference=reference, idempotent=False)
    except (ConfigError, DataError) as exc:
        if (target.found(f"{resource}/{number}", key) or {}).get("Booked"):  # "already booked": booked it is
            save(target, row, Booked=True, Draft=False)
            return
        save(target, row, Refused=exc.provider_message or exc.message, Draft=True)
        return
    save(target, row, Booked=True, Draft=False)


def send(target: FortnoxTarget, row: Entity, who: dict[str, Any], reference: str) -> None:
    """Fortnox sends the booked invoice, on opt-in, at most once: as an e-invoice to a customer set up for them,
    else by e-mail. A send whose outcome is unknown stays unknown; a refusal is said in the delivery."""
    if not target.settings.send_invoices or row.get("Sent"):
        return
    if row.get("Sending"):
        save(target, row, Sent="unknown")  # an earlier attempt's outcome is unknown: never sent twice
        return
    how = "einvoice" if (who.get("DefaultDeliveryTypes") or {}).get("Invoice") == "ELECTRONICINVOICE" else "email"
    save(target, row, Sending=how)
    try:
        target.request("GET", f"invoices/{row['Number']}/{how}", reference=reference, idempotent=False)
    except (ConfigError, DataError) as exc:
        save(target, row, Sent=f"refused: {exc.provider_message or exc.message}")
        return
    save(target, row, Sent=how)


def delivery(row: Entity) -> Delivery:
    names = {"Kind": "kind", "Number": "number", "Customer": "customer_number", "CustomerWas": "customer",
             "Sent": "sent", "Refused": "booking_refused", "Invoice": "invoice", "Before": "open_before",
             "WriteOff": "written_off", "Credited": "credits_invoice"}
    details = {name: row[k] for k, name in names.items() if row.get(k) not in (None, "")}
    details["booked"] = bool(row.get("Booked"))
    return Delivery(remote_id=f"{row.get('Kind')}:{row['Number']}", draft=bool(row.get("Draft")), details=details)


def find(target: FortnoxTarget, reference: str) -> Delivery | None | Literal[False]:
    """A finished invoice/credit/payment by its progress row; None when unfinished (deliver resumes it, looking up
    first); False when the reference is no invoice or payment of ours (a voucher: search the series)."""
    tables = target.context.tables
    if tables is None:
        return False
    row = tables.get(TABLE_LEDGER, rows.partition(target.context, NAME, "invoicing"), rows.key(reference))
    if row is None:
        return False
    return delivery(dict(row)) if row.get("State") == "done" else None
