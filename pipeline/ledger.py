"""The idempotency ledger: one entry per tenant + target + reference, so nothing is posted twice.

Delivery claims the entry before posting (an insert that only one worker can win), records the
outcome after, and a retry whose earlier outcome is unknown — a timeout, a crash between the POST
and the ledger update, a 5xx after the target committed — asks the target for the reference before
posting again. ETag concurrency guards every change of state.

States: `claimed` (a worker holds a lease while it posts; an expired lease means "outcome unknown"),
`delivered` (the target has it: remote id kept), `failed` (the target definitively refused it; a
later retry, after the data or settings were fixed, may claim it again).

The lease must outlive the delivery, however long the target keeps it waiting (429s, slow answers,
backoff), or a second attempt would find it expired, look the reference up before the first one has
posted, and post again. So a delivery renews its lease every third of it while it runs, and a
delivery whose lease was lost anyway (a renewal found someone else's claim, or renewals failed until
it ran out) stops before its next POST: `before_post` is what connectors call first. A dead worker
stops renewing, so its claim expires within one LEASE and the next attempt looks up first.
"""

from __future__ import annotations

import datetime as dt
import threading
from contextlib import nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pipeline.errors import BilagsbroError, ClaimHeld, TransientError
from pipeline.leases import KEEPER
from pipeline.model import Document
from pipeline.names import TABLE_LEDGER
from pipeline.ports import Conflict, Delivery, Entity, Stale, TableStore, Target

LEASE = dt.timedelta(seconds=30)  # renewed every LEASE / 3 while the delivery runs


def ledger_key(tenant: str, target: str, reference: str) -> tuple[str, str]:
    """(PartitionKey, RowKey); Table Storage forbids / \\ # ? and control characters in keys."""
    return f"{tenant}|{target}", quote(reference, safe=" -_.:@+()[]æøåÆØÅ")


@dataclass(frozen=True)
class LedgerOutcome:
    delivery: Delivery
    duplicate: bool  # True when the reference was already in the target: nothing was posted now
    looked_up: bool  # True when the target was asked first because an earlier outcome was unknown


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _seconds_left(entry: Entity, now: dt.datetime) -> float:
    """What remains of a claim's lease; 0 when it has expired (or there is none)."""
    until = entry.get("LeaseUntil")
    if isinstance(until, str):
        until = dt.datetime.fromisoformat(until)
    if not isinstance(until, dt.datetime):
        return 0.0
    if until.tzinfo is None:
        until = until.replace(tzinfo=dt.UTC)
    return max(0.0, (until - now).total_seconds())


def _delivered(entry: Entity) -> Delivery:
    return Delivery(remote_id=str(entry.get("RemoteId", "")), draft=bool(entry.get("Draft", True)))


def deliver_once(
    tables: TableStore,
    target: Target,
    document: Document,
    *,
    tenant: str,
    target_name: str,
    document_id: str,
    lease: dt.timedelta = LEASE,
) -> LedgerOutcome:
    """Post `document` to `target` unless the ledger or the target says it is already there."""
    partition, row = ledger_key(tenant, target_name, document.reference)
    now = _now()
    claim: Entity = {
        "PartitionKey": partition,
        "RowKey": row,
        "Reference": document.reference,
        "State": "claimed",
        "DocumentId": document_id,
        "LeaseUntil": (now + lease).isoformat(),
        "Attempts": 1,
    }
    looked_up = False
    try:
        etag = tables.insert(TABLE_LEDGER, claim)
    except Conflict:
        entry = tables.get(TABLE_LEDGER, partition, row)
        if entry is None:  # deleted in between: rare; let the queue retry
            raise TransientError(
                "ledger entry vanished while claiming", tenant=tenant, reference=document.reference
            ) from None
        if entry["State"] == "delivered":
            return LedgerOutcome(_delivered(entry), duplicate=True, looked_up=False)
        if entry["State"] == "claimed":
            held_for = _seconds_left(entry, now)
            if held_for > 0:
                raise ClaimHeld(
                    "another attempt is delivering this reference right now; will look again",
                    tenant=tenant,
                    reference=document.reference,
                    connector=target_name,
                    retry_after=held_for,
                ) from None
            # The earlier attempt's outcome is unknown: ask the target before posting again.
            looked_up = True
            found = target.find(document.reference)
            if found is not None:
                _record_delivered(tables, entry, found, etag=entry["etag"], document_id=entry.get("DocumentId"))
                return LedgerOutcome(found, duplicate=True, looked_up=True)
        claim = {
            **{k: v for k, v in entry.items() if k != "etag"},
            "State": "claimed",
            "DocumentId": document_id,
            "LeaseUntil": (now + lease).isoformat(),
            "Attempts": int(entry.get("Attempts", 0)) + 1,
            "Error": None,
        }
        try:
            etag = tables.update(TABLE_LEDGER, claim, etag=entry["etag"])
        except Stale:
            raise TransientError(
                "another attempt claimed this reference first; will look again",
                tenant=tenant,
                reference=document.reference,
                connector=target_name,
            ) from None

    held = Claim(tables, claim, etag, lease, what=document.reference, tenant=tenant, connector=target_name)
    every = lease.total_seconds() / 3
    token = _CLAIM.set(held)
    try:
        with KEEPER.hold(held.renew, after=every, every=every, what=f"ledger claim {document.reference}") \
                if every > 0 else nullcontext():
            delivery = target.deliver(document)
    except BilagsbroError as exc:
        failed = {**claim, "LeaseUntil": _now().isoformat(), "Error": str(exc)[:1000]}
        if not exc.retryable:
            failed["State"] = "failed"
        # A retryable error leaves the claim with an expired lease: the retry looks the reference up
        # first, which also covers a 5xx or timeout after the target committed.
        held.settle(failed)
        raise
    except Exception:
        held.settle({**claim, "LeaseUntil": _now().isoformat()})
        raise
    finally:
        _CLAIM.reset(token)
    held.settle(_delivered_entity(claim, delivery, document_id), delivered=True)
    # A target whose system caught the document as already there (its own duplicate detection, answering the
    # send that followed an unknown outcome) says so: nothing was created now.
    return LedgerOutcome(delivery, duplicate=delivery.details.get("already_there") is True, looked_up=looked_up)


class Claim:
    """A claim being delivered under: renewed from the lease keeper's thread, settled once by its owner."""

    def __init__(self, tables: TableStore, entity: Entity, etag: str, lease: dt.timedelta, *, what: str,
                 **context: Any) -> None:
        self.tables, self.entity, self.etag, self.lease = tables, entity, etag, lease
        self.what, self.context = what, context
        self.until = _now() + lease
        self.lost = self.closed = False
        self._lock = threading.Lock()

    def renew(self) -> bool:
        with self._lock:
            if self.closed or self.lost:
                return not self.lost
            until = _now() + self.lease
            entity = {**self.entity, "LeaseUntil": until.isoformat()}
            try:
                self.etag = self.tables.update(TABLE_LEDGER, entity, etag=self.etag)
            except Stale:
                self.lost = True  # our lease ran out and another attempt claimed the reference
                return False
            self.entity, self.until = entity, until
            return True

    def check(self) -> None:
        """Raise rather than post when this claim no longer protects the reference."""
        if self.lease <= dt.timedelta(0):
            return  # not renewed (tests of the unknown-outcome path): nothing to lose
        if self.lost or _now() >= self.until:
            raise TransientError(
                f"the ledger lease on {self.what} was lost before posting (another attempt may be delivering "
                "it); not posting now, the retry looks it up first", reference=self.what, **self.context)

    def settle(self, entity: Entity, *, delivered: bool = False) -> None:
        with self._lock:
            self.closed = True
            clean = {k: v for k, v in entity.items() if k != "etag"}
            try:
                self.tables.update(TABLE_LEDGER, clean, etag=self.etag)
            except Stale:
                # Someone re-claimed after our lease expired. Delivered: the target holds it once either
                # way (they looked it up first), so say so; anything else is theirs to settle now.
                if delivered:
                    self.tables.upsert(TABLE_LEDGER, clean)


_CLAIM: ContextVar[Claim | None] = ContextVar("bilagsbro_ledger_claim", default=None)


def before_post() -> None:
    """What a connector calls before each request that may create something in the target."""
    claim = _CLAIM.get()
    if claim is not None:
        claim.check()


def _delivered_entity(entry: Entity, delivery: Delivery, document_id: object) -> Entity:
    # `Reference` is ours in full; `TargetReference` what the target knows it by, where that differs (a
    # reference shortened to the target's limit): the row ties the two together.
    target_reference = delivery.details.get("target_reference")
    return {
        **{k: v for k, v in entry.items() if k != "etag"},
        "State": "delivered",
        "RemoteId": delivery.remote_id,
        "Draft": delivery.draft,
        "DocumentId": document_id,
        "DeliveredAt": _now().isoformat(),
        "Error": None,
        **({"TargetReference": str(target_reference)} if target_reference else {}),
    }


def _record_delivered(
    tables: TableStore, entry: Entity, delivery: Delivery, *, etag: str, document_id: object
) -> None:
    done = _delivered_entity(entry, delivery, document_id)
    try:
        tables.update(TABLE_LEDGER, done, etag=etag)
    except Stale:
        # Someone re-claimed after our lease expired; the target holds it once either way (they
        # looked it up first), so make the ledger say delivered.
        tables.upsert(TABLE_LEDGER, done)


def ledger_entry(tables: TableStore, *, tenant: str, target_name: str, reference: str) -> Entity | None:
    partition, row = ledger_key(tenant, target_name, reference)
    return tables.get(TABLE_LEDGER, partition, row)
