"""Ledger sources — where a company's general ledger is read back from — in one literal registry.

They live here, beside `sources/` and `targets/`, not inside the targets: reading the books is a different
contract (pipeline/readback/ports.py: `LedgerSource`) with its own slices and checks, though an API source signs in
through its target's connection (the Tripletex session, the Fortnox OAuth client) so a tenant connects once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pipeline.errors import ConfigError
from pipeline.ports import Stores
from pipeline.readback.ports import LedgerSource
from pipeline.readback.sync import Opener
from pipeline.records.tenants import TenantRegistry, through


def _tripletex(stores: Stores, registry: Any, tenant: str, company: str, settings: Mapping[str, Any]) -> LedgerSource:
    from connectors.ledgers.tripletex import open_source

    return open_source(_target(stores, registry, tenant, "tripletex", company))


def _fortnox(stores: Stores, registry: Any, tenant: str, company: str, settings: Mapping[str, Any]) -> LedgerSource:
    from connectors.ledgers.fortnox import open_source

    source: LedgerSource = open_source(_target(stores, registry, tenant, "fortnox", company))
    return source


def _sie4(stores: Stores, registry: Any, tenant: str, company: str, settings: Mapping[str, Any]) -> LedgerSource:
    from connectors.ledgers.files import SieLedger

    return SieLedger(stores.blobs, _file(settings, tenant), settings.get("options") or {})


def _saft(stores: Stores, registry: Any, tenant: str, company: str, settings: Mapping[str, Any]) -> LedgerSource:
    from connectors.ledgers.files import SaftLedger

    return SaftLedger(stores.blobs, _file(settings, tenant), settings.get("options") or {})


LEDGERS: dict[str, Callable[[Stores, Any, str, str, Mapping[str, Any]], LedgerSource]] = {
    "tripletex": _tripletex,
    "fortnox": _fortnox,
    "sie4": _sie4,
    "saft": _saft,
}
FILES = ("sie4", "saft")  # the sources read from an uploaded file


def _file(settings: Mapping[str, Any], tenant: str) -> str:
    path = settings.get("file")
    if not isinstance(path, str) or not path:
        raise ConfigError("the ledger source is a file, but no file has been uploaded", tenant=tenant)
    return path


def _target(stores: Stores, registry: Any, tenant: str, system: str, company: str) -> Any:
    """The tenant's connection to `system` (its target, or a connection kept beside it) as a target object."""
    found = through(TenantRegistry(stores.tables).get(tenant), system)
    return registry.target_for(stores, found, f"ledger-{company}")


def opener(stores: Stores, registry: Any) -> Opener:
    """How pipeline/readback opens a source by name: with this process's stores and connector registry."""
    def open_source(name: str, tenant: str, company: str, settings: Mapping[str, Any]) -> LedgerSource:
        make = LEDGERS.get(name)
        if make is None:
            raise ConfigError(f"unknown ledger source {name!r}; known: {', '.join(LEDGERS)}", tenant=tenant)
        return make(stores, registry, tenant, company, settings)
    return open_source
