"""The SAF-T Financial file of a tenant: whose company it names and what the file is called.

Shared by the export route (api/export.py), the ledger export (api/ledger_export.py) and `bilagsbro export`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.errors import ConfigError, Problem
from pipeline.export import OSLO, Company, Period
from pipeline.export.saft import SaftFile
from pipeline.registry import Connectors
from pipeline.tenants import Tenant


def saft_file(tenant: Tenant, connectors: Connectors, selected: Any, period: Period, currency: str,
              *, organization_number: str | None = None) -> SaftFile:
    """The SAF-T file of `selected` entries; a ConfigError when no organisation number is known (the file's
    Header/Company/RegistrationNumber is mandatory): the one given, the tenant's, else the one its accounting system
    told the connection test (`target_settings["facts"]`, e.g. Business NXT's)."""
    facts = tenant.target_settings.get("facts")
    told = str(facts.get("organization_number") or "").replace(" ", "") if isinstance(facts, dict) else ""
    number = organization_number or tenant.organization_number or told or None
    if not number:
        raise ConfigError(f"tenant {tenant.id} has no organisation number, which SAF-T Financial requires "
                          "(Header/Company/RegistrationNumber)", tenant=tenant.id,
                          problems=(Problem("the tenant has no organisation number", field="organization_number",
                                            code="missing"),))
    titles = {name: descriptor.title for name, descriptor in connectors.descriptors.items()}
    return SaftFile(selected, company=Company(name=tenant.name, organization_number=number), period=period,
                    currency=currency, titles=titles, grouping_codes=tenant.rules.grouping_codes)


def saft_file_name(tenant: Tenant, number: str | None = None) -> str:
    """Skatteetaten's naming of a SAF-T Financial file: `SAF-T Financial_<orgnr>_<yyyymmddhh24miss>.xml`."""
    return f"SAF-T Financial_{number or tenant.organization_number}_{dt.datetime.now(OSLO):%Y%m%d%H%M%S}.xml"
