"""The sandbox's answers to the SOAP operations Bilagsbro uses, per service, over one client's books.

Each handler takes the client's books and the request's parameters (as `soap.read` gives them) and returns the
operation's `…Result` as plain values; `soap.answer` writes it in the WSDL's order. Authentication lives in
server.py; the rules of SaveBundleList in books.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sandboxes.finago_office.books import Books
from sandboxes.finago_office.saving import Refused, _int, _moment
from sandboxes.finago_office.soap import items


class NotImplementedHere(Exception):
    """An operation the WSDL declares and the sandbox does not answer."""


def _account_list(books: Books, params: dict[str, Any]) -> Any:
    return [books.accounts[n] for n in sorted(books.accounts)]


def _tax_codes(books: Books, params: dict[str, Any]) -> Any:
    return [{k: v for k, v in code.items() if v is not None} for code in books.tax_codes.values()]


def _types(books: Books, params: dict[str, Any]) -> Any:
    return [{k: t[k] for k in ("TypeId", "Title", "EntrySeriesId", "TypeNo")} for t in books.types]


def _entry_id(books: Books, params: dict[str, Any]) -> Any:
    wanted = params.get("argEntryId") or {}
    day = _moment(wanted.get("Date")).date()
    series = _int(wanted.get("SortNo"), 0)
    return {"Date": dt.datetime.combine(day, dt.time()), "SortNo": series, "EntryNo": books.next_number(day, series)}


def _save(books: Books, params: dict[str, Any]) -> Any:
    try:
        books.save(params.get("BundleList") or {})
    except Refused as refused:
        return {"Type": refused.kind, "Description": refused.description}
    return {"Type": "Ok"}


def _check_accounts(books: Books, params: dict[str, Any]) -> Any:
    out = []
    for account in items(params.get("accountList"), "AccountData"):
        number = _int(account.get("AccountNo"), 0)
        known = books.accounts.get(number)
        error = "AccountDontExist" if known is None else (
            "NameDontMatch" if account.get("AccountName") and account["AccountName"] != known["AccountName"] else "Ok")
        out.append({"AccountNo": number, "AccountName": account.get("AccountName") or "", "Error": error})
    return out


def _fiscal_years(books: Books, params: dict[str, Any]) -> Any:
    return list(books.fiscal_years)


def _transaction_types(books: Books, params: dict[str, Any]) -> Any:
    return [{"Turnover": t["Turnover"], "Title": t["Title"], "No": t["TypeNo"], "Id": t["TypeId"]} for t in books.types]


def _transactions(books: Books, params: dict[str, Any]) -> Any:
    rows = books.transactions(params.get("searchParams") or {})
    return [{k: v for k, v in row.items() if not k.startswith("_") and v is not None} for row in rows]


def _client_information(books: Books, params: dict[str, Any]) -> Any:
    return {"Name": books.name, "OrganizationNumber": books.organization_number, "Country": "NO",
            "IsUsingFactoring": False, "ReminderDays": 14, "ReminderDays2": 14, "ReminderDays3": 14,
            "UserId": books.client_id, "DefaultCurrency": "NOK"}


def _departments(books: Books, params: dict[str, Any]) -> Any:
    return [books.departments[n] for n in sorted(books.departments)]


def _vat_types(books: Books, params: dict[str, Any]) -> Any:
    return [{"No": int(c["TaxNo"]), "Name": c["TaxName"], "Rate": c["TaxRate"]} for c in books.tax_codes.values()]


def _companies(books: Books, params: dict[str, Any]) -> Any:
    search = params.get("searchParams") or {}
    wanted = [str(p) for p in items(params.get("returnProperties"), "string")]
    found = list(books.companies.values())
    ids = {_int(i, 0) for i in items(search.get("CompanyIds"), "int")}
    if ids:
        found = [c for c in found if c["Id"] in ids]
    single = _int(search.get("CompanyId"), -2147483648)
    if single != -2147483648:
        found = [c for c in found if c["Id"] == single]
    if search.get("OrganizationNumber"):
        found = [c for c in found if c["OrganizationNumber"] == search["OrganizationNumber"]]
    if search.get("CompanyEmail"):
        found = [c for c in found if (c.get("EmailAddresses") or {}).get("Primary", {}).get("Value")
                 == search["CompanyEmail"]]
    if search.get("CompanyName"):
        found = [c for c in found if str(search["CompanyName"]).lower() in c["Name"].lower()]
    # "You have to specify which properties you want returned" (the WSDL's documentation of GetCompanies).
    return [{k: v for k, v in c.items() if k in wanted and v is not None} for c in found]


def _projects(books: Books, params: dict[str, Any]) -> Any:
    search = params.get("Ps") or {}
    ids = {_int(i, 0) for i in items(search.get("ProjectIds"), "int")}
    found = [p for p in books.projects.values() if not ids or p["Id"] in ids]
    return [{**p, "NameDisplay": "Plain", "TimeReg": "WorkType"} for p in found]


Handler = Callable[[Books, dict[str, Any]], Any]
HANDLERS: dict[tuple[str, str], Handler] = {
    ("account", "GetAccountList"): _account_list,
    ("account", "GetTaxCodeList"): _tax_codes,
    ("account", "GetTypeList"): _types,
    ("account", "GetEntryId"): _entry_id,
    ("account", "SaveBundleList"): _save,
    ("account", "CheckAccountNo"): _check_accounts,
    ("transaction", "GetFiscalYears"): _fiscal_years,
    ("transaction", "GetTransactionTypes"): _transaction_types,
    ("transaction", "GetTransactions"): _transactions,
    ("client", "GetClientInformation"): _client_information,
    ("client", "GetDepartmentList"): _departments,
    ("client", "GetVatTypeList"): _vat_types,
    ("company", "GetCompanies"): _companies,
    ("project", "GetProjectList"): _projects,
}


def handle(service: str, operation: str, books: Books, params: dict[str, Any]) -> Any:
    handler = HANDLERS.get((service, operation))
    if handler is None:
        raise NotImplementedHere(f"{service}.{operation} is not answered by the sandbox")
    with books.lock:
        return handler(books, params)
