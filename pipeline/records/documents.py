"""The document index: one row per document in its tenant's partition, newest first, so history is searched
without reading the trace table.

Layout (the why and the cost of each query: docs/decisions/0008-document-history.md). Partition
`<tenant>|documents` of TABLE_TRACE; RowKey `<inverted received second>|<receipt token>|<n>`, so that key order
is newest first and a received-at range or one receipt is a RowKey range. The row keeps what history is
searched by — type, reference, source, document date, status, target — written at intake (the `listing` of a
document's `translated` step) and brought up to date in the same `commit` that records each later step: one
extra entity-group transaction per envelope, never one per document.

A document's id carries its receipt's time (`d-<yyyymmddHHMMSS…>-<n>`), so whether it is past RETENTION_DAYS
is known from the id alone: the API says "expired" (410) for such an id, found or not.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.ports import MAX_TRANSACTION, Condition, Entity, Operation, TableStore
from pipeline.records.names import RETENTION_DAYS, TABLE_TRACE

_STAMP = re.compile(r"[dr]-(\d{14})([0-9a-f]*)(?:-(\d+))?")
_INVERT = str.maketrans("0123456789", "9876543210")
MAX_PAGE = 500
DEFAULT_PAGE = 50
# Statuses a document's latest step leads to (pipeline.records.trace.STATUS_OF) that the list can be filtered by.
STATUSES = ("received", "translated", "adapted", "delivered", "blocked", "rejected", "failed", "retrying",
            "resubmitted")


def partition(tenant: str) -> str:
    return f"{tenant}|documents"


def received_at(subject: str) -> dt.datetime | None:
    """When a document (or receipt) was received, from its id; None for an id that carries no time."""
    found = _STAMP.fullmatch(subject)
    if not found:
        return None
    try:
        return dt.datetime.strptime(found.group(1), "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def expired(subject: str, now: dt.datetime | None = None) -> bool:
    """True when the document or receipt is past the retention period: its history is gone or going."""
    at = received_at(subject)
    return at is not None and at < (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=RETENTION_DAYS)


def _second(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y%m%d%H%M%S}".translate(_INVERT)


def received_before(moment: dt.datetime) -> str:
    """The key every index row of a document received before `moment`'s second sorts after."""
    return _second(moment) + "|\uffff"


def row_key(document_id: str) -> str | None:
    """The index row's key of a document; None for a document from before ids carried their receipt's time."""
    found = _STAMP.fullmatch(document_id)
    if not found or found.group(3) is None:
        return None
    return f"{found.group(1).translate(_INVERT)}|{found.group(2)}|{found.group(3)}"


def receipt_prefix(receipt: str) -> str | None:
    found = _STAMP.fullmatch(receipt)
    return f"{found.group(1).translate(_INVERT)}|{found.group(2)}|" if found and found.group(3) is None else None


def listing(document_id: str, document: Any, *, via: str) -> dict[str, Any]:
    """What the index keeps of a document from the moment it is translated (its facts never change)."""
    origin = getattr(document, "origin", None)
    return {
        "Id": document_id,
        "Reference": document.reference,
        "Type": document.type,
        "Date": document.date.isoformat(),
        "Source": (origin.format if origin is not None else None) or "shared-form",
        "Via": via,
        **({"File": origin.file} if origin is not None and origin.file and via != "api" else {}),
        **({"Line": origin.line} if origin is not None and origin.line is not None else {}),
    }


def operations(tenant: str, steps: Iterable[tuple[str, str, Mapping[str, Any], Mapping[str, Any] | None]],
               status_of: Mapping[str, str], informational: frozenset[str]) -> list[Operation]:
    """The index's part of a commit: (document id, step, detail, listing) of each trace entry → insert-or-merge
    operations on the tenant's index partition, one per document, its latest step winning."""
    rows: dict[str, Entity] = {}
    for document_id, step, detail, listed in steps:
        key = row_key(document_id)
        if key is None or step in informational:
            continue
        row = rows.setdefault(key, {"PartitionKey": partition(tenant), "RowKey": key, "Id": document_id})
        at = received_at(document_id)
        if listed:
            row.update(listed)
            row["ReceivedAt"] = at.isoformat() if at else None
        row["Status"] = status_of.get(step, step)
        row["Step"] = step
        row["UpdatedAt"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        target = detail.get("target")
        if isinstance(target, str) and step in ("adapted", "delivered", "duplicate", "blocked", "failed"):
            row["Target"] = target
        if step in ("delivered", "duplicate") and detail.get("remote_id") is not None:
            row["RemoteId"] = str(detail["remote_id"])
    return [("insert-or-merge", row) for row in rows.values()]


def write(tables: TableStore, found: Sequence[Operation]) -> None:
    for start in range(0, len(found), MAX_TRANSACTION):
        tables.transact(TABLE_TRACE, found[start:start + MAX_TRANSACTION])


# -- searching ------------------------------------------------------------------------------------------


class BadQuery(ValueError):
    """A filter the list cannot take: `field` names it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Query:
    """A search of a tenant's documents: every filter optional, all of them must hold."""

    status: str | None = None
    type: str | None = None
    reference_prefix: str | None = None
    source: str | None = None
    date_from: str | None = None  # the document's own date, inclusive (YYYY-MM-DD)
    date_to: str | None = None
    received_from: dt.datetime | None = None  # when it was received, inclusive
    received_to: dt.datetime | None = None  # exclusive
    target: str | None = None
    receipt: str | None = None
    limit: int = DEFAULT_PAGE
    cursor: str | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> Query:
        """From query parameters; raises BadQuery naming the parameter that is wrong."""
        known = {"status", "type", "reference_prefix", "source", "date_from", "date_to", "received_from",
                 "received_to", "target", "receipt", "limit", "cursor"}
        for name, value in params.items():
            if name not in known:
                raise BadQuery(f"unknown filter {name!r}; known: {', '.join(sorted(known))}", name)
            if not value:
                raise BadQuery(f"{name} is empty: give it a value or leave it out", name)
        status = params.get("status") or None
        if status is not None and status not in STATUSES:
            raise BadQuery(f"status {status!r} is not one of {', '.join(STATUSES)}", "status")
        kind = params.get("type") or None
        from pipeline.model import DOCUMENT_TYPES

        if kind is not None and kind not in DOCUMENT_TYPES:
            raise BadQuery(f"type {kind!r} is not one of {', '.join(DOCUMENT_TYPES)}", "type")
        for name in ("date_from", "date_to"):
            if params.get(name):
                try:
                    dt.date.fromisoformat(params[name])
                except ValueError:
                    raise BadQuery(f"{name} {params[name]!r} is not a date (YYYY-MM-DD)", name) from None
        moments: dict[str, dt.datetime | None] = {}
        for name in ("received_from", "received_to"):
            moments[name] = _moment(params.get(name), name)
        receipt = params.get("receipt") or None
        if receipt is not None and receipt_prefix(receipt) is None:
            raise BadQuery(f"{receipt!r} is not a receipt id (r-…)", "receipt")
        try:
            limit = int(params.get("limit") or DEFAULT_PAGE)
        except ValueError:
            raise BadQuery(f"limit {params['limit']!r} is not a number", "limit") from None
        if not 1 <= limit <= MAX_PAGE:
            raise BadQuery(f"limit must be 1 to {MAX_PAGE}", "limit")
        cursor = params.get("cursor") or None
        if cursor is not None:
            _decode(cursor)
        return cls(status=status, type=kind, reference_prefix=params.get("reference_prefix") or None,
                   source=params.get("source") or None, date_from=params.get("date_from") or None,
                   date_to=params.get("date_to") or None, received_from=moments["received_from"],
                   received_to=moments["received_to"], target=params.get("target") or None, receipt=receipt,
                   limit=limit, cursor=cursor)

    def conditions(self) -> list[Condition]:
        found: list[Condition] = []
        if self.status:
            found.append(("Status", "eq", self.status))
        if self.type:
            found.append(("Type", "eq", self.type))
        if self.source:
            found.append(("Source", "eq", self.source))
        if self.target:
            found.append(("Target", "eq", self.target))
        if self.reference_prefix:
            # A prefix is a range of text: everything from it up to it followed by the highest character.
            found += [("Reference", "ge", self.reference_prefix), ("Reference", "lt", self.reference_prefix + "\uffff")]
        if self.date_from:
            found.append(("Date", "ge", self.date_from))
        if self.date_to:
            found.append(("Date", "le", self.date_to))
        return found

    def bounds(self, now: dt.datetime) -> tuple[str, str | None]:
        """(after, below) of RowKey: the received-at range, the receipt, the retention period and the cursor."""
        oldest = now - dt.timedelta(days=RETENTION_DAYS)
        received_from = max(self.received_from or oldest, oldest)
        # Newest first: a later moment is a smaller key. `received_to` is exclusive: its second and later
        # sort before the key of its second, so rows strictly after that key's prefix are earlier.
        after = ""
        if self.received_to:
            last = self.received_to.replace(microsecond=0) - dt.timedelta(seconds=0 if self.received_to.microsecond
                                                                             else 1)
            after = _second(last) + "|"
        below = _second(received_from) + "|\uffff"
        if self.receipt:
            prefix = receipt_prefix(self.receipt) or ""
            after, below = max(after, prefix), min(below, prefix + "\uffff")
        if self.cursor:
            after = max(after, _decode(self.cursor))
        return after, below


def _moment(text: str | None, name: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if "T" in text or " " in text \
            else dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
    except ValueError:
        raise BadQuery(f"{name} {text!r} is not a date or an ISO 8601 time", name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _encode(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")


def _decode(cursor: str) -> str:
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadQuery("the cursor is not one this API gave out", "cursor") from None
    if not re.fullmatch(r"\d{14}\|[0-9a-f]*\|\d+", key):
        raise BadQuery("the cursor is not one this API gave out", "cursor")
    return key


def shown(row: Entity) -> dict[str, Any]:
    """An index row as the list shows it."""
    listed = {
        "id": row.get("Id"), "reference": row.get("Reference"), "type": row.get("Type"), "date": row.get("Date"),
        "status": row.get("Status"), "step": row.get("Step"), "source": row.get("Source"), "via": row.get("Via"),
        "received_at": row.get("ReceivedAt"), "receipt": _receipt(str(row.get("Id") or "")),
        "target": row.get("Target"), "remote_id": row.get("RemoteId"), "file": row.get("File"),
        "line": row.get("Line"), "updated_at": row.get("UpdatedAt"),
    }
    return {k: v for k, v in listed.items() if v is not None}


def _receipt(document_id: str) -> str | None:
    found = _STAMP.fullmatch(document_id)
    return f"r-{found.group(1)}{found.group(2)}" if found else None


def search(tables: TableStore, tenant: str, query: Query, *, now: dt.datetime | None = None
           ) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a tenant's documents, newest first, and the cursor of the next (None on the last page).

    One range read of the tenant's index partition: the received-at range, a receipt and the cursor bound
    the keys; the other filters are compared by the table service over that range.
    """
    moment = now or dt.datetime.now(dt.UTC)
    if query.received_to is not None and query.received_to <= moment - dt.timedelta(days=RETENTION_DAYS):
        return [], None  # all of it past the retention period
    if query.received_from is not None and query.received_from > moment + dt.timedelta(days=1):
        return [], None  # nothing is received in the future (and keys only hold four-digit years)
    after, below = query.bounds(moment)
    if below is not None and after >= below:
        return [], None
    rows = tables.scan(TABLE_TRACE, partition(tenant), after=after, below=below, where=query.conditions(),
                       limit=query.limit + 1)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return [shown(r) for r in rows], (_encode(str(rows[-1]["RowKey"])) if more and rows else None)


def row(tables: TableStore, tenant: str, document_id: str) -> Entity | None:
    key = row_key(document_id)
    return None if key is None else tables.get(TABLE_TRACE, partition(tenant), key)
