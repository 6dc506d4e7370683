"""Which documents a tenant received in a period, read from storage one at a time with their status and delivery.

A period is days of *receipt* (Europe/Oslo), not the documents' own dates: a document's id begins with the moment
it was received (`d-YYYYmmddHHMMSS…`, UTC; pipeline.history.new_id), and its shared form is kept at
`documents/<tenant>/<id>/shared.json`, so the documents of a period are a listing of that folder by name — no
index, no scan of anything but the tenant's own folder, and every document lands in exactly one period however
late it is dated. The listing is by month prefix (`<tenant>/d-YYYYMM`), so a day's export lists that month's
names; the 90-day retention bounds every listing.

Per document: one blob read (its shared form) and one partition query (its trace: status, receipt, delivery),
read a few ahead by a small pool of threads. The listing is in id order — receipt order, to the second — and
`after` resumes after a document id (the API's pages).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pipeline.export import Delivered, Entry, Period
from pipeline.history import document_path
from pipeline.names import CONTAINER_DOCUMENTS
from pipeline.ports import NotFound, Stores
from pipeline.shared_form import DOCUMENT
from pipeline.trace import TraceLog, status

_STAMP = "%Y%m%d%H%M%S"
READERS = 8  # threads reading documents ahead of the writer
WINDOW = 64  # documents read ahead at most: what memory holds besides the one being written
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


def _prefixes(tenant: str, first: dt.datetime, after: dt.datetime) -> list[str]:
    months: list[str] = []
    year, month = first.year, first.month
    last = after - dt.timedelta(seconds=1)
    while (year, month) <= (last.year, last.month):
        months.append(f"{tenant}/d-{year:04d}{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        if len(months) > _MAX_MONTHS:
            return [f"{tenant}/d-"]
    return months


def document_ids(stores: Stores, tenant: str, period: Period, *, after: str | None = None) -> Iterator[str]:
    """The ids of the tenant's documents received in `period`, in order, each once."""
    first, end = period.bounds()
    low, high = _stamp(first), _stamp(end)
    for prefix in _prefixes(tenant, first, end):
        for name in stores.blobs.list(CONTAINER_DOCUMENTS, prefix):
            parts = name.split("/")
            if len(parts) != 3 or parts[2] != "shared.json":
                continue
            document_id = parts[1]
            stamp = document_id.removeprefix("d-")[:14]
            if stamp < low:
                continue
            if stamp >= high:
                return  # names are in time order: nothing later in the period follows
            if after is not None and document_id <= after:
                continue
            yield document_id


def entry(stores: Stores, tenant: str, document_id: str) -> Entry | None:
    """One document with its status and latest delivery; None when its shared form is gone (retention)."""
    try:
        data = stores.blobs.get(CONTAINER_DOCUMENTS, document_path(tenant, document_id))
    except NotFound:
        return None
    document = DOCUMENT.validate_json(data)
    trace = TraceLog(stores.tables).read(tenant, document_id)
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
