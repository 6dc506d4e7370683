"""Tenants and their API keys: who may send documents, and where their documents go.

API keys are random 256-bit tokens shown once; only their SHA-256 is stored (a slow password hash
buys nothing for keys with that much entropy, and a point lookup by hash keeps every request to one
storage read); listing, revoking and rotating them is `pipeline.records.apikeys`. Target settings hold no
secrets: those are names of entries in the secret store.

The stages read a tenant through `TenantRegistry.current`: kept per process for CACHE_SECONDS, then read
again and parsed again only when its ETag changed — a change made in this process is seen at once, one
made elsewhere within CACHE_SECONDS.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import threading
import time
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.errors import ConfigError
from pipeline.norway.identifiers import normalise_organisation_number, valid_organisation_number
from pipeline.ports import Conflict, TableStore
from pipeline.records.apikeys import ApiKeys
from pipeline.records.names import TABLE_TENANTS
from pipeline.rules import Rules

_TENANT_PARTITION = "tenant"
CACHE_SECONDS = 5.0
_cached: dict[tuple[str, str], tuple[Tenant, str, float]] = {}  # (account, tenant) → tenant, ETag, when read
_cache_lock = threading.Lock()


def _account(tables: TableStore) -> str:
    """Which storage account a table store reaches: two stores of one account share their cached tenants."""
    return str(getattr(tables, "account_key", None) or id(tables))


class Tenant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    organization_number: str | None = None
    target: str = Field("file", description="Name of the accounting system in the target registry")
    target_settings: dict[str, Any] = Field(default_factory=dict, description="Non-secret settings")
    rules: Rules = Field(default_factory=Rules)
    rules_version: int = Field(0, description="The version of `rules` in force (pipeline/rule_versions.py); 0 "
                                              "before the first versioned change")
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Pulled sources, e.g. omnium")
    connections: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Accounting systems besides `target` (pipeline/resend.py): system → "
                                          "settings, mode ('active': may be sent to; 'read-only': kept after a "
                                          "switch for lookups and history), since")
    pending: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Connection changes not in force yet (pipeline.records.connections): "
                                          "'connection' or a source's name → target/settings, state, check")
    created_at: str = ""

    @field_validator("organization_number")
    @classmethod
    def _org(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = normalise_organisation_number(value)
        if not re.fullmatch(r"\d{9}", digits):
            raise ValueError(f"organization number {value!r} is not nine digits")
        if not valid_organisation_number(digits):
            raise ValueError(f"organization number {value!r} fails its MOD11 check digit (a typo?)")
        return digits


def through(tenant: Tenant, system: str, *, sending: bool = False) -> Tenant:
    """The tenant as its connection to `system` sees it: that system as its target, with that connection's
    settings (its own `target` when it is the tenant's primary). Raises ConfigError when not connected to it, or,
    `sending`, when that connection is read-only (kept after a switch for lookups and history)."""
    if system == tenant.target:
        return tenant
    found = tenant.connections.get(system)
    if found is None:
        known = ", ".join([tenant.target, *sorted(tenant.connections)])
        raise ConfigError(f"{tenant.id} is not connected to {system!r}; its connections: {known}", tenant=tenant.id,
                          connector=system)
    if sending and found.get("mode") == "read-only":
        raise ConfigError(f"{tenant.id}'s connection to {system} is read-only (kept since the switch to "
                          f"{tenant.target} for lookups and history): nothing is sent there", tenant=tenant.id,
                          connector=system)
    return tenant.model_copy(update={"target": system, "target_settings": dict(found.get("settings") or {})})


def new_tenant_id(name: str) -> str:
    """Readable and safe everywhere a tenant id goes: table keys, blob paths, Key Vault names."""
    folded = name.lower().replace("æ", "ae").replace("ø", "o")
    folded = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
    slug = re.sub(r"[^a-z0-9]+", "-", folded)
    return f"{slug.strip('-')[:30] or 'tenant'}-{secrets.token_hex(3)}"


def secret_name(tenant: str, target: str, key: str, slot: str | None = None) -> str:
    """The secret store name for one credential of one tenant's connection (in one of its two slots,
    pipeline.records.connections): Key Vault's 1-127 letters, digits and hyphens."""
    name = re.sub(r"[^0-9A-Za-z-]", "-", f"{tenant}--{target}--{key}")
    return f"{name[:124]}--{slot}" if slot else name[:127]


class TenantRegistry:
    def __init__(self, tables: TableStore) -> None:
        self.tables = tables

    def add(self, name: str, *, organization_number: str | None = None, tenant_id: str | None = None) -> Tenant:
        tenant = Tenant(
            id=tenant_id or new_tenant_id(name),
            name=name,
            organization_number=organization_number,
            created_at=dt.datetime.now(dt.UTC).isoformat(),
        )
        try:
            self.tables.insert(TABLE_TENANTS, self._entity(tenant))
        except Conflict:
            raise ConfigError(f"tenant {tenant.id} exists already", tenant=tenant.id) from None
        return tenant

    def save(self, tenant: Tenant) -> None:
        self._forget(tenant.id)
        self.tables.upsert(TABLE_TENANTS, self._entity(tenant))

    def get(self, tenant_id: str) -> Tenant:
        entity = self.tables.get(TABLE_TENANTS, _TENANT_PARTITION, tenant_id)
        if entity is None:
            raise ConfigError(f"no tenant {tenant_id}", tenant=tenant_id)
        return Tenant.model_validate(entity["Tenant"])

    def current(self, tenant_id: str) -> Tenant:
        """The tenant as a stage uses it: read at most once per CACHE_SECONDS in this process, parsed again only
        when its row's ETag changed."""
        key = (_account(self.tables), tenant_id)
        with _cache_lock:
            found = _cached.get(key)
        if found is not None and time.monotonic() - found[2] < CACHE_SECONDS:
            return found[0]
        entity = self.tables.get(TABLE_TENANTS, _TENANT_PARTITION, tenant_id)
        if entity is None:
            self._forget(tenant_id)
            raise ConfigError(f"no tenant {tenant_id}", tenant=tenant_id)
        etag = str(entity.get("etag"))
        tenant = found[0] if found is not None and found[1] == etag else Tenant.model_validate(entity["Tenant"])
        with _cache_lock:
            _cached[key] = (tenant, etag, time.monotonic())
        return tenant

    def _forget(self, tenant_id: str) -> None:
        with _cache_lock:
            _cached.pop((_account(self.tables), tenant_id), None)

    def read(self, tenant_id: str) -> tuple[Tenant, str]:
        """The tenant and its row's ETag, for a change that must not overwrite another (`replace`)."""
        entity = self.tables.get(TABLE_TENANTS, _TENANT_PARTITION, tenant_id)
        if entity is None:
            raise ConfigError(f"no tenant {tenant_id}", tenant=tenant_id)
        return Tenant.model_validate(entity["Tenant"]), str(entity["etag"])

    def replace(self, tenant: Tenant, etag: str) -> str:
        """Write the tenant only if its row is unchanged since `read`; raises Stale otherwise."""
        self._forget(tenant.id)
        return self.tables.update(TABLE_TENANTS, self._entity(tenant), etag=etag)

    def all(self) -> list[Tenant]:
        return [Tenant.model_validate(e["Tenant"]) for e in self.tables.query(TABLE_TENANTS, _TENANT_PARTITION)]

    @staticmethod
    def _entity(tenant: Tenant) -> dict[str, Any]:
        return {
            "PartitionKey": _TENANT_PARTITION,
            "RowKey": tenant.id,
            "Name": tenant.name,
            "Tenant": tenant.model_dump(mode="json"),
        }

    # API keys (pipeline.records.apikeys) ----------------------------------------------------------------------

    def issue_key(self, tenant_id: str | None, *, role: str = "tenant", label: str | None = None) -> str:
        """A new key, returned once. role 'admin' keys manage tenants and carry no tenant."""
        return ApiKeys(self.tables).issue(tenant_id, role=role, label=label)[0]

    def authenticate(self, api_key: str | None) -> tuple[str, str] | None:
        """(role, tenant id) for a valid key, else None."""
        return ApiKeys(self.tables).authenticate(api_key)
