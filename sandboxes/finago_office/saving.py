"""SaveBundleList's rules in the sandbox: every bundle of a BundleList saved, or none and the reason (`Refused`).

The rules, their sources and what is our reading are listed in books.py's docstring and in docs/fidelity.md.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sandboxes.finago_office.soap import items

if TYPE_CHECKING:
    from sandboxes.finago_office.books import Books

CENT = Decimal("0.01")
NO_VAT = frozenset({"", "0"})


class Refused(Exception):
    """SaveBundleList's answer when nothing is saved: a SaveResponse Type and its Description."""

    def __init__(self, kind: str, description: str) -> None:
        super().__init__(description)
        self.kind, self.description = kind, description



def save(books: Books, bundle_list: dict[str, Any]) -> None:
    """Save every bundle or none; `Refused` says why nothing was saved."""
    option = _int(bundle_list.get("SaveOption"), 1)
    if option not in (0, 1):
        raise Refused("Exception", f"SaveOption must be 0 or 1, not {option}")
    allow_difference = _bool(bundle_list.get("AllowDifference")) and option == 1
    ignored = {str(w).strip().lower() for w in items(bundle_list.get("IgnoreWarnings"), "string")}
    problems: list[str] = []
    warnings: list[str] = []
    planned: list[tuple[dict[str, Any], list[tuple[dict[str, Any], list[dict[str, Any]]]], int]] = []
    with books.lock:
        seen: list[dict[str, Any]] = []
        for bundle in items(bundle_list.get("Bundles"), "Bundle"):
            year_id = _int(bundle.get("YearId"), 0)
            year = next((y for y in books.fiscal_years if y["StartingDate"].year == year_id), None)
            if year is None:
                problems.append(f"Accounting year {year_id} is not set up for this client")
                continue
            vouchers = []
            for voucher in items(bundle.get("Vouchers"), "Voucher"):
                entries = [_entry(books, e, problems) for e in items(voucher.get("Entries"), "Entry")]
                number = _int(voucher.get("TransactionNo"), 0)
                sort = _int(voucher.get("Sort"), _int(bundle.get("Sort"), 0))
                where = f"Voucher {number}"
                if not entries:
                    problems.append(f"{where} has no entries")
                for entry in entries:
                    moment = dt.datetime.combine(entry["Date"], dt.time())
                    if not year["StartingDate"] <= moment < year["EndingDate"]:
                        problems.append(f"{where}: the date {entry['Date']} is outside accounting year {year_id}")
                    elif year["IsLocked"]:
                        problems.append(f"{where}: accounting year {year_id} is locked")
                difference = sum((e["Amount"] for e in entries), Decimal(0))
                if difference and not allow_difference:
                    problems.append(f"{where} is not in balance (difference {difference:.2f})")
                series = next((t["EntrySeriesId"] for t in books.types if t["TypeNo"] == sort), sort)
                if option == 0:
                    warnings.extend(_vat_warnings(books, where, entries, ignored))
                    if any(t["_year"] == year_id and t["_series"] == series and t["TransactionNo"] == number
                           for t in books.ledger):
                        raise Refused("DataAlreadySaved",
                                      f"Transaction number {number} is already used in {year_id}")
                if "invoicealreadyexists" not in ignored:
                    for entry in entries:
                        if _duplicate(books, entry, seen):
                            raise Refused("DuplicateData", f"Invoice reference '{entry['InvoiceReferenceNo']}' "
                                                           f"already exists (account {entry['AccountNo']})")
                seen.extend(entries)
                vouchers.append(({"TransactionNo": number, "Sort": sort, "_series": series}, entries))
            planned.append((bundle, vouchers, year_id))
        if problems:
            raise Refused("Exception", "; ".join(dict.fromkeys(problems)))
        if warnings:
            raise Refused("NotSaved", "; ".join(warnings))
        for bundle, vouchers, year_id in planned:
            _store(books, bundle, vouchers, year_id, posted=option == 0)

def _entry(books: Books, raw: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    account = _int(raw.get("AccountNo"), 0)
    tax = str(raw.get("TaxNo") or "").strip()
    amount = _decimal(raw.get("Amount"), problems)
    entry = {"AccountNo": account, "Amount": amount, "TaxNo": tax, "Date": _moment(raw.get("Date")).date(),
             "VatAmount": _decimal(raw.get("VatAmount"), problems), "CustomerId": _int(raw.get("CustomerId"), 0),
             "DepartmentId": _int(raw.get("DepartmentId"), 0), "ProjectId": _int(raw.get("ProjectId"), 0),
             "InvoiceReferenceNo": str(raw.get("InvoiceReferenceNo") or ""), "Comment": str(raw.get("Comment") or ""),
             "InvoiceOcr": str(raw.get("InvoiceOcr") or ""), "DueDate": raw.get("DueDate")}
    if amount != amount.quantize(CENT):
        problems.append(f"Amount {amount} has more than 2 decimals")
    if account not in books.accounts:
        problems.append(f"Account {account} does not exist")
    elif tax not in books.allowed_tax[account]:
        problems.append(f"VAT code {tax} is not allowed on account {account}")
    if tax not in NO_VAT and tax not in books.tax_codes:
        problems.append(f"VAT code {tax} does not exist")
    for key, register, what in (("DepartmentId", books.departments, "Department"),
                                ("ProjectId", books.projects, "Project"), ("CustomerId", books.companies, "Customer")):
        if entry[key] and entry[key] not in register:
            problems.append(f"{what} {entry[key]} does not exist")
    return entry

def _vat_warnings(books: Books, where: str, entries: list[dict[str, Any]], ignored: set[str]) -> list[str]:
    expected = Decimal(0)
    for entry in entries:
        code = books.tax_codes.get(entry["TaxNo"])
        if code and code["TaxRate"] and entry["AccountNo"] != code["AccountNo"]:
            expected += (entry["Amount"] * code["TaxRate"] / 100).quantize(CENT, ROUND_HALF_UP)
    vat_accounts = {c["AccountNo"] for c in books.tax_codes.values() if c["AccountNo"]}
    booked = sum((e["Amount"] for e in entries if e["AccountNo"] in vat_accounts), Decimal(0))
    tolerance = CENT * len(entries)
    if abs(expected - booked) > tolerance and "vatisnotinbalance" not in ignored:
        return [f"Warning vatisnotinbalance: {where}: VAT entries {booked:.2f}, the VAT codes give {expected:.2f}"]
    return []

def _duplicate(books: Books, entry: dict[str, Any], seen: list[dict[str, Any]]) -> bool:
    reference = entry["InvoiceReferenceNo"]
    if not reference:
        return False
    pool = [*books.ledger, *seen]
    if books.journal_references_checked:
        pool += [t for bundle in books.journal for t in bundle["_transactions"]]
    sign = entry["Amount"] > 0
    return any((t.get("InvoiceNo", t.get("InvoiceReferenceNo")) == reference and t["AccountNo"] == entry["AccountNo"]
                and (t["Amount"] > 0) == sign) for t in pool)

def _store(books: Books, bundle: dict[str, Any], vouchers: list[tuple[dict[str, Any], list[dict[str, Any]]]],
           year_id: int, *, posted: bool) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    transactions = []
    for head, entries in vouchers:
        books.saved += 1
        for sequence, entry in enumerate(entries, 1):
            transactions.append({
                "Date": dt.datetime.combine(entry["Date"], dt.time()), "AccountNo": entry["AccountNo"],
                "Currency": "NOK", "Amount": entry["Amount"], "TransactionTypeId": head["Sort"],
                "Comment": entry["Comment"], "TransactionNo": head["TransactionNo"],
                "VatCode": int(entry["TaxNo"]) if entry["TaxNo"].isdigit() else 0, "Id": _guid(),
                "InvoiceNo": entry["InvoiceReferenceNo"], "SequenceNo": sequence, "SystemType": "Miscellaneous",
                "RegistrationDate": now, "DateChanged": now, "Hidden": not posted, "Open": False,
                "OCR": entry["InvoiceOcr"] or None, "HasVatDividend": False, "_year": year_id,
                "_series": head["_series"], "_customer": entry["CustomerId"], "_department": entry["DepartmentId"],
                "_project": entry["ProjectId"], "_vat_amount": entry["VatAmount"], "_voucher": books.saved,
                "_bundle": str(bundle.get("Name") or "") if not posted else ""})
    if posted:
        books.ledger.extend(transactions)
    else:
        books.journal.append({"Name": str(bundle.get("Name") or ""), "YearId": year_id, "_transactions": transactions,
                             "BundleDirectAccounting": _bool(bundle.get("BundleDirectAccounting"))})


def _guid() -> str:
    return str(uuid.uuid4())


def _given(search: dict[str, Any], name: str) -> bool:
    value = search.get(name)
    return value not in (None, "") and int(value) not in (-2147483648, -32768)


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value).strip()) if value not in (None, "") else default
    except ValueError:
        return default


def _bool(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1")


def _decimal(value: Any, problems: list[str]) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        problems.append(f"{value!r} is not an amount")
        return Decimal(0)


def _moment(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    text = str(value or "").strip()
    if not text:
        return dt.datetime.min
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
