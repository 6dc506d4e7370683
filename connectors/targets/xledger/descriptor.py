"""Xledger as the registry sees it: its settings, the API token a customer gives us, what it accepts, its check.

Facts: reference/target-apis.md §6; the customer's side in docs/connect/xledger.md; what is unverified in
docs/fidelity.md ("Xledger").
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from pipeline.descriptors import URL_PATTERN, Accepts, Code, Drafts, Secret, TargetDescriptor, TargetSettings
from pipeline.ports import Target, TargetContext

NAME = "xledger"
PRODUCTION_URL = "https://www.xledger.net/graphql"
DEMO_URL = "https://demo.xledger.net/graphql"
DIMENSIONS = ("department", "project")
NOT_ACCEPTED = {
    "lines[].kid": "Xledger's GL import item has no field known to hold a KID (paymentReference is unverified)",
    "lines[].dimensions.*": "Xledger takes the department (a GL object) and the project only",
    "voucher_type": "the voucher series is the connection's transaction source (setting transaction_source)",
}


class XledgerSettings(TargetSettings):
    """A tenant's Xledger connection, without its API token (a secret)."""

    base_url: str = Field(PRODUCTION_URL, pattern=URL_PATTERN, max_length=300,
                          description=f"Xledger's GraphQL endpoint: {PRODUCTION_URL} (live), {DEMO_URL} (demo), "
                                      "or a sandbox")
    transaction_source: str = Field("GL", min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$",
                                    description="The transaction source (voucher series) the vouchers are "
                                                "imported under, e.g. GL")
    department_object: int = Field(1, ge=1, le=5, description="Which GL object (glObject1-5) holds the "
                                                              "department in this entity's set-up")
    department_kind: str = Field("DEPARTMENT", min_length=1, max_length=60,
                                 description="The name of the object kind the department values belong to")
    tax_rules: dict[str, Code] = Field(default_factory=dict, description=(
        "SAF-T standard VAT code → this entity's tax rule code, where they differ (others are sent as they are)"))
    job_level: int = Field(1, ge=0, description="jobLevel.dbSubId on each import item (Xledger's examples send 1)")
    timeout: float = Field(30.0, gt=0, le=300, description="Seconds to wait for Xledger's answer")

    @field_validator("base_url", mode="after")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


def connect(context: TargetContext, **options: Any) -> Target:
    from connectors.targets.xledger.target import XledgerTarget  # the heavy part, on first use

    return XledgerTarget(context, **options)


DESCRIPTOR = TargetDescriptor(
    name=NAME,
    title="Xledger",
    settings=XledgerSettings,
    secrets=(Secret(name="api_token", label="API token",
                    where="Xledger (as domain administrator, in the entity to deliver to): Administration → "
                          "Access Control → GraphQL → API tokens → «Generate New Token»; read on the registers "
                          "and GL import, write on GL import (shown once)"),),
    connect=connect,
    check="one GraphQL query: the entity the token reaches, and that it may read accounts and the GL import",
    accepts=Accepts(
        documents=("voucher",),
        currencies=("NOK",),
        dimensions=DIMENSIONS,
        drafts=Drafts(available=True, meaning=(
            "GL import items sent with workflow: true, so the voucher they become waits in Xledger's approval "
            "workflow; direct posting sends workflow: false [unverified: see docs/fidelity.md]")),
        checks=("accounts", "vat_codes", "customers", "suppliers", "departments", "projects"),
        not_accepted=NOT_ACCEPTED,
    ),
    guide="docs/connect/xledger.md",
)
