"""A tenant's webhook endpoints: where its events go, which events, and the signing secrets (kept in the secret
store, only their names in the table; a secret is shown once, in the answer that makes it)."""

from __future__ import annotations

import datetime as dt
import json
import secrets as tokens
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.names import TABLE_WEBHOOKS
from pipeline.ports import NotFound, SecretStore, TableStore
from pipeline.records.tenants import CACHE_SECONDS, _account
from pipeline.webhooks import EVENTS

MAX_ENDPOINTS = 10
DEFAULT_OVERLAP = dt.timedelta(hours=24)  # how long the previous secret still signs after a rotation
MAX_OVERLAP = dt.timedelta(days=7)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_cached: dict[tuple[str, str], tuple[list[Endpoint], float]] = {}  # (account, tenant) → endpoints, when read
_cache_lock = threading.Lock()

@dataclass(frozen=True)
class Endpoint:
    id: str
    tenant: str
    url: str
    events: tuple[str, ...]
    description: str | None
    created: str
    secrets: tuple[dict[str, Any], ...]  # {"name": in the secret store, "until": ISO or None}, newest first

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "events": list(self.events), "description": self.description,
                "created": self.created,
                "secrets": [{"until": s.get("until")} for s in self.secrets]}  # how many live, never which

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> Endpoint:
        return cls(id=entity["RowKey"], tenant=entity["PartitionKey"], url=entity["Url"],
                   events=tuple(json.loads(entity["Events"])), description=entity.get("Description"),
                   created=entity["Created"], secrets=tuple(json.loads(entity["Secrets"])))


def events_problem(events: Any) -> str | None:
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        return f"events is a non-empty list of: {', '.join(EVENTS)}"
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        return f"unknown event(s) {', '.join(unknown)}; known: {', '.join(EVENTS)}"
    return None


class WebhookEndpoints:
    def __init__(self, tables: TableStore, secrets: SecretStore, *, now: Callable[[], dt.datetime] = _now) -> None:
        self.tables, self.secrets, self.now = tables, secrets, now

    def _new_secret(self, endpoint_id: str) -> tuple[str, str]:
        value = "whsec_" + tokens.token_urlsafe(32)
        name = f"webhook-{endpoint_id}-{tokens.token_hex(4)}"  # Key Vault names: letters, digits, dashes
        self.secrets.set(name, value)
        return name, value

    def add(self, tenant: str, url: str, events: Sequence[str], description: str | None = None) -> tuple[Endpoint, str]:
        """A new endpoint and its signing secret (in this answer only)."""
        if len(self.tables.query(TABLE_WEBHOOKS, tenant)) >= MAX_ENDPOINTS:
            raise ValueError(f"a tenant has at most {MAX_ENDPOINTS} webhook endpoints; delete one first")
        endpoint_id = "wh-" + tokens.token_hex(8)
        name, value = self._new_secret(endpoint_id)
        entity = {"PartitionKey": tenant, "RowKey": endpoint_id, "Url": url, "Events": json.dumps(list(events)),
                  "Description": description, "Created": self.now().isoformat(),
                  "Secrets": json.dumps([{"name": name, "until": None}])}
        self.tables.insert(TABLE_WEBHOOKS, entity)
        self._changed(tenant)
        return Endpoint.from_entity(entity), value

    def get(self, tenant: str, endpoint_id: str) -> Endpoint:
        found = self.tables.get(TABLE_WEBHOOKS, tenant, endpoint_id) if endpoint_id.startswith("wh-") else None
        if found is None:
            raise NotFound(f"no webhook endpoint {endpoint_id} for this tenant")
        return Endpoint.from_entity(found)

    def of(self, tenant: str) -> list[Endpoint]:
        return [Endpoint.from_entity(e) for e in self.tables.query(TABLE_WEBHOOKS, tenant)]

    def current(self, tenant: str) -> list[Endpoint]:
        """The tenant's endpoints as the stages use them: read at most once per CACHE_SECONDS in this process (the
        tenant's own cache time), so a stage's outcomes cost no read per envelope; a change made through this
        class in the same process is seen at once, one made elsewhere within CACHE_SECONDS."""
        key = (_account(self.tables), tenant)
        with _cache_lock:
            found = _cached.get(key)
        if found is not None and time.monotonic() - found[1] < CACHE_SECONDS:
            return found[0]
        endpoints = self.of(tenant)
        with _cache_lock:
            _cached[key] = (endpoints, time.monotonic())
        return endpoints

    def _changed(self, tenant: str) -> None:
        with _cache_lock:
            _cached.pop((_account(self.tables), tenant), None)

    def subscribed(self, tenant: str, event: str) -> list[Endpoint]:
        return [e for e in self.of(tenant) if event in e.events]

    def remove(self, tenant: str, endpoint_id: str) -> None:
        self.get(tenant, endpoint_id)
        self.tables.delete(TABLE_WEBHOOKS, tenant, endpoint_id)
        self._changed(tenant)

    def rotate(self, tenant: str, endpoint_id: str, overlap: dt.timedelta = DEFAULT_OVERLAP) -> tuple[Endpoint, str]:
        """A new secret signs from now on; the previous ones sign too until `overlap` has passed, so receivers
        can switch without losing a delivery."""
        found = self.tables.get(TABLE_WEBHOOKS, tenant, endpoint_id) if endpoint_id.startswith("wh-") else None
        if found is None:
            raise NotFound(f"no webhook endpoint {endpoint_id} for this tenant")
        until = (self.now() + overlap).isoformat()
        live = [{**s, "until": s["until"] or until} for s in json.loads(found["Secrets"]) if self._live(s)]
        name, value = self._new_secret(endpoint_id)
        updated = {**found, "Secrets": json.dumps([{"name": name, "until": None}, *live])}
        self.tables.update(TABLE_WEBHOOKS, updated, etag=str(found["etag"]))
        self._changed(tenant)
        return Endpoint.from_entity(updated), value

    def _live(self, secret: dict[str, Any]) -> bool:
        return secret.get("until") is None or dt.datetime.fromisoformat(secret["until"]) > self.now()

    def signing_secrets(self, endpoint: Endpoint) -> list[str]:
        """The values of the endpoint's live secrets, newest first: each delivery is signed with all of them."""
        return [self.secrets.get(s["name"]) for s in endpoint.secrets if self._live(s)]
