"""Scheduled pulls: take every changed record of a source's change feed once, resuming where the last run stopped.

A timer calls `pull` with a feed (e.g. the Omnium client), the state table and a `receive` callback that
durably stores a batch of raw records and enqueues them. The contract:

- **Watermark** `(modified, record id)` in TABLE_STATE, advanced only after `receive(batch)` has returned,
  one batch (one page) at a time. A run that dies half way — the source fails, `receive` raises, the host is
  killed — leaves the watermark at the last batch received, and the next run resumes from there.
- **Window** `[watermark - overlap, now - safety_margin]`. The window ends in the past so orders committed
  late, or stamped by a clock running behind ours, are already visible when we read their time. The overlap
  is read again on every run; what was already taken there is recognised by the **seen set** — the
  (id, modified) pairs taken within the overlap, kept with the watermark — and dropped, while a record that
  turns up there late (modified at or before the watermark, never taken) is taken now. Before the overlap
  the (time, id) watermark alone decides: a record at or before it is taken already.
- **Keyset paging**: each page asks for `modified ≥ the last time read` (and pages by number only through a
  run of records sharing one timestamp). Page numbers over a live window would shift when an order in it
  changes (it leaves the window and everything behind it moves up one place), silently skipping one.
- **Lease and ETag**: a run first claims a lease on the state entity (insert or ETag-guarded update); a second
  run while the lease is held does nothing. Every watermark advance is an ETag-guarded update that also
  renews the lease; if it fails (Stale) another run has taken over after our lease expired, and this run stops
  at once. The batch it had just received is then received twice — the only duplicate this design admits,
  and a harmless one: `receive` stores raw records by id and version, and the ledger dedupes the mapped
  documents by reference.
- A changed record (new modified time) is taken again as a new version; deciding what a new version of an
  already booked order means is the mapping's and the ledger's business, not the pull's.

Timers run in UTC; everything here is UTC. This module uses only ports, never a connector.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline.ports import Conflict, Entity, Stale, TableStore
from pipeline.records.names import TABLE_STATE

LEASE = dt.timedelta(minutes=10)
OVERLAP = dt.timedelta(minutes=10)
SAFETY_MARGIN = dt.timedelta(minutes=2)
FIRST_LOOKBACK = dt.timedelta(days=1)
MAX_SEEN = 2000  # (id, modified) pairs remembered in the overlap; the oldest are forgotten past this
_CHUNK = 30_000  # characters per string property (Table Storage allows 64 KiB of UTF-16 per property)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

Record = dict[str, Any]
Key = tuple[dt.datetime, str]


class ChangeFeed(Protocol):
    """A source that lists records changed within a time window, oldest change first."""

    page_size: int

    def changed(self, since: dt.datetime, until: dt.datetime, *, page: int = 0) -> list[Record]:
        """Records with since ≤ modified ≤ until, ascending by modified, page `page` of `page_size`."""
        ...

    def key(self, record: Mapping[str, Any]) -> Key:
        """(modified, id) of a record: modified is an aware datetime."""
        ...


@dataclass
class PullResult:
    """What one run did, for the trace and the timer's log line."""

    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    received: int = 0  # records handed to receive()
    batches: int = 0
    pages: int = 0
    dropped: int = 0  # re-read in the overlap, already taken
    late: int = 0  # at or before the watermark yet never taken: taken now (late commit or skewed clock)
    watermark: Key | None = None
    skipped: str | None = None  # why the run did nothing
    lease_lost: bool = False  # another run took over; this one stopped


def _micros(moment: dt.datetime) -> int:
    delta = moment.astimezone(dt.UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(value: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=value)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _parse(text: Any) -> dt.datetime | None:
    if not text:
        return None
    moment = dt.datetime.fromisoformat(str(text))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def state_key(tenant: str, source: str) -> tuple[str, str]:
    """(PartitionKey, RowKey) of a pull's state entity in TABLE_STATE."""
    return tenant, f"pull-{source}"


@dataclass
class _State:
    watermark: Key | None = None
    seen_since: int | None = None  # micros; the seen set covers every record taken at or after this time
    seen: dict[str, int] = field(default_factory=dict)  # record id → modified (micros) of the taken version
    received_total: int = 0

    @classmethod
    def read(cls, entity: Entity) -> _State:
        state = cls(received_total=int(entity.get("Received") or 0))
        modified = _parse(entity.get("Modified"))
        if modified is not None:
            state.watermark = (modified, str(entity.get("RecordId") or ""))
        since = _parse(entity.get("SeenSince"))
        state.seen_since = _micros(since) if since else None
        text = "".join(str(entity.get(f"Seen{i}") or "") for i in range(int(entity.get("SeenChunks") or 0)))
        for line in text.splitlines():
            micros, _, record_id = line.partition(" ")
            state.seen[record_id] = int(micros)
        return state

    def properties(self) -> dict[str, Any]:
        text = "\n".join(f"{micros} {record_id}" for record_id, micros in sorted(self.seen.items(), key=lambda i: i[1]))
        chunks = [text[i:i + _CHUNK] for i in range(0, len(text), _CHUNK)]
        props: dict[str, Any] = {f"Seen{i}": chunk for i, chunk in enumerate(chunks)}
        props["SeenChunks"] = len(chunks)
        props["Received"] = self.received_total
        if self.watermark is not None:
            props["Modified"] = _iso(self.watermark[0])
            props["RecordId"] = self.watermark[1]
        if self.seen_since is not None:
            props["SeenSince"] = _iso(_from_micros(self.seen_since))
        return props

    def taken(self, key: Key) -> bool:
        modified, record_id = key
        micros = _micros(modified)
        if self.seen.get(record_id) == micros:
            return True
        if self.watermark is None:
            return False
        before_watermark = (micros, record_id) <= (_micros(self.watermark[0]), self.watermark[1])
        return before_watermark and (self.seen_since is None or micros < self.seen_since)

    def advance(self, keys: Sequence[Key], overlap: dt.timedelta, max_seen: int) -> None:
        for modified, record_id in keys:
            self.seen[record_id] = _micros(modified)
            if self.watermark is None or (_micros(modified), record_id) > (
                _micros(self.watermark[0]), self.watermark[1]
            ):
                self.watermark = (modified, record_id)
        assert self.watermark is not None
        floor = _micros(self.watermark[0] - overlap)
        self.seen_since = max(self.seen_since or floor, floor)
        self.seen = {rid: m for rid, m in self.seen.items() if m >= self.seen_since}
        if len(self.seen) > max_seen:
            # Forget the oldest; from just past the oldest kept time the (time, id) watermark decides.
            kept = sorted(self.seen.items(), key=lambda item: item[1])[-max_seen:]
            self.seen = dict(kept)
            self.seen_since = kept[0][1] + 1


def read_watermark(tables: TableStore, *, tenant: str, source: str) -> Key | None:
    """The (modified, id) up to which the source has been taken, or None before the first run."""
    entity = tables.get(TABLE_STATE, *state_key(tenant, source))
    return _State.read(entity).watermark if entity else None


def _acquire(
    tables: TableStore, tenant: str, source: str, holder: str, now: dt.datetime, lease: dt.timedelta
) -> tuple[Entity, str] | str:
    """Claims the lease; returns (entity, etag), or the reason another run keeps it."""
    partition, row = state_key(tenant, source)
    lease_props = {"LeaseHolder": holder, "LeaseUntil": _iso(now + lease)}
    entity = tables.get(TABLE_STATE, partition, row)
    if entity is None:
        entity = {"PartitionKey": partition, "RowKey": row, **lease_props}
        try:
            return entity, tables.insert(TABLE_STATE, entity)
        except Conflict:
            return "another run created the pull state first"
    until = _parse(entity.get("LeaseUntil"))
    if until is not None and until > now and entity.get("LeaseHolder") != holder:
        return f"another run holds the lease until {_iso(until)}"
    etag = str(entity.pop("etag"))
    entity.update(lease_props)
    try:
        return entity, tables.update(TABLE_STATE, entity, etag=etag)
    except Stale:
        return "another run took the lease first"


def pull(
    feed: ChangeFeed,
    *,
    tables: TableStore,
    tenant: str,
    source: str,
    receive: Callable[[list[Record]], None],
    now: dt.datetime,
    overlap: dt.timedelta = OVERLAP,
    safety_margin: dt.timedelta = SAFETY_MARGIN,
    start: dt.datetime | None = None,
    lease: dt.timedelta = LEASE,
    holder: str | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    max_seen: int = MAX_SEEN,
    settle: Callable[[PullResult, Callable[[], bool]], None] | None = None,
) -> PullResult:
    """Takes what changed in the feed since the watermark, up to `now - safety_margin`, batch by batch.

    `start` is where the very first run begins (default: one day before the window end). `clock` times the
    lease (default: the real UTC clock); `now` only places the window. Exceptions from the feed or from
    `receive` propagate after the lease is released; the watermark then stands at the last batch received.

    `settle(result, renew)` runs once the whole window has been received, **while the lease is still held**:
    work that needs everything up to the window's end (closing daily summaries) belongs there, never after
    a run that was skipped, stopped half way or lost its lease. `renew()` extends the lease (an ETag-guarded
    update) and answers False when another run has taken over; call it before each step that must not run
    twice at once.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (timers run in UTC)")
    clock = clock or (lambda: dt.datetime.now(dt.UTC))
    holder = holder or uuid.uuid4().hex
    end = now.astimezone(dt.UTC) - safety_margin
    claim = _acquire(tables, tenant, source, holder, clock(), lease)
    if isinstance(claim, str):
        return PullResult(window_end=end, skipped=claim)
    entity, etag = claim
    state = _State.read(entity)
    if state.watermark is None:
        since = (start or end - FIRST_LOOKBACK).astimezone(dt.UTC)
    else:
        since = state.watermark[0] - overlap
    result = PullResult(window_start=since, window_end=end, watermark=state.watermark)
    cursor, page = since, 0

    def renew() -> bool:
        nonlocal entity, etag
        if result.lease_lost:
            return False
        entity = {**entity, "LeaseHolder": holder, "LeaseUntil": _iso(clock() + lease)}
        try:
            etag = tables.update(TABLE_STATE, entity, etag=etag)
        except Stale:
            result.lease_lost = True
            return False
        return True

    try:
        while cursor <= end:
            records = feed.changed(cursor, end, page=page)
            result.pages += 1
            fresh: list[Record] = []
            keys: list[Key] = []
            for record in records:
                key = feed.key(record)
                if key[0] > end or key[0] < since:
                    continue  # outside the window: the source's bounds may be looser than ours
                if state.taken(key) or key in keys:
                    result.dropped += 1
                    continue
                if state.watermark is not None and (_micros(key[0]), key[1]) <= (
                    _micros(state.watermark[0]), state.watermark[1]
                ):
                    result.late += 1
                fresh.append(record)
                keys.append(key)
            if fresh:
                receive(fresh)
                state.advance(keys, overlap, max_seen)
                state.received_total += len(fresh)
                entity = {**{k: v for k, v in entity.items() if not k.startswith("Seen")}, **state.properties(),
                          "LeaseHolder": holder, "LeaseUntil": _iso(clock() + lease), "UpdatedAt": _iso(clock())}
                try:
                    etag = tables.update(TABLE_STATE, entity, etag=etag)
                except Stale:
                    result.lease_lost = True
                    return result
                result.received += len(fresh)
                result.batches += 1
                result.watermark = state.watermark
            if len(records) < feed.page_size:
                break
            last = feed.key(records[-1])[0]
            if last > cursor:
                cursor, page = last, 0
            else:  # a whole page shares one timestamp: page through it by number
                page += 1
        if settle is not None and renew():
            settle(result, renew)
        return result
    finally:
        if not result.lease_lost:
            try:
                tables.update(TABLE_STATE, {**entity, "LeaseUntil": _iso(clock())}, etag=etag)
            except Stale:
                pass
