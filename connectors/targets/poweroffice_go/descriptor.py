"""PowerOffice GO as the registry sees it: its settings, the three keys it takes, what it accepts, its check.

Facts: reference/target-apis.md §2; the customer's side in docs/connect/poweroffice-go.md.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from connectors.targets.poweroffice_go.mapping import (
    DIMENSIONS,
    FIELD_MAP,
    NAME,
    NOT_ACCEPTED,
    PRODUCTION_URL,
    SUBSCRIPTION_HEADER,
    SUBSCRIPTION_PARAM,
    TITLE,
)
from pipeline.descriptors import Accepts, Drafts, Secret, TargetDescriptor, TargetSettings, Url
from pipeline.ports import Target, TargetContext


class PowerOfficeSettings(TargetSettings):
    """A tenant's PowerOffice GO connection, without its keys (those are secrets)."""

    base_url: Url = Field(PRODUCTION_URL, description=(
        "PowerOffice GO's API: https://goapi.poweroffice.net/v2 (production), https://goapi.poweroffice.net/Demo/v2 "
        "(demo), or a sandbox"))
    token_url: Url | None = Field(None, description=(
        "The OAuth token endpoint; by default base_url with /v2 replaced by /OAuth/Token"))
    organization_number: str | None = Field(None, pattern=r"^[0-9]{9}$", description=(
        "The company the client key must belong to (9 digits): the connection test fails for another company's key"))
    timeout: float = Field(30.0, gt=0, le=300, description="Seconds to wait for PowerOffice GO's answer")
    requests_per_second: int = Field(10, ge=1, le=1000, description=(
        "Requests a second this process sends with Bilagsbro's subscription key: GO allows 10 per key"))


    @property
    def oauth_url(self) -> str:
        """`…/v2` → `…/OAuth/Token` (production `https://goapi.poweroffice.net/OAuth/Token`, demo
        `https://goapi.poweroffice.net/Demo/OAuth/Token`), unless `token_url` says otherwise."""
        if self.token_url:
            return self.token_url
        root = self.base_url[:-3] if self.base_url.lower().endswith("/v2") else self.base_url
        return f"{root}/OAuth/Token"


def connect(context: TargetContext, **options: Any) -> Target:
    from connectors.targets.poweroffice_go.target import PowerOfficeTarget

    return PowerOfficeTarget(context, **options)


DESCRIPTOR = TargetDescriptor(
    name=NAME,
    title=TITLE,
    settings=PowerOfficeSettings,
    secrets=(
        Secret(name="application_key", label="Application key",
               where="PowerOffice issues it to the integration, not to the customer: Bilagsbro's own, from the "
                     "operator", platform=True),
        Secret(name="client_key", label="Client key (klientnøkkel)",
               where="PowerOffice GO: Innstillinger → Utvidelser → «Legg til utvidelse» → Bilagsbro; copy the client "
                     "key shown after activation (needs an administrator)"),
        Secret(name="subscription_key", label="Subscription key",
               where="PowerOffice's developer portal issues it to the integration (Ocp-Apim-Subscription-Key): "
                     "Bilagsbro's own, from the operator", platform=True),
    ),
    secret_names=(SUBSCRIPTION_HEADER, SUBSCRIPTION_PARAM, "access_token"),
    connect=connect,
    check="GET /ClientIntegrationInformation and /OrganizationSettings: which client (company) the keys reach, and "
          "whether the integration holds the roles the tenant's way of booking needs",
    accepts=Accepts(
        documents=("voucher",),
        currencies=("NOK",),
        dimensions=DIMENSIONS,
        drafts=Drafts(available=True, meaning="a manual voucher in the journal-entry view (Bilagsregistrering), "
                                              "unposted, that someone in the company reviews and posts in GO"),
        checks=("accounts", "vat_codes", "customers", "suppliers", "departments", "projects"),
        not_accepted=NOT_ACCEPTED,
        fields=FIELD_MAP,
    ),
    guide="docs/connect/poweroffice-go.md",
)
