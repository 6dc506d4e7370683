"""Fortnox's side of sales invoices, credit notes, payments and customers: the field map and the payloads, all pure.

The flow (docs/decisions/0012-fortnox-invoices.md): Fortnox keeps its own customer ledger, so an invoice is a Fortnox
invoice (`POST /3/invoices`), created unbooked — a draft someone books in Fortnox — and booked on opt-in
(`PUT /3/invoices/{n}/bookkeep`). A credit note crediting a whole booked invoice is Fortnox's own credit
(`PUT /3/invoices/{n}/credit`: the credit invoice's number lands in the original's `CreditInvoiceReference`); any
other credit note is an invoice of negative rows naming the original in `CreditInvoiceReference` [unverified that
Fortnox takes it on create]. A payment is an invoice payment (`POST /3/invoicepayments`) on the mode of payment the
tenant names for the payment method, a fee or rounding difference written off (`WriteOffs`) on the tenant's account.

Amounts: our lines are gross, so an invoice is sent with `VATIncluded: true` and gross row prices — its total is
ours to the øre; Fortnox works out the VAT from each row's rate (`VAT`, a percentage, which the company's VAT setup
must know: [unverified] which rates a Norwegian company in Fortnox takes — settings.vat_rates, Swedish by default).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.sales.checks import count_and_price
from pipeline.descriptors import Derived, FieldMap, Lands, NotAccepted, Refused
from pipeline.model import Party, Payment, SalesInvoice
from pipeline.norway.vat import VAT_CODES

REFERENCE_MAX = 80  # [unverified] the length ExternalInvoiceReference1 keeps; longer ones are shortened with a hash
_ROWS = "Invoice.InvoiceRows[]"
INVOICE_NOT_ACCEPTED: dict[str, str] = {
    "receivable_account": "Fortnox books an invoice on the customer ledger account of its settings (Inställningar → "
                          "Bokföring → Kundfordringar); an invoice has no receivable account field",
    "lines[].product": "articles are not matched yet (a row takes an article by its number); the row's "
                       "description carries the text",
    "lines[].dimensions.*": "a Fortnox invoice row takes a cost centre (our department) and a project, nothing else",
    "kid": "a Fortnox credit invoice has no OCR of its own to pay by",
    "due_date": "a Fortnox credit invoice is not paid by a due date: it settles the invoice it credits",
}
PAYMENT_NOT_ACCEPTED: dict[str, str] = {
    "receivable_account": "Fortnox settles the invoice on its own customer ledger account",
    "bank_account": "the mode of payment (settings.modes_of_payment) decides the account the money lands on",
    "description": "an invoice payment has no text of its own (a write-off says «Gebyr og avrunding»)",
}
FIELD_MAP: FieldMap = {
    "sales_invoice": {
        "reference": Lands("Invoice.ExternalInvoiceReference1", f"our reference (past {REFERENCE_MAX} characters "
                                                                "shortened with a hash); found again by it "
                                                                "(GET /3/invoices?externalinvoicereference1=)"),
        "date": Lands("Invoice.InvoiceDate", "as is; it must fall in one of the company's financial years"),
        "description": Lands("Invoice.Remarks", "as is, after «Faktura <number>»"),
        "currency": Refused("only NOK invoices: the shared form carries no exchange rate", accepted=("NOK",)),
        "invoice_number": Lands("Invoice.ExternalInvoiceReference2", "as is: how a payment or credit note finds the "
                                                                     "invoice (Fortnox numbers it in its own series)"),
        "customer": Lands("Invoice.CustomerNumber", "the customer's number, found by the connection's match field, "
                                                    "created once when missing (create_customers), updated when "
                                                    "changed"),
        "due_date": Lands("Invoice.DueDate", "as is; without one, the tenant's terms for the payment method "
                                             "(settings.due_days), else the date",
                          otherwise=INVOICE_NOT_ACCEPTED["due_date"]),
        "kid": Lands("Invoice.OCR", "as is (the OCR number on the invoice: in Norway the KID)",
                     otherwise=INVOICE_NOT_ACCEPTED["kid"]),
        "credits": Lands("Invoice.CreditInvoiceReference", "the credited invoice's Fortnox number: Fortnox's own "
                                                           "credit (PUT /3/invoices/{n}/credit) for the whole of a "
                                                           "booked invoice, else an invoice of negative rows naming it"),
        "payment_method": Derived("with the tenant's terms (settings.due_days) it gives the due date when the invoice "
                                  "has none, and checks the one it has; not sent"),
        "receivable_account": NotAccepted(INVOICE_NOT_ACCEPTED["receivable_account"]),
        "total": Lands(f"{_ROWS}.Price", "not sent by itself: Fortnox sums the rows (VATIncluded), and the model "
                                         "holds the total to them"),
        "lines[].description": Lands(f"{_ROWS}.Description", "as is"),
        "lines[].amount": Lands(f"{_ROWS}.Price", "gross (VATIncluded), as the price times the delivered quantity; "
                                                  "negative on a credit note"),
        "lines[].quantity": Lands(f"{_ROWS}.DeliveredQuantity", "as is when it divides the amount to the øre, else 1"),
        "lines[].unit_price": Derived("the price sent is the amount divided by the quantity; preflight checks that "
                                      "the source's unit price times the quantity is the amount"),
        "lines[].product": NotAccepted(INVOICE_NOT_ACCEPTED["lines[].product"]),
        "lines[].account": Lands(f"{_ROWS}.AccountNumber", "as an integer; without one, Fortnox's sales account for "
                                                           "the row's VAT rate"),
        "lines[].vat_code": Lands(f"{_ROWS}.VAT", "the rate of the SAF-T code, as a percentage the company's VAT setup "
                                                  "must take (settings.vat_rates); reverse charge and import codes "
                                                  "are refused"),
        "lines[].vat_amount": Derived("Fortnox works the VAT out from the gross price and the rate; preflight checks "
                                      "that the source's VAT is the rate's to the øre"),
        "lines[].dimensions.department": Lands(f"{_ROWS}.CostCenter", "the cost centre's code"),
        "lines[].dimensions.project": Lands(f"{_ROWS}.Project", "the project's number"),
        "lines[].dimensions.*": NotAccepted(INVOICE_NOT_ACCEPTED["lines[].dimensions.*"]),
    },
    "payment": {
        "reference": Lands("progress.reference", "not sent (an invoice payment has no field of ours): kept in our "
                                                 "progress row; after a lost answer the payment is found among the "
                                                 "invoice's payments (GET /3/invoicepayments?invoicenumber=) as the "
                                                 "one of its amount and date that was not there before"),
        "date": Lands("InvoicePayment.PaymentDate", "as is"),
        "description": NotAccepted(PAYMENT_NOT_ACCEPTED["description"]),
        "currency": Refused("only NOK payments", accepted=("NOK",)),
        "amount": Lands("InvoicePayment.Amount", "as is; a shortfall or surplus within settings.payment_tolerance "
                                                 "written off on settings.write_off_account"),
        "invoice_number": Lands("lookup.invoiceNumber", "finds the invoice paid, whose Fortnox number goes in "
                                                        "InvoicePayment.InvoiceNumber: the one we delivered with that "
                                                        "invoice number, else the one whose ExternalInvoiceReference2 "
                                                        "it is"),
        "kid": Lands("lookup.kid", "finds the invoice when its number does not: its OCR (GET /3/invoices?ocr=)"),
        "customer": Derived("the payment's customer is the customer of the invoice it pays; not sent"),
        "payment_method": Lands("InvoicePayment.ModeOfPayment", "the Fortnox mode of payment settings.modes_of_payment "
                                                                "names for it (card, vipps, bank, invoice), and its "
                                                                "account as ModeOfPaymentAccount"),
        "bank_account": NotAccepted(PAYMENT_NOT_ACCEPTED["bank_account"]),
        "receivable_account": NotAccepted(PAYMENT_NOT_ACCEPTED["receivable_account"]),
    },
}
DEFAULT_MODES = {"bank": "BG", "invoice": "BG", "card": "KORT", "vipps": "VIPPS"}
SWEDISH_RATES = ("25", "12", "6", "0")


def short_reference(reference: str) -> str:
    """Our reference as ExternalInvoiceReference1 keeps it: whole, or its head, "~" and 16 hex of its SHA-256."""
    if len(reference) <= REFERENCE_MAX:
        return reference
    return reference[:REFERENCE_MAX - 17] + "~" + hashlib.sha256(reference.encode("utf-8")).hexdigest()[:16]


def not_accepted(document: SalesInvoice | Payment) -> tuple[str, ...]:
    """The instances of fields Fortnox has no place for, as a delivery names them."""
    if isinstance(document, Payment):
        return ("receivable_account", "bank_account", *(("description",) if document.description else ()))
    fields = ["receivable_account"]
    if document.credits is not None:
        fields += [name for name in ("due_date", "kid") if getattr(document, name) is not None]
    for i, line in enumerate(document.lines):
        fields += [f"lines[{i}].product"] if line.product else []
        fields += [f"lines[{i}].dimensions.{name}" for name in line.dimensions if name not in ("department", "project")]
    return tuple(fields)


def rate_of(code: str, rates: tuple[str, ...]) -> tuple[Decimal | None, str | None]:
    """(the rate of a SAF-T output code, why Fortnox cannot take it): the rate must be one the company takes."""
    known = VAT_CODES.get(code)
    if known is None:
        return None, f"{code!r} is not a SAF-T standard VAT code"
    if known.reverse_charge or known.imported or known.direction == "input":
        return None, (f"VAT code {code} ({known.description_eng}) is no VAT on a sale: a Fortnox invoice row takes "
                      "an output VAT rate")
    rate = known.rate if known.vat_in_amount else Decimal("0")
    if not any(Decimal(r) == rate for r in rates):
        return rate, (f"VAT code {code} is {rate}% VAT, a rate the company's VAT setup in Fortnox does not take "
                      f"(settings.vat_rates: {', '.join(rates)}) [unverified which rates a Norwegian company in "
                      "Fortnox has]")
    return rate, None


def invoice_body(invoice: SalesInvoice, *, customer: str, due: Any, rates: tuple[str, ...],
                 credited: str | None = None) -> dict[str, Any]:
    """The body of `POST /3/invoices`: an invoice, or (with `credited`, its Fortnox number) a credit invoice of
    negative rows."""
    credit = invoice.credits is not None
    text = f"{'Kreditnota' if credit else 'Faktura'} {invoice.invoice_number}"
    if credit:
        text += f" for faktura {invoice.credits}"
    if invoice.description:
        text += f": {invoice.description}"
    rows = []
    for line in invoice.lines:
        count, price = count_and_price(line.amount, line.quantity)
        row: dict[str, Any] = {"Description": line.description, "DeliveredQuantity": count, "Price": price,
                               "VAT": rate_of(line.vat_code, rates)[0] or Decimal("0")}
        if line.account:
            row["AccountNumber"] = int(line.account)
        if line.dimensions.get("department"):
            row["CostCenter"] = line.dimensions["department"]
        if line.dimensions.get("project"):
            row["Project"] = line.dimensions["project"]
        rows.append(row)
    body: dict[str, Any] = {"CustomerNumber": customer, "InvoiceDate": invoice.date.isoformat(),
                            "ExternalInvoiceReference1": short_reference(invoice.reference),
                            "ExternalInvoiceReference2": invoice.invoice_number[:80], "Currency": invoice.currency,
                            "VATIncluded": True, "Remarks": text[:1024], "InvoiceRows": rows}
    if credit:
        body["CreditInvoiceReference"] = credited
    else:
        body["DueDate"] = due.isoformat()
        if invoice.kid:
            body["OCR"] = invoice.kid
    return {"Invoice": body}


def payment_body(payment: Payment, *, invoice: str, mode: Mapping[str, Any] | None, write_off: Decimal,
                 account: str | None) -> dict[str, Any]:
    """The body of `POST /3/invoicepayments`: the amount against one invoice, a difference written off."""
    body: dict[str, Any] = {"InvoiceNumber": int(invoice) if invoice.isdigit() else invoice,
                            "Amount": payment.amount, "AmountCurrency": payment.amount,
                            "PaymentDate": payment.date.isoformat()}
    if mode:
        body["ModeOfPayment"] = mode.get("Code")
        if mode.get("AccountNumber"):
            body["ModeOfPaymentAccount"] = int(mode["AccountNumber"])
    if write_off:
        body["WriteOffs"] = [{"Amount": write_off, "AccountNumber": int(account) if account else None,
                              "Description": "Gebyr og avrunding"}]
    return {"InvoicePayment": body}


def customer_kind(party: Party) -> str:
    return "COMPANY" if party.organization_number else "PRIVATE"


def customer_body(party: Party, *, number: str | None, create: bool = True) -> dict[str, Any]:
    """`{"Customer": {...}}` for a customer to create (`create`) or update: what the party says of its name,
    organisation number, kind (PRIVATE/COMPANY), address, e-mail, phone and how invoices reach it (e-mail,
    e-invoice or print). An update leaves out what the party does not say."""
    body: dict[str, Any] = {}
    name = party.name or (party.email or party.organization_number or number if create else None)
    if name:
        body["Name"] = name
    if number is not None and create:
        body["CustomerNumber"] = number
    if create:
        body["Type"] = customer_kind(party)
    if party.organization_number:
        body["OrganisationNumber"] = party.organization_number
    if party.address is not None:
        address = party.address
        body.update({k: v for k, v in (("Address1", address.lines[0] if address.lines else None),
                                       ("Address2", address.lines[1] if len(address.lines) > 1 else None),
                                       ("ZipCode", address.postal_code), ("City", address.city),
                                       ("CountryCode", address.country)) if v})
    if party.email:
        body["Email"] = party.email
        body["EmailInvoice"] = party.email
    if party.phone:
        body["Phone1"] = party.phone
    method = party.delivery_method
    if method is not None:
        body["DefaultDeliveryTypes"] = {"Invoice": {"email": "EMAIL", "ehf": "ELECTRONICINVOICE",
                                                    "paper": "PRINT"}[method]}
    return {"Customer": body}


def changes(party: Party, found: Mapping[str, Any]) -> dict[str, Any]:
    """What an update would change on a found customer: only the fields the party says and Fortnox holds otherwise."""
    wanted = customer_body(party, number=None, create=False)["Customer"]
    changed = {}
    for key, value in wanted.items():
        held = found.get(key)
        if isinstance(value, dict):
            if any((held or {}).get(k) != v for k, v in value.items()):
                changed[key] = value
        elif str(held or "") != str(value):
            changed[key] = value
    return changed
