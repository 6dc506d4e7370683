"""What vouchers need from Finago Office — accounts, VAT codes, fiscal years, voucher types, departments,
projects, customers and suppliers — looked up per connection (pipeline.lookups: single flight, hits only), and
what preflight reports when something is missing.

The lists come whole (`GetAccountList`, `GetTaxCodeList`, `GetFiscalYears`, `GetTypeList`, `GetDepartmentList`:
none of them filters); projects by id (`GetProjectList(Ps{ProjectIds})`); companies — 24SevenOffice keeps
customers and suppliers as companies of its CRM — by id in one call (`GetCompanies(CompanyIds)`), else by
organisation number, else by e-mail, one call each. An identifier two companies share is kept as ambiguous and
reported, never guessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from connectors.targets.finago_office.mapping import ACCOUNT_MAX, Register, company, party_keys
from pipeline.errors import Problem
from pipeline.model import Voucher

if TYPE_CHECKING:
    from connectors.targets.finago_office.target import FinagoOfficeTarget

COMPANY_FIELDS = ["Id", "Name", "OrganizationNumber", "Type", "EmailAddresses"]


def whole_list(target: FinagoOfficeTarget, service: str, operation: str, field: str,
               key: Callable[[Any], str] = str) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
    """A fetch for `Lookups.fill` that reads a whole list (the operation takes no filter), by `key(row[field])`."""
    def fetch(_: list[str]) -> dict[str, dict[str, Any]]:
        return {key(row[field]): row for row in target.read(service, operation) or [] if row}
    return fetch


def _projects(target: FinagoOfficeTarget) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
    def fetch(numbers: list[str]) -> dict[str, dict[str, Any]]:
        ids = [int(n) for n in numbers if n.isdigit()]
        if not ids:
            return {}
        found = target.read("project", "GetProjectList", Ps={"ProjectIds": {"int": ids}}) or []
        return {str(p["Id"]): p for p in found if p and str(p.get("Id")) in numbers}
    return fetch


def _companies(target: FinagoOfficeTarget) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
    def search(**params: Any) -> list[dict[str, Any]]:
        return [c for c in target.read("company", "GetCompanies", searchParams=params,
                                       returnProperties={"string": COMPANY_FIELDS}) or [] if c]

    def fetch(keys: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        numbers = [int(k.split(":", 1)[1]) for k in keys if k.startswith("number:")]
        if numbers:
            for row in search(CompanyIds={"int": numbers}):
                found[f"number:{row['Id']}"] = row
        for key in keys:
            kind, _, value = key.partition(":")
            if kind == "number":
                continue
            rows = search(OrganizationNumber=value) if kind == "org" else search(CompanyEmail=value)
            if kind == "email":  # the search's match is not documented: keep exact ones only
                rows = [r for r in rows if _email(r) == value]
            if len(rows) == 1:
                found[key] = rows[0]
            elif rows:
                found[key] = {"_ambiguous": len(rows), "Id": None}
        return found
    return fetch


def _email(row: dict[str, Any]) -> str:
    addresses = row.get("EmailAddresses") or {}
    return str(((addresses.get("Primary") or {}).get("Value")) or "").lower()


def resolve(target: FinagoOfficeTarget, vouchers: Sequence[Voucher], *, types: bool = True) -> Register:
    """Fill the connection's tables with what these vouchers need and return them as a Register."""
    lookups = target.context.lookups
    lines = [line for voucher in vouchers for line in voucher.lines]
    register = Register()
    register.accounts = lookups.fill("accounts", [line.account for line in lines],
                                     whole_list(target, "account", "GetAccountList", "AccountNo"))
    register.tax_codes = lookups.fill("tax_codes", [line.vat_code for line in lines if line.vat_code is not None],
                                      whole_list(target, "account", "GetTaxCodeList", "TaxNo"))
    register.years = lookups.fill("years", {str(v.date.year) for v in vouchers},
                                  whole_list(target, "transaction", "GetFiscalYears", "StartingDate",
                                             lambda start: str(_naive(start).year)))
    if types:
        register.types = lookups.fill("types", ["*"], whole_list(target, "account", "GetTypeList", "TypeNo"),
                                      have=lambda key, table: bool(table))
    register.departments = lookups.fill("departments", [line.dimensions["department"] for line in lines
                                                        if "department" in line.dimensions],
                                        whole_list(target, "client", "GetDepartmentList", "Id"))
    register.projects = lookups.fill("projects", [line.dimensions["project"] for line in lines
                                                  if "project" in line.dimensions], _projects(target))
    wanted = [key for line in lines for key in party_keys(line)]
    register.companies = lookups.fill("companies", wanted, _companies(target),
                                      have=lambda key, table: key in table and not table[key].get("_ambiguous"))
    return register


def year_of(day: dt.date, register: Register) -> dict[str, Any] | None:
    """The fiscal year holding `day` (StartingDate ≤ day < EndingDate, per GetFiscalYears' documentation)."""
    moment = dt.datetime(day.year, day.month, day.day)
    return next((y for y in register.years.values()
                 if _naive(y["StartingDate"]) <= moment < _naive(y["EndingDate"])), None)


def _naive(value: Any) -> dt.datetime:
    return value.replace(tzinfo=None) if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def problems(voucher: Voucher, register: Register, *, draft: bool) -> list[Problem]:
    """Everything this voucher needs that Finago Office lacks, each problem on its line and field."""
    out: list[Problem] = []

    def add(message: str, where: str, code: str) -> None:
        out.append(Problem(message, field=where, reference=voucher.reference, code=code,
                           file=voucher.origin.file if voucher.origin else None,
                           line=voucher.origin.line if voucher.origin else None))

    if voucher.currency != "NOK":
        add(f"the connector books NOK only: Finago Office needs the NOK amount and rate beside the "
            f"{voucher.currency} amount, and the shared form carries no exchange rate", "currency",
            "unsupported-currency")
    year = year_of(voucher.date, register)
    if year is None:
        add(f"accounting year {voucher.date.year} is not set up in Finago Office (Innstillinger → Regnskap)",
            "date", "closed-period")
    elif year.get("IsLocked"):
        add(f"accounting year {voucher.date.year} is locked in Finago Office", "date", "closed-period")
    for i, line in enumerate(voucher.lines):
        if not line.account.isdigit() or int(line.account) > ACCOUNT_MAX:
            add(f"{line.account!r} is no account number Finago Office can have (whole numbers up to {ACCOUNT_MAX})",
                f"lines[{i}].account", "missing-account")
        elif str(int(line.account)) not in register.accounts:
            add(f"account {line.account} does not exist in Finago Office", f"lines[{i}].account", "missing-account")
        if line.vat_code is not None:
            code = register.tax_codes.get(line.vat_code)
            if code is None:
                add(f"VAT code {line.vat_code} does not exist in Finago Office", f"lines[{i}].vat_code",
                    "unknown-vat-code")
            elif not draft and code.get("TaxRate") and code.get("AccountNo") is None:
                add(f"VAT code {line.vat_code} has no VAT account in Finago Office: a direct posting needs one to "
                    "book the VAT on", f"lines[{i}].vat_code", "unknown-vat-code")
        for role, party in (("customer", line.customer), ("supplier", line.supplier)):
            if party is None:
                continue
            found = company(line, register)
            named = party.number or party.organization_number or party.email or party.name
            if found is None:
                add(f"{role} {named} does not exist in Finago Office (looked for by number, organisation number and "
                    "e-mail)", f"lines[{i}].{role}", f"missing-{role}")
            elif found.get("_ambiguous"):
                add(f"{role} {named} matches {found['_ambiguous']} companies in Finago Office: give its number",
                    f"lines[{i}].{role}", f"missing-{role}")
        for name, table in (("department", register.departments), ("project", register.projects)):
            value = line.dimensions.get(name)
            if value is None:
                continue
            record = table.get(value) if value.isdigit() else None
            if record is None:
                add(f"{name} {value} does not exist in Finago Office", f"lines[{i}].dimensions.{name}",
                    f"missing-{name}")
            elif name == "project" and record.get("Enabled") is False:
                add(f"project {value} is closed in Finago Office", f"lines[{i}].dimensions.project", "missing-project")
    return out


def missing_accounts(numbers: Iterable[str], accounts: dict[str, dict[str, Any]]) -> dict[str, str]:
    out = {}
    for number in numbers:
        if not number.isdigit() or int(number) > ACCOUNT_MAX:
            out[number] = f"is no account number Finago Office can have (whole numbers up to {ACCOUNT_MAX})"
        elif str(int(number)) not in accounts:
            out[number] = "does not exist in Finago Office"
    return dict(sorted(out.items()))
