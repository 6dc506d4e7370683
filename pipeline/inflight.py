"""Documents in flight: where each one is headed, so that a crash loses none and leaves none stuck.

Queue output bindings send only after a function returns, so a host that dies after a step's trace
row but before its message leaves would leave the document at that step forever; a host that dies
while a stage runs holds its message invisible for ten minutes. Two rows per document fix both (the
why and the numbers: docs/decisions/0003-nothing-lost-nothing-stuck.md):

- an **index row** in TABLE_INFLIGHT (PartitionKey tenant, RowKey document id), written before the
  document's first trace row and removed by the step that ends its journey: what the sweeper reads,
  without ever reading the trace table. `Due` says when to look at it next, `LeaseUntil` that a
  stage is working on it right now (renewed only by stages that run longer than RENEW_AFTER);
- a **state row** in the document's own trace partition, written in the same entity-group
  transaction as each of its trace rows (no storage operation of its own): the step, when, the hop,
  the queue and the messages the document now waits on — what the sweeper sends again.

Every message carries the hop of the hand-off that sent it. A copy whose hop is below the state's has
been overtaken (the sweeper's copy moved the document on; the original came back later) and is
dropped; only messages that may be such copies (redelivered, or sent by the sweeper) are checked.
A file not yet split into documents has a journey of its own under its receipt id.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from pipeline.envelope import Envelope
from pipeline.leases import KEEPER
from pipeline.names import TABLE_INFLIGHT, TABLE_TRACE
from pipeline.ports import Entity, Stale, TableStore
from pipeline.trace import STATE_ROW, TraceEntry, TraceLog, partition

log = logging.getLogger("bilagsbro.pipeline")

STALL = dt.timedelta(seconds=45)  # no progress for this long, no live lease, not waiting in a queue: lost
STAGE_LEASE = dt.timedelta(seconds=30)  # how long a renewal keeps a running stage safe from the sweeper
RENEW_AFTER = 10.0  # seconds a stage runs before it first renews its lease (short stages never do)
RENEW_EVERY = 10.0


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    """Fixed-width UTC text, so that text order is time order (Table Storage compares strings)."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def parse(text: Any) -> dt.datetime | None:
    if not text:
        return None
    moment = dt.datetime.fromisoformat(str(text))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# -- the index --------------------------------------------------------------------------------------


def open_journeys(tables: TableStore, tenant: str, documents: Sequence[str], *, stall: dt.timedelta = STALL) -> None:
    """Index rows for documents about to start: before their first trace row, in transactions of 100."""
    if not documents:
        return
    at = now()
    tables.insert_many(TABLE_INFLIGHT, [
        {"PartitionKey": tenant, "RowKey": document, "Since": iso(at), "Due": iso(at + stall), "Requeued": 0}
        for document in documents])


def renew(tables: TableStore, tenant: str, document: str, *, lease: dt.timedelta = STAGE_LEASE) -> bool:
    """Push a running stage's lease forward; False when the journey has ended (or was never indexed)."""
    for _ in range(2):
        row = tables.get(TABLE_INFLIGHT, tenant, document)
        if row is None:
            return False
        until = iso(now() + lease)
        try:
            tables.update(TABLE_INFLIGHT, {**row, "LeaseUntil": until, "Due": max(str(row.get("Due", "")), until)},
                          etag=row["etag"])
            return True
        except Stale:  # the sweeper looked at it in between: read it again
            continue
    return True


@contextmanager
def stage_lease(tables: TableStore, env: Envelope) -> Iterator[None]:
    """Hold the document's lease while a stage runs (renewed only if it runs past RENEW_AFTER)."""
    with KEEPER.hold(lambda: renew(tables, env.tenant, env.document), after=RENEW_AFTER, every=RENEW_EVERY,
                     what=f"{env.tenant}/{env.document}"):
        yield


# -- the state --------------------------------------------------------------------------------------


def state_of(tables: TableStore, tenant: str, document: str) -> Entity | None:
    return tables.get(TABLE_TRACE, partition(tenant, document), STATE_ROW)


def hop_of(tables: TableStore, tenant: str, document: str) -> int:
    """The document's current hop (0 when it has no state yet)."""
    state = state_of(tables, tenant, document)
    return int(state.get("Hop") or 0) if state else 0


def record(tables: TableStore, entries: Sequence[TraceEntry], *, hop: int | None, then: Sequence[Envelope] = (),
           queue: str | None = None, again: bool = False, delay: float = 0.0) -> list[Envelope]:
    """Write a document's trace rows together with where it goes next; returns `then`, stamped.

    `hop` is that of the message being handled (None: none, or one from before hops). The messages in
    `then` all go to `queue` with the next hop; none means the journey ends here and its index row
    goes. `again` says the handled message itself comes back (the queue retries it): same hop.
    `delay`: seconds before the messages become visible (a delayed send); the stall counts from then.
    """
    current = hop or 0
    if again:
        waiting = list(then)
    else:
        current += 1
        waiting = [replace(e, hop=current, requeued=None) for e in then]
    first = entries[0]
    TraceLog(tables).write_many(entries, state={
        "Step": entries[-1].step, "At": iso(now() + dt.timedelta(seconds=delay)), "Hop": current,
        "Queue": queue if waiting else None, "Next": [e.to_json() for e in waiting]})
    if not waiting:
        tables.delete(TABLE_INFLIGHT, first.tenant, first.document_id)
    return waiting


def overtaken(tables: TableStore, env: Envelope, dequeue_count: int | None) -> bool:
    """True for a message that a later copy has already moved past: drop it, do nothing.

    Only a message that may be such a copy is looked at (one read): redelivered ones (the host that
    had it died, or it failed before) and the sweeper's own copies. The rest cost nothing.
    """
    if (dequeue_count or 1) <= 1 and not env.requeued:
        return False
    return behind(tables, env)


def behind(tables: TableStore, env: Envelope) -> bool:
    """True when the document has moved past this message's hop (one read)."""
    if env.hop is None:
        return False
    state = state_of(tables, env.tenant, env.document)
    return state is not None and env.hop < int(state.get("Hop") or 0)
