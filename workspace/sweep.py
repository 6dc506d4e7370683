"""The nightly sweep of what sign-in leaves behind: expired sessions, used or expired reset links, and login-throttle
rows whose window has passed. Each is refused when read after it expires anyway (workspace/sessions.py); this
deletes those never read again, so the tables hold only what may still be used.

Run by the `retention` timer (function_app.py). Rows are read a page at a time (memory stays flat) and each is
deleted only if unchanged since it was read (its ETag): a session in use at that moment is left alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pipeline.ports import Entity, Stale, TableStore
from pipeline.records.names import TABLE_SESSIONS, TABLE_WORKSPACE
from workspace.sessions import ABSOLUTE, ANONYMOUS, IDLE, IP_WINDOW

PAGE = 500


@dataclass
class SweptSignIns:
    sessions: int = 0
    resets: int = 0
    throttles: int = 0


def _rows(tables: TableStore, table: str, partition: str) -> Iterator[Entity]:
    after = ""
    while True:
        page = tables.scan(table, partition, after=after, limit=PAGE)
        yield from page
        if len(page) < PAGE:
            return
        after = str(page[-1]["RowKey"])


def _at(row: Entity, name: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(row.get(name)))
    except ValueError:
        return None


def _delete(tables: TableStore, table: str, row: Entity) -> int:
    try:
        tables.delete(table, str(row["PartitionKey"]), str(row["RowKey"]), etag=str(row["etag"]))
    except Stale:
        return 0  # used meanwhile: not expired after all
    return 1


def _session_expired(row: Entity, now: dt.datetime) -> bool:
    created, seen = _at(row, "CreatedAt"), _at(row, "SeenAt")
    if created is None or seen is None:
        return True  # unreadable: Sessions.get could never accept it
    limit = ABSOLUTE if row.get("Stage") == "full" else ANONYMOUS
    return now - created > limit or now - seen > IDLE


def sweep_sign_ins(tables: TableStore, *, now: Callable[[], dt.datetime] | None = None) -> SweptSignIns:
    """Delete expired sessions (256 partitions, by the first two hex digits of the id's hash), reset links past
    their expiry, and throttle rows whose window has closed."""
    at = (now or (lambda: dt.datetime.now(dt.UTC)))()
    swept = SweptSignIns()
    for partition in (f"{n:02x}" for n in range(256)):
        swept.sessions += sum(_delete(tables, TABLE_SESSIONS, row) for row in _rows(tables, TABLE_SESSIONS, partition)
                              if _session_expired(row, at))
    for row in _rows(tables, TABLE_WORKSPACE, "reset"):
        expires = _at(row, "ExpiresAt")
        if expires is None or expires < at:
            swept.resets += _delete(tables, TABLE_WORKSPACE, row)
    for row in _rows(tables, TABLE_WORKSPACE, "throttle"):
        started = _at(row, "WindowStart")
        if started is None or at - started >= IP_WINDOW:
            swept.throttles += _delete(tables, TABLE_WORKSPACE, row)
    return swept
