"""Connecting a tenant to its accounting system (and its pulled sources): credentials to the secret store,
the rest to settings, and new credentials in force only once a connection test has passed with them.

What each system takes is declared by its descriptor (pipeline.descriptors): its settings model — a setting it
does not know or a value of the wrong kind is refused before anything is written — and its secrets; the
tenant's settings hold only secret *names*. A change of connection is made in three steps, so a typo never takes
down a working connection:

1. **pending** — the tenant row records the change (ETag-guarded: of two changes at once, the later wins and
   the earlier can no longer be promoted), and each new credential is written under its *other slot*: a
   credential active as `<tenant>--<target>--<key>--a` gets its new value as `…--b`, and back again next time.
   The active names are never written to, so deliveries go on with the old values throughout.
2. **check** — the target's connection test runs with the pending settings and names, on a cache of its own.
3. **active** — passed: the tenant's settings point at the new names (one conditional write of the tenant
   row). Failed: nothing changes but the pending record, which says why.

Slots, not fresh names per change: Key Vault keeps a deleted name (soft delete, purge protection) for 90 days
and refuses to create it again meanwhile, so names are reused, never deleted; each write is a new version.
The value that stays in the inactive slot is the previous credential until the next change overwrites it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from secrets import token_hex
from typing import Any

from pipeline.descriptors import Descriptor, FormatDescriptor, TargetDescriptor
from pipeline.errors import BilagsbroError, ConfigError, Problem, SecretsMissing
from pipeline.ports import ChartOfAccounts, Companies, NotFound, PulledSource, SecretStore, Stale, Stores, TargetContext
from pipeline.records import platform
from pipeline.records.history import BlobExchangeLog
from pipeline.records.tenants import Tenant, TenantRegistry, secret_name
from pipeline.registry import Connectors, close_all

SLOTS = ("a", "b")
CHECK_DOCUMENT = "connection-test"  # the exchanges of connection tests are kept under this id
# A connection test says what is wrong now, to someone waiting for the answer: between its tries it waits at
# most this long (deliveries wait as long as the system asks, up to connectors.http.MAX_SLEEP).
CHECK_MAX_WAIT = 0.2


def _impatient(seconds: float) -> None:
    time.sleep(min(seconds, CHECK_MAX_WAIT))


def next_slot_name(active: str | None, tenant: str, system: str, key: str) -> str:
    """The name a credential's new value goes to: the slot its active name does not use."""
    slot = "b" if active and active.endswith("--a") else "a"
    return secret_name(tenant, system, key, slot)


@dataclass(frozen=True)
class Change:
    """The outcome of a connection change: the tenant as it is now, and whether the new settings took."""

    tenant: Tenant
    activated: bool
    check: dict[str, Any]
    superseded: bool = False  # another change of the same connection came in while this one was checked


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _pending_names(tenant: Tenant, system: str, active: Mapping[str, str],
                   credentials: Mapping[str, str]) -> dict[str, str]:
    """Each given credential's other slot; the others carried over by their active names. The slot avoids the name
    in force for `system` either way — as the primary, or as a further (or read-only) connection — so a change of
    one never writes over the credential the other is using."""
    in_use = {**_active_names(tenant, system, further=True), **_active_names(tenant, system), **active}
    names = {key: name for key, name in active.items() if not credentials.get(key)}
    for key, value in credentials.items():
        if value:
            names[key] = next_slot_name(in_use.get(key), tenant.id, system, key)
    return names


def _write(secrets: SecretStore, names: Mapping[str, str], credentials: Mapping[str, str]) -> None:
    for key, value in credentials.items():
        if value:
            secrets.set(names[key], value)


def _claim(registry: TenantRegistry, tenant_id: str, key: str, record: dict[str, Any]) -> Tenant:
    """Record a pending change on the tenant row; its id tells, after the check, whether it is still the latest."""
    while True:
        tenant, etag = registry.read(tenant_id)
        try:
            registry.replace(tenant.model_copy(update={"pending": {**tenant.pending, key: record}}), etag)
            return tenant
        except Stale:
            continue  # the row changed under us (rules, another change): record on what is there now


def _settle(registry: TenantRegistry, tenant_id: str, key: str, record: dict[str, Any], result: dict[str, Any],
            promote: Callable[[Tenant], Tenant]) -> Change:
    """Passed: promote (one conditional write). Failed: keep what is active, record why. Superseded: leave it."""
    while True:
        tenant, etag = registry.read(tenant_id)
        if (tenant.pending.get(key) or {}).get("id") != record["id"]:
            return Change(tenant, activated=False, check=result, superseded=True)
        others = {k: v for k, v in tenant.pending.items() if k != key}
        if result["ok"]:
            updated = promote(tenant).model_copy(update={"pending": others})
        else:
            failed = {**record, "state": "failed", "checked_at": _now(), "check": result}
            updated = tenant.model_copy(update={"pending": {**others, key: failed}})
        try:
            registry.replace(updated, etag)
        except Stale:
            continue
        return Change(updated, activated=bool(result["ok"]), check=result)


def _record(**what: Any) -> dict[str, Any]:
    return {**what, "id": token_hex(6), "since": _now(), "state": "checking"}


def connect(
    registry: TenantRegistry,
    secrets: SecretStore,
    tenant_id: str,
    target: str,
    *,
    settings: Mapping[str, Any],
    credentials: Mapping[str, str],
    required: tuple[str, ...] = (),
    direct_posting: bool | None = None,
    descriptor: Descriptor | None = None,
) -> Tenant:
    """Point the tenant at `target` at once, without a connection test: for set-up code (the demo's sandbox,
    tests). Operators' paths — the admin API and the CLI — use `change`, which tests first. With its
    `descriptor`, the settings are checked against the system's model all the same."""
    tenant = registry.get(tenant_id)
    active = _active_names(tenant, target)
    names = _pending_names(tenant, target, active, credentials)
    target_settings = _target_settings(tenant, target, settings, direct_posting, names)
    if descriptor is not None:
        target_settings = platform.fill(secrets, descriptor, target_settings)
    missing = [name for name in required if name not in target_settings["secrets"]]
    if missing:
        raise SecretsMissing(f"{target} needs {', '.join(missing)}", tenant=tenant_id, connector=target)
    if descriptor is not None:
        descriptor.settings.read(target_settings, tenant=tenant_id, connector=target)
    _write(secrets, names, credentials)
    updated = tenant.model_copy(update={"target": target, "target_settings": target_settings})
    registry.save(updated)
    return updated


def _in_force(tenant: Tenant, target: str, *, further: bool = False) -> dict[str, Any]:
    """The settings of the tenant's connection to `target` as they are: its primary's, or (`further`) those of a
    further connection in `Tenant.connections`; none when it is not connected to `target` that way."""
    if further:
        return dict((tenant.connections.get(target) or {}).get("settings") or {})
    return dict(tenant.target_settings) if tenant.target == target else {}


def _active_names(tenant: Tenant, target: str, *, further: bool = False) -> dict[str, str]:
    secrets = _in_force(tenant, target, further=further).get("secrets") or {}
    return {str(k): str(v) for k, v in secrets.items()}


def _target_settings(tenant: Tenant, target: str, settings: Mapping[str, Any], direct_posting: bool | None,
                     names: Mapping[str, str], *, further: bool = False) -> dict[str, Any]:
    """The settings a change leads to: what it names, over the active connection's when the target stays the
    same (a token rotation keeps the base URL); None removes a setting."""
    active = _in_force(tenant, target, further=further)
    active.pop("secrets", None)
    merged = {**active, **settings}
    if direct_posting is not None:
        merged["direct_posting"] = direct_posting
    merged.setdefault("direct_posting", False)
    return {**{k: v for k, v in merged.items() if v is not None}, "secrets": dict(names)}


def refusals(descriptor: Descriptor, settings: Mapping[str, Any], credentials: Mapping[str, Any], *,
             strict: bool = True) -> list[Problem]:
    """Everything wrong with a change of connection before anything is written: settings the system's model
    refuses, and credentials it does not take (each named: `settings.base_url`, `credentials.api_key`)."""
    found: list[Problem] = []
    try:
        descriptor.settings.read(settings, connector=descriptor.name, strict=strict)
    except ConfigError as exc:
        found.extend(exc.problems)
    known = {secret.name for secret in descriptor.secrets}
    found.extend(Problem(f"not a credential of {descriptor.title}; known: {', '.join(sorted(known)) or 'none'}",
                         field=f"credentials.{name}", code="invalid-setting")
                 for name in sorted(set(credentials) - known))
    return found


def change(
    stores: Stores,
    connectors: Connectors,
    tenant_id: str,
    target: str,
    *,
    settings: Mapping[str, Any],
    credentials: Mapping[str, str],
    direct_posting: bool | None = None,
    strict: bool = True,
    further: bool = False,
) -> Change:
    """Connect the tenant to `target` with new settings and credentials, in force only if the check passes.

    Settings and credentials not given are carried over from the active connection to the same target. The
    settings in force after the change are checked against the system's model first (`strict`: no coercion,
    as an API request is checked): a ConfigError listing each refused field, and nothing written.

    `further`: a connection beside the primary one (`Tenant.connections[target]`, mode `active`): documents may be
    resent there (e.g. to the new system before a switch) while new ones still go to the primary. A read-only
    connection kept after a switch becomes active again this way; the primary itself is changed without it.
    """
    descriptor = connectors.descriptors.get(target)
    if not isinstance(descriptor, TargetDescriptor):
        raise ConfigError(f"unknown target {target!r}", tenant=tenant_id, connector=target)
    registry = TenantRegistry(stores.tables)
    tenant = registry.get(tenant_id)
    if further and target == tenant.target:
        raise ConfigError(f"{target} is {tenant_id}'s primary accounting system: change it as the connection, not "
                          "as a further one", tenant=tenant_id, connector=target,
                          problems=(Problem("the primary system", field="target", code="invalid-setting"),))
    active = _active_names(tenant, target, further=further)
    names = _pending_names(tenant, target, active, credentials)
    target_settings = platform.fill(stores.secrets, descriptor, _target_settings(
        tenant, target, settings, direct_posting, names, further=further))
    refused = refusals(descriptor, target_settings, credentials, strict=strict)
    if direct_posting is not None and "direct_posting" in settings:
        # The flag wins over `settings.direct_posting`, but a value of the wrong kind there is still refused.
        refused += [p for p in refusals(descriptor, {**target_settings, "direct_posting": settings["direct_posting"]},
                                        {}, strict=strict) if p.field == "settings.direct_posting"]
    if refused:
        raise ConfigError(f"{descriptor.title}: " + "; ".join(str(p) for p in refused), tenant=tenant_id,
                          connector=target, problems=tuple(refused))
    missing = [s.name for s in descriptor.secrets if s.required and s.name not in target_settings["secrets"]]
    if missing:
        raise SecretsMissing(f"{target} needs {', '.join(missing)}", tenant=tenant_id, connector=target)
    record = _record(target=target, settings=target_settings)
    key = f"connection:{target}" if further else "connection"
    tenant = _claim(registry, tenant_id, key, record)
    _write(stores.secrets, names, credentials)
    result = check(stores, connectors, tenant.model_copy(update={"target": target, "target_settings": target_settings}))
    # What the system said about the company (organisation number, fiscal year, VAT term, ...) is kept with the
    # settings it was read through, and read again at every change.
    facts = result.get("facts") if result.get("ok") else None
    in_force = {**target_settings, "facts": facts} if isinstance(facts, dict) else target_settings

    def promote(t: Tenant) -> Tenant:
        if not further:
            return t.model_copy(update={"target": target, "target_settings": in_force})
        connection = {"settings": in_force, "mode": "active", "since": _now()}
        return t.model_copy(update={"connections": {**t.connections, target: connection}})

    change = _settle(registry, tenant_id, key, record, result, promote)
    if change.activated:
        connectors.forget(tenant_id)
    return change


STAGED_FOR = dt.timedelta(minutes=30)  # how long a wizard's next step may use credentials it was given


def stage(stores: Stores, tenant_id: str, target: str, credentials: Mapping[str, str]) -> dict[str, str]:
    """Credentials a person gave in one step of a wizard (the workspace's connect or switch), kept for its next
    steps (a company to pick, the switch preview, the switch) so they are never asked for twice nor put in a page.

    They are written where the next change of `target` writes them anyway (`next_slot_name`: the slot the
    connection in force does not use, so deliveries go on untouched) and recorded as the tenant's pending change
    (state "staged"); `staged` reads them back for STAGED_FOR. Returns the names written (never the values)."""
    registry = TenantRegistry(stores.tables)
    tenant = registry.get(tenant_id)
    names = _pending_names(tenant, target, _active_names(tenant, target), credentials)
    given = {key: names[key] for key, value in credentials.items() if value}
    earlier = staged_names(tenant, target)
    record = {**_record(target=target, settings={"secrets": {**earlier, **given}}), "state": "staged"}
    _claim(registry, tenant_id, "connection", record)
    _write(stores.secrets, names, credentials)
    return given


def staged_names(tenant: Tenant, target: str, *, now: dt.datetime | None = None) -> dict[str, str]:
    """The names of credentials staged (or given to a change that failed its test) for `target` in the last
    STAGED_FOR: a newer change of the connection, or time, makes them unusable."""
    record = tenant.pending.get("connection") or {}
    if record.get("target") != target or record.get("state") not in ("staged", "failed"):
        return {}
    try:
        since = dt.datetime.fromisoformat(str(record.get("since")))
    except ValueError:
        return {}
    if (now or dt.datetime.now(dt.UTC)) - since > STAGED_FOR:
        return {}
    names = (record.get("settings") or {}).get("secrets") or {}
    return {str(k): str(v) for k, v in names.items()}


def staged(stores: Stores, tenant_id: str, target: str) -> dict[str, str]:
    """The credentials `stage` kept for `target` (name → value), to hand to change, preview or switch as given."""
    out = {}
    for key, name in staged_names(TenantRegistry(stores.tables).get(tenant_id), target).items():
        try:
            out[key] = stores.secrets.get(name)
        except NotFound:
            continue
    return out


def disconnect(stores: Stores, tenant_id: str, system: str) -> Tenant:
    """Remove a further connection (active or read-only) of the tenant; the primary is changed, never removed
    (switch to another system instead). Its credentials stay in the secret store under their names: Key Vault keeps a
    deleted name for 90 days, and a later connection to the same system reuses them by slot."""
    registry = TenantRegistry(stores.tables)
    while True:
        tenant, etag = registry.read(tenant_id)
        if system == tenant.target:
            raise ConfigError(f"{system} is {tenant_id}'s primary accounting system: switch to another before "
                              "removing it", tenant=tenant_id, connector=system)
        if system not in tenant.connections:
            raise NotFound(f"{tenant_id} has no further connection to {system}")
        updated = tenant.model_copy(update={"connections": {k: v for k, v in tenant.connections.items()
                                                             if k != system}})
        try:
            registry.replace(updated, etag)
            return updated
        except Stale:
            continue


def check(stores: Stores, connectors: Connectors, tenant: Tenant) -> dict[str, Any]:
    """The target's connection test (`Target.check`) on a cache of its own, so a candidate's session and
    lookups never mix with those deliveries use."""
    factory = connectors.targets.get(tenant.target)
    if factory is None:
        return {"ok": False, "error": {"message": f"unknown target {tenant.target!r}"}}
    cache: dict[str, Any] = {}
    context = TargetContext(tenant=tenant.id, settings=tenant.target_settings, secrets=stores.secrets,
                            blobs=stores.blobs, exchanges=BlobExchangeLog(stores.blobs, tenant.id, CHECK_DOCUMENT),
                            cache=cache, sleep=_impatient)
    try:
        details = factory(context).check()
    except (BilagsbroError, NotFound) as exc:
        return {"ok": False, "error": exc.context() if isinstance(exc, BilagsbroError) else {"message": str(exc)}}
    finally:
        close_all(cache)
    return {"ok": True, **(details or {})}


class _Candidate:
    """The secret store as a candidate connection sees it: the credentials just given, else the stored ones."""

    def __init__(self, stored: SecretStore, given: Mapping[str, str]) -> None:
        self.stored, self.given = stored, dict(given)

    def get(self, name: str) -> str:
        return self.given[name] if name in self.given else self.stored.get(name)

    def set(self, name: str, value: str) -> None:  # a candidate writes nothing
        self.given[name] = value


def companies(stores: Stores, connectors: Connectors, tenant_id: str, target: str, *, settings: Mapping[str, Any],
              credentials: Mapping[str, str]) -> dict[str, Any]:
    """The companies a connection's credentials reach, for the customer to pick one (the descriptor's `picks`
    setting; the target implements `pipeline.ports.Companies`). Asked with the given settings over those in force
    and the given credentials over the stored ones; nothing is written. A ConfigError says what is wrong (settings,
    credentials, a system without a choice), in the customer's words."""
    descriptor = connectors.descriptors.get(target)
    factory = connectors.targets.get(target)
    if not isinstance(descriptor, TargetDescriptor) or factory is None:
        raise ConfigError(f"unknown target {target!r}", tenant=tenant_id, connector=target)
    if descriptor.picks is None:
        raise ConfigError(f"{descriptor.title}'s credentials belong to one company: there is none to pick",
                          tenant=tenant_id, connector=target)
    tenant = TenantRegistry(stores.tables).get(tenant_id)
    candidate = platform.fill(stores.secrets, descriptor, _target_settings(
        tenant, target, settings, None, _active_names(tenant, target)))
    active = dict(candidate["secrets"])
    refused = [p for p in refusals(descriptor, candidate, credentials) if p.field != f"settings.{descriptor.picks}"]
    if refused:
        raise ConfigError(f"{descriptor.title}: " + "; ".join(str(p) for p in refused), tenant=tenant_id,
                          connector=target, problems=tuple(refused))
    missing = [s.name for s in descriptor.secrets if not credentials.get(s.name) and s.name not in active]
    if missing:
        raise SecretsMissing(f"{target} needs {', '.join(missing)}", tenant=tenant_id, connector=target)
    given = {f"candidate--{key}": value for key, value in credentials.items() if value}
    names = {**active, **{key: f"candidate--{key}" for key, value in credentials.items() if value}}
    cache: dict[str, Any] = {}
    context = TargetContext(tenant=tenant_id, settings={**candidate, descriptor.picks: None, "secrets": names},
                            secrets=_Candidate(stores.secrets, given), blobs=stores.blobs,
                            exchanges=BlobExchangeLog(stores.blobs, tenant_id, CHECK_DOCUMENT), cache=cache,
                            sleep=_impatient)
    try:
        found = factory(context)
        if not isinstance(found, Companies):
            raise ConfigError(f"{descriptor.title} cannot list companies", tenant=tenant_id, connector=target)
        listed = found.companies()
    finally:
        close_all(cache)
    return {"target": target, "setting": descriptor.picks, "companies": listed}


# -- pulled sources (Omnium): the same pending → check → active ------------------------------------------


def change_source(
    stores: Stores,
    source: PulledSource,
    tenant_id: str,
    name: str,
    *,
    settings: Mapping[str, Any],
    secret_setting: str,
    secret: str | None,
    now: dt.datetime | None = None,
    targets: Connectors | None = None,
) -> Change:
    """Add or change a pulled source; a new secret (named by `settings[secret_setting]` once in force) is
    written under its other slot and takes effect only when a read from the source succeeds with it — and,
    given the `targets` registry, when every account its booking options name exists in the tenant's
    accounting system (`check_accounts`)."""
    registry = TenantRegistry(stores.tables)
    tenant = registry.get(tenant_id)
    current = tenant.sources.get(name) or {}
    active = {secret_setting: str(current[secret_setting])} if current.get(secret_setting) else {}
    given = {secret_setting: secret} if secret else {}
    if not given and not active:
        raise ConfigError(f"{name} needs its secret", tenant=tenant_id, connector=name)
    names = _pending_names(tenant, name, active, given)
    candidate = {**settings, secret_setting: names[secret_setting]}
    record = _record(source=name, settings=candidate)
    _claim(registry, tenant_id, name, record)
    _write(stores.secrets, names, given)
    result = check_source(stores, source, tenant_id, candidate, now=now)
    if result["ok"] and targets is not None:
        result = {**result, **check_accounts(stores, targets, registry.get(tenant_id), source, candidate)}
    return _settle(registry, tenant_id, name, record, result,
                   lambda t: t.model_copy(update={"sources": {**t.sources, name: candidate}}))


def check_source(stores: Stores, source: PulledSource, tenant_id: str, settings: Mapping[str, Any], *,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """A pulled source's connection test: one read of what changed in the last minute (auth and all)."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        feed = source.feed(settings, stores.secrets, tenant=tenant_id)
        try:
            feed.changed(now - dt.timedelta(minutes=1), now)
        finally:
            feed.close()
    except (BilagsbroError, NotFound) as exc:
        return {"ok": False, "error": exc.context() if isinstance(exc, BilagsbroError) else {"message": str(exc)}}
    return {"ok": True, "source": source.name}


def check_accounts(stores: Stores, connectors: Connectors, tenant: Tenant, source: PulledSource,
                   settings: Mapping[str, Any]) -> dict[str, Any]:
    """The accounts a pulled source's booking options name, after the tenant's account map, asked of the
    tenant's accounting system (a target implementing `ChartOfAccounts`) on a cache of its own.

    Accounts the system certainly lacks fail the check (`ok` False, every one named with the options that
    name it); a system that cannot be asked — no chart (the file target), or unreachable — leaves the check
    `unchecked`, never failed: the preflight of each voucher still asks."""
    named: dict[str, list[str]] = {}
    for account, options in source.accounts(dict(settings.get("booking") or {})).items():
        mapped = tenant.rules.account_map.get(account, account)
        named.setdefault(mapped, []).extend(options if mapped == account else [
            f"{option} ({account} → {mapped} by the tenant's account map)" for option in options])
    factory = connectors.targets.get(tenant.target)
    if factory is None:
        return {"accounts": {"unchecked": f"unknown target {tenant.target!r}"}}
    cache: dict[str, Any] = {}
    context = TargetContext(tenant=tenant.id, settings=tenant.target_settings, secrets=stores.secrets,
                            blobs=stores.blobs, exchanges=BlobExchangeLog(stores.blobs, tenant.id, CHECK_DOCUMENT),
                            cache=cache, tables=stores.tables, sleep=_impatient)
    try:
        target = factory(context)
        if not isinstance(target, ChartOfAccounts):
            return {"accounts": {"unchecked": f"the {tenant.target} target has no chart of accounts to check"}}
        missing = target.accounts_missing(sorted(named))
    except (BilagsbroError, NotFound) as exc:
        reason = exc.message if isinstance(exc, BilagsbroError) else str(exc)
        return {"accounts": {"unchecked": f"could not ask {tenant.target}: {reason}"}}
    finally:
        close_all(cache)
    found = [{"account": account, "options": named[account], "why": why} for account, why in missing.items()]
    checked: dict[str, Any] = {"accounts": {"checked_against": tenant.target, "checked": sorted(named),
                                            "missing": found}}
    if found:
        listed = "; ".join(f"{f['account']} ({', '.join(f['options'])}) {f['why']}" for f in found)
        checked.update(ok=False, error={"kind": "ConfigError", "message":
                                        f"the booking options name accounts {tenant.target} cannot book on: {listed}. "
                                        "Create them there, or change the options (or the tenant's account map)"})
    return checked


def set_format_options(registry: TenantRegistry, tenant_id: str, format: FormatDescriptor,
                       options: Mapping[str, Any]) -> Tenant:
    """A file format's options for one tenant (its VAT codes → SAF-T codes, accounts, ...), checked against the
    format's options model: an unknown name or a bad value fails now, naming the field, not at the next file."""
    format.settings.read(options, tenant=tenant_id, connector=format.name, strict=True, prefix="options")
    tenant = registry.get(tenant_id)
    updated = tenant.model_copy(update={"sources": {**tenant.sources, format.name: dict(options)}})
    registry.save(updated)
    return updated


def describe(tenant: Tenant) -> dict[str, Any]:
    """What an operator may see of a connection: settings, which secrets exist and under which names (never
    their values), and a change still pending with why it is not in force."""
    settings = dict(tenant.target_settings)
    secret_names = settings.pop("secrets", {})
    described: dict[str, Any] = {"tenant_id": tenant.id, "target": tenant.target, "settings": settings,
                                 "credentials": sorted(secret_names), "secret_names": dict(secret_names)}
    if "connection" in tenant.pending:
        described["pending"] = tenant.pending["connection"]
    if tenant.connections:
        described["connections"] = tenant.connections
    return described
