"""Which dates a Tripletex company no longer takes vouchers on: closed accounting periods and reported VAT terms.

Preflight reports a voucher dated in a closed period, or carrying VAT into a term already reported, before
Tripletex refuses it at delivery (where the refusal is mapped back too: `refusals.py`).

- **Accounting periods**: `GET /ledger/accountingPeriod?startTo=&endFrom=` (spec 2.72.00:
  `AccountingPeriod{start, end, isClosed}`), one request per calendar year a batch touches, kept for
  `CACHE_SECONDS` per tenant. [unverified] whether `end` is the period's last day or the first day after it:
  read from the periods themselves (one period's `end` equal to the next one's `start` → exclusive; a day
  before it → inclusive; else a month-end `end` → inclusive), so either convention is read right.
- **VAT terms**: the API (2.72.00) cannot say which VAT returns are delivered — `VatReturns2022` and
  `VatReturnsOverviewItem` are schemas on no path. So the connection setting `vat_reported_through` (the last
  day of the last reported term, an ISO date) is the fact, and `GET /vatTermSizeSettings` names the term in
  the message. A line with any VAT code but "0" (no VAT treatment) counts [unverified: whether Tripletex
  also refuses codes that only report a basis, e.g. 5 and 6 — counting them is the stricter reading].
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError, Problem
from pipeline.model import Voucher

if TYPE_CHECKING:
    from connectors.targets.tripletex.target import TripletexTarget

log = logging.getLogger(__name__)
CACHE_SECONDS = 600.0  # a period closed in Tripletex is seen within ten minutes; Tripletex refuses it anyway
TERM_MONTHS = {"ONE_MONTH": 1, "TWO_MONTHS": 2, "THREE_MONTHS": 3, "FOUR_MONTHS": 4, "SIX_MONTHS": 6, "YEAR": 12}
NO_VAT = "0"


def end_is_exclusive(periods: Sequence[Mapping[str, Any]]) -> bool:
    """Whether `end` is the first day after a period (True) or its last day (False): see the module docstring."""
    spans = sorted((dt.date.fromisoformat(str(p["start"])), dt.date.fromisoformat(str(p["end"])))
                   for p in periods if p.get("start") and p.get("end"))
    starts = {start for start, _ in spans}
    if any(end in starts for _, end in spans):
        return True
    if any(end + dt.timedelta(days=1) in starts for _, end in spans):
        return False
    return not any((end + dt.timedelta(days=1)).day == 1 for _, end in spans)


def closed_on(day: dt.date, periods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The closed period `day` falls in, if any."""
    exclusive = end_is_exclusive(periods)
    for period in periods:
        if not period.get("isClosed") or not period.get("start") or not period.get("end"):
            continue
        start, end = dt.date.fromisoformat(str(period["start"])), dt.date.fromisoformat(str(period["end"]))
        if start <= day and (day < end if exclusive else day <= end):
            return period
    return None


def term_of(day: dt.date, term_size: str) -> str:
    """`term 5/2026 (September–October)` for two-month terms."""
    months = TERM_MONTHS.get(term_size, 2)
    number = (day.month - 1) // months + 1
    first = dt.date(day.year, (number - 1) * months + 1, 1)
    last = dt.date(day.year, number * months, 1)
    span = first.strftime("%B") if months == 1 else f"{first:%B}–{last:%B}"
    return f"term {number}/{day.year} ({span})"


def problems(target: TripletexTarget, vouchers: Sequence[Voucher]) -> list[Problem]:
    """Every voucher dated in a closed period, and every VAT line dated in a reported VAT term."""
    if not vouchers:
        return []
    out: list[Problem] = []
    periods = _periods(target, {v.date.year for v in vouchers})
    reported = _reported_through(target.context.settings)
    term_size: str | None = None
    for voucher in vouchers:
        origin = voucher.origin
        file, line_no = (origin.file, origin.line) if origin else (None, None)
        closed = closed_on(voucher.date, periods)
        if closed is not None:
            out.append(Problem(f"the accounting period {closed.get('name') or closed['start']} is closed in "
                               f"Tripletex: a voucher dated {voucher.date} cannot be booked there (open the period "
                               "in Tripletex, or date the voucher in an open period)",
                               field="date", code="closed-period", reference=voucher.reference, file=file,
                               line=line_no))
        if reported is None or voucher.date > reported:
            continue
        for i, line in enumerate(voucher.lines):
            if line.vat_code is None or line.vat_code == NO_VAT:
                continue
            term_size = term_size or _term_size(target, voucher.date)
            out.append(Problem(f"VAT {term_of(voucher.date, term_size)} is already reported (the connection's "
                               f"vat_reported_through is {reported}): Tripletex takes no VAT code "
                               f"{line.vat_code} dated {voucher.date}; date it in an open term",
                               field=f"lines[{i}].vat_code", code="vat-term-reported", reference=voucher.reference,
                               file=file, line=line_no))
    return out


def _reported_through(settings: Mapping[str, Any]) -> dt.date | None:
    value = settings.get("vat_reported_through")
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None  # refused when the setting is made (TripletexSettings); a bad value never blocks a voucher


def _cache(target: TripletexTarget) -> dict[Any, Any]:
    cache: dict[Any, Any] = target.context.cache.setdefault("tripletex", {}).setdefault("periods", {})
    return cache


def _periods(target: TripletexTarget, years: Iterable[int]) -> list[dict[str, Any]]:
    cache = _cache(target)
    now = time.monotonic()
    found: list[dict[str, Any]] = []
    for year in sorted(set(years)):
        kept = cache.get(year)
        if kept is None or now - kept[0] > CACHE_SECONDS:
            try:
                values = target._list("ledger/accountingPeriod", {
                    "startTo": dt.date(year + 1, 1, 1).isoformat(), "endFrom": dt.date(year, 1, 1).isoformat(),
                    "fields": "id,name,number,start,end,isClosed"})
            except ConfigError as exc:
                # A token that may post but not read periods must not block every voucher: Tripletex still
                # refuses a closed period at delivery, and that refusal is mapped (refusals.py).
                log.warning("Tripletex accounting periods of %s not checked for tenant %s: %s", year,
                            target.context.tenant, exc.provider_message or exc.message)
                values = []
            kept = cache[year] = (now, values)
        found.extend(kept[1])
    return found


def _term_size(target: TripletexTarget, day: dt.date) -> str:
    """The company's VAT term size on `day` (the latest setting from before it; two months if none)."""
    cache = _cache(target)
    settings = cache.get("term_sizes")
    if settings is None:
        settings = cache["term_sizes"] = target._list("vatTermSizeSettings", {"fields": "fromDate,termSize,reportType"})
    general = [s for s in settings if s.get("reportType") in (None, "GENERAL_INDUSTRY") and s.get("fromDate")]
    before = [s for s in general if dt.date.fromisoformat(str(s["fromDate"])) <= day]
    chosen = max(before, key=lambda s: str(s["fromDate"]), default=None)
    return str(chosen["termSize"]) if chosen else "TWO_MONTHS"
