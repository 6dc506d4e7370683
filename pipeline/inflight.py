"""Envelopes in flight: every queue message has a row until its step is recorded, so a crash loses nothing.

Queue output bindings send only after a function returns, so a host that dies after a step's trace rows
but before its messages leave would leave documents at that step forever; a host that dies while a stage
runs holds its message invisible for ten minutes. Two kinds of rows fix both (the why and the numbers:
docs/decisions/0003-nothing-lost-nothing-stuck.md, and what they cost: docs/decisions/0005-storage-operations.md):

- an **envelope row** (`~msg|<envelope id>`) in its receipt's trace partition, holding the envelope itself:
  written in the same entity-group transaction as the trace rows of the step that sends it, and deleted
  in the same transaction as the trace rows of the step that takes it (`commit`). So while a document is
  on its way exactly one row says which message carries it, and a step is recorded with where its
  documents go next or not at all. A copy of an envelope whose row is gone has been overtaken — the
  sweeper's copy moved it on, or the original came back later — and is dropped; a commit that finds the
  row gone (two copies at once) changes nothing.
- an **index row** per receipt in TABLE_INFLIGHT (PartitionKey tenant, RowKey receipt), written before the
  receipt's first envelope and removed once it has none left: what the sweeper reads, without ever
  scanning the trace table. `Due` says when to look at it next.

A stage that runs longer than RENEW_AFTER renews `LeaseUntil` on its envelope's row, so the sweeper leaves
a living stage alone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pipeline.envelope import Enclosure, Envelope, trace_id
from pipeline.leases import KEEPER
from pipeline.ports import MAX_TRANSACTION, Entity, Operation, Stale, TableStore
from pipeline.records import documents
from pipeline.records.names import TABLE_INFLIGHT, TABLE_TRACE
from pipeline.records.trace import INFORMATIONAL, STATUS_OF, TraceEntry, partition, where

log = logging.getLogger("bilagsbro.pipeline")

STALL = dt.timedelta(seconds=45)  # no progress for this long, no live lease, not waiting in a queue: lost
STAGE_LEASE = dt.timedelta(seconds=30)  # how long a renewal keeps a running stage safe from the sweeper
RENEW_AFTER = 10.0  # seconds a stage runs before it first renews its lease (short stages never do)
RENEW_EVERY = 10.0
ENVELOPE_ROW = "~msg|"


class Overtaken(Exception):
    """The envelope's row is gone: another copy of it was taken and recorded first."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    """Fixed-width UTC text, so that text order is time order (Table Storage compares strings)."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def parse(text: object) -> dt.datetime | None:
    if not text:
        return None
    moment = dt.datetime.fromisoformat(str(text))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Send:
    """An envelope a step sends on: to `queue`, visible after `delay` seconds."""

    queue: str
    envelope: Envelope
    delay: float = 0.0


# -- the index --------------------------------------------------------------------------------------


def open_journey(tables: TableStore, tenant: str, receipt: str, *, stall: dt.timedelta = STALL) -> None:
    """The receipt's index row: before its first envelope row, so a crash from here on loses nothing."""
    at = now()
    tables.upsert(TABLE_INFLIGHT, {"PartitionKey": tenant, "RowKey": receipt, "Since": iso(at),
                                   "Due": iso(at + stall)})


def close_if_done(tables: TableStore, tenant: str, receipt: str) -> bool:
    """Remove the receipt's index row when no envelope of it is on its way any more; True when it went.

    The ETag keeps a journey that another step opened again meanwhile (a retry) from losing its row.
    """
    index = tables.get(TABLE_INFLIGHT, tenant, receipt)
    if index is None:
        return True
    if tables.query(TABLE_TRACE, partition(tenant, receipt), ENVELOPE_ROW):
        return False
    try:
        tables.delete(TABLE_INFLIGHT, tenant, receipt, etag=str(index["etag"]))
    except Stale:
        return False
    return True


# -- envelope rows ----------------------------------------------------------------------------------


def envelope_key(env: Envelope) -> tuple[str, str]:
    """(PartitionKey, RowKey) of an envelope's row: in its receipt's trace partition."""
    return partition(env.tenant, env.receipt), f"{ENVELOPE_ROW}{env.id}"


def envelope_row(send: Send) -> Entity:
    env = send.envelope
    key, row = envelope_key(env)
    return {"PartitionKey": key, "RowKey": row, "Queue": send.queue, "Body": env.to_json(),
            "At": iso(now() + dt.timedelta(seconds=send.delay)), "Documents": len(env.documents)}


def pending(tables: TableStore, env: Envelope) -> Entity | None:
    """The envelope's row while it is on its way; None once a step has taken it (one read)."""
    if env.id is None:
        return {}  # from before envelopes had rows: nothing to tell by
    return tables.get(TABLE_TRACE, *envelope_key(env))


def overtaken(tables: TableStore, env: Envelope, dequeue_count: int | None) -> bool:
    """True for a message that a copy has already taken: drop it, do nothing.

    Only a message that may be such a copy is looked at (one read): a redelivered one (the host that had
    it died, or it failed before) and the sweeper's own copies. The rest cost nothing.
    """
    if (dequeue_count or 1) <= 1 and not env.requeued:
        return False
    return pending(tables, env) is None


def commit(tables: TableStore, tenant: str, receipt: str, entries: Sequence[TraceEntry], *,
           sends: Sequence[Send] = (), taken: Envelope | None = None, progress: int | None = None) -> None:
    """A step: its trace rows, the rows of the envelopes it sends on, and the end of the one it took (`taken`),
    in one entity-group transaction — so a step is recorded with where its documents go next, or not at all.

    `progress` (with `taken` a file still being split) records the parts sent so far instead of ending it.
    Raises Overtaken when `taken`'s row is gone: a copy of that envelope got there first, and nothing of
    this step was written. Rows of documents from before the per-receipt layout are written on their own.
    """
    home = partition(tenant, receipt)
    rows: list[Operation] = []
    for entry in entries:
        entity = entry.entity()
        if entity["PartitionKey"] == home:
            rows.append(("upsert", entity))
        else:
            tables.insert_many(TABLE_TRACE, [entity])
    last: list[Operation] = [("create", envelope_row(send)) for send in sends if send.envelope.id is not None]
    if taken is not None and taken.id is not None:
        key, row = envelope_key(taken)
        if progress is not None:
            last.append(("merge", {"PartitionKey": key, "RowKey": row, "Progress": progress}))
        else:
            last.append(("delete", {"PartitionKey": key, "RowKey": row}))
    room = MAX_TRANSACTION - len(last)
    while len(rows) > room:  # more than one transaction holds: the trace rows first, the hand-over last
        head, rows = rows[:MAX_TRANSACTION], rows[MAX_TRANSACTION:]
        tables.transact(TABLE_TRACE, head)
    try:
        tables.transact(TABLE_TRACE, rows + last)
    except Stale as exc:
        if taken is not None and exc.index is not None and exc.index >= len(rows):
            raise Overtaken(f"envelope {taken.id} of {tenant}/{receipt} was taken by a copy") from None
        raise
    index(tables, tenant, entries)


def index(tables: TableStore, tenant: str, entries: Sequence[TraceEntry]) -> None:
    """The document index brought up to date with steps just recorded: one transaction for all of them.

    After the trace, never before: the index may lag a step it missed (a host dying in between) but never
    shows one that did not happen; the document's own trace, which its page reads, is always whole.
    """
    documents.write(tables, documents.operations(
        tenant, ((e.document_id, e.step, e.detail, e.listing) for e in entries if e.document_id.startswith("d-")),
        STATUS_OF, INFORMATIONAL))
    problems_index(tables, tenant, entries)


def problems_index(tables: TableStore, tenant: str, entries: Sequence[TraceEntry]) -> None:
    """The problems index (pipeline/records/problems.py) brought up to date: a blocked, failed or poisoned step
    writes its document's causes (blind, no read); a resubmission takes them away (a point read per document).
    Every other step — a delivery above all — costs it nothing."""
    from pipeline.problems import causes_of
    from pipeline.records import problems

    ours = [e for e in entries if e.document_id.startswith("d-")]
    again = [e.document_id for e in ours if e.step == "resubmitted"]
    if again:
        problems.clear(tables, tenant, again)
    rows: list[Operation] = []
    for entry in ours:
        if entry.step in problems.PROBLEM_STEPS:
            rows += problems.rows_for(tenant, entry.document_id, entry.step, causes_of(entry.step, entry.detail),
                                      entry.reference)
    if rows:
        problems.write(tables, rows)


def settle(tables: TableStore, env: Envelope, entries: Sequence[TraceEntry], sends: Sequence[Send] = (), *,
           ended: bool | None = None) -> None:
    """A stage's step on `env`, and the receipt's journey closed if that was its last envelope.

    `ended`: whether none of `env`'s documents goes on (default: it sends nothing on).
    """
    commit(tables, env.tenant, env.receipt, entries, sends=sends, taken=env)
    if not sends if ended is None else ended:
        close_if_done(tables, env.tenant, env.receipt)


def note_failure(tables: TableStore, env: Envelope, entries: Sequence[TraceEntry], error: dict[str, object]) -> None:
    """A try that failed: its trace rows, and the error on the envelope's row (what the poison handler reports)."""
    import json

    ops: list[Operation] = [("upsert", e.entity()) for e in entries]
    if env.id is not None:
        key, row = envelope_key(env)
        ops.append(("merge", {"PartitionKey": key, "RowKey": row,
                              "LastError": json.dumps(error, ensure_ascii=False)[:8000]}))
    home = partition(env.tenant, env.receipt)
    if all(op[1]["PartitionKey"] == home for op in ops) and len(ops) <= MAX_TRANSACTION:
        tables.transact(TABLE_TRACE, ops)
    else:
        tables.insert_many(TABLE_TRACE, [e.entity() for e in entries])
    index(tables, env.tenant, entries)


def renew(tables: TableStore, env: Envelope, *, lease: dt.timedelta = STAGE_LEASE) -> bool:
    """Push a running stage's lease forward; False when its envelope was taken by a copy meanwhile."""
    if env.id is None:
        return True
    key, row = envelope_key(env)
    try:
        tables.transact(TABLE_TRACE, [("merge", {"PartitionKey": key, "RowKey": row, "LeaseUntil": iso(now() + lease)})])
    except Stale:
        return False
    return True


@contextmanager
def stage_lease(tables: TableStore, env: Envelope) -> Iterator[None]:
    """Hold the envelope's lease while a stage runs (renewed only if it runs past RENEW_AFTER)."""
    what = f"{env.tenant}/{env.receipt}/{env.id}"
    with KEEPER.hold(lambda: renew(tables, env), after=RENEW_AFTER, every=RENEW_EVERY, what=what):
        yield


def receipt_of(tenant: str, subject: str) -> str:
    """The receipt whose partition holds a subject's rows (a document from before: its own id)."""
    return where(tenant, subject)[0].split("|", 1)[1]


@dataclass
class Done:
    """What a stage made of an envelope: each document's step, and where its documents go next."""

    entries: list[TraceEntry] = field(default_factory=list)
    onward: list[Envelope] = field(default_factory=list)  # to the stage's output queue (its output binding)
    recorded: list[Envelope] = field(default_factory=list)  # ... and those whose rows the stage wrote itself
    sends: list[Send] = field(default_factory=list)  # sent by the stage itself: back a stage, or after a delay
    failures: list[tuple[Enclosure, BaseException]] = field(default_factory=list)  # passing faults, per document

    def step(self, env: Envelope, enclosure: Enclosure | None, step: str, detail: dict[str, Any],
             reference: str | None = None) -> None:
        subject = enclosure.id if enclosure is not None else env.receipt
        self.entries.append(TraceEntry(env.tenant, subject, step, detail, reference=reference or (
            enclosure.reference if enclosure is not None else None), receipt=env.receipt,
            attempt=enclosure.attempt if enclosure is not None else 1, trace_id=trace_id(env.traceparent)))


def alone(env: Envelope, enclosure: Enclosure, **changes: Any) -> Envelope:
    """One document of an envelope in an envelope of its own (a retry, a wait, a way back)."""
    return env.next(documents=(enclosure,), **changes)
