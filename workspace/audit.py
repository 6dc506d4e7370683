"""The workspace's audit log: every change made from the workspace, with who, when, what and why.

Append-only: rows are inserted, never replaced (insert raises on an existing key) and nothing here deletes them.
One partition per organisation, newest first by row key (an inverted timestamp and a random tail), read a page at
a time with a cursor: an organisation's log is never read or held whole, and each entry is its own row.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.ports import TableStore
from pipeline.records.names import TABLE_AUDIT

PAGE = 50
_MAX_US = 10**17
_last = [0]
_lock = threading.Lock()


@dataclass(frozen=True)
class Entry:
    at: str
    who: str
    action: str
    client: str
    subject: str
    why: str
    detail: dict[str, Any]


def _partition(org: str) -> str:
    return f"org|{org}"


def record(tables: TableStore, org: str, *, who: str, action: str, client: str = "", subject: str = "",
           why: str = "", detail: Mapping[str, Any] | None = None, at: dt.datetime | None = None) -> None:
    """Append one entry. `detail` holds what changed (never a secret: the callers pass key ids and hints only)."""
    moment = at or dt.datetime.now(dt.UTC)
    with _lock:  # strictly increasing within the process, so two entries of one microsecond keep their order
        micros = max(int(moment.timestamp() * 1_000_000), _last[0] + 1)
        _last[0] = micros
    inverted = _MAX_US - micros
    text = json.dumps(dict(detail or {}), ensure_ascii=False, default=str)
    tables.insert(TABLE_AUDIT, {"PartitionKey": _partition(org), "RowKey": f"{inverted:017d}-{secrets.token_hex(4)}",
                                "At": moment.isoformat(), "Who": who[:200], "Action": action[:100],
                                "Client": client[:100], "Subject": subject[:200], "Why": why[:1000],
                                "Detail": text[:16000]})


def page(tables: TableStore, org: str, *, cursor: str | None = None, limit: int = PAGE,
         client: str | None = None) -> tuple[list[Entry], str | None]:
    """Up to `limit` entries, newest first, and the cursor of the next page (None at the end)."""
    after = base64.urlsafe_b64decode(cursor.encode()).decode() if cursor else ""
    where = [("Client", "eq", client)] if client else []
    rows = tables.scan(TABLE_AUDIT, _partition(org), after=after, where=where, limit=limit + 1)  # type: ignore[arg-type]
    more = len(rows) > limit
    rows = rows[:limit]
    entries = [Entry(str(r.get("At")), str(r.get("Who")), str(r.get("Action")), str(r.get("Client") or ""),
                     str(r.get("Subject") or ""), str(r.get("Why") or ""), json.loads(r.get("Detail") or "{}"))
               for r in rows]
    next_cursor = base64.urlsafe_b64encode(str(rows[-1]["RowKey"]).encode()).decode() if more and rows else None
    return entries, next_cursor
