"""The connector registry as the stages take it: sources, targets and their descriptors, plugged in by the
composition root (connectors.registry()), and what connectors keep between messages per connection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.descriptors import Descriptor
from pipeline.errors import ConfigError
from pipeline.lookups import connection_key
from pipeline.ports import Stores, Target, TargetContext, TargetFactory
from pipeline.records.history import BlobExchangeLog
from pipeline.records.tenants import Tenant

SourceParser = Callable[..., Iterable[Any]]
Sniffer = Callable[[bytes, str], bool]


@dataclass
class Connectors:
    """What the composition root plugs in: the registries of sources and targets (connectors.registry())."""

    targets: Mapping[str, TargetFactory]
    sources: Mapping[str, SourceParser] = field(default_factory=dict)
    sniffers: Mapping[str, Sniffer] = field(default_factory=dict)
    # Every connector's descriptor (pipeline.descriptors): settings, secrets, what it accepts.
    descriptors: Mapping[str, Descriptor] = field(default_factory=dict)
    # Ledger sources (connectors/ledgers): read-back of the general ledger; `ledger_files` are read from uploads;
    # `ledger_opener(stores, this registry)` opens one by name (pipeline.readback.sync.Opener).
    ledgers: Mapping[str, Any] = field(default_factory=dict)
    ledger_files: tuple[str, ...] = ()
    ledger_opener: Callable[[Stores, Any], Any] | None = None
    # Per connection (pipeline.lookups.connection_key): what its connector keeps between messages — HTTP
    # clients, sessions, lookups. A changed connection gets a fresh one; the old one is closed.
    caches: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def close(self) -> None:
        """Close what connectors keep between messages (HTTP clients and sessions): on host shutdown."""
        with self._lock:
            caches = dict(self.caches)
            self.caches.clear()
        close_all(caches)

    def detect(self, head: bytes, file_name: str) -> str | None:
        for name, sniff in self.sniffers.items():
            if sniff(head, file_name):
                return name
        return None

    def cache_for(self, tenant: Tenant) -> dict[str, Any]:
        """The cache of the tenant's connection as it is now; those of its earlier connections are closed."""
        key = connection_key(tenant.id, tenant.target, tenant.target_settings)
        with self._lock:
            cache = self.caches.get(key)
            if cache is not None:
                return cache
            stale = {k: v for k, v in self.caches.items() if k[:2] == key[:2]}
            for old in stale:
                del self.caches[old]
            cache = self.caches[key] = {}
        close_all(stale)
        return cache

    def forget(self, tenant_id: str) -> None:
        """Drop this process's sessions and lookups of a tenant (its connection was just replaced)."""
        with self._lock:
            stale = {k: v for k, v in self.caches.items() if k[0] == tenant_id}
            for key in stale:
                del self.caches[key]
        close_all(stale)

    def target_for(self, stores: Stores, tenant: Tenant, document_id: str) -> Target:
        factory = self.targets.get(tenant.target)
        if factory is None:
            raise ConfigError(f"tenant {tenant.id} points to unknown target {tenant.target!r}", tenant=tenant.id)
        context = TargetContext(
            tenant=tenant.id,
            settings=tenant.target_settings,
            secrets=stores.secrets,
            blobs=stores.blobs,
            exchanges=BlobExchangeLog(stores.blobs, tenant.id, document_id),
            cache=self.cache_for(tenant),
            tables=stores.tables,
        )
        return factory(context)


def close_all(value: Any) -> None:
    """Close everything closeable a cache holds (HTTP clients), however deep."""
    if isinstance(value, dict):
        for item in list(value.values()):
            close_all(item)
    elif callable(getattr(value, "close", None)) and not isinstance(value, type):
        value.close()
