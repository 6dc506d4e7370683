"""What a pulled source has already booked, so that a late or changed record is booked once, as a difference.

Two books, both in TABLE_STATE beside the pull's watermark.

**Daily summaries** (partition `<tenant>|<source>|periods`). Every version of a record that touches a
(store, day) is indexed when it is received (`<store>|<day>|<identity>` → raw blob, record id, modified
time) and marks the day open (`~open|<store>|<day>`). Once the day has closed, `settle` books it. Booking n
of a day is a head row `<store>|<day>|~b|<nnnn>` and one row per record version it took
(`<store>|<day>|~v|<nnnn>|<record>`). What the day has booked is the fold of its committed bookings — per
record, the version its last booking took — and a later run books only what differs from that: records
that arrived late, and records whose newest version is not the one booked. That is a supplement
(`<reference>-2`, `-3`, …) netting the newest versions against the booked ones line by line, so the day's
vouchers always sum to its orders. A change that nets to nothing (a note, a status) is a booking without
a voucher.

Crash safety, in the order the steps run:
1. the version rows of booking n, each carrying the booking's random `Attempt` — harmless alone: rows
   without a committed head of the same Attempt are ignored, and a retry overwrites them;
2. the head row, **inserted**: the commit point (a Conflict means another run booked n: this one stops),
   written `pending` — its voucher not yet queued;
3. the voucher is queued (stored and sent);
4. the head becomes `queued`.
A run killed between 2 and 4 leaves a pending head; the next run rebuilds that voucher from the recorded
versions alone — the same lines, the same reference — and queues it again; if the first copy did go out,
the ledger (keyed on reference) delivers it once. A run killed before 2 leaves nothing that counts. Two
runs never settle at once: settling runs under the pull's lease, renewed before every commit.

**Per record** (mode "order"; partition `<tenant>|<source>|records`, one row per record id): the version
booked last, and how many postings each of its references has had. A new version is mapped; a reference
whose voucher differs from the booked version's gets a correction (`<reference>-korr-1`, …) holding the
difference; a reference seen for the first time (a new return) gets its whole voucher. Here the vouchers
are queued first and the row is written after (insert, or ETag-guarded update): a run killed in between
receives the same version again (the pull's watermark had not moved), computes the same vouchers with the
same references, and the ledger delivers them once.

Booked versions are read back from the raw store, which keeps 90 days. A record changed after its booked
version has left it cannot be netted: that is a problem for an operator, never a guess.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pipeline.errors import Problem
from pipeline.model import Document, Voucher
from pipeline.ports import Conflict, Entity, NotFound, PulledSource, Stale, Stores
from pipeline.pulls.supplements import correction_reference, difference, supplement_reference
from pipeline.records.names import CONTAINER_RECEIVED, TABLE_STATE

# A day is summarised this long after it ended (and after the pull's safety margin): orders committed
# late but stamped before midnight, which the pull's overlap still catches, land in the first voucher.
SETTLE_AFTER = dt.timedelta(minutes=10)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

Key = tuple[dt.datetime, str]  # (modified, record id), as the change feed gives it
Queue = Callable[[Sequence[Document | Problem]], None]


@dataclass(frozen=True)
class Received:
    """One record version as the pull stored it: the raw item, its feed key, identity and blob path."""

    item: Mapping[str, Any]
    key: Key
    identity: str
    blob: str

    @property
    def record(self) -> str:
        return self.key[1]

    @property
    def modified(self) -> int:
        """Microseconds since 1970 (kept as text: Table Storage's integers are 32 bits unless typed)."""
        delta = self.key[0].astimezone(dt.UTC) - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class _Version:
    identity: str
    blob: str
    record: str
    modified: int


@dataclass
class _Day:
    """Everything stored for one (store, day): indexed versions, bookings, a problem report."""

    store: str
    day: str
    versions: dict[str, _Version] = field(default_factory=dict)  # record → its newest version
    by_identity: dict[str, _Version] = field(default_factory=dict)
    heads: dict[int, Entity] = field(default_factory=dict)
    rows: dict[int, dict[str, tuple[str, str]]] = field(default_factory=dict)  # n → record → (identity, attempt)
    blocked: Entity | None = None
    legacy_closed: bool = False

    def taken(self, n: int) -> dict[str, str]:
        attempt = self.heads[n].get("Attempt")
        return {record: identity for record, (identity, a) in self.rows.get(n, {}).items() if a == attempt}

    def booked(self, before: int | None = None) -> dict[str, str]:
        out: dict[str, str] = {}
        for n in sorted(self.heads):
            if before is not None and n >= before:
                break
            out.update(self.taken(n))
        return out

    def changed(self) -> dict[str, str]:
        booked = self.booked()
        return {r: v.identity for r, v in self.versions.items() if booked.get(r) != v.identity}


def _row_key(record: str) -> str:
    """A record id inside a RowKey (Table Storage refuses / \\ # ? and control characters)."""
    return quote(record, safe="-_.:@+()[]æøåÆØÅ")


class Books:
    """One tenant's pulled source: what it has booked, and booking what it has not."""

    def __init__(self, stores: Stores, source: PulledSource, tenant: str, options: Mapping[str, Any],
                 queue: Queue) -> None:
        self.tables, self.blobs = stores.tables, stores.blobs
        self.source, self.tenant, self.options, self.queue = source, tenant, options, queue
        self.days_partition = f"{tenant}|{source.name}|periods"
        self.records_partition = f"{tenant}|{source.name}|records"

    # -- receiving --------------------------------------------------------------------------------

    def index(self, received: Sequence[tuple[Received, set[tuple[str, dt.date]]]]) -> None:
        """Index record versions under every (store, day) they touch; those days are open again."""
        rows: list[Entity] = []
        markers: dict[str, Entity] = {}
        for version, periods in received:
            for store, day in sorted(periods):
                rows.append({"PartitionKey": self.days_partition, "RowKey": f"{store}|{day.isoformat()}|{version.identity}",
                             "Blob": version.blob, "Record": version.record, "Modified": str(version.modified)})
                marker = f"~open|{store}|{day.isoformat()}"
                markers[marker] = {"PartitionKey": self.days_partition, "RowKey": marker}
        if rows:  # markers after the rows they announce (see `_close`)
            self.tables.insert_many(TABLE_STATE, rows + list(markers.values()))

    def book_records(self, received: Sequence[Received]) -> None:
        """Mode "order": each record's newest version, its vouchers or their corrections, queued once."""
        newest: dict[str, Received] = {}
        for version in received:
            if version.record not in newest or (version.modified, version.identity) > (
                    newest[version.record].modified, newest[version.record].identity):
                newest[version.record] = version
        for version in sorted(newest.values(), key=lambda v: (v.modified, v.record)):
            self._book_record(version)

    def _book_record(self, version: Received) -> None:
        row = self.tables.get(TABLE_STATE, self.records_partition, _row_key(version.record))
        if row is not None and int(row.get("Modified") or 0) >= version.modified:
            return  # this version, or a newer one, is booked already
        documents = list(self.source.documents([version.item], self.options))
        problems = [d for d in documents if isinstance(d, Problem)]
        booked: list[Document | Problem] = []
        if row is not None:
            try:
                booked = list(self.source.documents([self.source.load(self.blobs.get(CONTAINER_RECEIVED, row["Blob"]))],
                                                    self.options))
            except NotFound:
                problems.append(_gone(version.record, row["Blob"]))
            problems += [d for d in booked if isinstance(d, Problem)]
        if problems:
            self.queue(problems)
            return
        postings: dict[str, int] = json.loads(row.get("Postings") or "{}") if row else {}
        due = {d.reference: d for d in documents if not isinstance(d, Problem)}
        before = {d.reference: d for d in booked if not isinstance(d, Problem)}
        out: list[Document | Problem] = []
        for reference in [*due, *(r for r in before if r not in due)]:
            now, then = due.get(reference), before.get(reference)
            n = postings.get(reference, 0) + 1
            if not isinstance(now, Voucher | None) or not isinstance(then, Voucher | None):
                if then is None and now is not None:  # not a voucher: posted once, never netted
                    out.append(now)
                    postings[reference] = n
                continue
            model = now or then
            assert model is not None
            description = model.description if n == 1 else f"{model.description or reference} – korreksjon {n - 1}"
            correction = difference(now, then, reference=correction_reference(reference, n), description=description)
            if correction is not None:
                out.append(correction)
                postings[reference] = n
        self.queue(out)
        entity = {"PartitionKey": self.records_partition, "RowKey": _row_key(version.record),
                  "Record": version.record, "Identity": version.identity, "Blob": version.blob,
                  "Modified": str(version.modified), "Postings": json.dumps(postings, ensure_ascii=False)}
        try:
            if row is None:
                self.tables.insert(TABLE_STATE, entity)
            else:
                self.tables.update(TABLE_STATE, entity, etag=str(row["etag"]))
        except (Conflict, Stale):
            pass  # a run that lost its lease recorded the same version at the same time (module docstring)

    # -- settling daily summaries ----------------------------------------------------------------

    def settle(self, window_end: dt.datetime, renew: Callable[[], bool], *,
               settle_after: dt.timedelta = SETTLE_AFTER) -> None:
        """Book every open (store, day) that ended `settle_after` before the window's end."""
        self._adopt_old_layout()
        for marker in self.tables.query(TABLE_STATE, self.days_partition, "~open|"):
            _, store, day = marker["RowKey"].split("|", 2)
            if self.source.period_end(dt.date.fromisoformat(day)) + settle_after > window_end:
                continue
            if not renew():
                return
            self._settle_day(store, day, renew)

    def _read_day(self, store: str, day: str) -> _Day:
        view = _Day(store, day)
        prefix = f"{store}|{day}|"
        for row in self.tables.query(TABLE_STATE, self.days_partition, prefix):
            rest = row["RowKey"][len(prefix):]
            if rest.startswith("~b|"):
                view.heads[int(rest[3:])] = row
            elif rest.startswith("~v|"):
                n = int(rest[3:].split("|", 1)[0])
                view.rows.setdefault(n, {})[str(row["Record"])] = (str(row["Identity"]), str(row.get("Attempt")))
            elif rest == "~blocked":
                view.blocked = row
            elif rest == "~closed":  # booked once by the code before supplements existed
                view.legacy_closed = True
            elif not rest.startswith("~"):
                version = _Version(rest, str(row["Blob"]), str(row.get("Record") or rest.rsplit("@", 1)[0]),
                                   int(row.get("Modified") or 0))
                view.by_identity[rest] = version
                seen = view.versions.get(version.record)
                if seen is None or (version.modified, version.identity) > (seen.modified, seen.identity):
                    view.versions[version.record] = version
        return view

    def _settle_day(self, store: str, day: str, renew: Callable[[], bool]) -> None:
        view = self._read_day(store, day)
        if view.legacy_closed and not view.heads:
            self._commit(view, 1, dict((r, v.identity) for r, v in view.versions.items()),
                         reference="~closed", description=None, voucher=None)
            view = self._read_day(store, day)
        for n in sorted(view.heads):
            if view.heads[n].get("State") == "pending" and not self._queue_again(view, n):
                return
        changed = view.changed()
        if changed and not self._book_day(view, changed, renew):
            return
        self._close(view)

    def _vouchers(self, view: _Day, due: Mapping[str, str], booked: Mapping[str, str]
                  ) -> tuple[Voucher | None, Voucher | None, list[Problem]]:
        """The day's summary of the `due` versions and of the `booked` versions, or why not."""
        period = [(view.store, dt.date.fromisoformat(view.day))]
        out: list[Voucher | None] = []
        problems: list[Problem] = []
        for versions in (due, booked):
            items = []
            for record, identity in versions.items():
                version = view.by_identity.get(identity)
                try:
                    if version is None:
                        raise NotFound(identity)
                    items.append(self.source.load(self.blobs.get(CONTAINER_RECEIVED, version.blob)))
                except NotFound:
                    problems.append(_gone(record, version.blob if version else identity))
            documents = list(self.source.documents(items, self.options, period)) if items else []
            problems += [d for d in documents if isinstance(d, Problem)]
            out.append(next((d for d in documents if isinstance(d, Voucher)), None))
        return out[0], out[1], problems

    def _book_day(self, view: _Day, changed: dict[str, str], renew: Callable[[], bool]) -> bool:
        fingerprint = hashlib.sha256(json.dumps([sorted(changed.values()), self.options], sort_keys=True,
                                                default=str).encode("utf-8")).hexdigest()
        if view.blocked is not None and view.blocked.get("Fingerprint") == fingerprint:
            return False  # the same versions with the same options: reported already, nothing new to try
        booked = view.booked()
        due, then, problems = self._vouchers(view, changed, {r: booked[r] for r in changed if r in booked})
        if problems:
            self.tables.upsert(TABLE_STATE, {"PartitionKey": self.days_partition,
                                             "RowKey": f"{view.store}|{view.day}|~blocked",
                                             "Fingerprint": fingerprint, "Problems": len(problems)})
            self.queue(problems)
            return False
        number = 1 + sum(1 for head in view.heads.values() if head.get("Reference"))
        model = due or then
        voucher = None
        if model is not None:
            description = model.description if number == 1 else (
                f"{model.description or model.reference} – tillegg {number}: "
                f"{len(changed)} ordre(r) kommet eller endret etter at dagen ble bokført")
            voucher = difference(due, then, reference=supplement_reference(model.reference, number),
                                 description=description)
        if not renew():
            return False
        n = max(view.heads, default=0) + 1
        if not self._commit(view, n, changed, reference=voucher.reference if voucher else "",
                            description=voucher.description if voucher else None, voucher=voucher):
            return False
        if view.blocked is not None:
            self.tables.delete(TABLE_STATE, self.days_partition, f"{view.store}|{view.day}|~blocked")
        return True

    def _commit(self, view: _Day, n: int, taken: Mapping[str, str], *, reference: str,
                description: str | None, voucher: Voucher | None) -> bool:
        """Steps 1–4 of the module docstring; False when another run committed booking n first."""
        attempt = uuid.uuid4().hex
        prefix = f"{view.store}|{view.day}|"
        self.tables.insert_many(TABLE_STATE, [
            {"PartitionKey": self.days_partition, "RowKey": f"{prefix}~v|{n:04d}|{_row_key(record)}",
             "Record": record, "Identity": identity, "Attempt": attempt} for record, identity in taken.items()])
        head: Entity = {"PartitionKey": self.days_partition, "RowKey": f"{prefix}~b|{n:04d}", "Attempt": attempt,
                        "State": "pending" if voucher is not None else "queued", "Reference": reference,
                        "Description": description, "Versions": len(taken),
                        "At": dt.datetime.now(dt.UTC).isoformat()}
        try:
            etag = self.tables.insert(TABLE_STATE, head)
        except Conflict:
            return False
        if voucher is not None:
            self.queue([voucher])
            self.tables.update(TABLE_STATE, {**head, "State": "queued"}, etag=etag)
        return True

    def _queue_again(self, view: _Day, n: int) -> bool:
        """A booking committed but perhaps never queued (the run died): its voucher once more, rebuilt."""
        head = view.heads[n]
        taken = view.taken(n)
        booked = view.booked(before=n)
        due, then, problems = self._vouchers(view, taken, {r: booked[r] for r in taken if r in booked})
        if problems:
            self.queue(problems)
            return False
        voucher = difference(due, then, reference=str(head["Reference"]), description=head.get("Description"))
        if voucher is not None:
            self.queue([voucher])
        self.tables.update(TABLE_STATE, {**{k: v for k, v in head.items() if k != "etag"}, "State": "queued"},
                           etag=str(head["etag"]))
        return True

    def _close(self, view: _Day) -> None:
        """Nothing left to book: the day is no longer open — unless a version came in meanwhile."""
        marker = f"~open|{view.store}|{view.day}"
        self.tables.delete(TABLE_STATE, self.days_partition, marker)
        again = self._read_day(view.store, view.day)  # `index` writes the rows before the marker
        if again.changed() or any(h.get("State") == "pending" for h in again.heads.values()):
            self.tables.upsert(TABLE_STATE, {"PartitionKey": self.days_partition, "RowKey": marker})

    def _adopt_old_layout(self) -> None:
        """Once: open markers for the days indexed before they existed (then closed days were found by scan)."""
        if self.tables.get(TABLE_STATE, self.days_partition, "~layout") is not None:
            return
        days = {tuple(row["RowKey"].split("|", 2)[:2]) for row in self.tables.query(TABLE_STATE, self.days_partition)
                if not row["RowKey"].startswith("~")}
        self.tables.insert_many(TABLE_STATE, [{"PartitionKey": self.days_partition, "RowKey": f"~open|{s}|{d}"}
                                              for s, d in sorted(days)])
        self.tables.upsert(TABLE_STATE, {"PartitionKey": self.days_partition, "RowKey": "~layout", "Version": 2})


def _gone(record: str, blob: str) -> Problem:
    return Problem(f"record {record} changed after it was booked, but the booked version ({blob}) is no longer "
                   "kept (the raw store keeps 90 days): book the difference by hand", reference=record,
                   code="booked-version-gone")
