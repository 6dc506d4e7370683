"""Tripletex as the registry sees it: its settings, the tokens a customer gives us, what it accepts, its check.

Facts: reference/target-apis.md §1; the customer's side in docs/connect/tripletex.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, field_validator

from connectors.targets.tripletex.mapping import (
    DIMENSIONS,
    FIELD_MAP,
    NAME,
    NOT_ACCEPTED,
    PRODUCTION_URL,
    SECRET_FIELDS,
    SECRET_PARAMS,
)
from pipeline.descriptors import Accepts, Drafts, Secret, TargetDescriptor, TargetSettings, Url
from pipeline.ports import Target, TargetContext


class TripletexSettings(TargetSettings):
    """A tenant's Tripletex connection, without its tokens (those are secrets)."""

    base_url: Url = Field(PRODUCTION_URL,
                          description="Tripletex's API: https://tripletex.no/v2 (production), "
                                      "https://api-test.tripletex.tech/v2 (test), or a sandbox")
    company_id: str = Field("0", pattern=r"^[0-9]{1,12}$", json_schema_extra={"type": ["string", "integer"]},
                            description="0: the employee's own company; an accounting firm's client company id "
                                        "(Tripletex: GET /company/>withLoginAccess) otherwise")
    create_customers: bool = Field(False, description="Create a customer Tripletex lacks (exactly once) instead "
                                                      "of blocking the voucher")
    timeout: float = Field(30.0, gt=0, le=300, description="Seconds to wait for Tripletex's answer")
    # The API cannot tell which VAT terms were reported (periods.py): the customer says so here.
    vat_reported_through: str | None = Field(None, json_schema_extra={"format": "date"}, description=(
        "The last day of the last VAT term reported (YYYY-MM-DD); preflight then reports VAT dated in a "
        "reported term"))

    @field_validator("vat_reported_through", mode="after")
    @classmethod
    def _a_date(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
        return value

    @field_validator("company_id", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def connect(context: TargetContext, **options: Any) -> Target:
    """The Tripletex target for one tenant's message (`transport`/`sleep` options: tests)."""
    from connectors.targets.tripletex.target import TripletexTarget

    return TripletexTarget(context, **options)


DESCRIPTOR = TargetDescriptor(
    name=NAME,
    title="Tripletex",
    settings=TripletexSettings,
    secrets=(
        Secret(name="consumer_token", label="Consumer token",
               where="Tripletex issues it to the integration, not to the customer: Bilagsbro's own, from the "
                     "operator (a company that runs its own Tripletex application gives its own)"),
        Secret(name="employee_token", label="Employee token (brukernøkkel)",
               where="Tripletex: the employee's «API-tilgang» tab → «Ny nøkkel», application Bilagsbro "
                     "(needs the «Integrasjoner» add-on; shown once)"),
    ),
    secret_names=(*SECRET_PARAMS, *SECRET_FIELDS),
    connect=connect,
    check="GET /token/session/>whoAmI: which company and employee the tokens log in as",
    accepts=Accepts(
        documents=("voucher",),
        currencies=("NOK",),
        dimensions=DIMENSIONS,
        drafts=Drafts(available=True, meaning="a non-posted voucher (sendToLedger=false, a temporary number) that "
                                              "someone in the company reviews and posts in Tripletex"),
        checks=("accounts", "vat_codes", "customers", "suppliers", "departments", "projects"),
        not_accepted=NOT_ACCEPTED,
        fields=FIELD_MAP,
    ),
    guide="docs/connect/tripletex.md",
)
