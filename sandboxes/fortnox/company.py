"""The Fortnox sandbox's company: chart of accounts per financial year, series, cost centres, projects, vouchers.

Seeded as the demo company (NS 4102 accounts, VAT accounts 2700/2710, series A and B, cost centres 1 and 2,
project 100), with the financial years 2025 and 2026 (calendar years).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ACCOUNTS = {
    "1500": "Kundefordringer", "1920": "Bankinnskudd", "1900": "Kontanter", "2400": "Leverandørgjeld",
    "2700": "Utgående merverdiavgift", "2710": "Inngående merverdiavgift", "3000": "Salgsinntekt, avgiftspliktig",
    "3010": "Salgsinntekt, avgiftspliktig, middels sats", "3020": "Salgsinntekt, avgiftspliktig, lav sats",
    "4300": "Innkjøp av varer for videresalg", "6300": "Leie lokale", "7700": "Annen kostnad",
    "8160": "Valutatap (disagio)",
}


class Refused(Exception):
    """What Fortnox answers with its ErrorInformation: (status, message, code)."""

    def __init__(self, status: int, message: str, code: int) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


@dataclass
class Company:
    name: str = "Bakeriet på Røa AS"
    organization_number: str = "999999999"
    licensed: bool = True  # the company's licence covers bookkeeping through integrations
    years: dict[int, tuple[dt.date, dt.date]] = field(default_factory=dict)  # Id → (FromDate, ToDate)
    accounts: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)  # year Id → number → Account
    series: dict[str, str] = field(default_factory=dict)  # code → description
    cost_centers: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    vouchers: list[dict[str, Any]] = field(default_factory=list)
    locked_through: dt.date | None = None  # "Bokföringen är låst t.o.m."
    honours_dates: bool = True  # whether voucher lists honour fromdate/todate [unverified in Fortnox]
    lock: threading.Lock = field(default_factory=threading.Lock)
    ledger: Any = None  # the seeded books read back (ledger.py); FortnoxSandbox sets one
    invoicing: Any = None  # customers, invoices and payments (invoicing.py); FortnoxSandbox sets one

    def seed(self) -> Company:
        for ident, year in ((1, 2025), (2, 2026)):
            self.years[ident] = (dt.date(year, 1, 1), dt.date(year, 12, 31))
            self.accounts[ident] = {n: {"Number": int(n), "Description": d, "Active": True, "Year": ident}
                                    for n, d in ACCOUNTS.items()}
        self.accounts[2]["7700"]["Active"] = False
        self.series = {"A": "Redovisning", "B": "Bilagsbro"}
        self.cost_centers = {c: {"Code": c, "Description": d, "Active": True}
                             for c, d in (("1", "Butikk Røa"), ("2", "Nettbutikk"))}
        self.projects = {"100": {"ProjectNumber": "100", "Description": "Åpning på Majorstua", "Status": "ONGOING"}}
        return self

    def year_of(self, day: dt.date) -> int | None:
        return next((i for i, (start, end) in self.years.items() if start <= day <= end), None)

    def year_json(self, ident: int) -> dict[str, Any]:
        start, end = self.years[ident]
        return {"Id": ident, "FromDate": start.isoformat(), "ToDate": end.isoformat(), "AccountChartType": "BAS 2024",
                "AccountingMethod": "ACCRUAL"}

    def book(self, body: Any, year: int | None) -> dict[str, Any]:
        """Check a `POST /3/vouchers` body as Fortnox does and book it; raises Refused with Fortnox's words."""
        voucher = body.get("Voucher") if isinstance(body, dict) else None
        if not isinstance(voucher, dict):
            raise Refused(400, "Ogiltig JSON: objektet Voucher saknas", 2002115)
        for name in ("VoucherSeries", "TransactionDate", "Description"):
            if not voucher.get(name):
                raise Refused(400, f"Fältet {name} är obligatoriskt", 2000588)
        series = str(voucher["VoucherSeries"])
        if series not in self.series:
            raise Refused(400, f"Verifikationsserien {series} hittades inte", 2000557)
        try:
            day = dt.date.fromisoformat(str(voucher["TransactionDate"]))
        except ValueError:
            raise Refused(400, "Ogiltigt datum i TransactionDate", 2000190) from None
        held = self.year_of(day)
        if held is None or (year is not None and year != held):
            raise Refused(400, "Datumet ligger utanför räkenskapsåret", 2000605)
        if self.locked_through is not None and day <= self.locked_through:
            raise Refused(400, f"Bokföringen är låst t.o.m. {self.locked_through}", 2000736)
        rows = voucher.get("VoucherRows") or []
        if len(rows) < 2:
            raise Refused(400, "En verifikation måste ha minst två rader", 2000589)
        debit = credit = Decimal("0")
        for row in rows:
            number = str(row.get("Account"))
            account = self.accounts[held].get(number)
            if account is None:
                raise Refused(400, f"Kunde inte hitta konto {number}", 2001304)
            if not account["Active"]:
                raise Refused(400, f"Kontot {number} är inaktivt", 2000615)
            d, c = Decimal(str(row.get("Debit") or 0)), Decimal(str(row.get("Credit") or 0))
            if d < 0 or c < 0 or d.as_tuple().exponent < -2 or c.as_tuple().exponent < -2:  # type: ignore[operator]
                raise Refused(400, "Ogiltigt belopp på verifikationsrad", 2000106)
            if row.get("CostCenter") and str(row["CostCenter"]) not in self.cost_centers:
                raise Refused(400, f"Kostnadsstället {row['CostCenter']} hittades inte", 2000434)
            if row.get("Project") and str(row["Project"]) not in self.projects:
                raise Refused(400, f"Projektet {row['Project']} hittades inte", 2000433)
            debit, credit = debit + d, credit + c
        if debit != credit:
            raise Refused(400, f"Verifikationen är inte i balans (debet {debit}, kredit {credit})", 2000592)
        with self.lock:
            next_number = 1 + max((int(v["VoucherNumber"]) for v in self.vouchers
                                   if v["VoucherSeries"] == series and v["Year"] == held), default=0)
            booked = {"VoucherSeries": series, "VoucherNumber": next_number, "Year": held,
                      "TransactionDate": day.isoformat(), "Description": str(voucher["Description"]),
                      "Comments": voucher.get("Comments"), "ReferenceNumber": str(next_number), "ReferenceType": "MANUAL",
                      "ApprovalState": 0, "CostCenter": voucher.get("CostCenter") or "",
                      "Project": voucher.get("Project") or "",
                      "VoucherRows": [{**r, "Removed": False, "TransactionInformation": ""} for r in rows]}
            self.vouchers.append(booked)
        return booked
