"""GET/POST /api/v1/ledger/...: the ledger read back, served to the tenant that owns it (its API key decides).

Every list is paged with an opaque `cursor` (the answer's `next_cursor`, and a `Link: rel="next"` header); every
bad parameter is named in one answer. Sync runs in the background: POST answers 202 with the run's progress and the
first slice's queue message; GET /ledger/sync shows how far it came.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import quote, urlencode

from api.http import Request, Response, authenticate, download_disposition, error
from api.query import day
from pipeline.errors import ConfigError, Problem
from pipeline.ports import Stores
from pipeline.readback import sync
from pipeline.readback.store import LedgerStore, safe_key
from pipeline.records.names import CONTAINER_GL, QUEUE_LEDGER
from pipeline.registry import Connectors

PAGE = 1000
DEFAULT_PAGE = 200
MAX_FILE = 100_000_000
MAX_DAYS = 3700  # a range of at most ~10 years: each month in a range is a partition query
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_COMPANY = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_CURSOR = re.compile(r"^[A-Za-z0-9_.~|:-]{1,300}$")


def _opener(stores: Stores, connectors: Connectors) -> sync.Opener:
    make = getattr(connectors, "ledger_opener", None)
    if make is None:
        raise ConfigError("no ledger sources are plugged in")
    opener: sync.Opener = make(stores, connectors)
    return opener


def _known(connectors: Connectors) -> dict[str, Any]:
    return dict(getattr(connectors, "ledgers", None) or {})


def _common(stores: Stores, request: Request) -> tuple[str, str, list[Problem], Response | None]:
    tenant, denied = authenticate(stores, request)
    company = request.query.get("company") or "main"
    problems = [] if _COMPANY.match(company) else [
        Problem(f"company={company!r}: letters, digits, '-' and '_', at most 40", field="company", code="invalid")]
    # A parameter given empty (`?company=`, `?to=`) is a mistake, not a request for the default: said, not guessed.
    problems += [Problem(f"{name} is given without a value: leave it out or give one", field=name, code="invalid")
                 for name, value in request.query.items() if value == "" and name != "company"]
    if request.query.get("company") == "":
        problems.append(Problem("company is given without a value: leave it out (the company 'main') or give one",
                                field="company", code="invalid"))
    return tenant or "", company, problems, denied


def _range_problems(start: dt.date | None, end: dt.date | None, problems: list[Problem]) -> None:
    if start and end and end < start:
        problems.append(Problem(f"to ({end}) is before from ({start})", field="to", code="invalid"))
    elif start and end and (end - start).days > MAX_DAYS:
        problems.append(Problem(f"from..to spans {(end - start).days} days; ask for at most {MAX_DAYS} (ten years) "
                                "at a time", field="to", code="invalid"))


def _within_years(ledger: LedgerStore, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The range clipped to the fiscal years read (one query): months outside them hold nothing, and are not asked
    one by one; with none read yet, an empty range (end before start)."""
    years = ledger.years()
    if not years:
        return start, start - dt.timedelta(days=1)
    return max(start, min(y.start for y in years)), min(end, max(y.end for y in years))


def _limit(request: Request, problems: list[Problem]) -> int:
    raw = request.query.get("limit") or str(DEFAULT_PAGE)
    if not raw.isdigit() or not 1 <= int(raw) <= PAGE:
        problems.append(Problem(f"limit={raw!r} must be a whole number from 1 to {PAGE}", field="limit",
                                code="invalid"))
        return DEFAULT_PAGE
    return int(raw)


def _next(request: Request, path: str, cursor: str | None) -> dict[str, str]:
    if cursor is None:
        return {}
    query = {**{k: v for k, v in request.query.items() if k != "cursor"}, "cursor": cursor}
    return {"Link": f'<{request.base_url}/api/v1/ledger/{path}?{urlencode(query)}>; rel="next"'}


def ledger_accounts(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The chart of accounts, with parties, dimensions and fiscal years beside it (all small)."""
    tenant, company, problems, denied = _common(stores, request)
    if denied or problems:
        return denied or error(400, "the parameters are not valid", problems)
    ledger = LedgerStore(stores.tables, stores.blobs, tenant, company)
    return Response(200, {"company": company,
                          "accounts": [a.model_dump(mode="json") for a in ledger.accounts()],
                          "parties": [p.model_dump(mode="json") for p in ledger.parties()],
                          "dimensions": [d.model_dump(mode="json") for d in ledger.dimensions()],
                          "fiscal_years": [{"start": y.start.isoformat(), "end": y.end.isoformat(),
                                            "periods": [p.key for p in y.periods()]} for y in ledger.years()]})


def ledger_transactions(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Postings dated from..to (both required), optionally of one account or one voucher, in date order."""
    tenant, company, problems, denied = _common(stores, request)
    if denied:
        return denied
    start, end = day(request, "from", problems), day(request, "to", problems)
    _range_problems(start, end, problems)
    limit = _limit(request, problems)
    cursor = request.query.get("cursor") or ""
    if cursor and not _CURSOR.match(cursor):
        problems.append(Problem("cursor is not one this API gave (next_cursor)", field="cursor", code="invalid"))
    if problems:
        return error(400, "the parameters are not valid", problems)
    assert start is not None and end is not None
    ledger = LedgerStore(stores.tables, stores.blobs, tenant, company)
    start, end = _within_years(ledger, start, end)
    found, following = ledger.transactions(start, end, account=request.query.get("account") or None,
                                           voucher=request.query.get("voucher") or None, after=cursor, limit=limit)
    return Response(200, {"company": company, "transactions": [p.model_dump(mode="json") for p in found],
                          "next_cursor": following}, headers=_next(request, "transactions", following))


def ledger_balances(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Per account and period (from/to: YYYY-MM): our sum, the system's own figure, and whether they agree."""
    tenant, company, problems, denied = _common(stores, request)
    if denied:
        return denied
    bounds = []
    for name in ("from", "to"):
        raw = request.query.get(name) or ""
        if raw and not _MONTH.match(raw):
            problems.append(Problem(f"{name}={raw!r} is not a period YYYY-MM", field=name, code="invalid"))
        bounds.append(raw)
    if problems:
        return error(400, "the parameters are not valid", problems)
    ledger = LedgerStore(stores.tables, stores.blobs, tenant, company)
    rows = [{**b.model_dump(mode="json", exclude={"opening", "closing"}), "matches": b.matches}
            for b in ledger.balances(bounds[0], bounds[1] or "\uffff", request.query.get("account") or None)]
    return Response(200, {"company": company, "balances": rows,
                          "mismatches": sum(1 for r in rows if r["matches"] is False)})


def ledger_document(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """A document attached to a voucher, or waiting in the system's inbox, as it was read (PDF or image)."""
    tenant, company, problems, denied = _common(stores, request)
    if denied or problems:
        return denied or error(400, "the parameters are not valid", problems)
    found = LedgerStore(stores.tables, stores.blobs, tenant, company).document(request.path_params.get("id", ""))
    if found is None:
        return error(404, "no such document in this company's ledger")
    document, content = found
    where = {"X-Bilagsbro-Voucher": safe_key(document.voucher)} if document.voucher else {
        "X-Bilagsbro-Inbox-Folder": quote(document.folder or "")}
    return Response(200, content, content_type=document.content_type,
                    headers={"Content-Disposition": download_disposition(document.file_name), **where})


def ledger_inbox(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The documents waiting in the system's inbox at the last sync (receipts, supplier invoices not booked yet)."""
    tenant, company, problems, denied = _common(stores, request)
    if denied or problems:
        return denied or error(400, "the parameters are not valid", problems)
    listed = LedgerStore(stores.tables, stores.blobs, tenant, company).inbox()
    return Response(200, {"company": company, "documents": [d.model_dump(mode="json") for d in listed]})


def ledger_source(stores: Stores, connectors: Connectors, request: Request) -> Response:
    tenant, company, problems, denied = _common(stores, request)
    if denied or problems:
        return denied or error(400, "the parameters are not valid", problems)
    choice = sync.chosen(stores, tenant, company)
    return Response(200, {"company": company, "source": choice.source if choice else None,
                          "since": choice.since if choice else None,
                          "history": sync.history(stores, tenant, company)})


def put_ledger_source(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Choose where the company's ledger is read from: an API (`tripletex`, `fortnox`); files are chosen by uploading
    one (POST /ledger/files). The choice and every switch are recorded."""
    tenant, company, problems, denied = _common(stores, request)
    if denied:
        return denied
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    source = body.get("source") if isinstance(body, dict) else None
    known = _known(connectors)
    files = getattr(connectors, "ledger_files", ())
    if not isinstance(source, str) or source not in known or source in files:  # a JSON object is no name
        problems.append(Problem(f"source must be one of {', '.join(s for s in known if s not in files)} (files are "
                                "chosen by uploading one to /api/v1/ledger/files)", field="source", code="invalid"))
    if problems:
        return error(400, "the ledger source is not valid", problems)
    choice = sync.choose(stores, tenant, company, str(source), {}, known=known)
    return Response(200, {"company": company, "source": choice.source, "since": choice.since})


def post_ledger_file(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """An export file (SIE 4, SAF-T Financial) for a company without API access: stored unchanged, chosen as the
    company's ledger source, and read in the background (every fiscal year it holds, or from/to)."""
    tenant, company, problems, denied = _common(stores, request)
    if denied:
        return denied
    kind = request.query.get("format") or ""
    files = getattr(connectors, "ledger_files", ())
    if kind not in files:
        problems.append(Problem(f"format must be one of {', '.join(files)}", field="format", code="invalid"))
    if not request.body:
        problems.append(Problem("the body is the file, and it is empty", field="body", code="missing"))
    if len(request.body) > MAX_FILE:
        return error(413, f"a file of {len(request.body)} bytes exceeds {MAX_FILE}")
    start, end = day(request, "from", problems, default=dt.date.min), day(request, "to", problems, default=dt.date.max)
    if problems:
        return error(400, "the upload is not valid", problems)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", request.query.get("name") or f"ledger.{kind}")[:80]
    at = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    path = f"{safe_key(tenant)}/{safe_key(company)}/files/{at}-{name}"
    stores.blobs.put(CONTAINER_GL, path, request.body, content_type="application/octet-stream")  # unchanged, first
    try:  # a file with no fiscal year in it does not replace the company's source
        years = _opener(stores, connectors)(kind, tenant, company, {"file": path}).fiscal_years()
    except ConfigError as exc:
        return error(422, exc.message, list(exc.problems), file=path)
    if not years:
        return error(422, f"no fiscal year in the file: it is not a readable {kind} export (kept as {path})",
                     [Problem("no fiscal year (SIE #RAR; SAF-T vouchers)", field="body", code="no-fiscal-year")],
                     file=path)
    sync.choose(stores, tenant, company, kind, {"file": path}, known=_known(connectors))
    return _start(stores, connectors, tenant, company, None if start == dt.date.min else start,
                  None if end == dt.date.max else end, file=path)


def post_ledger_sync(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Start a backfill: the current and two previous fiscal years, or from..to."""
    tenant, company, problems, denied = _common(stores, request)
    if denied:
        return denied
    start, end = day(request, "from", problems, default=dt.date.min), day(request, "to", problems, default=dt.date.max)
    if problems:
        return error(400, "the parameters are not valid", problems)
    return _start(stores, connectors, tenant, company, None if start == dt.date.min else start,
                  None if end == dt.date.max else end)


def _start(stores: Stores, connectors: Connectors, tenant: str, company: str, start: dt.date | None,
           end: dt.date | None, **extra: Any) -> Response:
    try:
        state, message = sync.start(stores, _opener(stores, connectors), tenant, company, start=start, end=end)
    except ConfigError as exc:
        return error(422, exc.message, list(exc.problems))
    return Response(202, {"company": company, **extra, **state}, messages={QUEUE_LEDGER: [message]},
                    headers={"Location": f"/api/v1/ledger/sync?company={company}"})


def ledger_sync(stores: Stores, connectors: Connectors, request: Request) -> Response:
    tenant, company, problems, denied = _common(stores, request)
    if denied or problems:
        return denied or error(400, "the parameters are not valid", problems)
    state = sync.read_state(stores, tenant, company)
    if state is None:
        return error(404, "no sync has run for this company")
    return Response(200, {"company": company, **state})


def ledger_export(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The ledger read back, from..to, as SAF-T Financial (api/ledger_export.py), a page of whole days."""
    from api import ledger_export as export

    tenant, company, problems, denied = _common(stores, request)
    if denied:
        return denied
    start, end = day(request, "from", problems), day(request, "to", problems)
    limit, more = export.problems_of(request)
    problems += more
    _range_problems(start, end, problems)
    if problems:
        return error(400, "the parameters are not valid", problems)
    assert start is not None and end is not None
    return export.answer(stores, connectors, tenant, company, start, end, limit, request)
