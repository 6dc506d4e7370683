"""Connecting a tenant to its accounting system: credentials to the secret store, the rest to settings.

What each system needs is declared by its connector (`CREDENTIALS`, `SETTINGS`); this module keeps
the secret values out of Table Storage and traces — the tenant's settings hold only secret *names*.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.errors import ConfigError
from pipeline.ports import SecretStore
from pipeline.tenants import Tenant, TenantRegistry, secret_name


def connect(
    registry: TenantRegistry,
    secrets: SecretStore,
    tenant_id: str,
    target: str,
    *,
    settings: Mapping[str, Any],
    credentials: Mapping[str, str],
    required: tuple[str, ...] = (),
    direct_posting: bool = False,
) -> Tenant:
    """Point the tenant at `target`; each credential goes to the secret store under its own name."""
    missing = [name for name in required if not credentials.get(name)]
    if missing:
        raise ConfigError(f"{target} needs {', '.join(missing)}", tenant=tenant_id, connector=target)
    tenant = registry.get(tenant_id)
    names: dict[str, str] = {}
    for key, value in credentials.items():
        if value:
            names[key] = secret_name(tenant_id, target, key)
            secrets.set(names[key], value)
    updated = tenant.model_copy(update={
        "target": target,
        "target_settings": {**{k: v for k, v in settings.items() if v is not None},
                            "direct_posting": direct_posting, "secrets": names},
    })
    registry.save(updated)
    return updated


def set_format_options(registry: TenantRegistry, tenant_id: str, format: str, options: Mapping[str, Any],
                       parser: Any, known: frozenset[str] | None = None) -> Tenant:
    """A file format's options for one tenant (its VAT codes → SAF-T codes, accounts, ...), checked by
    name (`known`) and by running the format's parser over an empty file: invalid options fail now, not
    on the next file."""
    import io

    from pipeline.errors import BilagsbroError

    unknown = sorted(set(options) - known) if known is not None else []
    if unknown:
        raise ConfigError(f"unknown option(s) for {format}: {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(known or ())) or 'none'}", tenant=tenant_id)

    try:
        list(parser(io.BytesIO(b""), file_name="options-check", options=dict(options)))
    except BilagsbroError as exc:
        raise ConfigError(f"options for {format} are not valid: {exc.message}", tenant=tenant_id) from None
    tenant = registry.get(tenant_id)
    updated = tenant.model_copy(update={"sources": {**tenant.sources, format: dict(options)}})
    registry.save(updated)
    return updated


def describe(tenant: Tenant) -> dict[str, Any]:
    """What an operator may see of a connection: settings and which secrets exist, never their values."""
    settings = dict(tenant.target_settings)
    secret_names = settings.pop("secrets", {})
    return {"tenant_id": tenant.id, "target": tenant.target, "settings": settings,
            "credentials": sorted(secret_names)}
