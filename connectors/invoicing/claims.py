"""A missing customer created exactly once, in any system, when several deliveries need it at the same moment.

Invoices for one new customer often arrive together (a renewal and its payment; two renewals in one batch), and no
accounting system we reach has an idempotency key for creating a customer: two workers that both looked up, found
nothing and created would leave two customers. So (first written for Tripletex, docs/decisions/0009):

1. **Look up before create**: the caller resolved the customer by the tenant's match field and found none.
2. **Claim** every identifier of the customer in the ledger table (partition `<tenant>|<system>|customers`, one row
   per identifier): an insert only one worker wins, with a lease. A worker meeting a live claim stops with
   `ClaimHeld` (the deliver stage looks again a few seconds later); one meeting a claim recorded `created` takes
   that customer; one meeting an expired claim (its worker died) takes it over.
3. The claimant **looks up once more** — a worker whose claim expired may have created the customer, or someone did
   in the system — creates it only if it is still missing, and records its id on every claim.

A worker that dies between creating and step 3's record leaves claims whose lease runs out; the next one looks up
before creating and finds the customer by the identifiers it was created with. So only customers with an
identifier the system can be searched by are created.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from pipeline.errors import ClaimHeld, ConfigError, TransientError
from pipeline.ports import Conflict, Entity, Stale, TableStore
from pipeline.records.names import TABLE_LEDGER

LEASE = dt.timedelta(minutes=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_once(tables: TableStore | None, *, tenant: str, connector: str, keys: Sequence[str], reference: str,
                look: Callable[[], int | None], create: Callable[[], int]) -> tuple[int, bool]:
    """The id of the customer with these identifiers (`keys`, e.g. "email:ase@example.no"), and whether this call
    created it: taken from another worker's claim, found by `look` (after claiming), or made by `create`."""
    where: dict[str, Any] = {"tenant": tenant, "connector": connector, "reference": reference}
    if tables is None:
        raise ConfigError("creating customers needs the ledger table for its claims", **where)
    partition = f"{tenant}|{connector}|customers"
    held: list[tuple[Entity, str]] = []
    try:
        for key in keys:
            claim: Entity = {"PartitionKey": partition, "RowKey": quote(key, safe="@+:._-"), "Key": key,
                             "State": "creating", "LeaseUntil": (_now() + LEASE).isoformat(), "Reference": reference}
            try:
                held.append((claim, tables.insert(TABLE_LEDGER, claim)))
                continue
            except Conflict:
                existing = tables.get(TABLE_LEDGER, partition, claim["RowKey"])
            if existing is None:
                raise TransientError("a customer claim vanished while claiming; will look again", **where)
            if existing.get("State") == "created":
                return int(existing["CustomerId"]), False
            left = (dt.datetime.fromisoformat(str(existing["LeaseUntil"])) - _now()).total_seconds()
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
        ident = create() if found is None else found
        for claim, etag in held:
            tables.update(TABLE_LEDGER, {**claim, "State": "created", "CustomerId": ident, "Created": created,
                                         "LeaseUntil": _now().isoformat()}, etag=etag)
        held.clear()
        return ident, created
    finally:
        for claim, etag in held:  # failed half way: let the next attempt take over at once (and look up first)
            try:
                tables.update(TABLE_LEDGER, {**claim, "LeaseUntil": _now().isoformat()}, etag=etag)
            except Stale:
                pass
