"""Visma Business NXT as the registry sees it: what an accounting firm gives us (the integration's client id and
secret, the Business NXT customer ids it works for), the company it picks, what Business NXT accepts, its check.

Facts and their sources: reference/target-apis.md §3; what is unverified: docs/fidelity.md; the customer's side:
docs/connect/business-nxt.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from connectors.targets.business_nxt.mapping import (
    DIMENSIONS,
    FIELD_MAP,
    GRAPHQL_URL,
    NAME,
    NOT_ACCEPTED,
    TITLE,
    TOKEN_URL,
)
from pipeline.descriptors import Accepts, Drafts, Secret, TargetDescriptor, TargetSettings, Url
from pipeline.ports import Target, TargetContext


def _customer_ids(value: Any) -> Any:
    """"1234567, 7654321" (as firms write them: commas, semicolons or spaces), a list, or one number → [int]."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str):
        value = [part for part in re.split(r"[\s,;]+", value) if part]
    if isinstance(value, (list, tuple)):
        out = []
        for part in value:
            if isinstance(part, str) and part.strip().isdigit():
                out.append(int(part.strip()))
            elif isinstance(part, int) and not isinstance(part, bool):
                out.append(part)
            else:
                raise ValueError(f"{part!r} is not a Business NXT customer id (a number such as 1234567)")
        return list(dict.fromkeys(out))
    return value


CustomerIds = Annotated[list[int], BeforeValidator(_customer_ids), WithJsonSchema({
    "anyOf": [{"type": "string", "examples": ["1234567, 7654321"]},
              {"type": "array", "items": {"type": "integer"}}]})]


class BusinessNxtSettings(TargetSettings):
    """A tenant's Business NXT connection, without its client secret (a secret)."""

    base_url: Url = Field(GRAPHQL_URL,
                          description="Business NXT's GraphQL endpoint for services "
                                      "(https://business.visma.net/api/graphql-service), or a sandbox")
    token_url: Url = Field(TOKEN_URL,
                           description="Visma Connect's token endpoint (https://connect.visma.com/connect/token)")
    client_id: str = Field(..., min_length=1, max_length=24, pattern=r"^\S+$",
                           description="The integration's client id in Visma Developer Portal; also the name of the "
                                       "Business NXT user that stands for it (at most 24 characters)")
    customer_ids: CustomerIds = Field(..., min_length=1, max_length=50, description=(
        "The Business NXT customer id(s) (Visma.net customer number) whose companies this tenant may reach; "
        "several: comma-separated"))
    company_no: int | None = Field(None, ge=1, description=(
        "The company to deliver to (its Visma.net company id): pick one of those the connection lists "
        "(availableCompanies)"))
    voucher_series: int = Field(..., ge=0, description="Voucher series (bilagsserie) of the batches, e.g. 6")
    voucher_type: int | None = Field(None, ge=0, description="Voucher type (bilagsart) of the rows; omitted: the "
                                                             "series' default in Business NXT")
    org_units: dict[str, Annotated[int, Field(ge=1, le=12)]] = Field(
        default_factory=lambda: {"department": 1, "project": 2},
        description="Which organisational unit (1-12) each dimension is, e.g. {\"department\": 1, \"project\": 2}")
    timeout: float = Field(30.0, gt=0, le=300, description="Seconds to wait for Business NXT's answer")


def connect(context: TargetContext) -> Target:
    from connectors.targets.business_nxt.target import BusinessNxtTarget  # httpx and the rest, on first use

    return BusinessNxtTarget(context)


DESCRIPTOR = TargetDescriptor(
    name=NAME,
    title=TITLE,
    settings=BusinessNxtSettings,
    secrets=(Secret(name="client_secret", label="Client secret",
                    where="Visma Developer Portal → My Applications → the integration → Credentials → «Generate "
                          "secret» (shown once); Bilagsbro's own unless the firm runs its own integration",
                    platform=True),),
    platform_settings=("client_id",),
    connect=connect,
    check="availableCompanies for the customer ids, then the chosen company's information (organisation number, "
          "fiscal year, VAT term, period type) and voucher series",
    accepts=Accepts(
        documents=("voucher",),
        currencies=("NOK",),
        dimensions=DIMENSIONS,
        drafts=Drafts(available=True, meaning="a batch (bunt) that is not updated: its vouchers wait in Business "
                                              "NXT until someone updates the batch to the ledger"),
        checks=("accounts", "vat_codes", "customers", "suppliers", "departments", "projects"),
        not_accepted=NOT_ACCEPTED,
        fields=FIELD_MAP,
    ),
    guide="docs/connect/business-nxt.md",
    picks="company_no",
)
