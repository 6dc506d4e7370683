"""What Visma.net refuses in a journal transaction, checked before anything is sent: every problem a voucher has, at
once, located by field (preflight, and again before delivery).

The rules and where they come from (docs/fidelity.md lists what is unverified): the voucher date's financial period
must exist, be active and be open in the general ledger (`FinancialPeriodDto.active`, `closedInGeneralLedger`);
accounts must exist and be active, and a control account of the customer or supplier ledger takes no manual entry
(`AccountDto.controlAccountModule`, `allowManualEntry`); a VAT ID must exist, have a rate on the date and a VAT
account, not be reverse-charge (not delivered yet), and be one the account's VAT category lists
(`AccountDto.taxCategory` → `VatCategoryDto.vatCategoryLines`); a department must be an active value of the
subaccount's department segment; a project must exist and be active. NOK only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from connectors.sales import checks
from connectors.targets.visma_net.invoicing import vat_category
from connectors.targets.visma_net.mapping import (
    CURRENCIES,
    Register,
    period_id,
    period_of,
    rate_on,
    vat_account,
    vat_part,
)
from pipeline.errors import Problem
from pipeline.model import Posting, SalesInvoice, Voucher

Report = Callable[[str, str, str], None]

# InventoryDto.status values an item may be sold in (the others: NoSales, Inactive, MarkedForDeletion, Unknown);
# [unverified] whether Visma.net sells a NoRequest item: allowed here, refused by Visma.net in its own words if not.
SELLABLE = ("Active", "NoPurchases", "NoRequest")

def problems_for(voucher: Voucher, register: Register) -> list[Problem]:
    """Everything this voucher needs and the company lacks or refuses, each located by field."""
    problems: list[Problem] = []

    def problem(code: str, where: str, message: str) -> None:
        problems.append(Problem(message, field=where, reference=voucher.reference, code=code,
                                file=voucher.origin.file if voucher.origin else None,
                                line=voucher.origin.line if voucher.origin else None))

    if voucher.currency not in CURRENCIES:
        problem("unsupported-currency", "currency", f"the Visma.net connector delivers NOK only: a {voucher.currency} "
                "journal transaction needs an exchange rate the shared form does not carry")
    period = period_of(voucher.date, register.periods)
    if period is None:
        problem("closed-period", "date", f"no financial period in Visma.net covers {voucher.date}: create the "
                "financial year in Visma.net, or date the voucher in an existing period")
    elif not period.get("active", True):
        problem("closed-period", "date", f"the financial period {period.get('description') or period_id(period)} "
                f"is inactive in Visma.net: a voucher dated {voucher.date} cannot be booked there")
    elif period.get("closedInGeneralLedger"):
        problem("closed-period", "date", f"the financial period {period.get('description') or period_id(period)} "
                f"is closed in Visma.net's general ledger: a voucher dated {voucher.date} cannot be booked there "
                "(reopen the period in Visma.net, or date the voucher in an open period)")
    for i, line in enumerate(voucher.lines):
        at = f"lines[{i}]"
        account = register.accounts.get(line.account)
        if account is None:
            problem("missing-account", f"{at}.account", f"account {line.account} does not exist in Visma.net")
        elif not account.get("active", True):
            problem("inactive-account", f"{at}.account", f"account {line.account} is inactive in Visma.net")
        elif account.get("controlAccountModule") and account.get("allowManualEntry") is False:
            problem("control-account", f"{at}.account",
                    f"account {line.account} is a control account of Visma.net's {account['controlAccountModule']} "
                    "ledger and takes no manual journal entries")
        if line.vat_code is not None:
            problems_of_vat(line, account, register, voucher.date, f"{at}.vat_code", problem)
        department = line.dimensions.get("department")
        if department is not None:
            value = register.departments.get(department)
            if value is None or value.get("active") is False:
                problem("missing-department", f"{at}.dimensions.department",
                        f"department {department} is no active value of the subaccount's department segment in "
                        "Visma.net")
        project = line.dimensions.get("project")
        if project is not None:
            found = register.projects.get(project)
            if found is None:
                problem("missing-project", f"{at}.dimensions.project", f"project {project} does not exist in Visma.net")
            elif found.get("status") not in (None, "Active"):
                problem("missing-project", f"{at}.dimensions.project",
                        f"project {project} is {str(found['status']).lower()} in Visma.net, not active")
    return problems


def problems_of_vat(line: Posting, account: Mapping[str, Any] | None, register: Register, day: dt.date, where: str,
                    problem: Report) -> None:
    vat = register.vats.get(str(line.vat_code))
    if vat is None:
        problem("unknown-vat-code", where, f"VAT code {line.vat_code} is not a VAT ID in Visma.net")
        return
    if vat.get("reverseVat"):
        problem("unsupported-vat", where, f"VAT ID {line.vat_code} is a reverse-charge VAT: the Visma.net connector "
                "does not post reverse-charge VAT yet")
        return
    found = rate_on(vat, day)
    if found is None:
        problem("vat-rate-missing", where, f"VAT ID {line.vat_code} has no rate in Visma.net on {day}")
        return
    rate, group = found
    if vat_part(line, rate) != 0 and not vat.get("statisticalVat") and vat_account(vat, group) is None:
        problem("vat-account-missing", where, f"VAT ID {line.vat_code} has no VAT account in Visma.net")
    category = (account or {}).get("taxCategory")
    allowed = register.vat_categories.get(str(category)) if category else None
    if allowed is not None:
        ids = {str(row.get("vatId")) for row in allowed.get("vatCategoryLines") or ()}
        if str(line.vat_code) not in ids:
            problem("vat-code-not-allowed", where,
                    f"VAT code {line.vat_code} is not allowed on account {line.account} in Visma.net: the account's "
                    f"VAT category {category} allows {', '.join(sorted(ids)) or 'none'}")


def invoice_problems(invoice: SalesInvoice, register: Register, *, vat_categories: Mapping[str, str],
                     due_days: Mapping[str, int]) -> list[Problem]:
    """What a customer invoice or credit note needs and the company lacks, besides connectors.sales.checks' rules
    (lines add up, VAT at the rates, due date by the terms): NOK, a VAT category per VAT ID, accounts, department
    values, one project per document, the financial period open in the customer ledger."""
    problems: list[Problem] = []

    def problem(code: str, where: str, message: str) -> None:
        problems.append(Problem(message, field=where, reference=invoice.reference, code=code,
                                file=invoice.origin.file if invoice.origin else None,
                                line=invoice.origin.line if invoice.origin else None))

    if invoice.currency not in CURRENCIES:
        problem("unsupported-currency", "currency", f"Visma.net invoices are delivered in NOK only, not "
                                                    f"{invoice.currency}")
    period = period_of(invoice.date, register.periods)
    if period is None or not period.get("active", True) or period.get("closedInCustomerLedger"):
        problem("closed-period", "date", f"no open financial period in Visma.net's customer ledger covers "
                                         f"{invoice.date}")
    projects = {line.dimensions["project"] for line in invoice.lines if "project" in line.dimensions}
    if len(projects) > 1:
        problem("mixed-dimensions", "lines[].dimensions.project",
                f"a Visma.net customer document has one project; the lines name {', '.join(sorted(projects))}")

    def rate(code: str) -> Decimal | None:
        vat = register.vats.get(code)
        found = rate_on(vat, invoice.date) if vat is not None else None
        return None if found is None else found[0]

    problems += checks.invoice_problems(invoice, rate, due_days, system="Visma.net", vat_noun="VAT ID")
    for i, line in enumerate(invoice.lines):
        at = f"lines[{i}]"
        if line.vat_code in register.vats and vat_category(line.vat_code, register.vat_categories,
                                                           vat_categories) is None:
            problem("vat-category-missing", f"{at}.vat_code",
                    f"no single Visma.net VAT category holds VAT ID {line.vat_code}: name one in the connection "
                    "(settings.vat_categories)")
        if line.account is not None:
            account = register.accounts.get(line.account)
            if account is None or not account.get("active", True):
                problem("missing-account", f"{at}.account", f"account {line.account} is "
                        + ("inactive" if account else "missing") + " in Visma.net")
        department = line.dimensions.get("department")
        if department is not None and (register.departments.get(department) or {}).get("active", False) is False:
            problem("missing-department", f"{at}.dimensions.department", f"department {department} is no active "
                    "value of the subaccount's department segment in Visma.net")
        if line.product is not None:
            item = register.items.get(line.product)
            if item is None or item.get("status") not in SELLABLE:
                problem("missing-item", f"{at}.product", f"inventory item {line.product} is " + (
                    "not in Visma.net" if item is None else f"{item.get('status')} in Visma.net (it may not be sold)")
                    + ": add it in Visma.net (Inventory → Items), or send the line without a product code")
        project = line.dimensions.get("project")
        if project is not None and (register.projects.get(project) or {}).get("status") != "Active":
            problem("missing-project", f"{at}.dimensions.project", f"project {project} is missing or not active in "
                                                                   "Visma.net")
    return problems
