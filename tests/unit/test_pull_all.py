"""The timer's pull of every tenant: side by side, so that one slow or unreachable source delays no other tenant."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.pulls import scheduled
from pipeline.records.tenants import TenantRegistry


def test_a_slow_tenant_does_not_hold_up_the_others_and_reports_keep_the_tenants_order(monkeypatch: Any) -> None:
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets(), queues=MemoryQueues())
    registry = TenantRegistry(stores.tables)
    tenants = [registry.add(name) for name in ("Treg Omnium AS", "Rask Omnium AS", "Ærlig Omnium AS")]
    for tenant in tenants:
        registry.save(tenant.model_copy(update={"sources": {"omnium": {"base_url": "http://127.0.0.1:9"}}}))
    order = [t.id for t in registry.all()]
    slow, others = order[0], set(order[1:])
    done: set[str] = set()
    lock, all_others_done = threading.Lock(), threading.Event()

    def pull_tenant(stores: Stores, source: Any, tenant: Any, *, now: dt.datetime) -> scheduled.PullReport:
        if tenant.id == slow:  # waits for the others: a serial loop would never get to them
            assert all_others_done.wait(timeout=10), "the other tenants were not pulled while one was slow"
        else:
            with lock:
                done.add(tenant.id)
                if done == others:
                    all_others_done.set()
        return scheduled.PullReport(tenant=tenant.id, source="omnium", receipt=f"r-{tenant.id}")

    monkeypatch.setattr(scheduled, "pull_tenant", pull_tenant)
    reports = scheduled.pull_all(stores, {"omnium": object()}, now=dt.datetime.now(dt.UTC))  # type: ignore[dict-item]
    assert [r.tenant for r in reports] == order


@pytest.mark.parametrize("count", [0, 1])
def test_none_or_one_pulled_source_needs_no_pool(monkeypatch: Any, count: int) -> None:
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets(), queues=MemoryQueues())
    registry = TenantRegistry(stores.tables)
    for n in range(count):
        tenant = registry.add(f"Butikk {n} AS")
        registry.save(tenant.model_copy(update={"sources": {"omnium": {}}}))
    seen: list[str] = []
    monkeypatch.setattr(scheduled, "pull_tenant", lambda stores, source, tenant, *, now: seen.append(
        threading.current_thread().name) or scheduled.PullReport(tenant=tenant.id, source="omnium", receipt="r"))
    reports = scheduled.pull_all(stores, {"omnium": object()}, now=dt.datetime.now(dt.UTC))  # type: ignore[dict-item]
    assert len(reports) == count and all(not name.startswith("pull") for name in seen)
