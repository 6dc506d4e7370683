"""What the read-back tests share: in-memory ports, a tenant with an API key, and running a sync's queue chain."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from api.http import Request, Response
from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.readback import sync
from pipeline.readback.ports import LedgerSource
from pipeline.records.names import QUEUE_LEDGER
from pipeline.records.tenants import TenantRegistry

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)  # the sandboxes' books run 2024–2026


def stores() -> Stores:
    return Stores(MemoryBlobs(), MemoryTables(), MemorySecrets(), MemoryQueues())


def tenant(stores: Stores, name: str = "Fjordkafé AS", org: str = "987654325") -> tuple[str, str]:
    """(tenant id, API key) of a new tenant."""
    registry = TenantRegistry(stores.tables)
    made = registry.add(name, organization_number=org)
    return made.id, registry.issue_key(made.id)


def fixed(source: LedgerSource) -> sync.Opener:
    """An opener that always answers this source (one system, one company)."""
    return lambda name, tenant, company, settings: source


class Events:
    """What `emit` was asked to raise (the webhook machinery's own tests cover the sending)."""

    def __init__(self) -> None:
        self.raised: list[tuple[str, str, str, dict[str, Any]]] = []

    def __call__(self, stores: Stores, tenant: str, event: str, event_id: str, data: Mapping[str, Any]) -> int:
        self.raised.append((tenant, event, event_id, dict(data)))
        return 1


def drain(stores: Stores, opener: sync.Opener, messages: list[str], emit: Events | None = None) -> int:
    """Run the queue chain to its end, as the `ledger_slice` function does message by message; returns how many."""
    taken = 0
    while messages:
        following = sync.step(stores, opener, messages.pop(0), emit=emit, now=lambda: NOW)
        taken += 1
        if following:
            messages.append(following)
    return taken


def request(key: str | None, *, query: Mapping[str, str] | None = None, body: bytes = b"",
            path: Mapping[str, str] | None = None, method: str = "GET") -> Request:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return Request(method=method, path_params=dict(path or {}), query=dict(query or {}), headers=headers, body=body,
                   base_url="http://localhost:7071")


def messages_of(response: Response) -> list[str]:
    return list(response.messages.get(QUEUE_LEDGER, []))


def body(response: Response) -> Any:
    return response.body if not isinstance(response.body, bytes) else json.loads(response.body)
