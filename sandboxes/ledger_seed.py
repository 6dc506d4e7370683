"""A small company's books, the same every time: what the Tripletex and Fortnox sandboxes serve when read back.

`SeededBooks(seed, postings_per_year, documents_per_year)` makes a fiscal year (calendar year) when it is first
asked for: about 6,000 vouchers and exactly `postings_per_year` postings of a Norwegian shop — day settlements,
customer and supplier invoices and payments, rent, office costs, bank fees — with 25/15 % VAT on its own rows, some
rows on departments and projects, and a PDF attached to `documents_per_year` of the vouchers. Amounts are
`Decimal` cents; every voucher balances. `add()` books a voucher during a test (it appears in the next read).
Each sandbox shapes these rows into its own wire format and computes its own balance report from them.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

CENT = Decimal("0.01")
ACCOUNT_NAMES = {
    "1500": "Kundefordringer", "1920": "Bankinnskudd", "2400": "Leverandørgjeld",
    "2700": "Utgående merverdiavgift, høy sats", "2701": "Utgående merverdiavgift, middels sats",
    "2710": "Inngående merverdiavgift, høy sats", "3000": "Salgsinntekt, avgiftspliktig",
    "3010": "Salgsinntekt, avgiftspliktig, middels sats", "4000": "Innkjøp av råvarer og halvfabrikata",
    "6300": "Leie lokale", "6800": "Kontorrekvisita", "7770": "Bank- og kortgebyrer", "8050": "Annen renteinntekt",
}
CUSTOMERS = {"10001": "Fjordkafé Ålesund AS", "10002": "Blåbærgården Økologiske", "10003": "Kari Nordmann"}
SUPPLIERS = {"20001": "Høvding Engros AS", "20002": "Søndre Øyås Bakeri"}
DEPARTMENTS = {"1": "Butikk Trondheim", "2": "Nettbutikk"}
PROJECTS = {"100": "Sommerkampanje Bodø"}


@dataclass(frozen=True)
class Row:
    account: str
    amount: Decimal
    vat_code: str | None = None  # SAF-T standard code, as Tripletex numbers its VAT types
    customer: str | None = None
    supplier: str | None = None
    department: str | None = None
    project: str | None = None


@dataclass
class SeedVoucher:
    number: int
    date: dt.date
    text: str
    rows: list[Row]
    series: str = "A"
    document: int | None = None  # the attached document's number, when it has one
    version: int = 0

    @property
    def id(self) -> int:
        return self.date.year * 100_000 + self.number


@dataclass
class Year:
    year: int
    vouchers: list[SeedVoucher] = field(default_factory=list)

    @property
    def postings(self) -> int:
        return sum(len(v.rows) for v in self.vouchers)


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return (Decimal(rng.randint(low * 100, high * 100)) * CENT).quantize(CENT)


def _vat(net: Decimal, rate: str) -> Decimal:
    return (net * Decimal(rate) / 100).quantize(CENT)


def _kinds(rng: random.Random, day: dt.date) -> tuple[str, list[Row]]:
    """One business event of the shop as its rows (debit positive)."""
    pick = rng.random()
    department = rng.choice(("1", "2"))
    if pick < 0.34:
        net = _cents(rng, 200, 9000)
        vat = _vat(net, "25")
        return f"Dagsoppgjør {day:%d.%m} {DEPARTMENTS[department]}", [
            Row("1920", net + vat), Row("3000", -net, "3", department=department), Row("2700", -vat)]
    if pick < 0.46:
        net = _cents(rng, 100, 3000)
        vat = _vat(net, "15")
        return f"Kafésalg {day:%d.%m}", [Row("1920", net + vat), Row("3010", -net, "31", department="1"),
                                         Row("2701", -vat)]
    if pick < 0.60:
        customer = rng.choice(sorted(CUSTOMERS))
        net = _cents(rng, 500, 25000)
        vat = _vat(net, "25")
        project = "100" if rng.random() < 0.2 else None
        return f"Faktura til {CUSTOMERS[customer]}", [
            Row("1500", net + vat, customer=customer), Row("3000", -net, "3", department="2", project=project),
            Row("2700", -vat)]
    if pick < 0.70:
        customer = rng.choice(sorted(CUSTOMERS))
        amount = _cents(rng, 500, 20000)
        return f"Innbetaling fra {CUSTOMERS[customer]}", [Row("1920", amount), Row("1500", -amount, customer=customer)]
    if pick < 0.82:
        supplier = rng.choice(sorted(SUPPLIERS))
        net = _cents(rng, 300, 15000)
        vat = _vat(net, "25")
        return f"Leverandørfaktura {SUPPLIERS[supplier]}", [
            Row("4000", net, "1", department=department), Row("2710", vat), Row("2400", -(net + vat), supplier=supplier)]
    if pick < 0.90:
        supplier = rng.choice(sorted(SUPPLIERS))
        amount = _cents(rng, 300, 15000)
        return f"Betaling til {SUPPLIERS[supplier]}", [Row("2400", amount, supplier=supplier), Row("1920", -amount)]
    if pick < 0.95:
        net = _cents(rng, 50, 2000)
        vat = _vat(net, "25")
        return "Kontorrekvisita, kvittering", [Row("6800", net, "1", department=department), Row("2710", vat),
                                               Row("1920", -(net + vat))]
    if pick < 0.985:
        fee = _cents(rng, 5, 400)
        return "Kortgebyr Nets", [Row("7770", fee), Row("1920", -fee)]
    interest = _cents(rng, 1, 300)
    return "Renter bankinnskudd", [Row("1920", interest), Row("8050", -interest)]


class SeededBooks:
    """The books per calendar year, made on first use; `add` books one more voucher (a test's new one)."""

    def __init__(self, seed: str = "bilagsbro", *, postings_per_year: int = 20_000, documents_per_year: int = 300,
                 years: tuple[int, ...] = (2024, 2025, 2026)) -> None:
        self.seed, self.postings_per_year, self.documents_per_year = seed, postings_per_year, documents_per_year
        self.years = years
        self._made: dict[int, Year] = {}
        self._sums: dict[int, dict[tuple[int, str], Decimal]] = {}
        self._lock = threading.RLock()

    def year(self, year: int) -> Year:
        with self._lock:
            if year not in self._made:
                self._made[year] = self._make(year) if year in self.years else Year(year)
            return self._made[year]

    def vouchers(self, start: dt.date, end: dt.date) -> list[SeedVoucher]:
        """Vouchers dated start ≤ date ≤ end, in (date, number) order."""
        found = []
        for year in range(start.year, end.year + 1):
            found += [v for v in self.year(year).vouchers if start <= v.date <= end]
        return sorted(found, key=lambda v: (v.date, v.number))

    def add(self, date: dt.date, text: str, rows: list[Row], *, document: bool = False) -> SeedVoucher:
        with self._lock:
            year = self.year(date.year)
            number = max((v.number for v in year.vouchers), default=0) + 1
            documents = [v.document for v in year.vouchers if v.document is not None]
            voucher = SeedVoucher(number, date, text, rows,
                                  document=(max(documents, default=0) + 1) if document else None)
            year.vouchers.append(voucher)
            self._sums.pop(date.year, None)
            return voucher

    def month_sums(self, year: int) -> dict[tuple[int, str], Decimal]:
        """(month, account) → the change booked in that month: what a balance report sums."""
        with self._lock:
            if year not in self._sums:
                sums: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
                for voucher in self.year(year).vouchers:
                    for row in voucher.rows:
                        sums[(voucher.date.month, row.account)] += row.amount
                self._sums[year] = dict(sums)
            return self._sums[year]

    def balance(self, account: str, before: dt.date) -> Decimal:
        """The account's balance on the day before `before` (every seeded year before it, summed)."""
        total = Decimal(0)
        for year in self.years:
            for (month, number), amount in self.month_sums(year).items():
                if number == account and dt.date(year, month, 1) < before:
                    total += amount
        return total

    def _make(self, year: int) -> Year:
        rng = random.Random(f"{self.seed}:{year}")
        made = Year(year)
        days = [dt.date(year, 1, 1) + dt.timedelta(days=d) for d in range(366 if year % 4 == 0 else 365)]
        business = [d for d in days if d.weekday() < 6]
        left, number = self.postings_per_year, 0
        estimate = max(1, self.postings_per_year * 10 // 28)
        while left > 0:
            day = business[min(len(business) - 1, number * len(business) // estimate)]
            text, rows = _kinds(rng, day)
            if len(rows) > left or left - len(rows) == 1:
                amount = _cents(rng, 5, 400)
                rows = [Row("7770", amount), Row("1920", -amount)] if left != 3 else [
                    Row("6800", amount, "1"), Row("2710", _vat(amount, "25")), Row("1920", -(amount + _vat(amount, "25")))]
                text = "Kortgebyr Nets" if left != 3 else "Kontorrekvisita, kvittering"
            number += 1
            made.vouchers.append(SeedVoucher(number, day, text, rows))
            left -= len(rows)
        step = max(1, len(made.vouchers) // max(1, self.documents_per_year))
        for index, voucher in enumerate(made.vouchers[::step][: self.documents_per_year]):
            voucher.document = index + 1
        return made


def pdf(title: str) -> bytes:
    """A small, valid one-page PDF showing `title` (æøå in WinAnsi), with a correct cross-reference table."""
    text = title.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("cp1252", "replace")
    stream = b"BT /F1 14 Tf 72 760 Td (" + text + b") Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
               b"/Contents 5 0 R >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
               b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
