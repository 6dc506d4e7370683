"""Xledger as the registry sees it: its settings, the API token a customer gives us, what it accepts, its check.

Facts: reference/target-apis.md §6; the customer's side in docs/connect/xledger.md; what is unverified in
docs/fidelity.md ("Xledger").
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pipeline.descriptors import (
    Accepts,
    Code,
    Derived,
    Drafts,
    FieldMap,
    Lands,
    NotAccepted,
    Refused,
    Secret,
    TargetDescriptor,
    TargetSettings,
    Url,
)
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
_NODE = "inputs[].node"
# The public field map (docs/field-map.md): what mapping.nodes() does with each field, one GL import item per line.
# Proven by the contract suite (tests/contract/test_field_map_contract.py).
FIELD_MAP: FieldMap = {"voucher": {
    "reference": Lands(f"{_NODE}.extIdentifier", "on every import item of the voucher (and in each item's clientId, "
                                                 "«<reference>#<line>»): where find looks for it"),
    "date": Lands(f"{_NODE}.postedDate", "as a date; also the invoiceDate of a line with an invoice number"),
    "description": Lands(f"{_NODE}.text", "leads the first line's text («<description> – <line's text>»; the GL "
                                          "import has no header text [unverified whether Xledger makes one from the "
                                          "first line]), and is the text of a line without its own"),
    "currency": Refused("Xledger's GL import takes NOK vouchers here: another currency needs an exchange rate the "
                        "shared form does not carry (unsupported-currency)", accepted=("NOK",)),
    "voucher_type": NotAccepted(NOT_ACCEPTED["voucher_type"]),
    "lines[].account": Lands(f"{_NODE}.account.code", "as is (an open account, checked before delivery)"),
    "lines[].amount": Lands(f"{_NODE}.amount", "signed, as text with two decimals («-250.00»)"),
    "lines[].description": Lands(f"{_NODE}.text", "as is (the first line's after the voucher's description)"),
    "lines[].vat_code": Lands(f"{_NODE}.taxRule.code", "the entity's tax rule with that code; setting tax_rules maps a "
                                                       "SAF-T code where the entity's differs"),
    "lines[].vat_amount": Derived("not sent: Xledger works out the VAT from the tax rule and the line's amount "
                                  "[unverified: docs/fidelity.md]"),
    "lines[].dimensions.department": Lands(f"{_NODE}.glObject1.code", "a value of the object kind department_kind, "
                                                                      "in the GL object the setting department_object "
                                                                      "names (glObject1 by default)"),
    "lines[].dimensions.project": Lands(f"{_NODE}.project.code", "as is"),
    "lines[].dimensions.*": NotAccepted(NOT_ACCEPTED["lines[].dimensions.*"]),
    "lines[].customer": Lands(f"{_NODE}.subledger.code", "the customer's number, the customer's code in Xledger"),
    "lines[].supplier": Lands(f"{_NODE}.subledger.code", "the supplier's number, the supplier's code in Xledger"),
    "lines[].kid": NotAccepted(NOT_ACCEPTED["lines[].kid"]),
    "lines[].invoice_number": Lands(f"{_NODE}.invoiceNumber", "as is, with the voucher's date as invoiceDate"),
    "lines[].due_date": Lands(f"{_NODE}.dueDate", "as a date"),
}}


class XledgerSettings(TargetSettings):
    """A tenant's Xledger connection, without its API token (a secret)."""

    base_url: Url = Field(PRODUCTION_URL,
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
        fields=FIELD_MAP,
    ),
    guide="docs/connect/xledger.md",
)
