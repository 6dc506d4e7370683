"""A sandbox company's accounting periods and VAT terms: what `GET /ledger/accountingPeriod` and
`GET /vatTermSizeSettings` answer, and which dates a voucher may no longer carry.

Spec (2.72.00): `AccountingPeriod{id, version, url, name, number, start, end, isClosed, ...}` searched by id,
numberFrom/To, startFrom/To, endFrom/To ("From and including" / "To and excluding");
`VatTermSizeSettings{id, version, reportType, fromDate, termSize}`.
[unverified] Periods are calendar months numbered 1–12 whose `end` is the first day of the next month
(exclusive, as Tripletex's other "To" dates are); the connector reads either convention. The API offers no
read of which VAT terms are reported (`VatReturns2022` is in the spec's schemas, on no path), so the
sandbox keeps `vat_reported_through` — the last day of the last reported term — as the company's fact.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

MONTHS = ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober",
          "november", "desember")
TERM_MONTHS = {"ONE_MONTH": 1, "TWO_MONTHS": 2, "THREE_MONTHS": 3, "FOUR_MONTHS": 4, "SIX_MONTHS": 6, "YEAR": 12}


class Periods:
    """Monthly accounting periods (made per year as they are asked for), closed ones, and the VAT term size."""

    def __init__(self, next_id: Callable[[], int]) -> None:
        self._next_id = next_id
        self._by_year: dict[int, list[dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self.vat_term_size = "TWO_MONTHS"  # the standard Norwegian VAT term ("alminnelig næring", six a year)
        self.vat_reported_through: dt.date | None = None

    def year(self, year: int) -> list[dict[str, Any]]:
        with self._lock:
            if year not in self._by_year:
                self._by_year[year] = [self._period(year, month) for month in range(1, 13)]
            return self._by_year[year]

    def _period(self, year: int, month: int) -> dict[str, Any]:
        start = dt.date(year, month, 1)
        end = dt.date(year + month // 12, month % 12 + 1, 1)
        period_id = self._next_id()
        return {"id": period_id, "version": 0, "url": f"tripletex/v2/ledger/accountingPeriod/{period_id}",
                "name": f"{MONTHS[month - 1].capitalize()} {year}", "number": month,
                "start": start.isoformat(), "end": end.isoformat(), "isClosed": False}

    def close(self, year: int, month: int) -> dict[str, Any]:
        """Close one month, as the customer's accountant does in Tripletex ("lukk periode")."""
        period = self.year(year)[month - 1]
        period["isClosed"] = True
        return period

    def closed_period(self, day: dt.date) -> dict[str, Any] | None:
        period = self.year(day.year)[day.month - 1]
        return period if period["isClosed"] else None

    def report_vat(self, through: dt.date) -> None:
        """The VAT return for every term up to and including the one that ends `through` is delivered."""
        self.vat_reported_through = through

    def vat_term(self, day: dt.date) -> str:
        """`5. termin 2026` for a date in September or October, with two-month terms."""
        months = TERM_MONTHS.get(self.vat_term_size, 2)
        return f"{(day.month - 1) // months + 1}. termin {day.year}"

    def search(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """`GET /ledger/accountingPeriod` with its filters; the years the filters name (else this year)."""
        bounds = [_date(query.get(k)) for k in ("startFrom", "startTo", "endFrom", "endTo")]
        years = sorted({d.year for d in bounds if d is not None} or {dt.date.today().year})
        years = list(range(max(years[0] - 1, 1900), min(years[-1], 2200) + 1))
        values = [p for y in years for p in self.year(y)]
        filters: tuple[tuple[str, str, Callable[[dt.date, dt.date], bool]], ...] = (
            ("startFrom", "start", lambda v, w: v >= w), ("startTo", "start", lambda v, w: v < w),
            ("endFrom", "end", lambda v, w: v >= w), ("endTo", "end", lambda v, w: v < w))
        for name, key, keep in filters:
            wanted = _date(query.get(name))
            if wanted is not None:
                values = [p for p in values if keep(dt.date.fromisoformat(p[key]), wanted)]
        if query.get("id"):
            ids = {int(i) for i in query["id"].split(",") if i.strip().isdigit()}
            values = [p for p in values if p["id"] in ids]
        return values

    def term_settings(self) -> list[dict[str, Any]]:
        return [{"id": 1, "version": 0, "reportType": "GENERAL_INDUSTRY", "fromDate": "2000-01-01",
                 "termSize": self.vat_term_size}]


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None
