"""PowerOffice GO's side of sales invoices, credit notes, payments and customers: field map and bodies, all pure.

The flow (docs/decisions/0014-poweroffice-go-invoices.md), from GO's DTOs as the generated clients show them
(stianwe/PowerOfficeGoV2 `docs/models/*`, pacely-ai/poweroffice-node `src/v2/openapi/SalesOrders/*`):

- An invoice is first a **sales order** (GO's invoice draft): `POST /SalesOrders/Complete`
  (`SalesOrderCompletePostDto`) with our reference as `ExternalImportReference` (GO's duplicate check), our invoice
  number as `CustomMatchingReference`, the customer's id, `SalesOrderDate`, `PaymentTerm` (days to the due date) and
  lines (`SalesOrderLinePostDto`). A GO sales-order line has **no VAT code and no account of its own**: both come from
  its *product* (the product's sales account, and that account's VAT code). So every line names a GO product: the
  line's own `product` (GO's product code), else the one `settings.products` names for the line's VAT code; preflight
  checks that the product's sales account is the line's account (when it names one) and carries the line's VAT code.
  `ProductUnitPrice` is the price **excluding VAT** [unverified: the DTO says only "the sales price per unit"; GO's
  order lines show net prices], and GO's answer (`TotalAmount`, VAT included) is compared with our total before
  anything is posted, so a wrong guess is caught, never booked.
- A **credit note** is a sales order of negative quantities with `RelatedInvoiceNo` = GO's number of the invoice it
  credits ("can only be set for sales orders that are credit note drafts").
- Posting (opt-in, `direct_posting`) is `POST /SalesOrders/{id}/createAndSendInvoice` (`SendInvoiceRequestPostDto`):
  `DeliveryType` `Auto` when the tenant has GO send it (EHF, eFaktura or e-mail, as the customer is set up), else
  `PdfPrintForDownload` (posted, not delivered); `OverrideDueDate` and `VoucherDate` make GO's dates ours.
- A **payment** is a bank voucher, `POST /Vouchers/BankJournals` (`BankVoucherPostDto`): the account the payment
  method says debited, the customer's sub-ledger account credited with GO's `InvoiceNo` and `Cid` (so GO matches it
  with the invoice), a shortfall within the tolerance on the fee account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.sales.checks import count_and_price, vat_in
from connectors.targets.poweroffice_go.mapping import external_reference
from pipeline.descriptors import Derived, FieldMap, Lands, NotAccepted, Refused
from pipeline.model import Party, Payment, SalesInvoice

ORDER = "order"
_LINES = "order.SalesOrderLines[]"
_PAY = "voucher.VoucherLines[]"

INVOICE_NOT_ACCEPTED: dict[str, str] = {
    "description": "a GO sales order has no header text in its API (SalesOrderCompletePostDto); the lines carry "
                   "the texts",
    "kid": "GO makes the KID of an invoice itself when it is sent (its own KID settings); a sales order has no KID "
           "field. Ours is kept in our ledger beside GO's invoice number, so a payment naming it finds the invoice",
    "receivable_account": "GO books an invoice on the customer's own sub-ledger account itself",
    "due_date": "a credit note has no due date in GO (its sales order takes no payment term)",
    "lines[].dimensions.*": "GO's sales-order lines take department and project here; Dim1–3 and location are not "
                            "mapped",
}
PAYMENT_NOT_ACCEPTED: dict[str, str] = {
    "receivable_account": "GO credits the sub-ledger account of the customer of the invoice paid",
}

FIELD_MAP: FieldMap = {
    "sales_invoice": {
        "reference": Lands("order.ExternalImportReference", "as is (past 50 characters shortened with a hash): GO "
                                                            "keeps only one sales order with it, and it finds the "
                                                            "order again after a timeout"),
        "date": Lands("order.SalesOrderDate", "as is; also the invoice's VoucherDate when it is posted"),
        "description": NotAccepted(INVOICE_NOT_ACCEPTED["description"]),
        "currency": Refused("only NOK invoices: GO would convert another currency at its own rate",
                            accepted=("NOK",)),
        "invoice_number": Lands("order.CustomMatchingReference", "as is (GO numbers the invoice in its own series "
                                                                 "when it is posted; ours finds it again: "
                                                                 "GET /OutgoingInvoices?customMatchingReferences=), "
                                                                 "and as ImportedOrderNo when it is a number"),
        "customer": Lands("order.CustomerId", "the customer's id, found by the connection's match field, created once "
                                              "when missing (create_customers), updated when changed"),
        "due_date": Lands("order.PaymentTerm", "as days after the invoice date (and OverrideDueDate when posted); "
                                               "without one, the tenant's terms for the payment method "
                                               "(settings.due_days), else 0",
                          otherwise=INVOICE_NOT_ACCEPTED["due_date"]),
        "kid": NotAccepted(INVOICE_NOT_ACCEPTED["kid"]),
        "credits": Lands("order.RelatedInvoiceNo", "GO's number of the invoice credited (ours found in our ledger, "
                                                   "else GO's invoice with that number): GO links the credit note"),
        "payment_method": Derived("with the tenant's terms (settings.due_days) it gives the due date when the invoice "
                                  "has none, and checks the one it has; not sent"),
        "receivable_account": NotAccepted(INVOICE_NOT_ACCEPTED["receivable_account"]),
        "total": Lands(f"{_LINES}.ProductUnitPrice", "not sent by itself: GO sums the lines; its TotalAmount is "
                                                     "compared with ours before the invoice is posted"),
        "lines[].description": Lands(f"{_LINES}.Description", "as is"),
        "lines[].amount": Lands(f"{_LINES}.ProductUnitPrice", "net of VAT, as the unit price times the quantity "
                                                              "(a credit note: negative quantities)"),
        "lines[].quantity": Lands(f"{_LINES}.Quantity", "as is when it divides the net amount to the øre, else 1; "
                                                        "negative on a credit note"),
        "lines[].unit_price": Derived("the unit price sent is the net amount divided by the quantity; preflight "
                                      "checks that the source's unit price times the quantity is the amount"),
        "lines[].product": Lands(f"{_LINES}.ProductCode", "GO's product with that code; without one, the product "
                                                          "settings.products names for the line's VAT code"),
        "lines[].account": Derived("GO books a line on its product's sales account; preflight checks that it is the "
                                   "line's account"),
        "lines[].vat_code": Derived("GO takes the VAT code of the product's sales account; preflight checks that it "
                                    "is the line's, and a line without a product gets the product of its VAT code"),
        "lines[].vat_amount": Derived("GO computes the VAT from the net price and the VAT code; preflight checks the "
                                      "source's figure against the rate"),
        "lines[].dimensions.department": Lands(f"{_LINES}.DepartmentCode", "as is (GO's department code)"),
        "lines[].dimensions.project": Lands(f"{_LINES}.ProjectCode", "as is (GO's project code)"),
        "lines[].dimensions.*": NotAccepted(INVOICE_NOT_ACCEPTED["lines[].dimensions.*"]),
    },
    "payment": {
        "reference": Lands("voucher.ExternalImportReference", "as is (past 50 characters shortened with a hash): GO's "
                                                              "duplicate check on the client"),
        "date": Lands("voucher.VoucherDate", "as is; also each line's PostingDate"),
        "description": Lands("voucher.Description", "as is"),
        "currency": Refused("only NOK payments", accepted=("NOK",)),
        "amount": Lands(f"{_PAY}.CurrencyAmount", "debited the payment method's account; the customer credited up "
                                                  "to the open amount, a shortfall within settings.payment_tolerance "
                                                  "on settings.fee_account"),
        "invoice_number": Lands("lookup.invoiceNumber", "finds the invoice paid (its GO number in the lines' "
                                                        "InvoiceNo, GO's KID in Cid): ours by our ledger, else GO's "
                                                        "invoice with that number"),
        "kid": Lands("lookup.kid", "finds the invoice when its number does not: the KID we delivered it with, or "
                                   "GO's own"),
        "customer": Derived("the payment's customer is the customer of the invoice it pays, as GO holds it"),
        "payment_method": Lands(f"{_PAY}.AccountId", "the account settings.payment_accounts names for it (card, "
                                                     "vipps, bank, invoice)"),
        "bank_account": Derived("the account the money lands on when settings.payment_accounts names none for the "
                                "payment method"),
        "receivable_account": NotAccepted(PAYMENT_NOT_ACCEPTED["receivable_account"]),
    },
}


def not_accepted(document: SalesInvoice | Payment) -> tuple[str, ...]:
    """The instances of fields GO has no place for, as a delivery names them."""
    if isinstance(document, Payment):
        return ("receivable_account",)
    fields = ["receivable_account"] + [name for name in ("description", "kid") if getattr(document, name)]
    if document.credits is not None and document.due_date is not None:
        fields.append("due_date")
    for i, line in enumerate(document.lines):
        fields += [f"lines[{i}].dimensions.{name}" for name in line.dimensions if name not in ("department", "project")]
    return tuple(fields)


def product_code(line_product: str | None, vat_code: str, products: Mapping[str, str]) -> str | None:
    """The GO product a line is sold as: its own, else the tenant's product for its VAT code."""
    return line_product or products.get(vat_code)


def net_of(gross: Decimal, rate: Decimal) -> Decimal:
    """The net price GO is sent for a gross line amount at the rate (%) GO applies: the VAT GO adds back is the
    rate's, half-up to øre, so net + VAT is the gross again (preflight holds the source's VAT to the same rate)."""
    return gross - vat_in(gross, rate)


def order_body(invoice: SalesInvoice, *, customer_id: int | None, products: Mapping[str, str],
               rates: list[Decimal], due: dt.date, related: int | None) -> dict[str, Any]:
    """`SalesOrderCompletePostDto`: the invoice (or credit note, `related` = GO's number of the invoice credited);
    `rates`: per line, the VAT rate (%) of its product's sales account, which GO applies."""
    credit = invoice.credits is not None
    lines = []
    for i, (line, rate) in enumerate(zip(invoice.lines, rates, strict=True)):
        net = net_of(line.amount, rate)
        count, price = count_and_price(abs(net), line.quantity)
        quantity = -count if credit or net < 0 else count
        body: dict[str, Any] = {"Description": line.description, "ProductCode": product_code(line.product,
                                                                                             line.vat_code, products),
                                "Quantity": quantity, "ProductUnitPrice": price, "SortOrder": i}
        if "department" in line.dimensions:
            body["DepartmentCode"] = line.dimensions["department"]
        if "project" in line.dimensions:
            body["ProjectCode"] = line.dimensions["project"]
        lines.append(body)
    order: dict[str, Any] = {"CustomerId": customer_id, "SalesOrderDate": invoice.date.isoformat(),
                             "CurrencyCode": invoice.currency,
                             "ExternalImportReference": external_reference(invoice.reference),
                             "CustomMatchingReference": external_reference(invoice.invoice_number),
                             "SalesOrderLines": lines}
    if invoice.invoice_number.isdigit() and len(invoice.invoice_number) <= 18:
        order["ImportedOrderNo"] = int(invoice.invoice_number)
    if credit:
        order["RelatedInvoiceNo"] = related
    else:
        order["PaymentTerm"] = (due - invoice.date).days
    return order


def send_body(invoice: SalesInvoice, *, due: dt.date, send: bool, email: str | None) -> dict[str, Any]:
    """`SendInvoiceRequestPostDto`: post the sales order as an invoice (or credit note), delivered by GO on opt-in."""
    body: dict[str, Any] = {"DeliveryType": "Auto" if send else "PdfPrintForDownload",
                            "VoucherDate": invoice.date.isoformat()}
    if invoice.credits is None:
        body["OverrideDueDate"] = due.isoformat()
    if send and email:
        body["EmailAddress"] = email  # GO's fallback for Auto when neither EHF nor eFaktura reaches the customer
    return body


def payment_body(payment: Payment, *, bank_account_id: int | None, customer_account_id: int | None,
                 no_vat_id: int | None, invoice_no: Any, cid: str | None, credited: Decimal, fee: Decimal,
                 fee_account_id: int | None) -> dict[str, Any]:
    """`BankVoucherPostDto`: the money in on the bank (or clearing) account, the customer credited against the
    invoice (`credited`: the payment, or the open amount it settles), a shortfall `fee` on the fee account."""
    day = payment.date.isoformat()
    text = payment.description or f"Innbetaling faktura {payment.invoice_number or payment.kid or ''}".strip()
    lines: list[dict[str, Any]] = [
        {"AccountId": bank_account_id, "CurrencyAmount": payment.amount, "VatId": no_vat_id, "PostingDate": day,
         "Description": text},
        {"AccountId": customer_account_id, "CurrencyAmount": -credited, "VatId": no_vat_id, "PostingDate": day,
         "Description": text, "InvoiceNo": None if invoice_no is None else str(invoice_no), "Cid": cid}]
    if fee:
        lines.append({"AccountId": fee_account_id, "CurrencyAmount": fee, "VatId": no_vat_id, "PostingDate": day,
                      "Description": f"Gebyr/avrunding {text}"})
    return {"VoucherDate": day, "CurrencyCode": payment.currency, "Description": text,
            "ExternalImportReference": external_reference(payment.reference),
            "VoucherLines": [{k: v for k, v in line.items() if v is not None} for line in lines]}


def customer_kind(party: Party) -> str:
    """B2C, B2B or EHF (a business that takes invoices through PEPPOL)."""
    if party.delivery_method == "ehf" and party.organization_number:
        return "ehf"
    return "b2b" if party.organization_number else "b2c"


DELIVERY_TYPES = {"email": "PdfByEmail", "ehf": "EHF", "paper": "Print"}


def customer_body(party: Party, *, reference: str | None) -> dict[str, Any]:
    """`CustomerPostDto` (creating) or the values a JSON Patch compares (`reference` None): what the party says of
    its name (a person's first and last name: B2C), organisation number (B2B), address, e-mail, phone and how
    invoices reach it (InvoiceDeliveryType: PdfByEmail, EHF — GO allows it only for an organisation number
    registered in ELMA — or Print)."""
    body: dict[str, Any] = {}
    person = party.organization_number is None
    name = party.name or party.email or party.phone or party.number
    if reference is not None:
        body["IsPerson"] = person
        body["ExternalImportReference"] = reference
    if name:
        body["Name"] = name
        if person and reference is not None:
            first, _, last = name.rpartition(" ")
            body["FirstName"], body["LastName"] = (first, last) if first else (name, name)
    if party.organization_number:
        body["OrganizationNumber"] = party.organization_number
    if party.email:
        body["EmailAddress"] = party.email
        body["InvoiceEmailAddress"] = party.email
    if party.phone:
        body["PhoneNumber"] = party.phone
    if party.address is not None and party.address.postal_code and party.address.city:
        address = party.address
        body["MailAddress"] = {**{f"AddressLine{i}": text for i, text in enumerate(address.lines[:2], start=1)},
                               "ZipCode": address.postal_code, "City": address.city, "CountryCode": address.country}
    if party.delivery_method is not None:
        body["InvoiceDeliveryType"] = DELIVERY_TYPES[party.delivery_method]
    return body


def customer_patch(party: Party, held: Mapping[str, Any]) -> list[dict[str, Any]]:
    """JSON Patch operations (RFC 6902, `CustomerPatchDto` properties [unverified: the patch DTO is not in the stored
    clients; its names are taken to be CustomerPostDto's]) for what the invoice's customer says otherwise."""
    operations = []
    for name, value in customer_body(party, reference=None).items():
        current = held.get(name)
        if isinstance(value, dict):
            differs = any(str(v) != str((current or {}).get(k) or "") for k, v in value.items())
        else:
            differs = str(value) != str(current or "")
        if differs:
            operations.append({"op": "replace", "path": f"/{name}", "value": value})
    return operations
