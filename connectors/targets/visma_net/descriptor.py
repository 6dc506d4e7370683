"""Visma.net ERP as the registry sees it: its settings, the keys a customer gives us, what it accepts, its check.

Facts: reference/target-apis.md §7; the customer's side in docs/connect/visma-net.md.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from connectors.targets.visma_net.mapping import (
    CURRENCIES,
    DIMENSIONS,
    FIELD_MAP,
    NAME,
    NOT_ACCEPTED,
    PRODUCTION_URL,
    TITLE,
    TOKEN_URL,
)
from pipeline.descriptors import Accepts, Drafts, Secret, TargetDescriptor, TargetSettings, Url
from pipeline.ports import Target, TargetContext

UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class VismaNetSettings(TargetSettings):
    """A tenant's Visma.net connection, without the client secret (a secret)."""

    tenant_id: str = Field(..., pattern=UUID, description=(
        "The company's tenant id (Visma App Store: the company → Tenant ID), a UUID; the customer tenant id of the "
        "whole agreement is refused by Visma.net with 'No license for this company.'"))
    client_id: str = Field(..., min_length=1, max_length=200, description=(
        "The integration's client id in Visma Developer Portal (Bilagsbro's own, from the operator; a company "
        "with its own service integration gives its own)"))
    base_url: Url = Field(PRODUCTION_URL,
                          description="Visma.net ERP API: https://api.finance.visma.net, or a sandbox")
    token_url: Url = Field(TOKEN_URL,
                           description="Visma Connect's token endpoint: https://connect.visma.com/connect/token")
    branch: str | None = Field(None, min_length=1, max_length=30, description=(
        "Branch number journal transactions are booked in (Visma.net: Branches, CS101500); empty: the "
        "company's default"))
    department_segment: int = Field(1, ge=1, le=9, description=(
        "Which segment of the subaccount holds the department (Visma.net: Segment values, CS203000, SUBACCOUNT)"))
    timeout: float = Field(30.0, gt=0, le=300, description="Seconds to wait for Visma.net's answer")

    @field_validator("tenant_id", mode="after")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


def connect(context: TargetContext, **options: Any) -> Target:
    """The Visma.net target for one tenant's message (`transport`/`sleep` options: tests)."""
    from connectors.targets.visma_net.target import VismaNetTarget

    return VismaNetTarget(context, **options)


DESCRIPTOR = TargetDescriptor(
    name=NAME,
    title=TITLE,
    settings=VismaNetSettings,
    secrets=(
        Secret(name="client_secret", label="Client secret",
               where="Visma Developer Portal issues it to the integration, not to the customer: Bilagsbro's own, "
                     "from the operator (a company with its own service integration gives its own: Developer "
                     "Portal → the integration → Credentials → «Generate secret»; shown once)"),
    ),
    connect=connect,
    check="a Visma Connect token for the tenant, then GET /v1/branch and /v1/financialPeriod: which company and "
          "branch the tenant id reaches, which scopes were granted, and which periods are open",
    accepts=Accepts(
        documents=("voucher",),
        currencies=CURRENCIES,
        dimensions=DIMENSIONS,
        drafts=Drafts(available=True, meaning="a journal transaction on hold (status Hold) that someone in the "
                                              "company takes off hold and releases in Visma.net"),
        checks=("accounts", "vat_codes", "departments", "projects"),
        not_accepted=NOT_ACCEPTED,
        fields=FIELD_MAP,
    ),
    guide="docs/connect/visma-net.md",
)
