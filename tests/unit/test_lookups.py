"""pipeline.lookups: a burst of workers makes one lookup per key, only hits are kept, and a changed connection
never reads the old connection's lookups."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import connectors
from pipeline.lookups import Lookups, connection_key
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records.tenants import TenantRegistry


def test_a_burst_of_workers_makes_one_fetch_per_key() -> None:
    lookups = Lookups()
    asked: list[list[str]] = []
    inside = threading.Event()
    release = threading.Event()

    def fetch(keys: list[str]) -> dict[str, str]:
        asked.append(keys)
        inside.set()
        release.wait(5)  # the others arrive while this fetch is on its way
        return {k: f"id-{k}" for k in keys if k != "9999"}

    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(lookups.fill, "accounts", ["1920", "3000", "9999"], fetch)
        assert inside.wait(5)
        others = [pool.submit(lookups.fill, "accounts", ["3000", "1920", "9999"], fetch) for _ in range(7)]
        release.set()
        tables = [f.result(5) for f in (first, *others)]
    assert asked == [["1920", "3000", "9999"]]  # one fetch for the burst, the miss included
    assert all(t == {"1920": "id-1920", "3000": "id-3000"} for t in tables)


def test_only_hits_are_kept_so_a_miss_is_asked_again_next_time() -> None:
    lookups = Lookups()
    asked: list[list[str]] = []
    exists: set[str] = set()

    def fetch(keys: list[str]) -> dict[str, str]:
        asked.append(keys)
        return {k: k for k in keys if k in exists}

    assert lookups.fill("customers", ["10001"], fetch) == {}
    exists.add("10001")  # created in the accounting system meanwhile
    assert lookups.fill("customers", ["10001"], fetch) == {"10001": "10001"}
    lookups.fill("customers", ["10001"], fetch)
    assert asked == [["10001"], ["10001"]]  # found on the next voucher, then kept


def test_a_failed_fetch_is_fetched_again_by_a_waiter_not_lost() -> None:
    lookups = Lookups()
    inside, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def failing(keys: list[str]) -> dict[str, str]:
        calls.append("failing")
        inside.set()
        release.wait(5)
        raise TimeoutError("the accounting system did not answer")

    def working(keys: list[str]) -> dict[str, str]:
        calls.append("working")
        return {k: k for k in keys}

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(lookups.fill, "accounts", ["1920"], failing)
        assert inside.wait(5)
        second = pool.submit(lookups.fill, "accounts", ["1920"], working)
        release.set()
        with pytest.raises(TimeoutError):
            first.result(5)
        assert second.result(5) == {"1920": "1920"}
    assert calls == ["failing", "working"]


def test_the_cache_is_per_connection_and_a_changed_connection_starts_afresh() -> None:
    settings = {"base_url": "https://tripletex.no/v2", "company_id": "0",
                "secrets": {"employee_token": "t--tripletex--employee_token--a"}}
    rotated = {**settings, "secrets": {"employee_token": "t--tripletex--employee_token--b"}}
    key = connection_key("t", "tripletex", settings)
    assert key == connection_key("t", "tripletex", dict(reversed(list(settings.items()))))
    assert key != connection_key("t", "tripletex", rotated)
    assert key != connection_key("t", "tripletex", {**settings, "company_id": "4711"})
    assert key != connection_key("u", "tripletex", settings)

    stores = Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Cache Ørsta AS").model_copy(update={"target": "file", "target_settings": settings})
    conns = connectors.registry()
    cache = conns.cache_for(tenant)
    cache["lookups"] = "the old connection's"
    assert conns.cache_for(tenant) is cache
    changed = conns.cache_for(tenant.model_copy(update={"target_settings": rotated}))
    assert changed == {} and changed is not cache
    assert [k for k in conns.caches if k[0] == tenant.id] == [connection_key(tenant.id, "file", rotated)]
