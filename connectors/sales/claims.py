"""A missing customer created exactly once, however many deliveries want it at the same moment — for any system.

Per-order documents for a new customer often arrive together (an invoice and its credit note; two renewals in one
pull), and accounting systems have no idempotency key for creating a customer: two workers that both looked up,
found nothing and created would leave two customers. So, for a party the connection may create:

1. **Look up before create**: the caller resolved the party by the identifiers it is matched by and found none.
2. **Claim** every identifier of the party in the ledger table (partition `<tenant>|<system>|customers`, one row
   per identifier): an insert only one worker wins, with a lease. A worker meeting a live claim stops with
   `ClaimHeld` (the deliver stage looks again a few seconds later); one meeting a claim recorded `created` takes that
   customer; one meeting an expired claim (its worker died) takes it over.
3. The claimant **looks up once more** — a worker whose claim expired may have created the customer, or someone did
   in the system — creates it only if it is still missing, and records its id on every claim.
A worker that dies between creating and step 3's record leaves claims whose lease runs out; the next one looks up
before creating and finds the customer by the identifiers it was created with — which is why only parties with an
identifier the system can be searched by are created.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from pipeline.errors import ClaimHeld, ConfigError, TransientError
from pipeline.ports import Conflict, Entity, Stale, TargetContext
from pipeline.records.names import TABLE_LEDGER

LEASE = dt.timedelta(minutes=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ensure_once(context: TargetContext, system: str, keys: tuple[str, ...], *, reference: str,
                look: Callable[[], dict[str, Any] | None], create: Callable[[], dict[str, Any]],
                id_field: str = "id", now: Callable[[], dt.datetime] = _now) -> tuple[dict[str, Any], bool]:
    """The customer the claimed `keys` name (`"org:…"`, `"email:…"`): another worker's, found by `look`, or made by
    `create` — and whether this call created it. `look` raises for what must not be created beside (ambiguous)."""
    tables = context.tables
    where: dict[str, Any] = {"tenant": context.tenant, "connector": system, "reference": reference}
    if tables is None:
        raise ConfigError(f"creating {system} customers needs the ledger table for its claims", **where)
    partition = f"{context.tenant}|{system}|customers"
    held: list[tuple[Entity, str]] = []
    try:
        for key in keys:
            claim: Entity = {"PartitionKey": partition, "RowKey": quote(key, safe="@+:._-"), "Key": key,
                             "State": "creating", "LeaseUntil": (now() + LEASE).isoformat(), "Reference": reference}
            try:
                held.append((claim, tables.insert(TABLE_LEDGER, claim)))
                continue
            except Conflict:
                existing = tables.get(TABLE_LEDGER, partition, claim["RowKey"])
            if existing is None:
                raise TransientError("a customer claim vanished while claiming; will look again", **where)
            if existing.get("State") == "created":
                return {id_field: existing["CustomerId"]}, False
            left = (dt.datetime.fromisoformat(str(existing["LeaseUntil"])) - now()).total_seconds()
            if left > 0:
                raise ClaimHeld(f"another delivery is creating customer {key.replace(':', ' ', 1)} right now; "
                                "will look again", retry_after=left, **where)
            taken = {**{k: v for k, v in existing.items() if k != "etag"}, "State": "creating",
                     "LeaseUntil": claim["LeaseUntil"], "Reference": reference}
            try:  # its worker died: take the claim over, then look up before creating (step 3)
                held.append((taken, tables.update(TABLE_LEDGER, taken, etag=str(existing["etag"]))))
            except Stale:
                raise ClaimHeld("another delivery took over a customer claim first; will look again",
                                retry_after=1.0, **where) from None
        found = look()
        created = found is None
        if found is None:
            found = create()
        for claim, etag in held:
            tables.update(TABLE_LEDGER, {**claim, "State": "created", "CustomerId": found[id_field],
                                         "Created": created, "LeaseUntil": now().isoformat()}, etag=etag)
        held.clear()
        return found, created
    finally:
        for claim, etag in held:  # failed half way: let the next attempt take over at once (and look up first)
            try:
                tables.update(TABLE_LEDGER, {**claim, "LeaseUntil": now().isoformat()}, etag=etag)
            except Stale:
                pass
