"""API keys: issued once, stored hashed, listed by hint, revoked at once, rotated with an overlap window.

Storage (table `apikeys`, one partition "key"):

- **the key row** — RowKey = SHA-256 of the key. The only row `authenticate` reads (one point read per
  request), and the only place a key's state lives: `Revoked`, `ExpiresAt` (set by a rotation: the old key
  works until then), `ReplacedBy`. Revocation and rotation update it under its ETag.
- **the owner's index row** — RowKey = `by-tenant|<tenant>|<key id>` (admin keys: `by-tenant|(admin)|…`),
  written before the key row and never changed: the key's hash, hint, label and creation time. Listing a
  tenant's keys is one range query on that prefix plus a point read per key for its state; no scan.

A key id is the first 16 hex digits of the hash: enough to name a key among a tenant's few, and nothing to
guess the key by. The hint (`bb_AbCd…wXyZ`) shows 8 of the key's 46 characters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from pipeline import redaction
from pipeline.errors import ConfigError
from pipeline.ports import Entity, NotFound, Stale, TableStore
from pipeline.records.names import TABLE_APIKEYS

KEY_PREFIX = "bb_"
PARTITION = "key"
ADMIN_OWNER = "(admin)"  # tenant ids are slugs: never this
DEFAULT_OVERLAP = dt.timedelta(hours=24)
MAX_OVERLAP = dt.timedelta(days=30)
ROLES = ("tenant", "admin")


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def key_id(key_hash: str) -> str:
    return key_hash[:16]


def _index_row(owner: str, kid: str) -> str:
    return f"by-tenant|{owner}|{kid}"


def _owner(tenant_id: str | None) -> str:
    return tenant_id or ADMIN_OWNER


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ApiKey:
    """What an operator may see of a key: never the key."""

    key_id: str
    tenant_id: str | None
    role: str
    hint: str
    label: str | None
    created_at: str
    status: str  # active | expiring (rotated, overlap running) | expired | revoked
    expires_at: str | None = None
    revoked_at: str | None = None
    replaced_by: str | None = None
    replaces: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _status(row: Entity, now: dt.datetime) -> str:
    if row.get("Revoked"):
        return "revoked"
    expires = row.get("ExpiresAt")
    if expires:
        return "expired" if now >= dt.datetime.fromisoformat(expires) else "expiring"
    return "active"


def _view(index: Entity, row: Entity, now: dt.datetime) -> ApiKey:
    return ApiKey(
        key_id=str(index["KeyId"]), tenant_id=str(row.get("Tenant") or "") or None, role=str(row.get("Role", "tenant")),
        hint=str(index.get("Hint", "")), label=index.get("Label") or None, created_at=str(index.get("CreatedAt", "")),
        status=_status(row, now), expires_at=row.get("ExpiresAt") or None, revoked_at=row.get("RevokedAt") or None,
        replaced_by=row.get("ReplacedBy") or None, replaces=index.get("Replaces") or None,
    )


class ApiKeys:
    def __init__(self, tables: TableStore, *, clock: Any = _now) -> None:
        self.tables = tables
        self.clock = clock

    # -- issuing and checking ---------------------------------------------------------------------------

    def issue(self, tenant_id: str | None, *, role: str = "tenant", label: str | None = None,
              replaces: str | None = None) -> tuple[str, ApiKey]:
        """A new key, returned once, and what may be shown of it. Admin keys carry no tenant."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role}")
        if (role == "tenant") != bool(tenant_id):
            raise ValueError("a tenant key needs a tenant; an admin key has none")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        redaction.remember(key)
        digest = hash_key(key)
        kid = key_id(digest)
        created = self.clock().isoformat()
        hint = f"{key[:7]}…{key[-4:]}"
        # Index first: a crash between the two writes leaves a listed key that never worked (list skips it),
        # never a working key that cannot be listed and so not revoked.
        index = {"PartitionKey": PARTITION, "RowKey": _index_row(_owner(tenant_id), kid), "KeyId": kid, "Hash": digest,
                 "Hint": hint, "Label": label, "CreatedAt": created, "Replaces": replaces}
        self.tables.upsert(TABLE_APIKEYS, index)
        row = {"PartitionKey": PARTITION, "RowKey": digest, "KeyId": kid, "Tenant": tenant_id or "", "Role": role,
               "Hint": hint, "CreatedAt": created, "Revoked": False}
        self.tables.insert(TABLE_APIKEYS, row)
        return key, _view(index, row, self.clock())

    def authenticate(self, api_key: str | None) -> tuple[str, str] | None:
        """(role, tenant id) for a key that works now, else None. Revocation counts from the next request."""
        if not api_key or not api_key.startswith(KEY_PREFIX) or len(api_key) > 200:
            return None
        row = self.tables.get(TABLE_APIKEYS, PARTITION, hash_key(api_key))
        if row is None or _status(row, self.clock()) not in ("active", "expiring"):
            return None
        redaction.remember(api_key)
        if not row.get("KeyId"):
            self._index_legacy(row)
        return str(row.get("Role", "tenant")), str(row.get("Tenant", ""))

    def _index_legacy(self, row: Entity) -> None:
        """Keys issued before the index existed get theirs on first use, so they can be listed and revoked."""
        kid = key_id(str(row["RowKey"]))
        self.tables.upsert(TABLE_APIKEYS, {
            "PartitionKey": PARTITION, "RowKey": _index_row(_owner(str(row.get("Tenant") or "")), kid), "KeyId": kid,
            "Hash": row["RowKey"], "Hint": row.get("Hint", ""), "CreatedAt": row.get("CreatedAt", "")})
        try:
            self.tables.update(TABLE_APIKEYS, {**row, "KeyId": kid}, etag=row["etag"])
        except Stale:
            pass  # revoked or rotated meanwhile: that write wins; the index row is there either way

    # -- an owner's keys --------------------------------------------------------------------------------

    def owned_by(self, tenant_id: str | None) -> list[ApiKey]:
        """Every key of a tenant (None: the admin keys), oldest first, with its state now."""
        now = self.clock()
        keys = []
        for index in self.tables.query(TABLE_APIKEYS, PARTITION, _index_row(_owner(tenant_id), "")):
            row = self.tables.get(TABLE_APIKEYS, PARTITION, str(index["Hash"]))
            if row is not None:
                keys.append(_view(index, row, now))
        return sorted(keys, key=lambda k: (k.created_at, k.key_id))

    def _find(self, tenant_id: str | None, kid: str) -> tuple[Entity, Entity]:
        index = self.tables.get(TABLE_APIKEYS, PARTITION, _index_row(_owner(tenant_id), kid))
        row = self.tables.get(TABLE_APIKEYS, PARTITION, str(index["Hash"])) if index else None
        if index is None or row is None:
            raise NotFound(f"no key {kid} for {tenant_id or 'the admin role'}")
        return index, row

    def revoke(self, tenant_id: str | None, kid: str) -> ApiKey:
        """The key stops working at once (the next request with it answers 401). Revoking twice is a no-op."""
        while True:
            index, row = self._find(tenant_id, kid)
            if row.get("Revoked"):
                return _view(index, row, self.clock())
            revoked = {**row, "Revoked": True, "RevokedAt": self.clock().isoformat()}
            try:
                revoked["etag"] = self.tables.update(TABLE_APIKEYS, revoked, etag=row["etag"])
            except Stale:
                continue  # changed meanwhile (rotated): decide again on what is there now
            return _view(index, revoked, self.clock())

    def rotate(self, tenant_id: str | None, kid: str, *, overlap: dt.timedelta = DEFAULT_OVERLAP,
               label: str | None = None) -> tuple[str, ApiKey, ApiKey]:
        """A new key now; the old one keeps working until `overlap` has passed (0: stops at once).

        Returns (new key, new key's view, old key's view). A key in its overlap may be rotated again (say the
        answer with the new key was lost): its end never moves later. A revoked or expired key is refused.
        """
        if not dt.timedelta(0) <= overlap <= MAX_OVERLAP:
            raise ValueError(f"the overlap must be between 0 and {MAX_OVERLAP.days} days")
        index, row = self._find(tenant_id, kid)
        if _status(row, self.clock()) not in ("active", "expiring"):
            raise ConfigError(f"key {kid} is {_status(row, self.clock())}: issue a new key instead",
                              tenant=tenant_id)
        key, new = self.issue(tenant_id, role=str(row.get("Role", "tenant")), replaces=kid,
                              label=label if label is not None else index.get("Label"))
        while True:
            now = self.clock()
            if _status(row, now) not in ("active", "expiring"):  # revoked while we issued: so is the new one
                self.revoke(tenant_id, new.key_id)
                raise ConfigError(f"key {kid} was revoked meanwhile; the new key was revoked too", tenant=tenant_id)
            ends = now + overlap
            if row.get("ExpiresAt"):
                ends = min(ends, dt.datetime.fromisoformat(row["ExpiresAt"]))
            rotated = {**row, "ExpiresAt": ends.isoformat(), "ReplacedBy": new.key_id}
            try:
                rotated["etag"] = self.tables.update(TABLE_APIKEYS, rotated, etag=row["etag"])
            except Stale:
                index, row = self._find(tenant_id, kid)
                continue
            return key, new, _view(index, rotated, now)


def parse_overlap(text: str) -> dt.timedelta:
    """'24h', '90m', '2d', '0' or plain hours ('36') → a timedelta."""
    text = text.strip().lower()
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    try:
        if text and text[-1] in units:
            return dt.timedelta(**{units[text[-1]]: float(text[:-1])})
        return dt.timedelta(hours=float(text))
    except ValueError:
        raise ValueError(f"overlap {text!r}: give hours, or a number with d, h, m or s (e.g. 24h)") from None
