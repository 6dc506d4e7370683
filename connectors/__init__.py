"""Connectors: the systems and file formats documents arrive from (sources) and leave to (targets).

`CONNECTORS` is the one registry: a literal dict of descriptors (pipeline.descriptors), no import-time
discovery. Adding a system or a format is one line here; the CLI, the admin API, the OpenAPI document, the
contract suite, the golden tests and the README's table are built from it (docs/connect/adding-a-system.md).
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
from connectors.sources.omnium import descriptor as omnium
from connectors.targets.business_nxt import descriptor as business_nxt
from connectors.targets.fiken import descriptor as fiken
from connectors.targets.file import descriptor as file
from connectors.targets.finago_office import descriptor as finago_office
from connectors.targets.fortnox import descriptor as fortnox
from connectors.targets.poweroffice_go import descriptor as poweroffice_go
from connectors.targets.tripletex import descriptor as tripletex
from connectors.targets.visma_business_file import descriptor as visma_business_file
from connectors.targets.visma_net import descriptor as visma_net
from connectors.targets.xledger import descriptor as xledger
from pipeline import descriptors, redaction
from pipeline.descriptors import Descriptor

if TYPE_CHECKING:
    from pipeline.ports import PulledSource, Source, TargetFactory
    from pipeline.registry import Connectors

# Formats are listed in the order detection tries them: the most specific first, shared-form (any JSON) last.
CONNECTORS: dict[str, Descriptor] = {
    "tripletex": tripletex.DESCRIPTOR,
    "fiken": fiken.DESCRIPTOR,
    "poweroffice-go": poweroffice_go.DESCRIPTOR,
    "business-nxt": business_nxt.DESCRIPTOR,
    "visma-net": visma_net.DESCRIPTOR,
    "fortnox": fortnox.DESCRIPTOR,
    "file": file.DESCRIPTOR,
    "xledger": xledger.DESCRIPTOR,
    "visma-business-file": visma_business_file.DESCRIPTOR,
    "finago-office": finago_office.DESCRIPTOR,
    "saft-cash-register": saft_cash_register.FORMAT,
    "saft-financial": saft_financial.FORMAT,
    "sie4": sie4.FORMAT,
    "visma-business": visma_business.FORMAT,
    "visma-global": visma_global.FORMAT,
    "gbat10": gbat10.FORMAT,
    "shared-form": shared_form.FORMAT,
    "omnium": omnium.DESCRIPTOR,
}

# What the stages and the tools take, derived from the registry.
TARGETS: dict[str, TargetFactory] = {name: d.connect for name, d in descriptors.targets(CONNECTORS).items()}
SOURCES: dict[str, Source] = {name: d.parse for name, d in descriptors.formats(CONNECTORS).items()}
SNIFFERS = {name: d.sniff for name, d in descriptors.formats(CONNECTORS).items()}
# Every name a connector sends a secret under: blanked out of every log line and exchange (pipeline.redaction).
SECRET_NAMES: dict[str, tuple[str, ...]] = {
    name: (*d.secret_names, *(s.name for s in d.secrets)) for name, d in CONNECTORS.items() if d.secret_names or d.secrets
}
redaction.declare(name for names in SECRET_NAMES.values() for name in names)


def pulled() -> dict[str, PulledSource]:
    """Sources a timer pulls from; each imported on first use (they bring their HTTP clients along)."""
    return {name: d.source() for name, d in descriptors.pulled(CONNECTORS).items()}


def registry() -> Connectors:
    """The registry bundled the way the stages take it."""
    from connectors import ledgers
    from pipeline.registry import Connectors

    return Connectors(targets=TARGETS, sources=SOURCES, sniffers=SNIFFERS, descriptors=CONNECTORS,
                      ledgers=ledgers.LEDGERS, ledger_files=ledgers.FILES, ledger_opener=ledgers.opener)
