"""Tripletex's side of sales invoices, credit notes and payments: the field map, payloads and checks, all pure.

The flow (docs/decisions/0009-tripletex-invoices.md): an invoice is first an order (`POST /order`, the draft:
Tripletex's «ordre» that someone invoices), invoiced on opt-in (`direct_posting`) with `POST /invoice` naming that
order — the one call that takes our due date and KID. A credit note credits the invoice it names: the whole of it
with `PUT /invoice/{id}/:createCreditNote`, part of it as an order of negative lines invoiced with
`PUT /order/{id}/:invoice?invoiceIdIfIsCreditNote`. A payment is `PUT /invoice/{id}/:payment` with the payment type
the payment method says (Tripletex has no draft payment). No I/O here: `sales.py` sends what these build.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.sales import checks, fields
from connectors.sales.checks import count_and_price
from connectors.sales.checks import due_date as due_date  # re-exported: sales.py and tests use invoicing.due_date
from connectors.sales.checks import payment_plan as payment_plan
from pipeline.descriptors import Derived, FieldMap, Lands, NotAccepted, Refused
from pipeline.errors import Problem
from pipeline.model import Payment, SalesInvoice

CENT = Decimal("0.01")
INVOICE_NOT_ACCEPTED: dict[str, str] = {
    "receivable_account": "Tripletex books an invoice on the customer's ledger account (1500 or the customer's "
                          "own ledgerAccount) itself; an order has no receivable account",
    "lines[].account": "Tripletex books an order line on the revenue account of its product or VAT type; an order "
                       "line has no account field",
    "lines[].product": "products are not matched yet (an order line takes a product by its Tripletex id); the "
                       "line's description carries the text",
    "lines[].dimensions.*": "orders take a department and a project for the whole order, not per line; line "
                            "dimensions are not sent",
}
PAYMENT_NOT_ACCEPTED: dict[str, str] = {
    "bank_account": "the account a payment lands on is the debit account of the Tripletex payment type the "
                    "payment method maps to (settings.payment_types), not a field of the payment",
    "receivable_account": "Tripletex settles the invoice's own customer ledger posting",
    "description": "PUT /invoice/{id}/:payment takes no text",
}

FIELD_MAP: FieldMap = {
    "sales_invoice": {
        "reference": Lands("order.reference", "our reference (as externalVoucherNumber: shortened past 70 characters) "
                                              "on the order; found again by customer and order date"),
        "date": Lands("order.orderDate", "as is; also the order's deliveryDate and the invoice's invoiceDate"),
        "description": Lands("order.invoiceComment", "after the invoice number, on the invoice"),
        "currency": Refused("only NOK invoices: another currency needs Tripletex's currency id and rate",
                            accepted=("NOK",)),
        "invoice_number": Lands("order.invoiceComment", "as «Faktura <number>»; Tripletex numbers the invoice in its "
                                                        "own series (invoiceNumber 0)"),
        "customer": Lands("order.customer", "the customer's id, found by the connection's match field, created "
                                            "once when missing (create_customers), updated when changed"),
        "due_date": Lands("order.invoicesDueIn", "as days after the invoice date (invoicesDueInType DAYS), and as "
                                                 "invoiceDueDate on POST /invoice; without one, the tenant's terms for "
                                                 "the payment method (settings.due_days), else the invoice date"),
        "kid": Lands("invoice|order.kid|invoiceComment",
                     "as is on the invoice (without one, Tripletex makes its own when the company has KID set up); a "
                     "credit note has no KID in Tripletex, so there it is printed in the comment («KID …»)"),
        "credits": Lands("creditNote.invoice", "the id of the Tripletex invoice credited: :createCreditNote when the "
                                               "credit note is the whole invoice, else invoiceIdIfIsCreditNote"),
        "payment_method": Derived("with the tenant's terms (settings.due_days) it gives the due date when the invoice "
                                  "has none, and checks the one it has; not sent"),
        "receivable_account": NotAccepted(INVOICE_NOT_ACCEPTED["receivable_account"]),
        "total": Lands("order.orderLines[].unitPriceIncludingVatCurrency",
                       "not sent by itself: Tripletex sums the order lines, and the model holds the total to them"),
        "lines[].description": Lands("order.orderLines[].description", "as is"),
        "lines[].amount": Lands("order.orderLines[].unitPriceIncludingVatCurrency",
                                "gross, as the unit price including VAT (isPrioritizeAmountsIncludingVat) times the "
                                "count; a quantity that does not divide the amount exactly sends count 1"),
        "lines[].quantity": Lands("order.orderLines[].count", "as is when it divides the amount to the øre, else 1"),
        "lines[].unit_price": Derived("the unit price sent is the amount divided by the quantity; preflight checks "
                                      "that the source's unit price times the quantity is the amount"),
        "lines[].product": NotAccepted(INVOICE_NOT_ACCEPTED["lines[].product"]),
        "lines[].account": NotAccepted(INVOICE_NOT_ACCEPTED["lines[].account"]),
        "lines[].vat_code": Lands("order.orderLines[].vatType", "the Tripletex VAT type with that number, by id"),
        "lines[].vat_amount": Derived("Tripletex computes VAT from the price including VAT and the VAT type; "
                                      "preflight holds the source's figure to the rate"),
        "lines[].dimensions.department": Lands("order.department", "the department's id (the order's; lines of one "
                                                                   "invoice must agree)"),
        "lines[].dimensions.project": Lands("order.project", "the project's id (the order's; lines must agree)"),
        "lines[].dimensions.*": NotAccepted(INVOICE_NOT_ACCEPTED["lines[].dimensions.*"]),
    },
    "payment": {
        "reference": Derived("a payment has no reference in Tripletex: our ledger keeps it, with the invoice's "
                             "open amount before, which is how a retry after a timeout finds it registered"),
        "date": Lands("payment.paymentDate", "as is"),
        "description": NotAccepted(PAYMENT_NOT_ACCEPTED["description"]),
        "currency": Refused("only NOK payments", accepted=("NOK",)),
        "amount": Lands("payment.paidAmount", "as is; a difference to the open amount within "
                                              "settings.payment_tolerance is registered on the fee/rounding payment "
                                              "type"),
        "invoice_number": Lands("lookup.invoiceNumber", "finds the invoice paid (payment.invoice, its id in the "
                                                        "path): the one we delivered with that number, else "
                                                        "GET /invoice?invoiceNumber= (whole numbers)"),
        "kid": Lands("lookup.kid", "finds the invoice when its number does not: GET /invoice?kid="),
        "customer": Derived("only checked: the invoice's customer is the one paid for"),
        "payment_method": Lands("payment.paymentTypeId", "the Tripletex payment type settings.payment_types names for "
                                                         "it (card, vipps, bank, invoice)"),
        "bank_account": NotAccepted(PAYMENT_NOT_ACCEPTED["bank_account"]),
        "receivable_account": NotAccepted(PAYMENT_NOT_ACCEPTED["receivable_account"]),
    },
}
NOT_ACCEPTED = {**INVOICE_NOT_ACCEPTED, **{k: v for k, v in PAYMENT_NOT_ACCEPTED.items() if k != "receivable_account"}}


def not_accepted(document: SalesInvoice | Payment) -> tuple[str, ...]:
    """The instances of fields Tripletex has no place for, as a delivery names them (from FIELD_MAP)."""
    return fields.not_accepted(document, FIELD_MAP)


DEFAULT_PAYMENT_TYPES = {"card": "Kort", "vipps": "Vipps", "bank": "Betalt til bank", "invoice": "Betalt til bank"}


def _ref(record: Mapping[str, Any] | None) -> dict[str, int] | None:
    return {"id": int(record["id"])} if record is not None and "id" in record else None


def order_payload(invoice: SalesInvoice, *, customer: Mapping[str, Any] | None, vat_types: Mapping[str, Any],
                  departments: Mapping[str, Any], projects: Mapping[str, Any], number: str,
                  due: dt.date) -> dict[str, Any]:
    """The body of `POST /order`: the invoice's lines at their prices including VAT."""
    comment = f"{'Kreditnota' if invoice.credits else 'Faktura'} {invoice.invoice_number}"
    if invoice.description:
        comment += f": {invoice.description}"
    if invoice.credits and invoice.kid:
        comment += f" (KID {invoice.kid})"
    body: dict[str, Any] = {
        "customer": _ref(customer), "orderDate": invoice.date.isoformat(), "deliveryDate": invoice.date.isoformat(),
        "reference": number, "invoiceComment": comment, "isPrioritizeAmountsIncludingVat": True,
        "invoicesDueIn": (due - invoice.date).days, "invoicesDueInType": "DAYS", "orderLines": [],
    }
    for line in invoice.lines:
        count, price = count_and_price(line.amount, line.quantity)
        body["orderLines"].append({"description": line.description, "count": count,
                                   "unitPriceIncludingVatCurrency": price,
                                   "vatType": _ref(vat_types.get(line.vat_code))})
    for key, table in (("department", departments), ("project", projects)):
        wanted = next((line.dimensions[key] for line in invoice.lines if key in line.dimensions), None)
        if wanted is not None:
            body[key] = _ref(table.get(wanted))
    return body


def invoice_payload(invoice: SalesInvoice, order_id: int | None, due: dt.date,
                    customer: Mapping[str, Any] | None) -> dict[str, Any]:
    """The body of `POST /invoice` for the order made of this invoice (invoiceNumber 0: Tripletex's series)."""
    body: dict[str, Any] = {"invoiceDate": invoice.date.isoformat(), "invoiceDueDate": due.isoformat(),
                            "customer": _ref(customer), "orders": [{"id": order_id}], "invoiceNumber": 0}
    if invoice.kid:
        body["kid"] = invoice.kid
    return body


def invoice_problems(invoice: SalesInvoice, vat_types: Mapping[str, Mapping[str, Any]],
                     due_days: Mapping[str, int]) -> list[Problem]:
    """The checks before posting an invoice (connectors.sales.checks), and what only Tripletex refuses: another
    currency than NOK, lines of one order in more than one department or project."""
    problems: list[Problem] = []

    def problem(code: str, where: str, message: str) -> None:
        problems.append(Problem(message, field=where, reference=invoice.reference, code=code,
                                file=invoice.origin.file if invoice.origin else None,
                                line=invoice.origin.line if invoice.origin else None))

    if invoice.currency != "NOK":
        problem("unsupported-currency", "currency", f"Tripletex invoices are delivered in NOK only, not "
                                                    f"{invoice.currency}")
    for key in ("department", "project"):
        values = {line.dimensions[key] for line in invoice.lines if key in line.dimensions}
        if len(values) > 1:
            problem("mixed-dimensions", f"lines[].dimensions.{key}",
                    f"a Tripletex order has one {key}; the lines name {', '.join(sorted(values))}")

    def rate(code: str) -> Decimal | None:
        vat = vat_types.get(code)
        return None if vat is None else Decimal(str(vat.get("percentage") or 0))

    return problems + checks.invoice_problems(invoice, rate, due_days, system="Tripletex", vat_noun="VAT type")
