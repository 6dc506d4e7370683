"""The Fortnox sandbox's API routes under `/3`: what the connector uses, answered as Fortnox answers it."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sandboxes.fortnox.company import Company, Refused

NEEDS = {"companyinformation": "companyinformation", "costcenters": "costcenter", "projects": "project",
         "archive": "archive", "customers": "customer", "suppliers": "supplier", "inbox": "inbox"}


def _scope(path: str, scopes: set[str], company: Company) -> None:
    """The scope a route needs; bookkeeping also needs the company's licence."""
    first = path.strip("/").split("/")[0]
    needed = NEEDS.get(first, "bookkeeping")
    if needed not in scopes:
        raise Refused(403, "Har inte behörighet för scope", 2000663)
    if needed == "bookkeeping" and not company.licensed:
        raise Refused(400, "Det finns ingen aktiv licens för önskat scope", 2001101)


def _year(company: Company, query: dict[str, str]) -> int:
    given = query.get("financialyear")
    if given:
        if not given.isdigit() or int(given) not in company.years:
            raise Refused(400, "Räkenskapsåret hittades inte", 2000411)
        return int(given)
    held = company.year_of(dt.date.today())
    if held is None:
        raise Refused(400, "Det finns inget räkenskapsår för dagens datum", 2000412)
    return held


def _paged(items: list[dict[str, Any]], key: str, query: dict[str, str]) -> dict[str, Any]:
    page, limit = int(query.get("page") or 1), int(query.get("limit") or 100)
    if page < 1 or not 1 <= limit <= 500:
        raise Refused(400, "Ogiltigt värde för page eller limit", 2000106)
    pages = max(1, math.ceil(len(items) / limit))
    return {"MetaInformation": {"@TotalResources": len(items), "@TotalPages": pages, "@CurrentPage": page},
            key: items[(page - 1) * limit:page * limit]}


def api(company: Company, method: str, path: str, query: dict[str, str], body: Any, scopes: set[str], *,
        commit: bool = True) -> tuple[int, Any]:
    _scope(path, scopes, company)
    parts = path.strip("/").split("/")
    if method == "GET" and parts == ["companyinformation"]:
        return 200, {"CompanyInformation": {"CompanyName": company.name, "OrganizationNumber":
                                            company.organization_number, "Address": "Røaveien 1", "City": "Oslo",
                                            "CountryCode": "NO"}}
    if method == "GET" and parts == ["financialyears"]:
        years = list(company.years)
        if query.get("date"):
            held = company.year_of(dt.date.fromisoformat(query["date"]))
            years = [held] if held is not None else []
        return 200, _paged([company.year_json(i) for i in years], "FinancialYears", query)
    if method == "GET" and parts[0] == "voucherseries" and len(parts) == 2:
        if parts[1] not in company.series:
            raise Refused(404, f"Kunde inte hitta verifikationsserie {parts[1]}", 2000557)
        return 200, {"VoucherSeries": {"Code": parts[1], "Description": company.series[parts[1]], "Manual": True,
                                       "Year": _year(company, query)}}
    if method == "GET" and parts[0] == "accounts" and len(parts) == 2:
        account = company.accounts[_year(company, query)].get(parts[1])
        if account is None:
            raise Refused(404, "Kunde inte hitta konto", 2001304)
        return 200, {"Account": {**account, "VATCode": None, "BalanceBroughtForward": 0}}
    if method == "GET" and parts[0] == "costcenters" and len(parts) == 2:
        if parts[1] not in company.cost_centers:
            raise Refused(404, "Kunde inte hitta kostnadsställe", 2000434)
        return 200, {"CostCenter": company.cost_centers[parts[1]]}
    if method == "GET" and parts[0] == "projects" and len(parts) == 2:
        if parts[1] not in company.projects:
            raise Refused(404, "Kunde inte hitta projekt", 2000433)
        return 200, {"Project": company.projects[parts[1]]}
    if method == "POST" and parts == ["vouchers"]:
        year = _year(company, query) if query.get("financialyear") else None
        if not commit:  # a timeout before the commit: nothing booked, and the answer never arrives
            return 201, {"Voucher": {}}
        return 201, {"Voucher": company.book(body, year)}
    if method == "GET" and parts[:2] == ["vouchers", "sublist"] and len(parts) == 3:
        year = _year(company, query)
        low, high = (query.get("fromdate") or "0000", query.get("todate") or "9999") if company.honours_dates \
            else ("0000", "9999")
        with company.lock:
            items = [{k: v[k] for k in ("VoucherSeries", "VoucherNumber", "Year", "TransactionDate", "Description",
                                        "Comments", "ReferenceNumber", "ReferenceType", "ApprovalState")}
                     for v in company.vouchers if v["VoucherSeries"] == parts[2] and v["Year"] == year
                     and low <= v["TransactionDate"] <= high]
        return 200, _paged(items, "Vouchers", query)
    if method == "GET" and parts[0] == "vouchers" and len(parts) == 3:
        year = _year(company, query)
        found = next((v for v in company.vouchers if v["VoucherSeries"] == parts[1]
                      and str(v["VoucherNumber"]) == parts[2] and v["Year"] == year), None)
        if found is None:
            raise Refused(404, "Kunde inte hitta verifikation", 2000463)
        return 200, {"Voucher": found}
    if company.ledger is not None:  # the books read back (ledger.py): SIE export, voucher lists, balances, files
        found = company.ledger.route(company, method, parts, query, _paged)
        if found is not None:
            return found  # type: ignore[no-any-return]
    raise Refused(404, f"Resursen hittades inte: {method} /3{path}", 2000000)
