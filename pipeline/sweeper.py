"""The sweeper: an envelope whose progress stalled is queued again, so no document stays stuck after a crash.

A timer calls `sweep` (every 15 s by default). It reads only index rows that are due (a scan of the small
TABLE_INFLIGHT, one row per receipt on its way, never of the trace) and, for each, the receipt's envelope
rows (one range read of its trace partition). An envelope is sent again — exactly as its row keeps it —
when all of these hold:

- no progress for `stall` (it was sent, or last sent again, longer ago), and no stage holds a live lease
  on it;
- it is not visibly waiting: its queue holds no visible message sent at or before it (+ SEND_MARGIN, for
  output bindings that send after the function returns). So a backlog is waited out, while a message that
  never left (the host died before its output binding fired) or that a dead host holds invisible for ten
  minutes is sent again.

A copy made while the original still lives is harmless: a copy that has been overtaken is dropped, a step
is recorded only while its envelope's row is there (pipeline/inflight.py), and delivery goes through the
idempotency ledger. An envelope sent again MAX_REQUEUES times without getting anywhere (it takes its worker
down with it) is poisoned with the reason in its documents' traces. A receipt with no envelope left loses
its index row.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace

from pipeline.envelope import Envelope, trace_id
from pipeline.errors import ConfigError
from pipeline.inflight import ENVELOPE_ROW, STALL, Overtaken, close_if_done, commit, iso, now, parse
from pipeline.ports import Entity, Stale, Stores
from pipeline.records.names import TABLE_INFLIGHT, TABLE_TRACE
from pipeline.records.trace import TraceEntry, TraceLog, partition

log = logging.getLogger("bilagsbro.pipeline")
SEND_MARGIN = dt.timedelta(seconds=10)
MAX_REQUEUES = 6
LIMIT = 1000  # index rows looked at per run; the rest wait for the next run


@dataclass
class SweepReport:
    looked: int = 0
    requeued: list[str] = field(default_factory=list)  # "tenant/receipt/envelope"
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
            pass  # another sweeper (or a stage) changed the row first: it is in hand
        except Exception:  # one bad row must not stop the rest
            log.exception("sweeping %s/%s failed", row.get("PartitionKey"), row.get("RowKey"))
    return report


def _look(stores: Stores, index: Entity, at: dt.datetime, stall: dt.timedelta,
          backlog: dict[str, dt.datetime | None], report: SweepReport) -> None:
    tables = stores.tables
    tenant, receipt = index["PartitionKey"], index["RowKey"]
    since = parse(index.get("Since")) or at
    envelopes = tables.query(TABLE_TRACE, partition(tenant, receipt), ENVELOPE_ROW)
    if not envelopes:
        # Its journey ended (its last step could not remove the row), or the host died after opening it and
        # before its first envelope: nothing was received that could go on. Give a writer its time, then go.
        if at - since < stall:
            _push(stores, index, since + stall)
            report.deferred += 1
        elif close_if_done(tables, tenant, receipt):
            report.cleared += 1
        return
    next_look = at + stall
    for row in envelopes:
        moved = max(parse(row.get("At")) or since, parse(row.get("RequeuedAt")) or since)
        # An envelope sent again waits longer each time before the next copy: 1, 1, 2, 4, ... stalls.
        patience = stall * max(1, 2 ** (int(row.get("Requeued") or 0) - 1))
        lease = parse(row.get("LeaseUntil"))
        if lease is not None and lease > at:
            next_look = min(next_look, lease)
            report.deferred += 1
            continue
        if at - moved < patience:
            next_look = min(next_look, moved + patience)
            report.deferred += 1
            continue
        queue = str(row["Queue"])
        if queue not in backlog:
            assert stores.queues is not None
            backlog[queue] = stores.queues.oldest(queue)
        oldest = backlog[queue]
        if oldest is not None and oldest <= moved + SEND_MARGIN:
            report.deferred += 1  # its message may be among those still waiting
            continue
        _again(stores, row, at, report)
        next_look = min(next_look, at + stall)
    _push(stores, index, max(next_look, at + dt.timedelta(seconds=1)))


def _push(stores: Stores, index: Entity, due: dt.datetime) -> None:
    stores.tables.update(TABLE_INFLIGHT, {**index, "Due": iso(due)}, etag=index["etag"])


def _again(stores: Stores, row: Entity, at: dt.datetime, report: SweepReport) -> None:
    """Send one stalled envelope again (claiming the requeue on its row first), or poison it."""
    tables, queues = stores.tables, stores.queues
    assert queues is not None
    envelope = Envelope.from_json(row["Body"])
    queue = str(row["Queue"])
    requeued = int(row.get("Requeued") or 0)
    name = f"{envelope.tenant}/{envelope.receipt}/{envelope.id}"
    moved = max(parse(row.get("At")) or at, parse(row.get("RequeuedAt")) or at)

    def note(step: str, detail: dict[str, object]) -> list[TraceEntry]:
        attempts = {d.id: d.attempt for d in envelope.documents}
        return [TraceEntry(envelope.tenant, subject, step, detail, receipt=envelope.receipt,
                           attempt=attempts.get(subject, 1), trace_id=trace_id(envelope.traceparent))
                for subject in envelope.subjects]

    if requeued >= MAX_REQUEUES:
        try:
            commit(tables, envelope.tenant, envelope.receipt, note("poisoned", {
                "queue": queue, "requeued": requeued, "gave_up_at": iso(at),
                "last_error": {"kind": "Stalled", "message": f"no progress after being sent again {requeued} times; "
                                                           "the worker stopped each time it took the document"},
                "remedy": "fix the cause, then POST /api/v1/documents/{id}/retry",
            }), taken=envelope)
        except Overtaken:
            return
        close_if_done(tables, envelope.tenant, envelope.receipt)
        report.poisoned.append(name)
        log.error("envelope %s poisoned in %s: stalled after %d requeues", name, queue, requeued)
        return
    # Claim the requeue on the envelope's row first (its ETag: two sweepers never both send), then a note in
    # each document's trace — a note, never a step: status() skips it (pipeline/records/trace.py INFORMATIONAL).
    tables.update(TABLE_TRACE, {**row, "Requeued": requeued + 1, "RequeuedAt": iso(at), "LeaseUntil": None},
                  etag=row["etag"])
    queues.send(queue, replace(envelope, requeued=requeued + 1).to_json())
    TraceLog(tables).write_many(note("requeued", {
        "queue": queue, "envelope": envelope.id, "stalled_since": iso(moved), "requeued": requeued + 1,
        "reason": "no progress and no message waiting: the host working on it stopped, or its message never left; "
                  "sent again"}))
    report.requeued.append(name)
    log.warning("envelope %s stalled since %s: sent again to %s (%d)", name, iso(moved), queue, requeued + 1)
