"""Switching accounting system: first a preview of what the new system would make of the tenant's last 90 days,
then the switch — the old connection kept, read-only, for lookups and history.

The preview connects to the new system with the settings and credentials given (tested, nothing written: the
credentials live only in this call, as for `companies`), reads every document of the retention period through
the document index a page at a time, applies the tenant's rules and asks the new system's preflight about each
— in batches, so memory stays flat — and adds it all up: how many it would accept, and which accounts, VAT
codes, customers and dimensions it lacks, each with how many documents need it and an example. The rules' own
accounts are asked of the system's chart of accounts where it has one.

The switch is a change of connection (pipeline/records/connections.change: tested, in force only if the test
passes); then the old connection goes to `Tenant.connections` as `read-only`, and, when asked, the open period
is resent to the new system (pipeline/resend.py: audited, never twice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.descriptors import TargetDescriptor
from pipeline.envelope import Enclosure
from pipeline.errors import BilagsbroError, ConfigError
from pipeline.ports import ChartOfAccounts, NotFound, Stale, Stores, TargetContext
from pipeline.problems import value_at
from pipeline.records import documents
from pipeline.records.connections import CHECK_DOCUMENT, _Candidate, _impatient, _target_settings, change, refusals
from pipeline.records.history import BlobExchangeLog, load
from pipeline.records.names import RETENTION_DAYS
from pipeline.records.tenants import Tenant, TenantRegistry
from pipeline.registry import Connectors, close_all
from pipeline.rules import apply

BATCH = 100  # documents preflighted at once
EXAMPLES = 3  # documents named per missing item
KINDS = (("accounts", ("account",)), ("vat_codes", ("vat",)), ("customers", ("customer", "supplier", "party")),
         ("dimensions", ("department", "project", "dimension")))


@dataclass
class Tally:
    """What the preview adds up as it goes: counts and a few examples, never the documents themselves."""

    checked: int = 0
    accepted: int = 0
    refused: int = 0
    unreadable: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    missing: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    fields: dict[tuple[str, str], int] = field(default_factory=dict)  # (document type, field) → documents using it

    def used(self, document: Any) -> None:
        for name in used_fields(document):
            key = (str(document.type), name)
            self.fields[key] = self.fields.get(key, 0) + 1

    def problem(self, kind: str, code: str, value: str, message: str, reference: str | None) -> None:
        found = self.missing.setdefault(kind, {}).setdefault((code, value), {
            "code": code, "value": value, "message": message, "documents": 0, "examples": []})
        found["documents"] += 1
        if reference and len(found["examples"]) < EXAMPLES and reference not in found["examples"]:
            found["examples"].append(reference)

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "accepted": self.accepted, "would_refuse": self.refused,
                "unreadable": self.unreadable, "by_status": self.by_status,
                "fields_used": [{"type": t, "field": f, "documents": n} for (t, f), n in sorted(self.fields.items())],
                "missing": {kind: sorted(found.values(), key=lambda f: (-f["documents"], f["value"]))
                            for kind, _ in [*KINDS, ("other", ())] if (found := self.missing.get(kind))}}


def _kind(code: str, field_name: str | None) -> str:
    text = f"{code} {field_name or ''}".lower()
    return next((kind for kind, words in KINDS if any(w in text for w in words)), "other")


DIMENSIONS = ("department", "project")  # named in the shared form; any other is `dimensions.*` (as the field map)


def used_fields(document: Any, prefix: str = "") -> set[str]:
    """The shared form's fields a document fills, named as the field map names them: `lines[].account`,
    `lines[].dimensions.department`, `lines[].dimensions.*`, `customer` (a party is one field)."""
    found: set[str] = set()
    for name in type(document).model_fields:
        value = getattr(document, name)
        if name in ("type", "origin") or value is None or value == () or value == {}:
            continue
        if name == "lines":
            for line in value:
                found |= used_fields(line, f"{prefix}lines[].")
        elif name == "dimensions":
            found |= {f"{prefix}dimensions.{key if key in DIMENSIONS else '*'}" for key in value}
        else:
            found.add(prefix + name)
    return found


# What the new system lacks is named as a person reads it: a party by its name first.
_PARTY_BY_NAME = ("name", "organization_number")


def candidate(stores: Stores, connectors: Connectors, tenant: Tenant, system: str, *,
              settings: Mapping[str, Any], credentials: Mapping[str, str]) -> tuple[Tenant, TargetContext]:
    """The tenant as it would be on `system`, and a context reaching that system with the given credentials (or
    those stored for an earlier connection to it); nothing is written. Raises ConfigError naming what is wrong."""
    descriptor = connectors.descriptors.get(system)
    if not isinstance(descriptor, TargetDescriptor) or system not in connectors.targets:
        raise ConfigError(f"unknown target {system!r}; known: {', '.join(sorted(connectors.targets))}",
                          tenant=tenant.id, connector=system)
    earlier = tenant.connections.get(system) or {}
    names = {str(k): str(v) for k, v in ((earlier.get("settings") or {}).get("secrets") or {}).items()}
    base = tenant.model_copy(update={"target": system, "target_settings": dict(earlier.get("settings") or {})})
    wanted = _target_settings(base, system, settings, None, names)
    refused = refusals(descriptor, wanted, credentials)
    missing = [s.name for s in descriptor.secrets if s.required and not credentials.get(s.name) and s.name not in names]
    if refused or missing:
        message = "; ".join([*(str(p) for p in refused), *(f"{system} needs {name}" for name in missing)])
        raise ConfigError(f"{descriptor.title}: {message}", tenant=tenant.id, connector=system, problems=tuple(refused))
    given = {f"candidate--{key}": value for key, value in credentials.items() if value}
    names.update({key: f"candidate--{key}" for key, value in credentials.items() if value})
    moved = tenant.model_copy(update={"target": system, "target_settings": {**wanted, "secrets": names}})
    context = TargetContext(tenant=tenant.id, settings=moved.target_settings, secrets=_Candidate(stores.secrets, given),
                            blobs=stores.blobs, exchanges=BlobExchangeLog(stores.blobs, tenant.id, CHECK_DOCUMENT),
                            cache={}, tables=stores.tables, sleep=_impatient)
    return moved, context


def preview(stores: Stores, connectors: Connectors, tenant_id: str, system: str, *,
            settings: Mapping[str, Any] | None = None, credentials: Mapping[str, str] | None = None,
            now: dt.datetime | None = None) -> dict[str, Any]:
    """What `system` would make of the tenant's last 90 days and its rules (nothing is written, nothing sent)."""
    tenant = TenantRegistry(stores.tables).get(tenant_id)
    if system == tenant.target:
        raise ConfigError(f"{tenant_id} delivers to {system} already", tenant=tenant_id, connector=system)
    moved, context = candidate(stores, connectors, tenant, system, settings=settings or {},
                               credentials=credentials or {})
    answer: dict[str, Any] = {"tenant_id": tenant_id, "from": tenant.target, "to": system}
    try:
        target = connectors.targets[system](context)
        try:
            answer["connection"] = {"ok": True, **(target.check() or {})}
        except (BilagsbroError, NotFound) as exc:
            answer["connection"] = {"ok": False, "error": exc.context() if isinstance(exc, BilagsbroError)
                                    else {"message": str(exc)}}
            return answer
        tally = Tally()
        query = documents.Query(limit=documents.MAX_PAGE)
        batch: list[Any] = []
        while True:
            page, cursor = documents.search(stores.tables, tenant_id, query, now=now)
            for listed in page:
                tally.by_status[listed.get("status", "?")] = tally.by_status.get(listed.get("status", "?"), 0) + 1
                try:
                    batch.append(apply(load(stores.blobs, stores.tables, tenant_id,
                                            Enclosure(listed["id"], listed.get("reference"))), moved.rules))
                except (NotFound, ValueError):
                    tally.unreadable += 1  # never translated, or its shared form is gone
                if len(batch) >= BATCH:
                    _check(target, batch, tally)
                    batch = []
            if cursor is None:
                break
            query = documents.Query(limit=documents.MAX_PAGE, cursor=cursor)
        _check(target, batch, tally)
        answer["documents"] = tally.as_dict()
        answer["fields"] = field_changes(connectors.descriptors.get(tenant.target), connectors.descriptors[system],
                                         tally.fields)
        answer["rules"] = _rules(target, tenant)
    finally:
        close_all(context.cache)
    moment = now or dt.datetime.now(dt.UTC)
    answer["period"] = {"received_from": (moment - dt.timedelta(days=RETENTION_DAYS)).isoformat(timespec="seconds"),
                        "received_to": moment.isoformat(timespec="seconds")}
    return answer


def switch(stores: Stores, connectors: Connectors, tenant_id: str, system: str, *, by: str, reason: str,
           settings: Mapping[str, Any] | None = None, credentials: Mapping[str, str] | None = None,
           direct_posting: bool | None = None, resend_from: dt.date | None = None) -> dict[str, Any]:
    """Point the tenant at `system` (tested first: a failed test changes nothing), keep the old connection
    read-only, and optionally resend every document dated `resend_from` or later (the open period) to `system`.

    Returns what happened; `switched` False with the test's error when the new connection failed its test."""
    from pipeline.resend import MAX_BULK, plan, send

    registry = TenantRegistry(stores.tables)
    before = registry.get(tenant_id)
    if system == before.target:
        raise ConfigError(f"{tenant_id} delivers to {system} already", tenant=tenant_id, connector=system)
    earlier = dict((before.connections.get(system) or {}).get("settings") or {})
    carried = {k: v for k, v in earlier.items() if k not in ("secrets", "facts")}
    outcome = change(stores, connectors, tenant_id, system, settings={**carried, **(settings or {})},
                     credentials=credentials or {}, direct_posting=direct_posting)
    if not outcome.activated:
        return {"tenant_id": tenant_id, "switched": False, "from": before.target, "to": system,
                "check": outcome.check, **({"superseded": True} if outcome.superseded else {})}
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    kept = {"settings": before.target_settings, "mode": "read-only", "since": at, "switched_to": system,
            "by": by, "reason": reason}
    while True:
        tenant, etag = registry.read(tenant_id)
        others = {k: v for k, v in tenant.connections.items() if k != system}
        try:
            registry.replace(tenant.model_copy(update={"connections": {**others, before.target: kept}}), etag)
            break
        except Stale:
            continue
    connectors.forget(tenant_id)
    answer: dict[str, Any] = {"tenant_id": tenant_id, "switched": True, "from": before.target, "to": system,
                              "check": outcome.check, "kept_read_only": before.target, "at": at}
    if resend_from is not None:
        tenant = registry.get(tenant_id)
        chosen = []
        query = documents.Query(date_from=resend_from.isoformat(), limit=documents.MAX_PAGE)
        while True:
            page, cursor = documents.search(stores.tables, tenant_id, query)
            chosen += [plan(stores, tenant, d["id"], system, force=False) for d in page]
            if cursor is None:
                break
            if len(chosen) > MAX_BULK:
                answer["resend"] = {"from": resend_from.isoformat(), "error": (
                    f"more than {MAX_BULK} documents are dated {resend_from} or later: none was resent; send them "
                    "in parts with POST /api/v1/resends (filter by date_from and date_to)")}
                return answer
            query = documents.Query(date_from=resend_from.isoformat(), limit=documents.MAX_PAGE, cursor=cursor)
        envelopes = send(stores, tenant, chosen, by=by, reason=f"switch to {system}: {reason}", force=False)
        counts: dict[str, int] = {}
        for planned in chosen:
            counts[planned.outcome] = counts.get(planned.outcome, 0) + 1
        answer["resend"] = {"from": resend_from.isoformat(), "counts": counts,
                            "envelopes": [e.to_json() for e in envelopes]}
    return answer


def dropped(descriptor: Any, name: str, document_type: str | None = None) -> str | None:
    """Why `descriptor`'s system leaves the shared-form field `name` out (its descriptor's `accepts`); None when
    it takes it. With a document type whose field map names the field, that map decides: `not_accepted` is one list
    for every type, and a field one type leaves out (a payment's description in Tripletex) another may keep."""
    accepts = getattr(descriptor, "accepts", None)
    if accepts is None:
        return None
    from pipeline.descriptors import NotAccepted

    said = ((getattr(accepts, "fields", None) or {}).get(document_type) or {}).get(name) if document_type else None
    if said is not None:
        if isinstance(said, NotAccepted):
            return str(said.reason)
        if name != "lines[].dimensions.*" and not name.startswith("lines[].dimensions."):
            return None
    if name in accepts.not_accepted:
        return str(accepts.not_accepted[name])
    if ".dimensions." in f".{name}":
        dimension = name.rsplit(".", 1)[1]
        if "*" not in accepts.dimensions and dimension not in accepts.dimensions:
            kind = "other dimensions" if dimension == "*" else f"a {dimension} dimension"
            return f"{descriptor.title} takes no {kind} on a line"
    return None


def field_changes(before: Any, after: Any, used: Mapping[tuple[str, str], int]) -> list[dict[str, Any]]:
    """The fields the period's documents fill that the new system would leave out or treat otherwise than the old
    one: each with how many documents fill it and what each system does with it (the connectors' descriptors:
    `accepts.not_accepted` and the public field map, pipeline/fieldmap.py)."""
    from pipeline.fieldmap import describe

    def rule(descriptor: Any, document_type: str, name: str) -> dict[str, Any]:
        accepts = getattr(descriptor, "accepts", None)
        fields = getattr(accepts, "fields", None) or {}
        return describe((fields.get(document_type) or {}).get(name))

    changes = []
    for (document_type, name), count in sorted(used.items()):
        reason = dropped(after, name, document_type)
        if reason is not None:
            earlier = dropped(before, name, document_type)
            changes.append({"type": document_type, "field": name, "documents": count, "dropped": reason,
                            "before": f"also left out: {earlier}" if earlier else "kept"})
            continue
        old, new = rule(before, document_type, name), rule(after, document_type, name)
        if "no map" not in (old["kind"], new["kind"]) and old["kind"] != new["kind"]:
            changes.append({"type": document_type, "field": name, "documents": count, "differently": new,
                            "before": old})
    return changes


def _check(target: Any, batch: list[Any], tally: Tally) -> None:
    if not batch:
        return
    problems = target.preflight(batch)
    refused = {p.reference for p in problems if p.is_error}
    by_reference = {d.reference: d for d in batch}
    tally.checked += len(batch)
    for document in batch:
        tally.used(document)
    tally.refused += sum(1 for d in batch if d.reference in refused)
    tally.accepted += sum(1 for d in batch if d.reference not in refused)
    for problem in problems:
        if problem.is_error:
            document = by_reference.get(problem.reference)
            tally.problem(_kind(problem.code, problem.field), problem.code,
                          value_at(document, problem.field, party=_PARTY_BY_NAME) if document is not None else "", problem.message,
                          problem.reference)


def _rules(target: Any, tenant: Tenant) -> dict[str, Any]:
    """The accounts the tenant's rules map to, asked of the new system's chart (where it has one)."""
    accounts = sorted(set(tenant.rules.account_map.values()))
    if not accounts:
        return {"accounts": [], "missing": {}}
    if not isinstance(target, ChartOfAccounts):
        return {"accounts": accounts, "unchecked": "the system has no chart of accounts to ask"}
    try:
        return {"accounts": accounts, "missing": target.accounts_missing(accounts)}
    except (BilagsbroError, NotFound) as exc:
        return {"accounts": accounts, "unchecked": str(exc)[:300]}
