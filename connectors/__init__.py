"""Connectors: the file formats documents arrive in (sources) and the systems they leave to (targets).

The registries are literal dicts, no import-time discovery: adding a connector is one line here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.sources import (
    gbat10,
    saft_cash_register,
    saft_financial,
    shared_form,
    sie4,
    visma_business,
    visma_global,
)
from connectors.targets import file, tripletex
from pipeline import redaction

if TYPE_CHECKING:
    from pipeline.ports import PulledSource, TargetFactory
    from pipeline.stages import Connectors

TARGETS: dict[str, TargetFactory] = {
    "file": file.connect,
    "tripletex": tripletex.connect,
}

# What a connection to each target needs from the customer (kept in the secret store).
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "file": (),
    "tripletex": ("consumer_token", "employee_token"),
}

# The names under which each connector sends secrets — query parameters, JSON fields, headers — in one
# place. pipeline.redaction blanks their values out of every log line (names containing token, secret,
# password, api key, authorization or cookie are covered for every connector without being listed).
SECRET_NAMES: dict[str, tuple[str, ...]] = {
    "tripletex": (*tripletex.SECRET_PARAMS, *tripletex.SECRET_FIELDS),  # consumerToken, employeeToken, ...
    "omnium": ("clientId", "clientSecret", "accessToken"),  # POST /api/Token?clientId&clientSecret
}
redaction.declare(name for names in SECRET_NAMES.values() for name in names)

# Source formats by name; SNIFFERS tell a file's format from its first bytes when none is given.
SOURCES = {
    "gbat10": gbat10.parse,
    "visma-business": visma_business.parse,
    "visma-global": visma_global.parse,
    "sie4": sie4.parse,
    "saft-cash-register": saft_cash_register.parse,
    "saft-financial": saft_financial.parse,
    "shared-form": shared_form.parse,
}
# The options each format's parser reads (PUT /api/v1/admin/tenants/{id}/formats/{format}): any other
# name is refused, so a misspelt option fails when it is set, not silently at the next file.
_TABULAR_OPTIONS = frozenset({"vat_map", "customer_ledger", "supplier_ledger", "reference_prefix", "encoding"})
OPTIONS: dict[str, frozenset[str]] = {
    "gbat10": _TABULAR_OPTIONS,
    "visma-business": _TABULAR_OPTIONS | {"oem_codepage"},
    "visma-global": _TABULAR_OPTIONS,
    "sie4": _TABULAR_OPTIONS | {"sie_dimensions", "currency"},
    "saft-cash-register": frozenset(saft_cash_register.Rules.__dataclass_fields__),
    "saft-financial": frozenset({"analysis_map", "vat_accounts"}),
    "shared-form": frozenset(),
}
# Tried in order: the most specific first, shared-form (any JSON) last.
SNIFFERS = {
    "saft-cash-register": saft_cash_register.sniff,
    "saft-financial": saft_financial.sniff,
    "sie4": sie4.sniff,
    "visma-business": visma_business.sniff,
    "visma-global": visma_global.sniff,
    "gbat10": gbat10.sniff,
    "shared-form": shared_form.sniff,
}


def pulled() -> dict[str, PulledSource]:
    """Sources a timer pulls from; imported on first use, they bring httpx along."""
    from connectors.sources import omnium

    return {"omnium": omnium.PULLED}


def registry() -> Connectors:  # pipeline.stages is imported lazily to keep cold start light
    """Every registry above, bundled the way the stages take them."""
    from pipeline.stages import Connectors

    return Connectors(targets=TARGETS, sources=SOURCES, sniffers=SNIFFERS, credentials=CREDENTIALS, options=OPTIONS)
