"""The nightly retention run deletes what lives shorter than the history too: Idempotency-Key claims (and their kept
answers) after their 24 hours, webhook deliveries after the retention period — and nothing younger, nor another
tenant's (in-memory ports; the history itself: tests/unit/test_history.py)."""

from __future__ import annotations

import datetime as dt

from pipeline import retention
from pipeline.idempotency import Answer, IdempotencyKeys
from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records.names import CONTAINER_DOCUMENTS, TABLE_IDEMPOTENCY, TABLE_WEBHOOK_DELIVERIES
from pipeline.records.tenants import TenantRegistry
from pipeline.webhook_endpoints import WebhookEndpoints
from pipeline.webhook_events import emit

NOW = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)


def _stores() -> Stores:
    return Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets(), queues=MemoryQueues())


def _claim(stores: Stores, tenant: str, key: str, at: dt.datetime) -> None:
    keys = IdempotencyKeys(stores.tables, stores.blobs, now=lambda: at)
    answer, replayed = keys.answer(tenant, key, "fingerprint", lambda: Answer(202, {"ok": "blåbær"}))
    assert not replayed and isinstance(answer, Answer)


def test_idempotency_claims_go_after_their_24_hours_with_their_answers_and_younger_ones_stay():
    stores = _stores()
    registry = TenantRegistry(stores.tables)
    mine, other = registry.add("Bakeriet på Røros AS").id, registry.add("Fiskebrygga Tromsø AS").id
    _claim(stores, mine, "old-key", NOW - dt.timedelta(hours=25))
    _claim(stores, mine, "fresh-key", NOW - dt.timedelta(hours=23))
    _claim(stores, other, "old-key", NOW - dt.timedelta(hours=30))
    answers = [p for c, p in stores.blobs.blobs if c == CONTAINER_DOCUMENTS and "/idempotency/" in p]
    assert len(answers) == 3

    swept = retention.sweep(stores, now=NOW, tenants=[mine])
    assert swept.idempotency_keys == 1
    left = [(p, r["State"]) for (t, p, _), r in stores.tables.rows.items() if t == TABLE_IDEMPOTENCY]
    assert sorted(p for p, _ in left) == sorted([mine, other])  # mine: the fresh one; the other tenant's untouched
    assert len([p for c, p in stores.blobs.blobs if c == CONTAINER_DOCUMENTS and "/idempotency/" in p]) == 2
    # The fresh key still replays its first answer.
    replay, replayed = IdempotencyKeys(stores.tables, stores.blobs, now=lambda: NOW).answer(
        mine, "fresh-key", "fingerprint", lambda: Answer(500, {}))
    assert replayed and isinstance(replay, Answer) and replay.body == {"ok": "blåbær"}

    assert retention.sweep(stores, now=NOW).idempotency_keys == 1  # every tenant: the other one's old key
    assert retention.sweep(stores, now=NOW).idempotency_keys == 0


def test_webhook_deliveries_go_after_the_retention_period():
    stores = _stores()
    tenant = TenantRegistry(stores.tables).add("Bakeriet på Røros AS").id
    WebhookEndpoints(stores.tables, stores.secrets).add(tenant, "https://mottak.example.no/hooks",
                                                        ["document.delivered"])
    for n, days in enumerate((120, 91, 89, 1)):
        at = NOW - dt.timedelta(days=days)
        assert emit(stores, tenant, "document.delivered", f"d-{n}.delivered.1", {"id": f"d-{n}"},
                    now=lambda at=at: at) == 1
    swept = retention.sweep(stores, now=NOW)
    assert swept.webhook_deliveries == 2
    kept = sorted(r["EventId"] for (t, _, _), r in stores.tables.rows.items() if t == TABLE_WEBHOOK_DELIVERIES)
    assert kept == ["d-2.delivered.1", "d-3.delivered.1"]
