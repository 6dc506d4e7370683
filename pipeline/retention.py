"""The retention period made true: 90 days after a document is received, its history is gone everywhere.

In Azure, a lifecycle rule deletes the history containers' blobs (infra/modules/data-storage.bicep:
`daysAfterCreationGreaterThan: 90`, run by Azure once a day); Table Storage has no such rule, so this sweep
deletes the table side — each expired document's index row and its receipt's trace partition — there and
everywhere. Azurite has no lifecycle management, so on the local stack the same sweep also deletes the blobs
the rule would (`blobs=True`, app setting HISTORY_BLOB_SWEEP): the development mirror of the Azure rule.

The same nightly run deletes what lives shorter: Idempotency-Key claims and their kept answers after their
24 hours (pipeline/idempotency.py), and webhook deliveries (every attempt, with the event's body) after the
retention period, as the history they tell about is gone then too.

Kept on purpose: the idempotency ledger (a reference and the accounting system's id, no document content),
which is what keeps a document resent after 90 days from being posted twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.idempotency import WINDOW
from pipeline.ports import MAX_TRANSACTION, BlobStore, Entity, Operation, Stale, Stores, TableStore
from pipeline.records import documents
from pipeline.records.names import (
    CONTAINER_DOCUMENTS,
    HISTORY_CONTAINERS,
    RETENTION_DAYS,
    TABLE_IDEMPOTENCY,
    TABLE_TRACE,
    TABLE_WEBHOOK_DELIVERIES,
)
from pipeline.records.tenants import TenantRegistry

PAGE = 1000  # index rows read (and their receipts' partitions deleted) at a time, so memory stays flat


@dataclass
class Swept:
    """What one run deleted."""

    documents: int = 0
    receipts: int = 0
    trace_rows: int = 0
    blobs: dict[str, int] = field(default_factory=dict)
    idempotency_keys: int = 0  # claims past their 24 hours, with their kept answers
    webhook_deliveries: int = 0


def cutoff(now: dt.datetime | None = None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=RETENTION_DAYS)


def sweep(stores: Stores, *, now: dt.datetime | None = None, blobs: bool = False,
          tenants: Iterable[str] | None = None) -> Swept:
    """Delete the history received before the retention period of every tenant (or of `tenants`); with `blobs`,
    the history containers' blobs too (every blob path starts with its tenant's id)."""
    before = cutoff(now)
    swept = Swept()
    chosen = list(tenants) if tenants is not None else [t.id for t in TenantRegistry(stores.tables).all()]
    for tenant in chosen:
        _tenant(stores.tables, tenant, before, swept)
        swept.idempotency_keys += _claims(stores.tables, stores.blobs, tenant, (now or dt.datetime.now(dt.UTC)) - WINDOW)
        swept.webhook_deliveries += _older(stores.tables, TABLE_WEBHOOK_DELIVERIES, tenant, "Created", before)
    if blobs:
        prefixes = [f"{t}/" for t in chosen] if tenants is not None else [""]
        for container in HISTORY_CONTAINERS:
            names = [n for prefix in prefixes for n in stores.blobs.created_before(container, before, prefix)]
            for name in names:
                stores.blobs.delete(container, name)
            swept.blobs[container] = len(names)
    return swept


def _tenant(tables: TableStore, tenant: str, before: dt.datetime, swept: Swept) -> None:
    stamp = f"{before:%Y%m%d%H%M%S}"
    # Index rows: oldest last in key order, so those past the period are one range at the end of the partition.
    while True:
        rows = tables.scan(TABLE_TRACE, documents.partition(tenant), after=documents.received_before(before),
                           limit=PAGE)
        if not rows:
            break
        receipts = {documents.shown(r).get("receipt") for r in rows}
        for receipt in sorted(r for r in receipts if r):
            swept.trace_rows += _partition(tables, f"{tenant}|{receipt}")
            swept.receipts += 1
        _delete(tables, rows)
        swept.documents += len(rows)
    # Files listed for the tenant (some had no document: refused whole) and their partitions.
    while True:
        listed = tables.scan(TABLE_TRACE, f"{tenant}|receipts", below=f"r-{stamp}", limit=PAGE)
        if not listed:
            break
        for row in listed:
            swept.trace_rows += _partition(tables, f"{tenant}|{row['RowKey']}")
        _delete(tables, listed)
        swept.receipts += len(listed)


def _claims(tables: TableStore, blobs: BlobStore, tenant: str, before: dt.datetime) -> int:
    """Idempotency-Key claims taken before `before`, and their kept answers. A claim taken anew meanwhile (its
    ETag changed) is left."""
    deleted = 0
    after = ""
    while rows := tables.scan(TABLE_IDEMPOTENCY, tenant, after=after, where=[("At", "lt", before.isoformat())],
                              limit=PAGE):
        for row in rows:
            try:
                tables.delete(TABLE_IDEMPOTENCY, tenant, str(row["RowKey"]), etag=str(row["etag"]))
            except Stale:
                continue
            if row.get("Answer"):
                blobs.delete(CONTAINER_DOCUMENTS, str(row["Answer"]))
            deleted += 1
        after = str(rows[-1]["RowKey"])
    return deleted


def _older(tables: TableStore, table: str, tenant: str, stamp: str, before: dt.datetime) -> int:
    """Rows of the tenant's partition of `table` whose ISO-8601 `stamp` property is before `before`."""
    deleted = 0
    while rows := tables.scan(table, tenant, where=[(stamp, "lt", before.isoformat())], limit=PAGE):
        operations: list[Operation] = [("delete", {"PartitionKey": tenant, "RowKey": r["RowKey"]}) for r in rows]
        for start in range(0, len(operations), MAX_TRANSACTION):
            tables.transact(table, operations[start:start + MAX_TRANSACTION])
        deleted += len(rows)
    return deleted


def _partition(tables: TableStore, partition: str) -> int:
    rows = tables.query(TABLE_TRACE, partition)
    _delete(tables, rows)
    return len(rows)


def _delete(tables: TableStore, rows: Iterable[Entity]) -> None:
    by_partition: dict[str, list[Operation]] = {}
    for row in rows:
        by_partition.setdefault(str(row["PartitionKey"]), []).append(
            ("delete", {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"]}))
    for operations in by_partition.values():
        for start in range(0, len(operations), MAX_TRANSACTION):
            tables.transact(TABLE_TRACE, operations[start:start + MAX_TRANSACTION])
