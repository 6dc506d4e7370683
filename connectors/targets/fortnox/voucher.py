"""One shared-form voucher as one Fortnox voucher, with everything Fortnox would refuse in it found at once.

`build(voucher, register, ...)` is pure: the body of `POST /3/vouchers`, every problem on its field
(`lines[2].vat_code`), the fields Fortnox has no place for (`not_accepted`), and notes for the trace (VAT rows
added). Preflight reports the problems; delivery refuses to send a voucher that has any.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.targets.fortnox.mapping import (
    ACCOUNT,
    Register,
    comments,
    description,
    refused_vat,
    row,
    split,
    vat_account,
)
from pipeline.errors import Problem
from pipeline.model import Voucher


@dataclass(frozen=True)
class Built:
    body: dict[str, Any]
    problems: tuple[Problem, ...]
    not_accepted: tuple[str, ...]
    year: dict[str, Any] | None = None  # the financial year the voucher's date falls in
    details: dict[str, Any] = field(default_factory=dict)


def build(voucher: Voucher, register: Register, *, series: str, vat_accounts: Mapping[str, str]) -> Built:
    problems: list[Problem] = []
    origin = voucher.origin

    def report(code: str, where: str, message: str) -> None:
        problems.append(Problem(message, field=where, reference=voucher.reference, code=code,
                                file=origin.file if origin else None, line=origin.line if origin else None))

    if voucher.currency != "NOK":
        report("unsupported-currency", "currency", f"a Fortnox voucher is in the company's currency; the voucher is "
               f"in {voucher.currency} (the shared form carries no exchange rate)")
    year = register.years.get(voucher.date.isoformat())
    if year is None:
        report("no-financial-year", "date", f"the voucher is dated {voucher.date}, and the company has no financial "
               "year in Fortnox that holds that date: create it in Fortnox (Inställningar → Bokföring → "
               "Räkenskapsår)")
    if series not in register.series:
        report("unknown-voucher-series", "settings.voucher_series", f"Fortnox has no voucher series «{series}» "
               "(Inställningar → Bokföring → Verifikationsserier): create it, or choose another in the connection")
    refused = ["voucher_type"] if voucher.voucher_type else []
    rows: list[dict[str, Any]] = []
    vat_rows: list[int] = []
    for i, line in enumerate(voucher.lines):
        refused += [f"lines[{i}].{name}" for name in ("kid", "invoice_number", "due_date", "customer", "supplier")
                    if getattr(line, name) is not None]
        refused += [f"lines[{i}].dimensions.{k}" for k in line.dimensions if k not in ("department", "project")]
        account = _account(i, line.account, register, report)
        for kind, table, what in (("department", register.cost_centers, "cost centre"),
                                  ("project", register.projects, "project")):
            value = line.dimensions.get(kind)
            if value is not None and not _active(table.get(value), kind):
                report(f"missing-{kind}", f"lines[{i}].dimensions.{kind}",
                       f"Fortnox has no active {what} «{value}»")
        code = line.vat_code
        why = refused_vat(code, vat_accounts) if code else None
        if why:
            report("unknown-vat-code", f"lines[{i}].vat_code", why)
            continue
        net, vat = split(line.amount, code, line.vat_amount)
        if account is None:
            continue
        dims = {k: v for k, v in line.dimensions.items() if k in ("department", "project")}
        if net != 0 or vat == 0:
            rows.append(row(account, net, line.description, dims))
        if vat != 0:
            where = vat_account(code or "", vat_accounts)
            if where is None or where not in register.accounts:
                report("missing-account", f"lines[{i}].vat_code", f"the VAT account {where} for VAT code {code} "
                       "does not exist in Fortnox's chart of accounts (or is inactive)")
                continue
            vat_rows.append(i)
            rows.append(row(where, vat, f"MVA {code}" + (f": {line.description}" if line.description else ""), dims))
    debit = sum((r.get("Debit", Decimal("0")) for r in rows), Decimal("0"))
    credit = sum((r.get("Credit", Decimal("0")) for r in rows), Decimal("0"))
    if not problems and debit != credit:  # the shared form balances; a VAT split never unbalances it
        report("unbalanced", "lines", f"debit {debit} and credit {credit} differ")
    body = {"Voucher": {"VoucherSeries": series, "TransactionDate": voucher.date.isoformat(),
                        "Description": description(voucher.reference, voucher.description),
                        "Comments": comments(voucher.reference), "VoucherRows": rows}}
    details: dict[str, Any] = {"voucher_series": series}
    if year is not None:
        details["financial_year"] = year.get("Id")
    if vat_rows:
        details["vat_rows_for_lines"] = vat_rows
    return Built(body, tuple(problems), tuple(refused), year, details)


def _account(i: int, number: str, register: Register, report: Any) -> str | None:
    if not ACCOUNT.match(number):
        report("missing-account", f"lines[{i}].account", f"«{number}» is no Fortnox account (four digits)")
        return None
    found = register.accounts.get(number)
    if found is None:
        report("missing-account", f"lines[{i}].account", f"account {number} does not exist in Fortnox's chart of "
               "accounts for the voucher's financial year")
        return None
    if found.get("Active") is False:
        report("missing-account", f"lines[{i}].account", f"account {number} is inactive in Fortnox")
        return None
    return number


def _active(found: Mapping[str, Any] | None, kind: str) -> bool:
    if found is None:
        return False
    if kind == "department":
        return found.get("Active") is not False
    return str(found.get("Status") or "ONGOING").upper() != "COMPLETED"
