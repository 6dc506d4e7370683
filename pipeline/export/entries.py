"""Which documents a tenant received in a period, read from storage one at a time with their status and delivery.

A period is days of *receipt* (Europe/Oslo), not the documents' own dates: a document's id begins with the moment
it was received (`d-YYYYmmddHHMMSS…`, UTC; pipeline.records.history.new_id), so every document lands in exactly one
period however late it is dated. Where the documents are found (docs/decisions/0006-storage-operations.md):

- a document of a receipt (`d-<receipt>-<n>`: every document since decision 0006) has its trace rows, and its
  shared form with its `translated` step (or a blob beside them when it was too big for a queue message), in its
  receipt's trace partition. The period's receipts are the names of their originals (`received/<tenant>/<YYYYMMDD>/
  <receipt>/…`, uploads and API requests) and the tenant's list of receipts (files and pulls), both by month; each
  receipt's documents are one range read per READ_CHUNK of them;
- a document from before has its shared form at `documents/<tenant>/<id>/shared.json` and its own trace partition:
  those are a listing of the tenant's folder by month (`<tenant>/d-YYYYMM`).

Both listings are in id order, merged: receipt order to the second. `after` resumes after a document id (the
API's pages). Per document: one partition range read (its trace: status, receipt, delivery, shared form), and a
blob read only for a document that did not travel inside a message. Read a few ahead by a small pool of threads.
The 90-day retention bounds every listing.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pipeline.export import Delivered, Entry, Period
from pipeline.ports import NotFound, Stores
from pipeline.records.history import document_path, shared_form
from pipeline.records.names import CONTAINER_DOCUMENTS, CONTAINER_RECEIVED, TABLE_TRACE
from pipeline.records.trace import TraceLog, child_id, partition, shown, status
from pipeline.shared_form import DOCUMENT

_STAMP = "%Y%m%d%H%M%S"
READERS = 8  # threads reading documents ahead of the writer
WINDOW = 64  # documents read ahead at most: what memory holds besides the one being written
READ_CHUNK = 1000  # a receipt's documents listed per range read (their numbers share all but the last 3 digits)
REQUEST = "request.json"  # the original of an API request (pipeline/received.py)
_MAX_MONTHS = 36  # beyond this, one listing of the tenant's whole folder (retention keeps it to 90 days)


def received(document_id: str) -> dt.datetime | None:
    """When a document was received, from its id (second precision, UTC); None for an id of another shape."""
    stamp = document_id.removeprefix("d-")[:14]
    try:
        return dt.datetime.strptime(stamp, _STAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def _stamp(moment: dt.datetime) -> str:
    return f"{moment.year:04d}{moment:%m%d%H%M%S}"  # %Y does not pad years before 1000 everywhere


def _months(first: dt.datetime, after: dt.datetime) -> list[str] | None:
    """YYYYMM of every month in [first, after); None when there are more than _MAX_MONTHS (list everything)."""
    months: list[str] = []
    year, month = first.year, first.month
    last = after - dt.timedelta(seconds=1)
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        if len(months) > _MAX_MONTHS:
            return None
    return months


def _in_period(document_id: str, low: str, high: str) -> bool:
    return low <= document_id.removeprefix("d-")[:14] < high


def _before_receipts(stores: Stores, tenant: str, months: list[str] | None, low: str, high: str) -> Iterator[str]:
    """Documents from before decision 0006: their shared forms' folder, by month."""
    for prefix in [f"{tenant}/d-{m}" for m in months] if months is not None else [f"{tenant}/d-"]:
        for name in stores.blobs.list(CONTAINER_DOCUMENTS, prefix):
            parts = name.split("/")
            if len(parts) != 3 or parts[2] != "shared.json" or parts[1].count("-") != 1:
                continue  # a document of a receipt (its blob when it was too big for a message) is listed below
            stamp = parts[1].removeprefix("d-")[:14]
            if stamp >= high:
                return  # names are in time order: nothing later in the period follows
            if stamp >= low:
                yield parts[1]


def receipts(stores: Stores, tenant: str, months: list[str] | None, low: str, high: str) -> list[tuple[str, bool]]:
    """A month's receipts at a time, in order, from the names of their originals and the tenant's list of receipts;
    with each, whether it is an API request (`request.json`), whose documents are numbered with gaps."""
    found: list[tuple[str, bool]] = []
    for month in months if months is not None else [""]:
        these: dict[str, bool] = {}
        for name in stores.blobs.list(CONTAINER_RECEIVED, f"{tenant}/{month}"):
            parts = name.split("/")
            if len(parts) == 4 and parts[2].startswith("r-"):
                these[parts[2]] = these.get(parts[2], False) or parts[3] == REQUEST
        for row in stores.tables.query(TABLE_TRACE, f"{tenant}|receipts", f"r-{month}"):
            these.setdefault(str(row["RowKey"]), False)
        found.extend(sorted((r, api) for r, api in these.items() if low <= r.removeprefix("r-")[:14] < high))
    return found


def _of_receipts(stores: Stores, tenant: str, months: list[str] | None, low: str, high: str) -> Iterator[str]:
    """The documents of the period's receipts. A file or a pull numbers its documents from 0 without gaps: they
    are read READ_CHUNK at a time until a chunk is empty. An API request numbers them by their place in the request,
    refused ones left out, so a whole chunk may be missing: it is read in one go (its shared forms are bounded by
    the request's size, api.http.MAX_DOCUMENTS_BODY)."""
    for receipt, api in receipts(stores, tenant, months, low, high):
        where = partition(tenant, receipt)
        if api:
            yield from sorted({str(r["RowKey"]).partition("|")[0]
                               for r in stores.tables.query(TABLE_TRACE, where, child_id(receipt, 0)[:-6])})
            continue
        chunk = 0
        while True:
            rows = stores.tables.query(TABLE_TRACE, where, child_id(receipt, chunk * READ_CHUNK)[:-3])
            seen = sorted({str(row["RowKey"]).partition("|")[0] for row in rows})
            if not seen:
                break
            yield from seen
            chunk += 1


def document_ids(stores: Stores, tenant: str, period: Period, *, after: str | None = None) -> Iterator[str]:
    """The ids of the tenant's documents received in `period`, in order, each once."""
    first, end = period.bounds()
    low, high = _stamp(first), _stamp(end)
    months = _months(first, end)
    merged = heapq.merge(_before_receipts(stores, tenant, months, low, high),
                         _of_receipts(stores, tenant, months, low, high))
    for document_id in merged:
        if _in_period(document_id, low, high) and (after is None or document_id > after):
            yield document_id


def entry(stores: Stores, tenant: str, document_id: str) -> Entry | None:
    """One document with its status and latest delivery; None when its shared form is gone (retention)."""
    rows = TraceLog(stores.tables).rows(tenant, document_id)
    data = shared_form(stores.blobs, stores.tables, tenant, document_id, rows)
    if data is None:
        try:
            data = stores.blobs.get(CONTAINER_DOCUMENTS, document_path(tenant, document_id))
        except NotFound:
            return None
    document = DOCUMENT.validate_json(data)
    trace = [shown(row) for row in rows]
    first = trace[0] if trace else {}
    received_at = _moment(first.get("at")) or received(document_id) or dt.datetime.now(dt.UTC)
    state = status(trace)
    last_delivery = next((row for row in reversed(trace) if row["step"] in ("delivered", "duplicate")), None)
    blocked = next((row for row in reversed(trace) if row["step"] == "blocked"), None) if state == "blocked" else None
    failed = next((row for row in reversed(trace) if row["step"] in ("failed", "poisoned")), None) \
        if state == "failed" else None
    return Entry(
        id=document_id, document=document, received_at=received_at, status=state,
        receipt=(first.get("detail") or {}).get("receipt"),
        delivered=_delivered(last_delivery) if last_delivery else None,
        problems=tuple((blocked or {}).get("detail", {}).get("problems") or ()),
        error=_error(failed),
    )


def read(stores: Stores, tenant: str, ids: Iterable[str]) -> Iterator[Entry]:
    """The entries of these document ids, in their order. READERS threads read ahead, at most WINDOW documents:
    each costs two storage round trips, which a single thread would wait out one after the other."""
    with ThreadPoolExecutor(READERS, thread_name_prefix="export") as pool:
        ahead: deque[Future[Entry | None]] = deque()
        for document_id in ids:
            ahead.append(pool.submit(entry, stores, tenant, document_id))
            if len(ahead) >= WINDOW:
                found = ahead.popleft().result()
                if found is not None:
                    yield found
        while ahead:
            found = ahead.popleft().result()
            if found is not None:
                yield found


def entries(stores: Stores, tenant: str, period: Period, *, after: str | None = None) -> Iterator[Entry]:
    """Every document the tenant received in `period` (after the id `after`), in order."""
    yield from read(stores, tenant, document_ids(stores, tenant, period, after=after))


def _moment(text: Any) -> dt.datetime | None:
    if not text:
        return None
    moment = dt.datetime.fromisoformat(str(text))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _delivered(row: dict[str, Any]) -> Delivered:
    detail = row.get("detail") or {}
    return Delivered(target=str(detail.get("target") or "?"), at=_moment(row.get("at")) or dt.datetime.now(dt.UTC),
                     remote_id=detail.get("remote_id"), draft=detail.get("draft"), url=detail.get("url"),
                     not_accepted=tuple(detail.get("not_accepted") or ()), duplicate=row["step"] == "duplicate")


def _error(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    detail = row.get("detail") or {}
    found = detail.get("error") or detail.get("last_error")
    return found if isinstance(found, dict) else ({"message": str(found)} if found else {"step": row["step"]})
