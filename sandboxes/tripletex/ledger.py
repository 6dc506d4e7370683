"""The Tripletex sandbox's general ledger to read back: seeded books (sandboxes/ledger_seed.py) as Tripletex serves them.

Contract (official spec `../shared/specs/tripletex/openapi.json`, 2.72.00):
- `GET /ledger/posting?dateFrom&dateTo` (both required; from incl., to excl.) with `from`/`count` paging,
  `accountNumberFrom`/`accountNumberTo` (to excl.) → list envelope of `Posting{id, version, date, description,
  account, amount, amountCurrency, currency, vatType, voucher, customer, supplier, department, project, row}`.
- `GET /ledger/voucher?dateFrom&dateTo` → `Voucher{id, version, date, number, year, description, attachment}`.
- `GET /balanceSheet?dateFrom&dateTo` (saldobalanse) → `BalanceSheetAccount{account, balanceIn, balanceChange,
  balanceOut, startDate, endDate}`, accounts with movements only unless `includeActiveAccountsWithoutMovements`.
- `GET /ledger/annualAccount?yearFrom&yearTo` (to excl.) → `AnnualAccount{id, year, start, end}`.
- `GET /document/{id}` → `Document{id, fileName, size, mimeType}`; `GET /document/{id}/content` → the file
  (application/octet-stream).
[unverified] Without `fields`, real Tripletex shows references (`{"id", "url"}`) for nested objects; this sandbox
always expands the few nested fields the read-back asks for, so the connector must ask for them (it does).
`misreport` makes the balance report disagree with the postings (a test of the verification).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sandboxes.ledger_seed import ACCOUNT_NAMES, CUSTOMERS, SUPPLIERS, SeededBooks, SeedVoucher, pdf

_DOCUMENT = re.compile(r"/document/(\d+)(/content)?")


class Ledger:
    """The company's seeded books and what Tripletex's read routes make of them."""

    def __init__(self, books: SeededBooks | None = None) -> None:
        self.books = books or SeededBooks()
        self.misreport: dict[tuple[str, str], Decimal] = {}  # (YYYY-MM, account) → added to the reported change

    # -- the routes ----------------------------------------------------------------------------------------

    def route(self, route: str, query: dict[str, str]) -> tuple[int, Any] | None:
        """(status, payload) for a read route this module serves; None for any other route."""
        if route == "/ledger/posting":
            return 200, self._page(list(self._postings(*self._dates(query), query)), query)
        if route == "/ledger/voucher":
            start, end = self._dates(query)
            return 200, self._page([self._voucher(v) for v in self.books.vouchers(start, end)], query)
        if route == "/balanceSheet":
            return 200, self._page(self._balance_sheet(*self._dates(query), query), query)
        if route == "/ledger/annualAccount":
            low, high = int(query.get("yearFrom") or 0), int(query.get("yearTo") or 10_000)
            return 200, self._page([{"id": year, "version": 0, "year": year, "start": f"{year}-01-01",
                                     "end": f"{year + 1}-01-01"} for year in self.books.years if low <= year < high],
                                   query)
        match = _DOCUMENT.fullmatch(route)
        if match:
            found = self._document(int(match.group(1)))
            if found is None:
                return None
            if match.group(2):
                return 200, found
            return 200, {"value": {"id": int(match.group(1)), "version": 0, "fileName": f"bilag-{match.group(1)}.pdf",
                                   "size": len(found), "mimeType": "application/pdf"}}
        return None

    @staticmethod
    def _dates(query: dict[str, str]) -> tuple[dt.date, dt.date]:
        from sandboxes.tripletex.server import _Error
        from sandboxes.tripletex.vouchers import message

        missing = [p for p in ("dateFrom", "dateTo") if not query.get(p)]
        if missing:
            raise _Error(422, 21000, "Validation failed", validation=[message(p, "Kan ikke være null.", p)
                                                                      for p in missing])
        try:
            start, end = dt.date.fromisoformat(query["dateFrom"]), dt.date.fromisoformat(query["dateTo"])
        except ValueError:
            raise _Error(422, 21000, "Validation failed",
                         validation=[message("dateFrom", "Ugyldig dato.", "dateFrom")]) from None
        if end <= start:
            raise _Error(422, 21000, "Validation failed",
                         validation=[message("dateTo", "Til og med dato må være etter fra og med dato.", "dateTo")])
        return start, end - dt.timedelta(days=1)  # dateTo is exclusive

    @staticmethod
    def _page(values: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        start, count = int(query.get("from") or 0), int(query.get("count") or 1000)
        page = values[start:start + count]
        return {"fullResultSize": len(values), "from": start, "count": len(page), "versionDigest": None,
                "values": page}

    # -- shapes ---------------------------------------------------------------------------------------------

    @staticmethod
    def _voucher(voucher: SeedVoucher) -> dict[str, Any]:
        return {"id": voucher.id, "version": voucher.version, "date": voucher.date.isoformat(),
                "number": voucher.number, "year": voucher.date.year, "description": voucher.text,
                "attachment": {"id": _document_id(voucher), "fileName": f"bilag-{_document_id(voucher)}.pdf",
                               "mimeType": "application/pdf"} if voucher.document is not None else None}

    def _postings(self, start: dt.date, end: dt.date, query: dict[str, str]) -> Any:
        low = int(query.get("accountNumberFrom") or 0)
        high = int(query.get("accountNumberTo") or 100_000_000)
        for voucher in self.books.vouchers(start, end):
            for row_number, row in enumerate(voucher.rows, start=1):
                if not low <= int(row.account) < high:
                    continue
                yield {
                    "id": voucher.id * 100 + row_number, "version": voucher.version,
                    "date": voucher.date.isoformat(), "description": voucher.text,
                    "account": {"id": int(row.account), "number": int(row.account),
                                "name": ACCOUNT_NAMES.get(row.account, "")},
                    "amount": row.amount, "amountCurrency": row.amount, "amountGross": row.amount,
                    "amountGrossCurrency": row.amount, "currency": {"id": 1, "code": "NOK"},
                    "vatType": {"id": int(row.vat_code), "number": row.vat_code} if row.vat_code else None,
                    "voucher": self._voucher(voucher), "row": row_number,
                    "customer": {"id": int(row.customer), "customerNumber": int(row.customer),
                                 "name": CUSTOMERS[row.customer]} if row.customer else None,
                    "supplier": {"id": int(row.supplier), "supplierNumber": int(row.supplier),
                                 "name": SUPPLIERS[row.supplier]} if row.supplier else None,
                    "department": {"id": int(row.department), "departmentNumber": row.department}
                    if row.department else None,
                    "project": {"id": int(row.project), "number": row.project} if row.project else None,
                }

    def _balance_sheet(self, start: dt.date, end: dt.date, query: dict[str, str]) -> list[dict[str, Any]]:
        changes: dict[str, Decimal] = {}
        for voucher in self.books.vouchers(start, end):
            for row in voucher.rows:
                changes[row.account] = changes.get(row.account, Decimal(0)) + row.amount
        for (month, account), extra in self.misreport.items():
            if start <= dt.date.fromisoformat(month + "-01") <= end and account in changes:
                changes[account] += extra
        sheet = []
        for account in sorted(changes):
            balance_in = self.books.balance(account, start)
            sheet.append({"account": {"id": int(account), "number": int(account),
                                      "name": ACCOUNT_NAMES.get(account, "")},
                          "balanceIn": balance_in, "balanceChange": changes[account],
                          "balanceOut": balance_in + changes[account], "startDate": start.isoformat(),
                          "endDate": (end + dt.timedelta(days=1)).isoformat()})
        return sheet

    def _document(self, document_id: int) -> bytes | None:
        year, number = divmod(document_id - 9_000_000, 10_000)
        if year not in self.books.years:
            return None
        for voucher in self.books.year(year).vouchers:
            if voucher.document == number:
                return pdf(f"Bilag {voucher.number}/{year}: {voucher.text}")
        return None


def _document_id(voucher: SeedVoucher) -> int:
    assert voucher.document is not None
    return 9_000_000 + voucher.date.year * 10_000 + voucher.document
