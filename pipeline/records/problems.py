"""The problems index: a tenant's blocked and failed documents by cause, so that "account 3999 does not exist in
Tripletex — 14 vouchers" is read without scanning the tenant's documents.

Layout (why and cost per query: docs/problems.md). Partition `<tenant>|problems` of TABLE_TRACE, two kinds of row:

- a **cause row** per document and cause, `c|<cause key>|<index key>` (the index key of pipeline/records/documents.py:
  newest first), holding the cause's kind, system, parameters, the problem's message, field, file and line, and the
  document's id, reference and status: a group is a range of keys, its documents a page of it;
- a **document row** `d|<index key>` naming the causes the document has now, so that they can be taken away.

Written by `pipeline/inflight.index` — the one place every step is recorded — for each `blocked`, `failed` and
`poisoned` step, in transactions of the partition (one per envelope when it fits), blind (no read). A blocked or
failed document moves again only through a `resubmitted` step (a retry, a resend, the adapt again after a switch);
that step reads its document row (one point read) and deletes its rows, so a delivery, on the hot path, costs the
index nothing. The retention sweep deletes the rows of documents past the period.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pipeline.ports import MAX_TRANSACTION, Entity, Operation, Stale, TableStore
from pipeline.records import documents
from pipeline.records.names import TABLE_TRACE

PAGE = 1000  # rows read per request while groups are added up (the table service's own page)
PROBLEM_STEPS = frozenset({"blocked", "failed", "poisoned"})
_CAUSE = re.compile(r"[A-Za-z0-9_~.-]{1,200}")


def partition(tenant: str) -> str:
    return f"{tenant}|problems"


def valid_cause(cause: str) -> bool:
    """A cause key as this index writes them: safe in a table key and a URL path segment."""
    return bool(_CAUSE.fullmatch(cause)) and ".." not in cause


def rows_for(tenant: str, document_id: str, step: str, causes: Sequence[dict[str, Any]],
             reference: str | None) -> list[Operation]:
    """A document's rows for its problem step: a cause row per cause (`causes`: pipeline/problems.causes_of) and
    its document row."""
    key = documents.row_key(document_id)
    if key is None or not causes:
        return []
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    found: list[Operation] = []
    for cause in causes:
        row = {"PartitionKey": partition(tenant), "RowKey": f"c|{cause['key']}|{key}", "Cause": cause["key"],
               "Kind": cause["kind"], "Target": cause.get("target"), "Params": cause.get("params") or {},
               "Message": str(cause.get("message") or "")[:2000], "Id": document_id, "Reference": reference,
               "Status": "blocked" if step == "blocked" else "failed", "Step": step, "At": at}
        for name in ("field", "file", "line"):
            if cause.get(name) is not None:
                row[name.capitalize()] = cause[name]
        found.append(("upsert", row))
    found.append(("upsert", {"PartitionKey": partition(tenant), "RowKey": f"d|{key}", "Id": document_id,
                             "Reference": reference, "Step": step, "At": at,
                             "Causes": sorted({c["key"] for c in causes})}))
    return found


def write(tables: TableStore, operations: Sequence[Operation]) -> None:
    """Rows of one partition in transactions of up to MAX_TRANSACTION (each row once per transaction)."""
    unique = list({op[1]["RowKey"]: op for op in operations}.values())
    for start in range(0, len(unique), MAX_TRANSACTION):
        tables.transact(TABLE_TRACE, unique[start:start + MAX_TRANSACTION])


def clear(tables: TableStore, tenant: str, document_ids: Iterable[str]) -> int:
    """Take documents out of the index (they are on their way again): one point read each, then their rows go.
    Returns how many documents had rows."""
    cleared = 0
    for document_id in document_ids:
        key = documents.row_key(document_id)
        row = None if key is None else tables.get(TABLE_TRACE, partition(tenant), f"d|{key}")
        if row is None:
            continue
        cleared += 1
        _delete(tables, tenant, [f"c|{cause}|{key}" for cause in row.get("Causes") or ()] + [f"d|{key}"])
    return cleared


def _delete(tables: TableStore, tenant: str, keys: Sequence[str]) -> None:
    for start in range(0, len(keys), MAX_TRANSACTION):
        chunk = keys[start:start + MAX_TRANSACTION]
        try:
            tables.transact(TABLE_TRACE, [("delete", {"PartitionKey": partition(tenant), "RowKey": k}) for k in chunk])
        except Stale:  # one of them was taken away meanwhile: the rest one by one (a missing row is no error)
            for k in chunk:
                tables.delete(TABLE_TRACE, partition(tenant), k)


def cause_rows(tables: TableStore, tenant: str) -> Iterator[Entity]:
    """Every cause row of the tenant, a page of PAGE at a time (what adding up the groups reads)."""
    after = "c|"
    while True:
        rows = tables.scan(TABLE_TRACE, partition(tenant), after=after, below="c|\uffff", limit=PAGE)
        yield from rows
        if len(rows) < PAGE:
            return
        after = str(rows[-1]["RowKey"])


def document_rows(tables: TableStore, tenant: str, *, after: str = "", limit: int = PAGE) -> list[Entity]:
    """A page of document rows, newest first; `after` is the last RowKey of the previous page."""
    return tables.scan(TABLE_TRACE, partition(tenant), after=max(after, "d|"), below="d|\uffff", limit=limit)


def affected(tables: TableStore, tenant: str, cause: str, *, limit: int, cursor: str | None = None
             ) -> tuple[list[Entity], str | None]:
    """A page of the documents a cause holds up, newest first, and the cursor of the next page (None: the last)."""
    prefix = f"c|{cause}|"
    after = prefix + decode(cursor) if cursor else prefix
    rows = tables.scan(TABLE_TRACE, partition(tenant), after=after, below=prefix + "\uffff", limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode(str(rows[-1]["RowKey"])[len(prefix):]) if more and rows else None)


def expired_rows(tables: TableStore, tenant: str, before: dt.datetime) -> int:
    """Delete the rows of documents received before `before` (the retention sweep); returns how many documents."""
    swept = 0
    while True:
        rows = tables.scan(TABLE_TRACE, partition(tenant), after="d|" + documents.received_before(before),
                           below="d|\uffff", limit=PAGE)
        for row in rows:
            key = str(row["RowKey"])[2:]
            _delete(tables, tenant, [f"c|{cause}|{key}" for cause in row.get("Causes") or ()] + [f"d|{key}"])
        swept += len(rows)
        if len(rows) < PAGE:
            return swept


class BadCursor(ValueError):
    """A cursor this API did not give out."""


def encode(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")


def decode(cursor: str) -> str:
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("the cursor is not one this API gave out") from None
    if not re.fullmatch(r"\d{14}\|[0-9a-f]*\|\d+", key):
        raise BadCursor("the cursor is not one this API gave out")
    return key
