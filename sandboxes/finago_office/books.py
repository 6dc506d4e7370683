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
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sandboxes.finago_office import saving
from sandboxes.finago_office.saving import NO_VAT, _given, _guid, _moment

SALES_VAT = frozenset({"", "0", "3", "31", "33", "5", "6", "52"})
PURCHASE_VAT = frozenset({"", "0", "1", "11", "13"})


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
        for code, name, rate, account in (("0", "Ingen mva-behandling", "0", None),
                                            ("1", "Inngående mva, høy sats", "25", 2710),
                                            ("11", "Inngående mva, middels sats", "15", 2710),
                                            ("13", "Inngående mva, lav sats", "12", 2710),
                                            ("3", "Utgående mva, høy sats", "25", 2700),
                                            ("31", "Utgående mva, middels sats", "15", 2700),
                                            ("33", "Utgående mva, lav sats", "12", 2700),
                                            ("5", "Innenlands omsetning fritatt", "0", None),
                                            ("6", "Omsetning utenfor mva-loven", "0", None),
                                            ("52", "Utførsel av varer og tjenester", "0", None)):
            self.tax_codes[code] = {"TaxId": 100 + len(self.tax_codes), "TaxNo": code, "TaxName": name,
                                      "TaxRate": Decimal(rate), "AccountNo": account}
        for type_id, title in enumerate(("Utgående faktura", "Inngående faktura", "Kasse", "Bank", "Diverse",
                                         "Lønn"), 1):
            self.types.append({"TypeId": type_id, "Title": title, "EntrySeriesId": type_id, "TypeNo": type_id,
                               "Turnover": type_id in (1, 3)})
        for year in (2025, 2026, 2027):
            self.add_fiscal_year(year, locked=year == 2025)
        self.departments.update({1: {"Id": 1, "Name": "Butikk Trondheim"}, 2: {"Id": 2, "Name": "Nettbutikk Ålesund"}})
        self.projects[100] = {"Id": 100, "Name": "Blåbærprosjektet", "Enabled": True}
        self.add_company(10001, "Fjordkafé Ålesund AS", organization_number="987654325", email="post@fjordkafe.no")
        self.add_company(20001, "Grossist Ørsta AS", organization_number="912345688", email="faktura@grossist.no")
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
        """Save every bundle or none; `Refused` says why nothing was saved (saving.py)."""
        saving.save(self, bundle_list)

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


