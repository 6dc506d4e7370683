"""Fiken's side of sales invoices, credit notes and payments: the field map, request bodies and checks, all pure.

The flow (docs/decisions/0013-fiken-invoices.md): an invoice is first an invoice draft (`POST /invoices/drafts`,
Fiken's «fakturautkast», with a UUID made from the tenant and our reference, by which Fiken finds it again:
`GET /invoices/drafts?uuid=`), made an invoice on opt-in (`direct_posting`) with
`POST /invoices/drafts/{draftId}/createInvoice` (found again by `GET /invoices?invoiceDraftUuid=`). A credit note
credits the invoice it names: the whole of it with `POST /creditNotes/full`, part of it with
`POST /creditNotes/partial` (both linked by `invoiceId`); without direct posting it is a credit-note draft. A payment
is `POST /sales/{saleId}/payments` on the invoice's sale, on the account the payment method says, a shortfall
within the tenant's tolerance as its `fee`. No I/O here: `sales.py` sends what these build.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.sales import fields
from connectors.sales.checks import count_and_price
from connectors.targets.fiken.amounts import RATES, SubØre, vat_of_net, øre
from pipeline.descriptors import Derived, FieldMap, Lands, NotAccepted, Refused
from pipeline.errors import Problem
from pipeline.model import InvoiceLine, Payment, SalesInvoice

CENT = Decimal("0.01")
TEXT_MAX = 200  # invoiceishDraftLine.description maxLength
INVOICE_TEXT_MAX = 500  # invoiceRequest.invoiceText, creditNoteText maxLength
# Our UUIDs for Fiken's drafts: one namespace of ours, the name "<tenant>|<reference>" (RFC 4122 version 5).
NAMESPACE = uuid.UUID("6f1c8e2a-51b4-4c7e-9a53-0c2d8f6b7e41")
# SAF-T sales VAT codes (as the shared form carries them) → Fiken's vatType for sales (spec: invoiceishDraftLine,
# "Vat Types for SALES"). Fiken's sales lines take the type, not the number.
SALES_VAT_TYPES: dict[str, str] = {"3": "HIGH", "31": "MEDIUM", "32": "RAW_FISH", "33": "LOW", "5": "EXEMPT",
                                   "52": "EXEMPT_IMPORT_EXPORT", "6": "OUTSIDE", "7": "NONE", "51": "EXEMPT_REVERSE"}
# How the customer wants invoices → Fiken's send methods, in order of preference (sendInvoiceishRequest.method).
SEND_METHODS: dict[str | None, list[str]] = {"email": ["email"], "ehf": ["ehf", "email"], "paper": ["letter"],
                                             None: ["auto"]}

INVOICE_NOT_ACCEPTED: dict[str, str] = {
    "kid": "Fiken makes the KID of an invoice itself (when the company has KID set up); an invoice draft has no KID "
           "field. Ours is kept in our ledger beside Fiken's invoice, so a payment naming it finds the invoice",
    "receivable_account": "Fiken books an invoice on the customer's own receivable (1500:NNNNN) itself",
    "lines[].product": "products are not matched (an invoice line takes a Fiken product by its id); the line's "
                       "description carries the text",
    "lines[].dimensions.*": "Fiken has no departments, nor dimensions other than the project",
}
# The spec's credit-note draft (`POST /creditNotes/drafts`, invoiceishDraftRequest) has no field naming the invoice it
# credits — it is Fiken's «uavhengig kreditnota» — so a draft is linked only in its text; posted, the credit note is
# linked (`/creditNotes/full|partial` name invoiceId).
DRAFT_UNLINKED = ("not linked in Fiken: a credit-note draft cannot name the invoice it credits (Fiken's API has no "
                  "such field on a draft); its text names the invoice, and the credit note is linked when it is "
                  "posted (direct_posting: /creditNotes/full or /partial with invoiceId)")
PAYMENT_NOT_ACCEPTED: dict[str, str] = {
    "description": "a Fiken payment has no text",
    "bank_account": "the account a payment lands on is the one settings.payment_accounts names for its payment "
                    "method, so that the tenant's rule decides, not the source",
    "receivable_account": "Fiken settles the sale's own customer receivable",
}

FIELD_MAP: FieldMap = {
    "sales_invoice": {
        "reference": Lands("draft.uuid", "as a UUID made from the tenant and the reference (version 5): the draft's "
                                         "uuid, by which Fiken finds the draft and the invoice made of it again"),
        "date": Lands("draft.issueDate", "as is; also the credit note's issueDate"),
        "description": Lands("draft.invoiceText", "after «Faktura <number>» (a credit note: «Kreditnota <number>»), "
                                                  "printed above the lines; cut at 500 characters"),
        "currency": Refused("only NOK invoices: another currency needs Fiken's exchange rate, which the shared form "
                            "does not carry", accepted=("NOK",)),
        "invoice_number": Lands("draft.orderReference", "as the order reference (GET /invoices?orderReference= finds "
                                                        "it) and in the invoice text; Fiken numbers invoices in its "
                                                        "own series"),
        "customer": Lands("draft.customerId", "the contact's id, found by the connection's match field, created once "
                                              "when missing (create_customers), updated when changed"),
        "due_date": Lands("draft.daysUntilDueDate", "as days after the invoice date; without one, the tenant's terms "
                                                    "for the payment method (settings.due_days), else 0"),
        "kid": NotAccepted(INVOICE_NOT_ACCEPTED["kid"]),
        "credits": Lands("creditNote.invoiceId", "the id of the Fiken invoice credited: POST /creditNotes/full when "
                                                 "the credit note is the whole invoice, else /creditNotes/partial"),
        "payment_method": Derived("with the tenant's terms (settings.due_days) it gives the due date when the invoice "
                                  "has none, and checks the one it has; not sent"),
        "receivable_account": NotAccepted(INVOICE_NOT_ACCEPTED["receivable_account"]),
        "total": Lands("draft.lines[].unitPrice", "not sent by itself: Fiken sums the lines, and the model holds the "
                                                  "total to them"),
        "lines[].description": Lands("draft.lines[].description", "as is, cut at 200 characters"),
        "lines[].amount": Lands("draft.lines[].unitPrice", "net of VAT in whole øre per unit (Fiken adds the VAT), "
                                                          "without sign on a credit note; a fraction of an øre is "
                                                          "refused"),
        "lines[].quantity": Lands("draft.lines[].quantity", "as is when it divides the net amount to the øre, else 1"),
        "lines[].unit_price": Derived("the unit price sent is the net amount divided by the quantity; preflight "
                                      "checks that the source's unit price times the quantity is the amount"),
        "lines[].product": NotAccepted(INVOICE_NOT_ACCEPTED["lines[].product"]),
        "lines[].account": Lands("draft.lines[].incomeAccount", "as is; without one, settings.income_account"),
        "lines[].vat_code": Lands("draft.lines[].vatType", "the Fiken sales VAT type of that SAF-T code "
                                                          "(3 HIGH, 31 MEDIUM, 33 LOW, 5 EXEMPT, 6 OUTSIDE, …)"),
        "lines[].vat_amount": Lands("draft.lines[].unitPrice", "decides the net amount sent (gross − VAT); preflight "
                                                               "checks that Fiken's own VAT on it is this figure"),
        "lines[].dimensions.department": NotAccepted(INVOICE_NOT_ACCEPTED["lines[].dimensions.*"]),
        "lines[].dimensions.project": Lands("draft.projectId", "the Fiken project with that number (GET /projects?"
                                                               "number=, cached), for the whole invoice (Fiken's "
                                                               "invoice and sale take one project; the lines of one "
                                                               "invoice must agree); a partial credit note's project"),
        "lines[].dimensions.*": NotAccepted(INVOICE_NOT_ACCEPTED["lines[].dimensions.*"]),
    },
    "payment": {
        "reference": Derived("a Fiken payment has no reference: our ledger keeps it with the sale's payments before, "
                             "which is how a retry after a timeout finds it registered"),
        "date": Lands("payment.date", "as is"),
        "description": NotAccepted(PAYMENT_NOT_ACCEPTED["description"]),
        "currency": Refused("only NOK payments", accepted=("NOK",)),
        "amount": Lands("payment.amount", "in whole øre; a shortfall within settings.payment_tolerance is the "
                                          "payment's fee (fees and rounding); an excess within it is booked to "
                                          "settings.payment_difference_account in a journal entry beside the "
                                          "payment, which pays the open amount"),
        "invoice_number": Lands("lookup.invoiceNumber", "finds the invoice paid: the one we delivered with that "
                                                        "number, else GET /invoices?orderReference=, else Fiken's "
                                                        "own invoiceNumber; its sale is what is paid"),
        "kid": Lands("lookup.kid", "finds the invoice when its number does not: ours in our ledger, else Fiken's KID"),
        "customer": Derived("only checked: the invoice's customer is the one paid for"),
        "payment_method": Lands("payment.account", "the account settings.payment_accounts names for it (card, vipps, "
                                                   "bank, invoice), e.g. 1920:10001"),
        "bank_account": NotAccepted(PAYMENT_NOT_ACCEPTED["bank_account"]),
        "receivable_account": NotAccepted(PAYMENT_NOT_ACCEPTED["receivable_account"]),
    },
}
NOT_ACCEPTED = {**INVOICE_NOT_ACCEPTED, **{k: v for k, v in PAYMENT_NOT_ACCEPTED.items() if k != "receivable_account"}}


def not_accepted(document: SalesInvoice | Payment) -> tuple[str, ...]:
    """The instances of fields Fiken has no place for, as a delivery names them (from FIELD_MAP)."""
    return fields.not_accepted(document, FIELD_MAP)


def draft_uuid(tenant: str, reference: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{tenant}|{reference}"))


def rate(code: str | None) -> Decimal | None:
    """The percentage of a sales VAT code Fiken has; None when it has no sales type for it."""
    if code is None or code not in SALES_VAT_TYPES:
        return None
    return RATES.get(int(code), Decimal(0))


def line_vat(line: InvoiceLine) -> Decimal:
    """The line's VAT: the source's figure, else the VAT its gross amount holds at the code's rate (decision 0001)."""
    if line.vat_amount is not None:
        return line.vat_amount
    percent = rate(line.vat_code) or Decimal(0)
    return (line.amount * percent / (100 + percent)).quantize(CENT, ROUND_HALF_UP)


def draft_line(line: InvoiceLine, income_account: str) -> dict[str, Any]:
    """One line of a draft or a partial credit note: net unit price in øre, without sign (a credit note's lines are
    what it credits)."""
    net = abs(line.amount - line_vat(line))
    count, price = count_and_price(net, abs(line.quantity))
    # A quantity is a JSON number, not money: a whole one as an integer, else its shortest decimal form (the net
    # amount is the unit price in øre times it, which count_and_price made exact).
    quantity: int | float = int(count) if count == count.to_integral_value() else float(count)
    body: dict[str, Any] = {"description": line.description[:TEXT_MAX], "quantity": quantity,
                            "unitPrice": _øre(price), "vatType": SALES_VAT_TYPES.get(line.vat_code or "", "NONE"),
                            "incomeAccount": line.account or income_account}
    return body


def _øre(amount: Decimal) -> int:
    try:
        return øre(amount)
    except SubØre:
        return int((amount * 100).to_integral_value(ROUND_HALF_UP))  # preflight has refused it already


def text(invoice: SalesInvoice, credited: int | str | None = None) -> str:
    """«Faktura 70001: …»; a credit-note draft also names what it credits («for faktura 70001 (Fiken 10001)»)."""
    said = f"{'Kreditnota' if invoice.credits else 'Faktura'} {invoice.invoice_number}"
    if invoice.credits and credited is not None:
        said += f" for faktura {invoice.credits}" + (f" (Fiken {credited})" if credited else "")
    return (said + (f": {invoice.description}" if invoice.description else ""))[:INVOICE_TEXT_MAX]


def draft_payload(invoice: SalesInvoice, *, tenant: str, customer_id: int | None, due: dt.date,
                  income_account: str, project_id: int | None = None,
                  credited: int | str | None = None) -> dict[str, Any]:
    """The body of `POST /invoices/drafts` (an invoice) or `POST /creditNotes/drafts` (a credit note)."""
    body: dict[str, Any] = {
        "type": "credit_note" if invoice.credits else "invoice", "uuid": draft_uuid(tenant, invoice.reference),
        "issueDate": invoice.date.isoformat(), "daysUntilDueDate": max(0, (due - invoice.date).days),
        "invoiceText": text(invoice, credited if invoice.credits else None), "orderReference": invoice.invoice_number,
        "currency": "NOK", "lines": [draft_line(line, income_account) for line in invoice.lines]}
    if customer_id is not None:
        body["customerId"] = customer_id
    if project_id is not None:
        body["projectId"] = project_id
    return body


def credit_payload(invoice: SalesInvoice, *, invoice_id: int | None, whole: bool, customer_id: int | None,
                   income_account: str, project_id: int | None = None) -> dict[str, Any]:
    """The body of `POST /creditNotes/full` (the whole invoice) or `/creditNotes/partial`."""
    body: dict[str, Any] = {"issueDate": invoice.date.isoformat(), "creditNoteText": text(invoice)}
    if invoice_id is not None:
        body["invoiceId"] = invoice_id
    if whole:
        return body
    body.update(orderReference=invoice.invoice_number, currency="NOK",
                lines=[draft_line(line, income_account) for line in invoice.lines])
    if customer_id is not None:
        body["contactId"] = customer_id
    if project_id is not None:
        body["project"] = project_id
    return body


def payment_body(payment: Payment, account: str | None, fee: Decimal) -> dict[str, Any]:
    """The body of `POST /sales/{saleId}/payments`: amount and fee in øre."""
    body: dict[str, Any] = {"date": payment.date.isoformat(), "account": account, "amount": _øre(payment.amount)}
    if fee:
        body["fee"] = _øre(fee)
    return body


def invoice_problems(invoice: SalesInvoice, due_days: Mapping[str, int]) -> list[Problem]:
    """Fiken's own checks beside the shared ones: NOK, whole øre, and that the VAT Fiken computes on each line's net
    amount (it is given only the net unit price and the type) is the line's VAT."""
    from connectors.sales import checks as terms

    problems: list[Problem] = []

    def problem(code: str, where: str, message: str) -> None:
        problems.append(Problem(message, field=where, reference=invoice.reference, code=code,
                                file=invoice.origin.file if invoice.origin else None,
                                line=invoice.origin.line if invoice.origin else None))

    if invoice.currency != "NOK":
        problem("unsupported-currency", "currency", f"Fiken invoices are delivered in NOK only, not {invoice.currency}")
    problems += terms.invoice_problems(invoice, rate, due_days, system="Fiken")
    for i, line in enumerate(invoice.lines):
        percent = rate(line.vat_code)
        try:
            net, vat = øre(abs(line.amount - line_vat(line))), øre(abs(line_vat(line)))
        except SubØre as exc:
            problem("sub-øre", f"lines[{i}].amount", str(exc))
            continue
        if percent is None:
            continue
        fiken = vat_of_net(net, percent)
        if fiken != vat:  # [unverified] Fiken's rounding: half up assumed, and exactly half an øre refused
            problem("vat-rounding", f"lines[{i}].vat_amount",
                    f"Fiken computes the VAT itself from the net {net / 100:.2f} at {percent}%: "
                    + (f"{fiken / 100:.2f}" if fiken is not None else "half an øre, rounded by Fiken's rule")
                    + f", not the line's {vat / 100:.2f}")
    return problems
