"""The Fortnox sandbox's books to read back: seeded books (sandboxes/ledger_seed.py) as Fortnox's API v3 serves them.

Routes (reference/target-apis.md §8.5, §8.8; fortnox.se/developer; [spec-derived] where the official spec is not
stored here):
- `GET /3/sie/4?financialyear=<Id>` → the year's SIE 4 export (text, PC8) — the whole year in one request.
- `GET /3/vouchers?financialyear=<Id>` (`page`, `limit` ≤ 500) → `Vouchers[{VoucherSeries, VoucherNumber, Year,
  TransactionDate, Description}]` with `MetaInformation` (the list carries no rows; a voucher's rows come one
  voucher per request, which is why reading a year goes through SIE).
- `GET /3/accounts?financialyear=<Id>` → `Accounts[{Number, Description, Active, BalanceBroughtForward,
  BalanceCarriedForward}]`: the system's own balances per account and year (the read-back's check).
- `GET /3/costcenters`, `GET /3/projects` → the dimensions, paged.
- `GET /3/customers` (scope `customer`), `GET /3/suppliers` (scope `supplier`) → `Customers[{CustomerNumber, Name,
  OrganisationNumber, …}]`, `Suppliers[{SupplierNumber, Name, OrganisationNumber, …}]`, paged: the seeded parties.
- `GET /3/voucherfileconnections` → `VoucherFileConnections[{FileId, VoucherNumber, VoucherSeries, VoucherYear}]`;
  `GET /3/archive/{FileId}` → the file (scope `archive`). [unverified] that the archive answers the file's bytes
  with its content type, as here.
- `GET /3/inbox` → `Folder{Id: "root", Name, Folders[{Id, Name}], Files[]}`, `GET /3/inbox/{FolderId}` → that folder
  with `Files[{Id, Name, Size, Path}]`, `GET /3/inbox/{FileId}` → the file (scope `inbox`): documents not booked yet
  (seeded: a receipt in «Kvitton & utlägg», a supplier invoice in «Leverantörsfakturor»). [spec-derived from
  generated clients' Inbox/InboxFile models]
Booked vouchers are never changed in Fortnox (a correction is a new voucher), so a year's voucher count tells
whether it changed. `misreport` makes the accounts' balances disagree with the vouchers (a test of the check).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sandboxes.ledger_seed import ACCOUNT_NAMES, CUSTOMERS, SUPPLIERS, SeededBooks, pdf
from sandboxes.sie_export import export

# The inbox's folders as Fortnox names them [spec-derived: ids seen in generated clients and tools]
INBOX_FOLDERS = {"inbox_v": "Verifikationer", "inbox_s": "Leverantörsfakturor", "inbox_ku": "Kvitton & utlägg",
                 "inbox_kf": "Kundfakturor"}


# Swedish organisation numbers of the seeded companies (a private customer has none)
PARTY_NUMBERS = {"10001": "556677-8899", "10002": "556123-4567", "20001": "556000-1111", "20002": "556999-2222"}


class FortnoxLedger:
    def __init__(self, books: SeededBooks | None = None) -> None:
        self.books = books or SeededBooks(seed="fortnox", years=(2025, 2026))
        self.misreport: dict[tuple[int, str], Decimal] = {}  # (year, account) → added to BalanceCarriedForward
        self.inbox_files: dict[str, tuple[str, str, bytes]] = {}  # file id → (folder id, name, content)
        self.add_inbox_file("inbox_ku", "Kvittering Røros Kaffebrenneri.pdf", pdf("Kvittering: kaffe og blåbærmuffins"))
        self.add_inbox_file("inbox_s", "Faktura Høvding Engros 2026-118.pdf", pdf("Faktura 2026-118 fra Høvding Engros"))

    def route(self, company: Any, method: str, parts: list[str], query: dict[str, str],
              paged: Any) -> tuple[int, Any] | None:
        if method != "GET":
            return None
        if parts == ["sie", "4"]:
            year = self._year(company, query)
            return 200, export(self.books, [year], company=company.name,
                               organization_number=company.organization_number.replace("-", ""), currency="SEK")
        if parts == ["vouchers"]:
            year = self._year(company, query)
            ident = self._ident(company, year)
            return 200, paged([{"VoucherSeries": v.series, "VoucherNumber": v.number, "Year": ident,
                                "TransactionDate": v.date.isoformat(), "Description": v.text}
                               for v in self.books.year(year).vouchers], "Vouchers", query)
        if parts == ["accounts"]:
            year = self._year(company, query)
            changes: dict[str, Decimal] = defaultdict(Decimal)
            for (_, account), amount in self.books.month_sums(year).items():
                changes[account] += amount
            rows = []
            for number, name in sorted(ACCOUNT_NAMES.items()):
                brought = self.books.balance(number, dt.date(year, 1, 1)) if number[0] in "12" else Decimal(0)
                carried = brought + changes.get(number, Decimal(0)) + self.misreport.get((year, number), Decimal(0))
                rows.append({"Number": int(number), "Description": name, "Active": True,
                             "Year": self._ident(company, year), "BalanceBroughtForward": brought,
                             "BalanceCarriedForward": carried})
            return 200, paged(rows, "Accounts", query)
        if parts == ["voucherfileconnections"]:
            rows = [{"FileId": self.file_id(v.date.year, v.document), "VoucherNumber": v.number,
                     "VoucherSeries": v.series, "VoucherYear": self._ident(company, year)}
                    for year in self.books.years for v in self.books.year(year).vouchers if v.document is not None]
            return 200, paged(rows, "VoucherFileConnections", query)
        if parts == ["costcenters"]:
            return 200, paged(list(company.cost_centers.values()), "CostCenters", query)
        if parts == ["projects"]:
            return 200, paged(list(company.projects.values()), "Projects", query)
        if parts == ["customers"]:
            return 200, paged([{"@url": f"/3/customers/{n}", "CustomerNumber": n, "Name": name, "OrganisationNumber":
                                PARTY_NUMBERS.get(n, ""), "Email": "", "Phone": "", "City": ""}
                               for n, name in sorted(CUSTOMERS.items())], "Customers", query)
        if parts == ["suppliers"]:
            return 200, paged([{"@url": f"/3/suppliers/{n}", "SupplierNumber": n, "Name": name, "OrganisationNumber":
                                PARTY_NUMBERS.get(n, ""), "Email": "", "Phone": "", "City": ""}
                               for n, name in sorted(SUPPLIERS.items())], "Suppliers", query)
        if len(parts) == 2 and parts[0] == "archive":
            return self._file(parts[1])
        if parts[0] == "inbox" and len(parts) <= 2:
            return self._inbox(parts[1] if len(parts) == 2 else "root")
        return None

    def add_inbox_file(self, folder: str, name: str, content: bytes) -> str:
        """A file arrives in an inbox folder (scanned, e-mailed, uploaded in the app): its id."""
        file_id = f"i{len(self.inbox_files) + 1:05d}"
        self.inbox_files[file_id] = (folder, name, content)
        return file_id

    def book_inbox_file(self, file_id: str) -> None:
        """The file is booked onto a voucher in Fortnox: it leaves the inbox (for the archive)."""
        del self.inbox_files[file_id]

    def _inbox(self, ident: str) -> tuple[int, Any] | None:
        if ident in self.inbox_files:
            return 200, self.inbox_files[ident][2]
        folders = {"root": "root", **INBOX_FOLDERS}
        if ident not in folders:
            return None
        files = [{"@url": f"/3/inbox/{i}", "Id": i, "Name": name, "Size": len(content), "Path": f"{folders[ident]}"}
                 for i, (folder, name, content) in self.inbox_files.items() if folder == ident]
        sub = [{"@url": f"/3/inbox/{k}", "Id": k, "Name": v} for k, v in INBOX_FOLDERS.items()] if ident == "root" \
            else []
        return 200, {"Folder": {"@url": f"/3/inbox/{ident}", "Id": ident, "Name": folders[ident], "Folders": sub,
                                "Files": files}}

    @staticmethod
    def file_id(year: int, document: int | None) -> str:
        return f"f{year}-{document:05d}"

    def _file(self, file_id: str) -> tuple[int, Any] | None:
        try:
            year, number = (int(p) for p in file_id.removeprefix("f").split("-"))
        except ValueError:
            return None
        if year not in self.books.years:
            return None
        found = next((v for v in self.books.year(year).vouchers if v.document == number), None)
        if found is None:
            return None
        return 200, pdf(f"Verifikation {found.series}{found.number} {year}: {found.text}")

    @staticmethod
    def _year(company: Any, query: dict[str, str]) -> int:
        from sandboxes.fortnox.routes import _year

        return int(company.years[_year(company, query)][0].year)

    @staticmethod
    def _ident(company: Any, year: int) -> int:
        return next(i for i, (start, _) in company.years.items() if start.year == year)
