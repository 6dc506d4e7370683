"""Where `find` looks in Fortnox: the financial year and date each reference was posted with, noted before the POST.

Fortnox has no external key on a voucher (ReferenceNumber is read-only) and no search by text; it lists a series'
vouchers per financial year (`GET /3/vouchers/sublist/{series}?financialyear=ID`, with `fromdate`/`todate`).
`find(reference)` is given only the reference, so before a voucher is posted its series, financial year and date
are noted here — in the ledger table, in a partition of its own — and `find` searches exactly there. A reference
with no note was never sent by us, so `find` answers "not there" without asking Fortnox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.targets.fortnox.mapping import NAME
from pipeline.errors import TransientError
from pipeline.ledger import ledger_key
from pipeline.names import TABLE_LEDGER
from pipeline.ports import Conflict, TargetContext

PARTITION = f"{NAME}|where"
MEMORY = "fortnox-where"  # the connection cache's key where there is no table (unit tests)


@dataclass(frozen=True)
class Where:
    series: str
    year: int  # Fortnox's financial year id
    day: str  # ISO date


def _joined(places: set[Where]) -> str:
    return ",".join(sorted(f"{w.series}/{w.year}/{w.day}" for w in places))


def _split(text: str) -> set[Where]:
    found = set()
    for part in (p for p in text.split(",") if p):
        series, year, day = part.split("/")
        found.add(Where(series, int(year), day))
    return found


def remember(context: TargetContext, reference: str, where: Where) -> None:
    """Note where `reference` is about to be posted; TransientError when it cannot be noted (the POST must not go
    out unnoted, or a retry after an unknown outcome would not know where to look)."""
    tables = context.tables
    if tables is None:
        held: dict[str, set[Where]] = context.cache.setdefault(MEMORY, {})
        held.setdefault(reference, set()).add(where)
        return
    partition, row = ledger_key(context.tenant, PARTITION, reference)
    fresh = {"PartitionKey": partition, "RowKey": row, "Reference": reference, "Places": _joined({where})}
    try:
        try:
            tables.insert(TABLE_LEDGER, fresh)
            return
        except Conflict:
            entity: dict[str, Any] = tables.get(TABLE_LEDGER, partition, row) or {}
        places = _split(str(entity.get("Places") or ""))
        if where not in places:
            tables.upsert(TABLE_LEDGER, {**fresh, "Places": _joined(places | {where})})
    except Exception as exc:
        raise TransientError(f"could not note where {reference} goes before posting it ({type(exc).__name__}); "
                             "not posting now", tenant=context.tenant, reference=reference, connector=NAME) from exc


def recall(context: TargetContext, reference: str) -> list[Where]:
    """Where `reference` was (or may have been) posted; empty when it never was, by this tenant."""
    tables = context.tables
    if tables is None:
        return sorted(context.cache.get(MEMORY, {}).get(reference, ()), key=lambda w: (w.year, w.day, w.series))
    partition, row = ledger_key(context.tenant, PARTITION, reference)
    entity = tables.get(TABLE_LEDGER, partition, row)
    return sorted(_split(str((entity or {}).get("Places") or "")), key=lambda w: (w.year, w.day, w.series))
