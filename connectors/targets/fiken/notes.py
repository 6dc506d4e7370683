"""Where `find` looks in Fiken: the dates we posted a reference with, noted before each POST.

Fiken has no external key on a journal entry and no search by text; what it lists is journal entries by date
(`GET /journalEntries?date=…`, with `createdDateGe` to leave out older ones), and ours carry our reference at the
start of their description (mapping.marker). `find(reference)` is only given the reference, so before a voucher
is posted its date is noted here — in the ledger table, beside the idempotency ledger's own entry, in a
partition of its own — and `find` searches exactly those dates, from the day of the first note on. A reference
with no note was never sent by us, so `find` answers "not there" without asking Fiken.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from connectors.targets.fiken.mapping import NAME
from pipeline.errors import TransientError
from pipeline.ledger import ledger_key
from pipeline.names import TABLE_LEDGER
from pipeline.ports import Conflict, TargetContext

PARTITION = f"{NAME}|dates"
MEMORY = "fiken-dates"  # the connection cache's key where there is no table (unit tests)


@dataclass(frozen=True)
class Note:
    dates: tuple[dt.date, ...]  # every date a POST of the reference was (or may have been) made with
    since: dt.date  # the first note's day (UTC): entries created before it are not ours


def remember(context: TargetContext, reference: str, day: dt.date) -> None:
    """Note that `reference` is about to be posted dated `day`; raises TransientError when it cannot be noted
    (the POST must not go out unnoted, or a retry after an unknown outcome would not know where to look)."""
    today = dt.datetime.now(dt.UTC).date()
    tables = context.tables
    if tables is None:
        held: dict[str, Any] = context.cache.setdefault(MEMORY, {})
        old = held.get(reference)
        held[reference] = Note(tuple(sorted({*(old.dates if old else ()), day})), old.since if old else today)
        return
    partition, row = ledger_key(context.tenant, PARTITION, reference)
    fresh = {"PartitionKey": partition, "RowKey": row, "Reference": reference, "Dates": day.isoformat(),
             "Since": today.isoformat()}
    try:
        try:
            tables.insert(TABLE_LEDGER, fresh)  # the common case: one write
            return
        except Conflict:
            entity = tables.get(TABLE_LEDGER, partition, row) or {}
        dates = {d for d in str(entity.get("Dates") or "").split(",") if d}
        if day.isoformat() in dates:
            return
        tables.upsert(TABLE_LEDGER, {**fresh, "Dates": ",".join(sorted(dates | {day.isoformat()})),
                                     "Since": str(entity.get("Since") or today.isoformat())})
    except Exception as exc:
        raise TransientError(f"could not note the date of {reference} before posting it ({type(exc).__name__}); "
                             "not posting now", tenant=context.tenant, reference=reference, connector=NAME) from exc


def recall(context: TargetContext, reference: str) -> Note | None:
    """The dates `reference` was posted with, or None when it never was (by this tenant, through this connector)."""
    tables = context.tables
    if tables is None:
        found: Note | None = context.cache.get(MEMORY, {}).get(reference)
        return found
    partition, row = ledger_key(context.tenant, PARTITION, reference)
    entity = tables.get(TABLE_LEDGER, partition, row)
    if not entity:
        return None
    dates = tuple(dt.date.fromisoformat(d) for d in sorted(str(entity.get("Dates") or "").split(",")) if d)
    return Note(dates, dt.date.fromisoformat(str(entity["Since"]))) if dates else None
