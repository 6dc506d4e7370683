"""What a document books in the general ledger: a voucher as it is; a sales invoice or a payment as the voucher
it makes — for the SAF-T Financial export, whose general ledger entries are vouchers only.

- A **sales invoice** debits its receivable account (NS 4102: 1500) with the total, with the customer, invoice
  number, KID and due date, and credits each line's account with the line's gross amount, VAT code and VAT; a
  credit note (negative total) books the other way round. A line without an account is booked on NS 4102's
  standard revenue account for its VAT code (`REVENUE`), as no tenant rule names one in the shared form.
- A **payment** debits its bank account and credits the customer's receivable account, with the invoice number,
  KID and customer; its payment method is the bank line's description.
- A voucher of the series (`voucher_type`) `sales_invoice` or `payment` says which document it came from.

What the voucher has no place for — an invoice line's quantity, unit price and product, the invoice a credit note
credits — stays in the JSON lines export. A document that moves no money (an invoice of 0.00 with one line)
books nothing: `as_voucher` answers None.
"""

from __future__ import annotations

from decimal import Decimal

from pipeline.model import Document, InvoiceLine, Payment, Posting, SalesInvoice, Voucher
from pipeline.norway.accounts import STANDARD
from pipeline.norway.vat import lookup

ZERO = Decimal("0.00")


def revenue_account(vat_code: str) -> str:
    """NS 4102's standard revenue account for a sales line's SAF-T VAT code: 3000 where output VAT is charged,
    3100 for zero-rated sales inside the VAT Act (5, 51, 52), 3200 for sales outside it."""
    code = lookup(vat_code)
    if code.direction == "output" and code.rate > 0:
        return STANDARD.sales_high
    if code.direction == "output" and code.rate_class == "Zero rate":
        return STANDARD.sales_exempt
    return STANDARD.sales_outside_vat


def as_voucher(document: Document) -> Voucher | None:
    """The voucher `document` books; None when it moves no money."""
    if isinstance(document, Voucher):
        return document
    if isinstance(document, SalesInvoice):
        lines = [_receivable(document), *(_revenue(line, document) for line in document.lines)]
        voucher_type = "sales_invoice"
    else:
        lines = [_bank(document), _settled(document)]
        voucher_type = "payment"
    if all(line.amount == 0 for line in lines):
        return None
    return Voucher(reference=document.reference, date=document.date, description=document.description,
                   currency=document.currency, voucher_type=voucher_type, lines=tuple(lines),
                   origin=document.origin)


def _receivable(invoice: SalesInvoice) -> Posting:
    return Posting(account=invoice.receivable_account, amount=invoice.total, description=invoice.description,
                   customer=invoice.customer, kid=invoice.kid, invoice_number=invoice.invoice_number,
                   due_date=invoice.due_date)


def _revenue(line: InvoiceLine, invoice: SalesInvoice) -> Posting:
    vat_amount = ZERO - line.vat_amount if line.vat_amount is not None else None
    return Posting(account=line.account or revenue_account(line.vat_code), amount=ZERO - line.amount,
                   description=line.description, vat_code=line.vat_code, vat_amount=vat_amount,
                   dimensions=dict(line.dimensions))


def _bank(payment: Payment) -> Posting:
    return Posting(account=payment.bank_account, amount=payment.amount, description=payment.payment_method)


def _settled(payment: Payment) -> Posting:
    return Posting(account=payment.receivable_account, amount=ZERO - payment.amount, description=payment.description,
                   customer=payment.customer, kid=payment.kid, invoice_number=payment.invoice_number)
