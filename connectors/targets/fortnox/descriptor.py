"""Fortnox as the registry sees it: its settings, the keys the consent gives us, what it accepts, its check.

Facts: reference/target-apis.md §8; the customer's side in docs/connect/fortnox.md. Fortnox has no draft for a
voucher, so "drafts first" means here: nothing reaches Fortnox until the tenant opts in to direct posting (the
preflight names the missing opt-in, the connection test and delivery refuse until it is given). The refresh token
comes from the hosted consent flow (connectors/targets/fortnox/consent.py), never from the customer's hands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from connectors.targets.fortnox.mapping import AUTH_URL, FIELD_MAP, NAME, NOT_ACCEPTED, PRODUCTION_URL, TOKEN_URL
from pipeline.descriptors import Accepts, Code, Drafts, Secret, TargetDescriptor, TargetSettings, Url
from pipeline.ports import Stores, Target, TargetContext

DRAFTS = Drafts(available=False, meaning=(
    "Fortnox has no draft for a voucher (a voucher is booked when it is created): nothing is sent until the tenant "
    "opts in to direct posting; a booked voucher is corrected in Fortnox with a reversing voucher"))


class FortnoxSettings(TargetSettings):
    """A tenant's Fortnox connection, without its keys (those are secrets)."""

    base_url: Url = Field(PRODUCTION_URL,
                          description="Fortnox's API: https://api.fortnox.se/3 (production), or a sandbox")
    client_id: str = Field(..., min_length=1, max_length=200, description=(
        "The client id of Bilagsbro's Fortnox app (the operator's, from Fortnox's developer portal)"))
    token_url: Url = Field(TOKEN_URL,
                           description="Fortnox's token endpoint (https://apps.fortnox.se/oauth-v1/token), or a sandbox's")
    auth_url: Url = Field(AUTH_URL, description=(
        "Fortnox's consent page (https://apps.fortnox.se/oauth-v1/auth), or a sandbox's: where the onboarding "
        "link sends the customer"))
    voucher_series: str = Field("A", pattern=r"^[A-Za-z0-9]{1,10}$", description=(
        "The voucher series vouchers are booked in (Fortnox: Inställningar → Bokföring → Verifikationsserier); "
        "a series of its own for Bilagsbro keeps them apart"))
    vat_accounts: dict[str, Code] = Field(default_factory=dict, description=(
        "VAT code → the account its VAT is booked on, where not 2700 (output VAT) and 2710 (input VAT); a "
        "Fortnox voucher row has no VAT code, so VAT goes on rows of its own"))
    timeout: float = Field(30.0, gt=0, le=300, description="Seconds to wait for Fortnox's answer")


def connect(context: TargetContext) -> Target:
    """The Fortnox target for one tenant's message (its HTTP plumbing imported on first use)."""
    from connectors.targets.fortnox.target import FortnoxTarget

    return FortnoxTarget(context)


def consent_link(stores: Stores, tenant: str, settings: Mapping[str, Any], credentials: Mapping[str, str],
                 base_url: str) -> dict[str, Any]:
    """The hosted onboarding link (consent.py) the customer opens to give Bilagsbro access: the workspace's wizard."""
    from connectors.targets.fortnox.consent import new_link

    return new_link(stores, tenant, dict(settings), credentials.get("client_secret", ""), base_url)


DESCRIPTOR = TargetDescriptor(
    name=NAME,
    title="Fortnox",
    settings=FortnoxSettings,
    secrets=(
        Secret(name="refresh_token", label="OAuth refresh token",
               where="given by Fortnox when the customer approves Bilagsbro through the onboarding link "
                     "(GET /api/onboarding/fortnox/links/{link}); rotated at every use, so never typed in by hand"),
        Secret(name="client_secret", label="OAuth client secret",
               where="the operator's: Bilagsbro's app in Fortnox's developer portal (Mina appar → OAuth)",
               platform=True),
    ),
    platform_settings=("client_id",),
    connect=connect,
    check="GET /3/companyinformation, /3/financialyears and /3/voucherseries: which company the consent reaches, "
          "whether its licence covers bookkeeping, that the voucher series exists, and that direct posting is "
          "chosen (Fortnox has no drafts)",
    accepts=Accepts(
        documents=("voucher",),
        currencies=("NOK",),
        dimensions=("department", "project"),
        drafts=DRAFTS,
        checks=("accounts", "vat_codes", "departments", "projects"),
        not_accepted=NOT_ACCEPTED,
        fields=FIELD_MAP,
    ),
    guide="docs/connect/fortnox.md",
    consent=consent_link,
    consent_gives=("refresh_token",),
)
