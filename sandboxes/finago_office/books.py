"""One 24SevenOffice client's books in the sandbox: chart, VAT codes, types, fiscal years, dimensions, companies,
the journal (bundles saved for review) and the ledger — and the rules `SaveBundleList` applies.

Facts (reference/target-apis.md §4, developer.24sevenoffice.com AccountService and its data types):
- `SaveOption=1` saves the bundle as a journal for review in the web UI; `0` posts straight to the ledger.
- `YearId` must be an accounting year set up for the client; a fiscal year runs StartingDate ≤ d < EndingDate.
- `AllowDifference` lets a journal (only) be out of balance; `BundleDirectAccounting=false` (journal only) makes
  24SevenOffice calculate the VAT, so journal amounts are gross.
- `IgnoreWarnings`: `vatisnotinbalance`, `vatismissingfoundation`, `invoicealreadyexists`,
  `customermismatchbankaccount` — a warning not ignored stops the save.
- Amounts have at most 2 decimals.
Our reading where the documentation is silent, each [unverified] and each a switch or a plain rule here:
- a direct posting's VAT is sent as its own entries on the VAT code's account; foundation and VAT must agree
  (else the `vatisnotinbalance` warning);
- `invoicealreadyexists` fires for an entry whose InvoiceReferenceNo is already on an entry of the same account
  with the same sign (an invoice and its payment do not collide); whether the journal counts is
  `journal_references_checked`; the answer is `DuplicateData`;
- a direct posting whose TransactionNo is already used in its year and series answers `DataAlreadySaved`;
- validation failures answer `Exception`, unignored warnings `NotSaved`, each with a Description;
- accounts refuse VAT codes outside a set the API does not show (`allowed_tax`);
- GetTransactions lists the ledger only, unless `transactions_list_journal` (then journal entries come with
  Hidden=true).
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sandboxes.finago_office.soap import items

CENT = Decimal("0.01")
NO_VAT = frozenset({"", "0"})
SALES_VAT = frozenset({"", "0", "3", "31", "33", "5", "6", "52"})
PURCHASE_VAT = frozenset({"", "0", "1", "11", "13"})


class Refused(Exception):
    """SaveBundleList's answer when nothing is saved: a SaveResponse Type and its Description."""

    def __init__(self, kind: str, description: str) -> None:
        super().__init__(description)
        self.kind, self.description = kind, description


def _guid() -> str:
    return str(uuid.uuid4())


@dataclass
class Books:
    client_id: int = 1001
    name: str = "Demo Butikk Ærø AS"
    organization_number: str = "999999999"
    accounts: dict[int, dict[str, Any]] = field(default_factory=dict)
    allowed_tax: dict[int, frozenset[str]] = field(default_factory=dict)
    tax_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    types: list[dict[str, Any]] = field(default_factory=list)
    fiscal_years: list[dict[str, Any]] = field(default_factory=list)
    departments: dict[int, dict[str, Any]] = field(default_factory=dict)
    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    companies: dict[int, dict[str, Any]] = field(default_factory=dict)
    journal: list[dict[str, Any]] = field(default_factory=list)  # bundles saved with SaveOption=1
    ledger: list[dict[str, Any]] = field(default_factory=list)  # posted transactions (GetTransactions' shape)
    journal_references_checked: bool = True
    transactions_list_journal: bool = False
    saved: int = 0  # vouchers saved so far (each transaction names its voucher by this count)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- seeding ------------------------------------------------------------------------------------

    def seed_demo(self) -> Books:
        """NS 4102 accounts, the standard Norwegian VAT codes, types, three fiscal years (2025 locked), two
        departments, a project, a customer and a supplier."""
        for number, name in ((1500, "Kundefordringer"), (1900, "Kontanter"), (1920, "Bankinnskudd"),
                             (2400, "Leverandørgjeld"), (2700, "Utgående merverdiavgift"),
                             (2710, "Inngående merverdiavgift"), (3000, "Salgsinntekt, avgiftspliktig"),
                             (3010, "Salgsinntekt næringsmidler"), (3020, "Salgsinntekt, lav sats"),
                             (3100, "Salgsinntekt, avgiftsfri"), (4300, "Innkjøp av varer for videresalg"),
                             (6300, "Leie lokale"), (6800, "Kontorrekvisita"), (7770, "Bank- og kortgebyr")):
            self.add_account(number, name)
        for number, name, rate, account in (("0", "Ingen mva-behandling", "0", None),
                                            ("1", "Inngående mva, høy sats", "25", 2710),
                                            ("11", "Inngående mva, middels sats", "15", 2710),
                                            ("13", "Inngående mva, lav sats", "12", 2710),
                                            ("3", "Utgående mva, høy sats", "25", 2700),
                                            ("31", "Utgående mva, middels sats", "15", 2700),
                                            ("33", "Utgående mva, lav sats", "12", 2700),
                                            ("5", "Innenlands omsetning fritatt", "0", None),
                                            ("6", "Omsetning utenfor mva-loven", "0", None),
                                            ("52", "Utførsel av varer og tjenester", "0", None)):
            self.tax_codes[number] = {"TaxId": 100 + len(self.tax_codes), "TaxNo": number, "TaxName": name,
                                      "TaxRate": Decimal(rate), "AccountNo": account}
        for type_id, title in enumerate(("Utgående faktura", "Inngående faktura", "Kasse", "Bank", "Diverse",
                                         "Lønn"), 1):
            self.types.append({"TypeId": type_id, "Title": title, "EntrySeriesId": type_id, "TypeNo": type_id,
                               "Turnover": type_id in (1, 3)})
        for year in (2025, 2026, 2027):
            self.add_fiscal_year(year, locked=year == 2025)
        self.departments.update({1: {"Id": 1, "Name": "Butikk Trondheim"}, 2: {"Id": 2, "Name": "Nettbutikk Ålesund"}})
        self.projects[100] = {"Id": 100, "Name": "Blåbærprosjektet", "Enabled": True}
        self.add_company(10001, "Fjordkafé Ålesund AS", organization_number="987654321", email="post@fjordkafe.no")
        self.add_company(20001, "Grossist Ørsta AS", organization_number="912345678", email="faktura@grossist.no")
        return self

    def add_account(self, number: int, name: str, *, allowed_tax: frozenset[str] | None = None) -> None:
        self.accounts[number] = {"AccountId": 5000 + number, "AccountNo": number, "AccountName": name,
                                 "AccountTax": 0, "TaxNo": 0}
        self.allowed_tax[number] = allowed_tax or (
            SALES_VAT if 3000 <= number < 4000 else PURCHASE_VAT if number >= 4000 else NO_VAT)

    def add_fiscal_year(self, year: int, *, locked: bool = False) -> None:
        self.fiscal_years.append({"Id": _guid(), "StartingDate": dt.datetime(year, 1, 1),
                                  "EndingDate": dt.datetime(year + 1, 1, 1), "IsLocked": locked})

    def add_company(self, number: int, name: str, *, organization_number: str = "", email: str = "",
                    phone: str = "") -> None:
        self.companies[number] = {
            "Id": number, "Name": name, "OrganizationNumber": organization_number, "Type": "Business",
            "EmailAddresses": {"Primary": {"Value": email}} if email else None,
            "PhoneNumbers": {"Primary": {"Value": phone}} if phone else None}

    # -- reading ------------------------------------------------------------------------------------

    def year_of(self, day: dt.date) -> dict[str, Any] | None:
        moment = dt.datetime(day.year, day.month, day.day)
        return next((y for y in self.fiscal_years if y["StartingDate"] <= moment < y["EndingDate"]), None)

    def next_number(self, day: dt.date, series: int) -> int:
        """GetEntryId: the next TransactionNo in the series for the fiscal year of `day` (posted ones count)."""
        year = self.year_of(day)
        start = year["StartingDate"].year if year else day.year
        used = [t["TransactionNo"] for t in self.ledger if t["_year"] == start and t["_series"] == series]
        return max(used, default=0) + 1

    def transactions(self, search: dict[str, Any]) -> list[dict[str, Any]]:
        """GetTransactions: the ledger (and the journal, when it is listed) filtered by the search parameters."""
        rows = list(self.ledger)
        if self.transactions_list_journal:
            rows += [t for bundle in self.journal for t in bundle["_transactions"]]
        start = _moment(search.get("DateStart")) if search.get("DateStart") else None
        end = _moment(search.get("DateEnd")) if search.get("DateEnd") else None
        out = []
        for row in rows:
            if start is not None and row["Date"] < start or end is not None and row["Date"] >= end:
                continue
            if search.get("InvoiceNo") and row["InvoiceNo"] != search["InvoiceNo"]:
                continue
            number = row["TransactionNo"]
            if _given(search, "TransactionNoStart") and number < int(search["TransactionNoStart"]):
                continue
            if _given(search, "TransactionNoEnd") and number > int(search["TransactionNoEnd"]):
                continue
            if _given(search, "AccountNoStart") and row["AccountNo"] < int(search["AccountNoStart"]):
                continue
            if _given(search, "AccountNoEnd") and row["AccountNo"] > int(search["AccountNoEnd"]):
                continue
            out.append(row)
        return out

    # -- SaveBundleList -----------------------------------------------------------------------------

    def save(self, bundle_list: dict[str, Any]) -> None:
        """Save every bundle or none; `Refused` says why nothing was saved."""
        option = _int(bundle_list.get("SaveOption"), 1)
        if option not in (0, 1):
            raise Refused("Exception", f"SaveOption must be 0 or 1, not {option}")
        allow_difference = _bool(bundle_list.get("AllowDifference")) and option == 1
        ignored = {str(w).strip().lower() for w in items(bundle_list.get("IgnoreWarnings"), "string")}
        problems: list[str] = []
        warnings: list[str] = []
        planned: list[tuple[dict[str, Any], list[tuple[dict[str, Any], list[dict[str, Any]]]], int]] = []
        with self.lock:
            seen: list[dict[str, Any]] = []
            for bundle in items(bundle_list.get("Bundles"), "Bundle"):
                year_id = _int(bundle.get("YearId"), 0)
                year = next((y for y in self.fiscal_years if y["StartingDate"].year == year_id), None)
                if year is None:
                    problems.append(f"Accounting year {year_id} is not set up for this client")
                    continue
                vouchers = []
                for voucher in items(bundle.get("Vouchers"), "Voucher"):
                    entries = [self._entry(e, problems) for e in items(voucher.get("Entries"), "Entry")]
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
                    series = next((t["EntrySeriesId"] for t in self.types if t["TypeNo"] == sort), sort)
                    if option == 0:
                        warnings.extend(self._vat_warnings(where, entries, ignored))
                        if any(t["_year"] == year_id and t["_series"] == series and t["TransactionNo"] == number
                               for t in self.ledger):
                            raise Refused("DataAlreadySaved",
                                          f"Transaction number {number} is already used in {year_id}")
                    if "invoicealreadyexists" not in ignored:
                        for entry in entries:
                            if self._duplicate(entry, seen):
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
                self._store(bundle, vouchers, year_id, posted=option == 0)

    def _entry(self, raw: dict[str, Any], problems: list[str]) -> dict[str, Any]:
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
        if account not in self.accounts:
            problems.append(f"Account {account} does not exist")
        elif tax not in self.allowed_tax[account]:
            problems.append(f"VAT code {tax} is not allowed on account {account}")
        if tax not in NO_VAT and tax not in self.tax_codes:
            problems.append(f"VAT code {tax} does not exist")
        for key, register, what in (("DepartmentId", self.departments, "Department"),
                                    ("ProjectId", self.projects, "Project"), ("CustomerId", self.companies, "Customer")):
            if entry[key] and entry[key] not in register:
                problems.append(f"{what} {entry[key]} does not exist")
        return entry

    def _vat_warnings(self, where: str, entries: list[dict[str, Any]], ignored: set[str]) -> list[str]:
        expected = Decimal(0)
        for entry in entries:
            code = self.tax_codes.get(entry["TaxNo"])
            if code and code["TaxRate"] and entry["AccountNo"] != code["AccountNo"]:
                expected += (entry["Amount"] * code["TaxRate"] / 100).quantize(CENT, ROUND_HALF_UP)
        vat_accounts = {c["AccountNo"] for c in self.tax_codes.values() if c["AccountNo"]}
        booked = sum((e["Amount"] for e in entries if e["AccountNo"] in vat_accounts), Decimal(0))
        tolerance = CENT * len(entries)
        if abs(expected - booked) > tolerance and "vatisnotinbalance" not in ignored:
            return [f"Warning vatisnotinbalance: {where}: VAT entries {booked:.2f}, the VAT codes give {expected:.2f}"]
        return []

    def _duplicate(self, entry: dict[str, Any], seen: list[dict[str, Any]]) -> bool:
        reference = entry["InvoiceReferenceNo"]
        if not reference:
            return False
        pool = [*self.ledger, *seen]
        if self.journal_references_checked:
            pool += [t for bundle in self.journal for t in bundle["_transactions"]]
        sign = entry["Amount"] > 0
        return any((t.get("InvoiceNo", t.get("InvoiceReferenceNo")) == reference and t["AccountNo"] == entry["AccountNo"]
                    and (t["Amount"] > 0) == sign) for t in pool)

    def _store(self, bundle: dict[str, Any], vouchers: list[tuple[dict[str, Any], list[dict[str, Any]]]],
               year_id: int, *, posted: bool) -> None:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        transactions = []
        for head, entries in vouchers:
            self.saved += 1
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
                    "_project": entry["ProjectId"], "_vat_amount": entry["VatAmount"], "_voucher": self.saved,
                    "_bundle": str(bundle.get("Name") or "") if not posted else ""})
        if posted:
            self.ledger.extend(transactions)
        else:
            self.journal.append({"Name": str(bundle.get("Name") or ""), "YearId": year_id, "_transactions": transactions,
                                 "BundleDirectAccounting": _bool(bundle.get("BundleDirectAccounting"))})

    def vouchers(self) -> list[dict[str, Any]]:
        """Every voucher held, in the order saved: its reference (the InvoiceReferenceNo most of its entries
        without a customer carry), whether it is still in the journal, its texts, its entries."""
        with self.lock:
            rows = [*self.ledger, *(t for bundle in self.journal for t in bundle["_transactions"])]
        grouped: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            grouped.setdefault(row["_voucher"], []).append(row)
        out = []
        for _, group in sorted(grouped.items()):
            plain = [r["InvoiceNo"] for r in group if not r["_customer"] and r["InvoiceNo"]] or \
                [r["InvoiceNo"] for r in group if r["InvoiceNo"]]
            reference = max(dict.fromkeys(plain), key=plain.count) if plain else ""
            draft = any(r["Hidden"] for r in group)
            text = " ".join([group[0]["_bundle"], *(r["Comment"] for r in group)]).strip()
            out.append({"reference": reference, "draft": draft, "text": text, "entries": group,
                        "number": group[0]["TransactionNo"], "bundle": group[0]["_bundle"]})
        return out

    def post_journal(self) -> None:
        """What a person does in the web UI: post every bundle of the journal, numbered anew in its series."""
        with self.lock:
            for bundle in self.journal:
                renumbered: dict[int, int] = {}
                for row in bundle["_transactions"]:
                    if row["TransactionNo"] not in renumbered:
                        day = row["Date"].date()
                        renumbered[row["TransactionNo"]] = self.next_number(day, row["_series"]) + len(renumbered)
                    self.ledger.append({**row, "TransactionNo": renumbered[row["TransactionNo"]], "Hidden": False})
            self.journal.clear()


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
