"""Visma.net's side of sales invoices, credit notes, payments and customers: the field map and the payloads, all pure.

The flow (docs/decisions/0011-visma-net-invoices.md): Visma.net ERP has its own customer ledger with
draft documents, so an invoice is a customer invoice (`POST /v2/customerinvoice`, `CustomerInvoiceUpdateDto`) on
hold — a draft someone releases in Visma.net — or, on opt-in (`direct_posting`), taken off hold and released
(`POST /v1/customerinvoice/{n}/action/release`). A credit note is a customer credit note (`POST /v2/customerCreditNote`)
applied to the invoice it credits (`applicationLines`). A payment is a customer payment (`POST /v1/customerPayment`)
applied to the invoice (`paymentLines`) on the payment method and cash account the tenant names for the payment
method, on hold or released like the rest. Spec: `../shared/specs/visma-net/swagger.json` (2025-04-24).

Amounts: our lines are gross; Visma.net's line prices are net of VAT [unverified: a company may set prices
including VAT], so each line carries its net amount and the document its VAT per VAT ID (`taxDetailLines`), which is
what Visma.net books. A line's VAT category (`vatCodeId`) is the category that holds the line's VAT ID.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.sales import fields
from connectors.sales.checks import count_and_price, vat_in
from connectors.targets.visma_net.mapping import REFERENCE_MAX, rate_on, short_reference
from pipeline.descriptors import Derived, FieldMap, Lands, NotAccepted, Refused
from pipeline.model import Party, Payment, SalesInvoice

_LINES = "document.invoiceLines[]|lines[]"  # an invoice's lines are `invoiceLines`, a credit note's `lines`
_TAX = "document.taxDetailLines[]|taxDetails[]"
INVOICE_NOT_ACCEPTED: dict[str, str] = {
    "receivable_account": "Visma.net books a customer document on the customer's own ledger account (its customer "
                          "class); a customer invoice has no receivable account field",
    "lines[].dimensions.*": "Visma.net customer document lines take department (a subaccount segment), and the "
                            "document a project; other dimensions are not sent",
    "due_date": "a Visma.net credit note has no due date (CustomerCreditNoteUpdateDto)",
    "kid": "a Visma.net credit note has no payment reference (CustomerCreditNoteUpdateDto)",
}
PAYMENT_NOT_ACCEPTED: dict[str, str] = {
    "receivable_account": "Visma.net settles the invoice's own customer ledger balance",
}
FIELD_MAP: FieldMap = {
    "sales_invoice": {
        "reference": Lands("document.externalReference.value", f"our reference (past {REFERENCE_MAX} characters "
                                                               "shortened with a hash); found again by it "
                                                               "(GET /v1/customerinvoice?externalReference=)"),
        "date": Lands("document.documentDate.value", "as a date and time at midnight"),
        "description": Lands("document.invoiceText.value", "after the invoice number"),
        "currency": Refused("only NOK invoices: another currency needs an exchange rate the shared form does not "
                            "carry", accepted=("NOK",)),
        "invoice_number": Lands("document.invoiceText.value", "as «Faktura <number>» («Kreditnota <number>»); "
                                                              "Visma.net numbers the document in its own series"),
        "customer": Lands("document.customerNumber.value", "the customer's number, found by the connection's match "
                                                           "field, created once when missing (create_customers), "
                                                           "updated when changed"),
        "due_date": Lands("document.documentDueDate.value", "as a date and time; without one, the tenant's terms for "
                                                            "the payment method (settings.due_days), else the date",
                          otherwise=INVOICE_NOT_ACCEPTED["due_date"]),
        "kid": Lands("document.paymentReference.value", "as is (Visma.net's «Payment ref.», the KID on the invoice)",
                     otherwise=INVOICE_NOT_ACCEPTED["kid"]),
        "credits": Lands("document.invoiceText.value", "as «for faktura <number>», and the credited invoice's "
                                                       "ref. no. in applicationLines[].refNbr (applied at release) "
                                                       "when it is released"),
        "payment_method": Derived("with the tenant's terms (settings.due_days) it gives the due date when the invoice "
                                  "has none, and checks the one it has; not sent"),
        "receivable_account": NotAccepted(INVOICE_NOT_ACCEPTED["receivable_account"]),
        "total": Lands(f"{_LINES}.unitPriceInCurrency.value", "not sent by itself: Visma.net sums the lines, and the "
                                                              "model holds the total to them"),
        "lines[].description": Lands(f"{_LINES}.description.value", "as is"),
        "lines[].amount": Lands(f"{_LINES}.unitPriceInCurrency.value", "net of its VAT, as the unit price times the "
                                                                       "quantity (unsigned on a credit note)"),
        "lines[].quantity": Lands(f"{_LINES}.quantity.value", "as is when it divides the net amount to the øre, "
                                                              "else 1"),
        "lines[].unit_price": Derived("the unit price sent is the net amount divided by the quantity; preflight "
                                      "checks that the source's unit price times the quantity is the amount"),
        "lines[].product": Lands(f"{_LINES}.inventoryNumber.value", "the Visma.net inventory item with that number "
                                                                    "(GET /v1/inventory/{number}, cached); an item "
                                                                    "missing or not for sale is a preflight problem"),
        "lines[].account": Lands(f"{_LINES}.accountNumber.value", "as is; without one, the customer's or item's "
                                                                  "sales account in Visma.net"),
        "lines[].vat_code": Lands(f"{_LINES}.vatCodeId.value", "the VAT category holding the VAT ID "
                                                               "(settings.vat_categories, else the category holding "
                                                               "it with the fewest others), and the VAT ID itself "
                                                               "in the document's tax details"),
        "lines[].vat_amount": Lands(f"{_TAX}.vatAmount.value", "summed per VAT ID in the tax details; without it, "
                                                               "gross × rate / (100 + rate), half-up to øre"),
        "lines[].dimensions.department": Lands(f"{_LINES}.subaccount[].segmentValue", "the subaccount segment the "
                                                                                      "setting department_segment "
                                                                                      "names"),
        "lines[].dimensions.project": Lands("document.project.value", "the document's project (lines of one "
                                                                      "invoice must agree)"),
        "lines[].dimensions.*": NotAccepted(INVOICE_NOT_ACCEPTED["lines[].dimensions.*"]),
    },
    "payment": {
        "reference": Lands("payment.paymentRef.value", f"the payment's «Payment ref.» (past {REFERENCE_MAX} "
                                                       "characters shortened with a hash); found again by it among "
                                                       "the invoice's payments"),
        "date": Lands("payment.applicationDate.value", "as a date and time at midnight"),
        "description": Lands("payment.invoiceText.value", "as is, at most 50 characters"),
        "currency": Refused("only NOK payments", accepted=("NOK",)),
        "amount": Lands("payment.paymentAmount.value", "as is; applied to the invoice up to its balance, a "
                                                       "shortfall within settings.payment_tolerance written off "
                                                       "with the reason code settings.write_off_reason"),
        "invoice_number": Lands("lookup.invoiceNumber", "finds the invoice paid (paymentLines[].refNbr): the one we "
                                                        "delivered with that number, else Visma.net's own "
                                                        "invoice with that ref. no."),
        "kid": Lands("lookup.kid", "finds the invoice when its number does not: its «Payment ref.» "
                                   "(GET /v1/customerinvoice?paymentReference=)"),
        "customer": Derived("the payment's customer is the customer of the invoice it pays, as Visma.net holds it; "
                            "the source's is not sent"),
        "payment_method": Lands("payment.paymentMethod.value", "the Visma.net payment method settings.payment_methods "
                                                               "names for it (card, vipps, bank, invoice)"),
        "bank_account": Lands("payment.cashAccount.value", "the cash account the money lands on; "
                                                           "settings.cash_accounts may name one per payment method "
                                                           "instead"),
        "receivable_account": NotAccepted(PAYMENT_NOT_ACCEPTED["receivable_account"]),
    },
}
NOT_ACCEPTED = {**INVOICE_NOT_ACCEPTED}
DEFAULT_PAYMENT_METHODS = {"bank": "BANK", "invoice": "BANK", "card": "KORT", "vipps": "VIPPS"}


def not_accepted(document: SalesInvoice | Payment) -> tuple[str, ...]:
    """The instances of fields Visma.net has no place for, as a delivery names them (from FIELD_MAP; a credit note's
    due date and KID have no place on Visma.net's credit note)."""
    return fields.not_accepted(document, FIELD_MAP,
                               lambda d: isinstance(d, SalesInvoice) and d.credits is not None)


def _v(value: Any) -> dict[str, Any]:
    return {"value": value}


def _when(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00"


def vat_category(vat_id: str, categories: Mapping[str, Mapping[str, Any]], chosen: Mapping[str, str]) -> str | None:
    """The VAT category an invoice line with this VAT ID takes: the tenant's choice, else the active category that
    holds the VAT ID with the fewest others (one alone where there is one), None when none or a tie."""
    if vat_id in chosen:
        return chosen[vat_id]
    holding = sorted((len(c.get("vatCategoryLines") or ()), str(c.get("vatCategoryId")))
                     for c in categories.values() if c.get("active", True)
                     and any(str(line.get("vatId")) == vat_id for line in c.get("vatCategoryLines") or ()))
    if not holding or len(holding) > 1 and holding[0][0] == holding[1][0]:
        return None
    return holding[0][1]


def split(invoice: SalesInvoice, vats: Mapping[str, Mapping[str, Any]]) -> list[tuple[Decimal, Decimal]]:
    """Each line's (net, VAT), signed as the line: the source's VAT, else the rate's on the invoice date."""
    out = []
    for line in invoice.lines:
        found = rate_on(vats.get(line.vat_code) or {}, invoice.date)
        rate = found[0] if found else Decimal(0)
        vat = line.vat_amount if line.vat_amount is not None else vat_in(line.amount, rate)
        out.append((line.amount - vat, vat))
    return out


def document_body(invoice: SalesInvoice, *, customer: str | None, vats: Mapping[str, Mapping[str, Any]],
                  categories: Mapping[str, Mapping[str, Any]], chosen: Mapping[str, str], due: dt.date,
                  hold: bool, department_segment: int, credited: str | None = None,
                  apply: Decimal | None = None) -> dict[str, Any]:
    """The body of `POST /v2/customerinvoice`, or of `POST /v2/customerCreditNote` when the invoice credits another
    (amounts unsigned; applied to the credited invoice's ref. no. `credited` up to `apply`)."""
    credit = invoice.credits is not None
    sign = Decimal(-1) if credit else Decimal(1)
    text = f"{'Kreditnota' if credit else 'Faktura'} {invoice.invoice_number}"
    if credit:
        text += f" for faktura {invoice.credits}"
    if invoice.description:
        text += f": {invoice.description}"
    lines, taxes = [], {}  # type: ignore[var-annotated]
    for number, (line, (net, vat)) in enumerate(zip(invoice.lines, split(invoice, vats), strict=True), start=1):
        count, price = count_and_price(net * sign, line.quantity)
        body: dict[str, Any] = {"operation": "Insert", "lineNumber": _v(number), "description": _v(line.description),
                                "quantity": _v(count), "unitPriceInCurrency": _v(price)}
        if line.product:
            body["inventoryNumber"] = _v(line.product)  # preflight found the item (register.items)
        if line.account:
            body["accountNumber"] = _v(line.account)
        category = vat_category(line.vat_code, categories, chosen)
        if category is not None:
            body["vatCodeId"] = _v(category)
        if "department" in line.dimensions:
            body["subaccount"] = [{"segmentId": department_segment, "segmentValue": line.dimensions["department"]}]
        lines.append(body)
        taxable, amount = taxes.get(line.vat_code, (Decimal(0), Decimal(0)))
        taxes[line.vat_code] = (taxable + net * sign, amount + vat * sign)
    tax_lines = [{"taxId": _v(vat_id), "taxableAmount": _v(taxable), "vatAmount": _v(amount)}
                 for vat_id, (taxable, amount) in taxes.items()]
    document: dict[str, Any] = {"customerNumber": _v(customer), "documentDate": _v(_when(invoice.date)),
                                "hold": _v(hold), "externalReference": _v(short_reference(invoice.reference)),
                                "currencyId": _v(invoice.currency), "invoiceText": _v(text)}
    project = next((line.dimensions["project"] for line in invoice.lines if "project" in line.dimensions), None)
    if project is not None:
        document["project"] = _v(project)
    if credit:
        document["lines"] = lines
        document["taxDetails"] = tax_lines
        if credited is not None and apply:
            document["applicationLines"] = [{"operation": "Insert", "documentType": _v("Invoice"),
                                             "refNbr": _v(credited), "amountPaid": _v(apply)}]
        return document
    document["documentDueDate"] = _v(_when(due))
    if invoice.kid:
        document["paymentReference"] = _v(invoice.kid)
    document["invoiceLines"] = lines
    document["taxDetailLines"] = tax_lines
    return document


def payment_body(payment: Payment, *, customer: str | None, invoice: str | None, method: str | None,
                 cash_account: str, applied: Decimal, write_off: Decimal, reason: str | None,
                 hold: bool) -> dict[str, Any]:
    """The body of `POST /v1/customerPayment`: the payment applied to one invoice, a shortfall written off."""
    line: dict[str, Any] = {"operation": "Insert", "documentType": _v("Invoice"), "refNbr": _v(invoice),
                            "amountPaid": _v(applied)}
    if write_off:
        line["balanceWriteOff"] = _v(write_off)
        line["writeOffReasonCode"] = _v(reason)
    body: dict[str, Any] = {"type": _v("Payment"), "hold": _v(hold), "applicationDate": _v(_when(payment.date)),
                            "paymentRef": _v(short_reference(payment.reference)), "customer": _v(customer),
                            "paymentMethod": _v(method), "cashAccount": _v(cash_account),
                            "currency": _v(payment.currency), "paymentAmount": _v(payment.amount),
                            "paymentLines": [line]}
    if payment.description:
        body["invoiceText"] = _v(payment.description[:50])
    return body


def customer_kind(party: Party) -> str:
    """B2C, B2B or EHF (a business that takes invoices through PEPPOL): what the tenant may give its own settings."""
    if party.delivery_method == "ehf" and party.organization_number:
        return "ehf"
    return "b2b" if party.organization_number else "b2c"


def customer_body(party: Party, *, number: str | None, create: bool = True,
                  classes: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`CustomerUpdateDto` for a customer to create (`create`) or update: what the party says of its name,
    organisation number (B2B), address, e-mail, phone, and how invoices reach it — e-mail, AutoInvoice (EHF/PEPPOL)
    or print; a new customer in the tenant's customer class for its kind (`classes`: b2c, b2b, ehf). An update
    leaves out what the party does not say."""
    body: dict[str, Any] = {}
    name = party.name or (party.email or party.organization_number or number if create else None)
    if name:
        body["name"] = _v(name)
    if create and (classes or {}).get(customer_kind(party)):
        body["customerClassId"] = _v((classes or {})[customer_kind(party)])
    if number is not None:
        body["number"] = _v(number)
        body["overrideNumberSeries"] = _v(True)  # [unverified] that a given number is kept over the class's series
    if party.organization_number:
        body["corporateId"] = _v(party.organization_number)
    if party.address is not None:
        address = party.address
        lines = {f"addressLine{i}": _v(text) for i, text in enumerate(address.lines[:3], start=1)}
        body["mainAddress"] = _v({**lines, "postalCode": _v(address.postal_code), "city": _v(address.city),
                                  "countryId": _v(address.country)})
    contact = {k: _v(v) for k, v in (("email", party.email), ("phone1", party.phone)) if v}
    if contact:
        body["mainContact"] = _v(contact)
    if party.email:
        body["invoiceContact"] = _v({"email": _v(party.email)})
    method = party.delivery_method
    if method is not None:
        body["sendInvoicesByEmail"] = _v(method == "email")
        body["acceptAutoInvoices"] = _v(method == "ehf")
        body["printInvoices"] = _v(method == "paper")
    return body
