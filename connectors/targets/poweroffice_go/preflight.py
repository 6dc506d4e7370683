"""What PowerOffice GO needs of an invoice or credit note before it is posted: preflight, every problem at once.

The shared checks (connectors.sales.checks: lines add up, VAT follows the rates, the due date the terms), then GO's
own: a GO sales-order line takes its account and VAT code from its product, so each line's product must exist, not be
archived, and be sold on the line's account with the line's VAT code; the customer must be found or creatable; the
invoice a credit note credits must be posted (GO links a credit note to an invoice number).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.sales import checks
from connectors.targets.poweroffice_go import customers
from connectors.targets.poweroffice_go.mapping import TITLE
from connectors.targets.poweroffice_go.sales import locate
from pipeline.errors import Problem
from pipeline.model import SalesInvoice

if TYPE_CHECKING:
    from connectors.targets.poweroffice_go.target import PowerOfficeTarget


def invoice_problems(target: PowerOfficeTarget, invoice: SalesInvoice) -> list[Problem]:
    """Preflight: the shared checks, each line's product (its sales account and VAT code), the customer, and the
    invoice a credit note credits (posted in GO: GO links a credit note to an invoice number)."""
    settings = target.settings
    rates = target.vat_rates()
    problems = checks.invoice_problems(invoice, rates.get, settings.due_days, system=TITLE)
    if invoice.currency != "NOK":
        problems.append(Problem("PowerOffice GO invoices are made in NOK only", field="currency",
                                reference=invoice.reference, code="unsupported-currency"))
    products = target.products()
    for i, line in enumerate(invoice.lines):
        code = line.product or settings.products.get(line.vat_code)
        product = products.get(code or "")
        where = f"lines[{i}].product"
        if code is None:
            problems.append(Problem(f"no GO product for VAT code {line.vat_code}: name one in settings.products "
                                    "(a GO sales-order line takes its account and VAT code from its product)",
                                    field=where, reference=invoice.reference, code="missing-product"))
            continue
        if product is None or product.get("IsArchived"):
            problems.append(Problem(f"product {code} is {'archived' if product else 'not'} in PowerOffice GO",
                                    field=where, reference=invoice.reference, code="missing-product"))
            continue
        account = target.sales_account(product)
        if account is None:
            continue  # the product's account is GO's default (product group or settings): not checked [unverified]
        if line.account and str(account.get("AccountNo")) != line.account:
            problems.append(Problem(f"product {code} is sold on account {account.get('AccountNo')}, not "
                                    f"{line.account}", field=f"lines[{i}].account", reference=invoice.reference,
                                    code="product-account"))
        if (target.account_vat_code(account) or line.vat_code) != line.vat_code:
            problems.append(Problem(f"product {code}'s sales account {account.get('AccountNo')} has VAT code "
                                    f"{target.account_vat_code(account)}, not {line.vat_code}", field=f"lines[{i}].vat_code",
                                    reference=invoice.reference, code="product-vat-code"))
    found, why = customers.customer(target, invoice.customer, invoice.reference, create=False)
    creatable = why == "missing" and settings.create_customers and bool(customers.keys(
        checks.matching_party(invoice.customer, settings.customer_match)))
    if found is None and not creatable:
        who = invoice.customer.name or invoice.customer.number
        problems.append(Problem(f"customer {who} is {why} in PowerOffice GO" + (
            " (the connection may create missing customers: setting create_customers)"
            if why == "missing" and not settings.create_customers else
            ": merge them in GO" if why == "ambiguous" else ""),
            field="customer", reference=invoice.reference, code="missing-customer"))
    if invoice.credits is not None:
        credited = locate(target, invoice.credits, None)
        if credited is None or "_draft" in credited:
            problems.append(Problem(f"the invoice credited, {invoice.credits}, is " + (
                "not in PowerOffice GO" if credited is None else
                "still a sales order (a draft) in PowerOffice GO: GO links a credit note to a posted invoice"),
                field="credits", reference=invoice.reference, code="missing-invoice"))
    return problems
