"""GET /api/v1/ledger/export: the ledger read back as a SAF-T Financial file, written by the same code as our export.

The postings are regrouped into their vouchers (one date's vouchers in memory at a time) and handed to
pipeline/export's `SaftFile` as entries "delivered" by the source they were read from. Amounts go as read (net, the
VAT on its own postings: `Entry.vat_posted`). A line carries TaxInformation where the source's VAT codes are the
SAF-T standard codes — Tripletex's `vatType.number` ([unverified] that every Norwegian Tripletex company numbers
its VAT types by the standard codes; a number that is no standard code is left out, never guessed); Fortnox's
Swedish codes, SIE (no codes) and SAF-T files (read net, their codes folded away) give none. A page covers whole
days up to `limit` vouchers; the `Link` header names the next (`from` the day after).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError

from api.http import Request, Response, error
from pipeline.errors import ConfigError, Problem
from pipeline.export import Delivered, Entry, Period
from pipeline.export.tenant_saft import saft_file, saft_file_name
from pipeline.model import Party, Posting, Voucher
from pipeline.norway.vat import VAT_CODES
from pipeline.ports import Stores
from pipeline.readback.model import GlPosting
from pipeline.readback.store import LedgerStore
from pipeline.records.names import TABLE_GL_MASTER
from pipeline.registry import Connectors
from pipeline.tenants import TenantRegistry

PAGE = 10_000
DEFAULT_PAGE = 5_000


def vouchers(ledger: LedgerStore, start: dt.date, end: dt.date) -> Iterator[tuple[str, dt.date, list[GlPosting]]]:
    """(reference, date, postings) per voucher in date order; one day's vouchers in memory at a time."""
    years = ledger.years()  # months outside the fiscal years read hold nothing: not asked one by one
    if not years:
        return
    start, end = max(start, min(y.start for y in years)), min(end, max(y.end for y in years))
    cursor: str | None = "" if start <= end else None
    day: dt.date | None = None
    pending: dict[str, list[GlPosting]] = {}
    while cursor is not None:
        page, cursor = ledger.transactions(start, end, after=cursor, limit=1000)
        for posting in page:
            if posting.date != day:
                yield from ((ref, day, rows) for ref, rows in pending.items() if day is not None)
                pending, day = {}, posting.date
            pending.setdefault(posting.voucher_id or posting.voucher, []).append(posting)
    if day is not None:
        yield from ((ref, day, rows) for ref, rows in pending.items())


STANDARD_CODES = ("tripletex",)  # sources whose VAT codes are the SAF-T standard codes


def as_voucher(reference: str, day: dt.date, rows: list[GlPosting], *, standard_codes: bool = False) -> Voucher:
    return Voucher(reference=reference, date=day, description=rows[0].text, currency=rows[0].currency or "NOK",
                   voucher_type=None, lines=tuple(
                       Posting(account=r.account, amount=r.amount, description=r.text, dimensions=dict(r.dimensions),
                               vat_code=r.vat_code if standard_codes and r.vat_code in VAT_CODES else None,
                               customer=Party(number=r.customer) if r.customer else None,
                               supplier=Party(number=r.supplier) if r.supplier else None) for r in rows))


def answer(stores: Stores, connectors: Connectors, tenant_id: str, company: str, start: dt.date, end: dt.date,
           limit: int, request: Request) -> Response:
    ledger = LedgerStore(stores.tables, stores.blobs, tenant_id, company)
    chosen = ledger.tables.get(TABLE_GL_MASTER, ledger.partition("source"), "current")
    now = dt.datetime.now(dt.UTC)
    source = chosen["Source"] if chosen else "ledger"  # SAF-T's SourceID names the system the books were read from
    left_out: list[dict[str, Any]] = []
    state: dict[str, Any] = {"last": None, "count": 0, "more": False}

    def entries() -> Iterator[Entry]:
        for reference, day, rows in vouchers(ledger, start, end):
            if state["count"] >= limit and day != state["last"]:
                state["more"] = True
                return
            state["count"] += 1
            state["last"] = day
            try:
                voucher = as_voucher(reference, day, rows, standard_codes=source in STANDARD_CODES)
            except ValidationError as exc:
                left_out.append({"voucher": reference, "date": day.isoformat(), "reason": str(exc.errors()[0]["msg"])})
                continue
            yield Entry(id=f"gl-{reference}", document=voucher, received_at=now, status="delivered",
                        delivered=Delivered(target=source, at=now), vat_posted=True)

    tenant = TenantRegistry(stores.tables).get(tenant_id)
    try:
        saft = saft_file(tenant, connectors, entries(), Period(start, end), "NOK")
    except ConfigError as exc:
        return error(422, exc.message, list(exc.problems))
    body = b"".join(saft.chunks())
    headers = {"X-Bilagsbro-Transactions": str(saft.summary.transactions), "X-Bilagsbro-Left-Out": str(len(left_out)),
               "Content-Disposition": f'attachment; filename="{saft_file_name(tenant, saft.company.organization_number)}"'}
    if state["more"] and state["last"] is not None:
        following = state["last"] + dt.timedelta(days=1)
        query = {**request.query, "from": following.isoformat()}
        headers["Link"] = f'<{request.base_url}/api/v1/ledger/export?{urlencode(query)}>; rel="next"'
    return Response(200, body, headers=headers, content_type="application/xml; charset=utf-8")


def problems_of(request: Request) -> tuple[int, list[Problem]]:
    raw = request.query.get("limit") or str(DEFAULT_PAGE)
    if not raw.isdigit() or not 1 <= int(raw) <= PAGE:
        return DEFAULT_PAGE, [Problem(f"limit={raw!r} must be a whole number from 1 to {PAGE}", field="limit",
                                      code="invalid")]
    return int(raw), []
