"""Versioned rules: every change of a tenant's rules is a new version with who, when and why, a diff against the
one before, rollback to any version (itself a new version), and optimistic concurrency on the version number.

Versions live in TABLE_STATE, partition `<tenant>|rules`, one row each, newest first (RowKey: the version's
number subtracted from 99,999,999), holding the whole rules as they were (a tenant's rules fit one property:
`MAX_RULES_CHARS`). The version row is the commit: a save inserts row n+1 — an insert only one writer wins, so
two saves based on version n cannot both land (the loser is `Outdated`, HTTP 409) — then puts the rules and
`rules_version` n+1 on the tenant's row, where the stages read them. A save that died between the two is
completed by the next read of the versions (`in_force`), so the tenant never lags its newest version for long.
Version 0 is the rules as they were when versioning began (written with the first change).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ConfigError
from pipeline.ports import Conflict, Entity, Stale, TableStore
from pipeline.records.names import TABLE_STATE
from pipeline.records.tenants import Tenant, TenantRegistry
from pipeline.rules import Rules

_TOP = 99_999_999
MAX_RULES_CHARS = 30_000  # the tenant's row keeps its rules in one property (Table Storage: 64 KiB, UTF-16)
KINDS = ("account_map", "vat_map", "voucher_types", "dimensions", "customers", "grouping_codes")


class Outdated(Exception):
    """The save was based on another version than the one in force: re-read, look again, save again."""

    def __init__(self, based_on: int | None, current: int) -> None:
        super().__init__(f"the rules were changed meanwhile: version {current} is in force, this change was based "
                         f"on version {based_on}; look at the difference and save again")
        self.based_on, self.current = based_on, current


@dataclass(frozen=True)
class RuleVersion:
    version: int
    rules: Rules
    at: str
    by: str
    reason: str
    action: str  # "initial", "save" or "rollback"
    based_on: int | None = None
    rollback_of: int | None = None

    def as_dict(self, *, with_rules: bool = True) -> dict[str, Any]:
        shown: dict[str, Any] = {"version": self.version, "at": self.at, "by": self.by, "reason": self.reason,
                                 "action": self.action, "etag": etag(self.version)}
        if self.based_on is not None:
            shown["based_on"] = self.based_on
        if self.rollback_of is not None:
            shown["rollback_of"] = self.rollback_of
        if with_rules:
            shown["rules"] = self.rules.model_dump(mode="json")
        return shown


def etag(version: int) -> str:
    return f'"rules-{version}"'


def parse_etag(value: str) -> int | None:
    """The version an If-Match header names (`"rules-7"`, `W/"rules-7"` or `7`); None when it names none."""
    text = value.strip().removeprefix("W/").strip('"')
    text = text.removeprefix("rules-")
    return int(text) if text.isdigit() else None


def _partition(tenant: str) -> str:
    return f"{tenant}|rules"


def _row_key(version: int) -> str:
    return f"{_TOP - version:08d}"


def _version(row: Entity) -> RuleVersion:
    return RuleVersion(version=int(row["Version"]), rules=Rules.model_validate(row.get("Rules") or {}),
                       at=str(row.get("At") or ""), by=str(row.get("By") or ""), reason=str(row.get("Reason") or ""),
                       action=str(row.get("Action") or "save"),
                       based_on=int(row["BasedOn"]) if row.get("BasedOn") is not None else None,
                       rollback_of=int(row["RollbackOf"]) if row.get("RollbackOf") is not None else None)


def newest(tables: TableStore, tenant: str) -> RuleVersion | None:
    rows = tables.scan(TABLE_STATE, _partition(tenant), limit=1)
    return _version(rows[0]) if rows else None


def get(tables: TableStore, tenant: str, version: int) -> RuleVersion | None:
    if not 0 <= version <= _TOP:
        return None
    row = tables.get(TABLE_STATE, _partition(tenant), _row_key(version))
    return _version(row) if row is not None else None


def page(tables: TableStore, tenant: str, *, limit: int = 50, before: int | None = None
         ) -> tuple[list[RuleVersion], int | None]:
    """Versions newest first, `limit` of them, from below `before`; and the `before` of the next page."""
    after = _row_key(before) if before is not None else ""
    rows = tables.scan(TABLE_STATE, _partition(tenant), after=after, limit=limit + 1)
    found = [_version(r) for r in rows[:limit]]
    return found, (found[-1].version if len(rows) > limit and found else None)


def in_force(tables: TableStore, tenant_id: str) -> tuple[Tenant, RuleVersion | None]:
    """The tenant with the rules of its newest version (completing a save that stopped halfway) and that version
    (None before the first versioned change)."""
    registry = TenantRegistry(tables)
    found = newest(tables, tenant_id)
    while True:
        tenant, tag = registry.read(tenant_id)
        if found is None or tenant.rules_version >= found.version:
            return tenant, found
        try:
            registry.replace(tenant.model_copy(update={"rules": found.rules, "rules_version": found.version}), tag)
        except Stale:
            continue


def save(tables: TableStore, tenant_id: str, rules: Rules, *, based_on: int | None, by: str, reason: str,
         action: str = "save", rollback_of: int | None = None) -> RuleVersion:
    """A new version of the tenant's rules, in force on the next document. `based_on` None: on whatever version is
    in force (the API's PUT without If-Match). Raises Outdated, or ConfigError for rules too large to keep."""
    size = len(rules.model_dump_json())
    if size > MAX_RULES_CHARS:
        raise ConfigError(f"the rules are {size:,} characters as JSON; a tenant's rules are kept in at most "
                          f"{MAX_RULES_CHARS:,}", tenant=tenant_id)
    tenant, current = in_force(tables, tenant_id)
    number = current.version if current is not None else 0
    if based_on is not None and based_on != number:
        raise Outdated(based_on, number)
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if current is None:  # the rules as versioning found them: version 0, so the first change has a diff and a way back
        try:
            tables.insert(TABLE_STATE, _row(tenant_id, 0, tenant.rules, at=tenant.created_at or at, by="bilagsbro",
                                            reason="the rules before versioning", action="initial"))
        except Conflict:
            pass
    version = RuleVersion(number + 1, rules, at, by, reason, action, number, rollback_of)
    try:
        tables.insert(TABLE_STATE, _row(tenant_id, version.version, rules, at=at, by=by, reason=reason, action=action,
                                        based_on=number, rollback_of=rollback_of))
    except Conflict:
        raise Outdated(based_on if based_on is not None else number, number + 1) from None
    in_force(tables, tenant_id)
    return version


def rollback(tables: TableStore, tenant_id: str, version: int, *, based_on: int | None, by: str, reason: str
             ) -> RuleVersion:
    """Back to the rules of `version`, as a new version (history is never rewritten)."""
    earlier = get(tables, tenant_id, version)
    if earlier is None:
        raise KeyError(version)
    return save(tables, tenant_id, earlier.rules, based_on=based_on, by=by, reason=reason, action="rollback",
                rollback_of=version)


def _row(tenant: str, version: int, rules: Rules, *, at: str, by: str, reason: str, action: str,
         based_on: int | None = None, rollback_of: int | None = None) -> Entity:
    row: Entity = {"PartitionKey": _partition(tenant), "RowKey": _row_key(version), "Version": version,
                   "Rules": rules.model_dump(mode="json"), "At": at, "By": by[:200], "Reason": reason[:1000],
                   "Action": action}
    if based_on is not None:
        row["BasedOn"] = based_on
    if rollback_of is not None:
        row["RollbackOf"] = rollback_of
    return row


def diff(before: Rules, after: Rules) -> list[dict[str, Any]]:
    """What changed from `before` to `after`, rule by rule: each key added, removed or changed, with both values
    (a per-customer exception compared field by field)."""
    changes: list[dict[str, Any]] = []
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    for kind in KINDS:
        a, b = old.get(kind) or {}, new.get(kind) or {}
        for key in sorted(set(a) | set(b)):
            if key not in b:
                changes.append({"rule": kind, "key": key, "change": "removed", "before": a[key]})
            elif key not in a:
                changes.append({"rule": kind, "key": key, "change": "added", "after": b[key]})
            elif a[key] != b[key]:
                changes.append({"rule": kind, "key": key, "change": "changed", "before": a[key], "after": b[key]})
    return changes


def summary(changes: list[dict[str, Any]]) -> dict[str, int]:
    counted: dict[str, int] = {}
    for change in changes:
        counted[change["change"]] = counted.get(change["change"], 0) + 1
    return counted

