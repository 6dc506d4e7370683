"""Our own note of each journal transaction about to be sent, so that `find` knows where to look for it.

Visma.net has no idempotency key and cannot search journal transactions by reference: `GET /v2/journaltransaction`
filters by financial period (`periodId`) or by `lastModifiedDateTime`, module, status and branch only (spec
2025-04-24). Our reference travels in every line's `referenceNumber`, and `find` lists one period's transactions
modified since the first attempt and keeps those carrying it. Which period and since when: this note, written
before the first POST (an insert; later attempts keep the first note). No note means nothing was ever sent for
the reference through this connector — `find` answers None without asking Visma.net.

The note lives in the idempotency ledger's table under its own partition (`<tenant>|visma-net|sent`); one
storage operation per voucher.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.targets.visma_net.mapping import NAME
from pipeline.ledger import ledger_key
from pipeline.names import TABLE_LEDGER
from pipeline.ports import Conflict, Entity, TargetContext


def key(tenant: str, reference: str) -> tuple[str, str]:
    partition, row = ledger_key(tenant, NAME, reference)
    return f"{partition}|sent", row


def remember(context: TargetContext, reference: str, period: str | None, *, now: dt.datetime | None = None) -> None:
    """Note that `reference` is about to be sent into `period` (kept from the first attempt)."""
    if context.tables is None:
        return
    partition, row = key(context.tenant, reference)
    entity: Entity = {"PartitionKey": partition, "RowKey": row, "Reference": reference, "Period": period or "",
                      "SentAt": (now or dt.datetime.now(dt.UTC)).isoformat()}
    try:
        context.tables.insert(TABLE_LEDGER, entity)
    except Conflict:
        pass  # an earlier attempt's note: its time is the earlier, so the search window covers both


def recall(context: TargetContext, reference: str) -> dict[str, Any] | None:
    """The note for `reference`, or None when nothing was sent for it; {} when there is no table to ask."""
    if context.tables is None:
        return {}
    partition, row = key(context.tenant, reference)
    return context.tables.get(TABLE_LEDGER, partition, row)


def since(note: dict[str, Any], *, today: dt.date | None = None) -> dt.date:
    """The first day whose modifications `find` lists: a day before the note (time zones and clocks apart), or a
    week back when there is no note to go by."""
    try:
        sent = dt.datetime.fromisoformat(str(note["SentAt"])).date()
    except (KeyError, ValueError):
        return (today or dt.date.today()) - dt.timedelta(days=7)
    return sent - dt.timedelta(days=1)
