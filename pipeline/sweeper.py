"""The sweeper: a document whose progress stalled is queued again, so none stays stuck after a crash.

A timer calls `sweep` (every 15 s by default). It reads only index rows that are due (a scan of the
small TABLE_INFLIGHT, never of the trace) and, for each, the document's state row. A document is
sent again — the exact messages its state says it waits on — when all of these hold:

- no progress for `stall` (its last step is older), and no stage holds a live lease on it;
- its message is not visibly waiting: the queue it waits in holds no visible message sent at or
  before its last step (+ SEND_MARGIN, for output bindings that send after the function returns).
  So a backlog is waited out, while a message that never left (the host died before its output
  binding fired) or that a dead host holds invisible for ten minutes is sent again.

A copy made while the original still lives is harmless: the stages are idempotent, a copy that has
been overtaken is dropped (pipeline/inflight.py), and delivery goes through the idempotency ledger.
A document sent again MAX_REQUEUES times without getting anywhere (it takes its worker down with it)
is poisoned with the reason in its trace.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from pipeline.envelope import Envelope, trace_id
from pipeline.errors import ConfigError
from pipeline.inflight import STALL, iso, now, parse, record, state_of
from pipeline.names import TABLE_INFLIGHT
from pipeline.ports import Entity, Stale, Stores
from pipeline.trace import TraceEntry, TraceLog

log = logging.getLogger("bilagsbro.pipeline")
SEND_MARGIN = dt.timedelta(seconds=10)
MAX_REQUEUES = 6
LIMIT = 1000  # index rows looked at per run; the rest wait for the next run


@dataclass
class SweepReport:
    looked: int = 0
    requeued: list[str] = field(default_factory=list)  # "tenant/document"
    deferred: int = 0  # still moving, leased, or possibly waiting behind a backlog
    cleared: int = 0  # journeys that had ended (or never began) but kept their index row
    poisoned: list[str] = field(default_factory=list)


def sweep(stores: Stores, *, at: dt.datetime | None = None, stall: dt.timedelta = STALL,
          limit: int = LIMIT) -> SweepReport:
    """One pass over the due index rows; see the module docstring."""
    if stores.queues is None:
        raise ConfigError("the sweeper needs a queue sender")
    at = at or now()
    report = SweepReport()
    backlog: dict[str, dt.datetime | None] = {}
    # Journeys are opened due after the default STALL; a shorter stall (tests) looks at them that much sooner.
    horizon = at + max(dt.timedelta(0), STALL - stall)
    for row in stores.tables.due(TABLE_INFLIGHT, iso(horizon), limit=limit):
        report.looked += 1
        try:
            _look(stores, row, at, stall, backlog, report)
        except Stale:
            pass  # another sweeper (or a stage's lease) changed the row first: it is in hand
        except Exception:  # one bad row must not stop the rest
            log.exception("sweeping %s/%s failed", row.get("PartitionKey"), row.get("RowKey"))
    return report


def _push(stores: Stores, row: Entity, due: dt.datetime, **changes: Any) -> None:
    stores.tables.update(TABLE_INFLIGHT, {**row, "Due": iso(due), **changes}, etag=row["etag"])


def _look(stores: Stores, row: Entity, at: dt.datetime, stall: dt.timedelta,
          backlog: dict[str, dt.datetime | None], report: SweepReport) -> None:
    tables, queues = stores.tables, stores.queues
    assert queues is not None
    tenant, document = row["PartitionKey"], row["RowKey"]
    state = state_of(tables, tenant, document)
    since = parse(row.get("Since")) or at
    if state is None:
        # Indexed, then the host died before the first trace row: nothing was received that could go on
        # (the sender got no answer). Give the writer its time, then forget the row.
        if at - since < stall:
            _push(stores, row, since + stall)
            report.deferred += 1
        else:
            tables.delete(TABLE_INFLIGHT, tenant, document)
            report.cleared += 1
        return
    waiting = [Envelope.from_json(m) for m in state.get("Next") or ()]
    queue = state.get("Queue")
    if not waiting or not queue:  # the journey ended; its last step could not remove the row
        tables.delete(TABLE_INFLIGHT, tenant, document)
        report.cleared += 1
        return
    # Its last sign of life: its last step, or the copy we sent last (which may still be waiting).
    moved = max(parse(state.get("At")) or since, since, parse(row.get("RequeuedAt")) or since)
    lease = parse(row.get("LeaseUntil"))
    if lease is not None and lease > at:
        _push(stores, row, lease)
        report.deferred += 1
        return
    if at - moved < stall:
        _push(stores, row, moved + stall)
        report.deferred += 1
        return
    if queue not in backlog:
        backlog[queue] = queues.oldest(queue)
    oldest = backlog[queue]
    if oldest is not None and oldest <= moved + SEND_MARGIN:
        _push(stores, row, at + stall)  # its message may be among those still waiting
        report.deferred += 1
        return
    requeued = int(row.get("Requeued") or 0)
    name = f"{tenant}/{document}"
    first = waiting[0]
    if requeued >= MAX_REQUEUES:
        record(tables, [TraceEntry(tenant, document, "poisoned", {
            "queue": queue, "requeued": requeued, "gave_up_at": iso(at),
            "last_error": {"kind": "Stalled", "message": f"no progress after being sent again {requeued} times; "
                                                       "the worker stopped each time it took the document"},
            "remedy": "fix the cause, then POST /api/v1/documents/{id}/retry",
        }, receipt=first.receipt, attempt=first.attempt, trace_id=trace_id(first.traceparent))],
               hop=int(state.get("Hop") or 0))
        report.poisoned.append(name)
        log.error("document %s poisoned in %s: stalled after %d requeues", name, queue, requeued)
        return
    # Claim the requeue on the index row first (ETag): two sweepers never both send.
    _push(stores, row, at + stall * max(1, 2 ** (requeued - 1)), Requeued=requeued + 1, RequeuedAt=iso(at),
          LeaseUntil=None)
    for envelope in waiting:
        queues.send(queue, replace(envelope, requeued=requeued + 1).to_json())
    # A note in the trace, never a step: status() skips it (pipeline/trace.py INFORMATIONAL).
    TraceLog(tables).write(TraceEntry(tenant, document, "requeued", {
        "queue": queue, "messages": len(waiting), "stalled_since": iso(moved), "requeued": requeued + 1,
        "reason": "no progress and no message waiting: the host working on it stopped, or its message never "
                  "left; sent again"}, receipt=first.receipt, attempt=first.attempt,
        trace_id=trace_id(first.traceparent)))
    report.requeued.append(name)
    log.warning("document %s stalled since %s: sent again to %s (%d)", name, iso(moved), queue, requeued + 1)
