"""The idempotency ledger: one entry per tenant + target + reference, so nothing is posted twice.

Delivery claims the entry before posting (an insert that only one worker can win), records the
outcome after, and a retry whose earlier outcome is unknown — a timeout, a crash between the POST
and the ledger update, a 5xx after the target committed — asks the target for the reference before
posting again. ETag concurrency guards every change of state.

States: `claimed` (a worker holds a lease while it posts; an expired lease means "outcome unknown"),
`delivered` (the target has it: remote id kept), `failed` (the target definitively refused it; a
later retry, after the data or settings were fixed, may claim it again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import quote

from pipeline.errors import BilagsbroError, ClaimHeld, TransientError
from pipeline.model import Document
from pipeline.names import TABLE_LEDGER
from pipeline.ports import Conflict, Delivery, Entity, Stale, TableStore, Target

LEASE = dt.timedelta(minutes=2)


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

    try:
        delivery = target.deliver(document)
    except BilagsbroError as exc:
        failed = {**claim, "LeaseUntil": _now().isoformat(), "Error": str(exc)[:1000]}
        if not exc.retryable:
            failed["State"] = "failed"
        # A retryable error leaves the claim with an expired lease: the retry looks the reference up
        # first, which also covers a 5xx or timeout after the target committed.
        tables.update(TABLE_LEDGER, failed, etag=etag)
        raise
    except Exception:
        tables.update(TABLE_LEDGER, {**claim, "LeaseUntil": _now().isoformat()}, etag=etag)
        raise
    _record_delivered(tables, claim, delivery, etag=etag, document_id=document_id)
    return LedgerOutcome(delivery, duplicate=False, looked_up=looked_up)


def _record_delivered(
    tables: TableStore, entry: Entity, delivery: Delivery, *, etag: str, document_id: object
) -> None:
    done = {
        **{k: v for k, v in entry.items() if k != "etag"},
        "State": "delivered",
        "RemoteId": delivery.remote_id,
        "Draft": delivery.draft,
        "DocumentId": document_id,
        "DeliveredAt": _now().isoformat(),
        "Error": None,
    }
    try:
        tables.update(TABLE_LEDGER, done, etag=etag)
    except Stale:
        # Someone re-claimed after our lease expired; the target holds it once either way (they
        # looked it up first), so make the ledger say delivered.
        tables.upsert(TABLE_LEDGER, done)


def ledger_entry(tables: TableStore, *, tenant: str, target_name: str, reference: str) -> Entity | None:
    partition, row = ledger_key(tenant, target_name, reference)
    return tables.get(TABLE_LEDGER, partition, row)
