"""Finago Office (formerly 24SevenOffice) as the registry sees it: its settings, the login a customer gives us, what
it accepts, its connection check.

Facts: reference/target-apis.md §4; the customer's side in docs/connect/finago-office.md.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from connectors.targets.finago_office.mapping import (
    DIMENSIONS,
    FIELD_MAP,
    NAME,
    NOT_ACCEPTED,
    PRODUCTION_URL,
    SECRET_FIELDS,
)
from pipeline.descriptors import Accepts, Drafts, Secret, TargetDescriptor, TargetSettings, Url
from pipeline.ports import Target, TargetContext


class FinagoOfficeSettings(TargetSettings):
    """A tenant's Finago Office connection, without its application id and password (those are secrets)."""

    base_url: Url = Field(PRODUCTION_URL,
                          description="Finago Office's web services: https://api.24sevenoffice.com (production) or a "
                                      "sandbox")
    webservices_url: Url | None = Field(None, description=(
        "The second domain 24SevenOffice serves some services from (projects): by default "
        "https://webservices.24sevenoffice.com for production, base_url otherwise"))
    username: str = Field(..., min_length=3, max_length=200, pattern=r"^[^\s@]+@[^\s@]+$",
                          description="The API user's login (an e-mail address, a 24SevenOffice community user)")
    client_id: str | None = Field(None, pattern=r"^[0-9]{1,18}$", json_schema_extra={"type": ["string", "integer"]},
                                  description="The Finago Office client to post in (its client ID: the number before "
                                              "@voucher.24sevenoffice.com); needed when the user reaches several")
    transaction_type: int | None = Field(None, ge=0, le=2_147_483_647, description=(
        "The voucher type every voucher is registered as (its number in Finago Office); by default the type "
        "named 'Diverse'"))
    timeout: float = Field(30.0, gt=0, le=300, description="Seconds to wait for Finago Office's answer")

    @field_validator("client_id", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def connect(context: TargetContext) -> Target:
    """The Finago Office target for one tenant's message (zeep and lxml are imported here, on first use)."""
    from connectors.targets.finago_office.target import FinagoOfficeTarget

    return FinagoOfficeTarget(context)


DESCRIPTOR = TargetDescriptor(
    name=NAME,
    title="Finago Office",
    settings=FinagoOfficeSettings,
    secrets=(
        Secret(name="application_id", label="Application ID",
               where="24SevenOffice issues it to the integration, not to the customer (apisupport@24sevenoffice.com):"
                     " Bilagsbro's own, from the operator", platform=True),
        Secret(name="password", label="Passord for API-brukeren",
               where="Finago Office: the password of the user the customer made for Bilagsbro (Innstillinger → "
                     "Brukere; give it access to Regnskap for the client) [menu path unverified]"),
    ),
    secret_names=SECRET_FIELDS,
    connect=connect,
    check="Authenticate.Login, GetIdentities (which client), ClientService.GetClientInformation, "
          "AccountService.GetTypeList and GetAccountList: who the login reaches and whether it may keep the books",
    accepts=Accepts(
        documents=("voucher",),
        currencies=("NOK",),
        dimensions=DIMENSIONS,
        drafts=Drafts(available=True, meaning="a bundle in the journal (SaveOption=1, «Bilagsregistrering») that "
                                              "someone in the company reviews and posts in Finago Office"),
        checks=("accounts", "vat_codes", "customers", "suppliers", "departments", "projects"),
        not_accepted=NOT_ACCEPTED,
        fields=FIELD_MAP,
    ),
    guide="docs/connect/finago-office.md",
)
