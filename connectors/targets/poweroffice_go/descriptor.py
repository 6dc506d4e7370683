"""PowerOffice GO as the registry sees it: its settings, the three keys it takes, what it accepts, its check.

Facts: reference/target-apis.md §2; the customer's side in docs/connect/poweroffice-go.md.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from connectors.targets.poweroffice_go.invoicing import FIELD_MAP as INVOICE_FIELD_MAP
from connectors.targets.poweroffice_go.invoicing import INVOICE_NOT_ACCEPTED
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

    # Sales invoices, credit notes and payments (invoicing.py, sales.py, payments.py; decision 0014).
    products: dict[str, str] = Field(default_factory=dict, description=(
        "VAT code → the GO product code an invoice line without a product of its own is sold as (a GO sales-order "
        "line takes its sales account and VAT code from its product), e.g. {\"3\": \"ABO\", \"5\": \"ABO-FRI\"}"))
    customer_match: Literal["number", "organization_number", "email", "phone"] | None = Field(
        None, description="The one field an invoice's customer is found by (customer number, organisation number, "
                          "e-mail or phone); none: each in that order")
    create_customers: bool = Field(False, description="Create a customer GO lacks (exactly once) instead of blocking "
                                                      "the invoice")
    update_customers: bool = Field(True, description="Update a found customer's name, organisation number, e-mail, "
                                                     "phone, address and invoice delivery when the invoice says "
                                                     "otherwise")
    send_invoices: bool = Field(False, description="Have GO deliver each invoice and credit note it posts (EHF, "
                                                   "eFaktura or e-mail, as the customer is set up: DeliveryType "
                                                   "Auto), once; otherwise they are posted, not delivered")
    payment_accounts: dict[str, str] = Field(default_factory=dict, description=(
        "Payment method (card, vipps, bank, invoice, …) → the GO account a payment lands on (a bank account, or a "
        "clearing account such as 1580); without one, the payment's bank account"))
    fee_account: str | None = Field("7770", pattern=r"^\d{4,8}$", description=(
        "The account a shortfall within the tolerance is booked on (fees, rounding); none: such a difference is "
        "refused"))
    payment_tolerance: str = Field("0.00", pattern=r"^\d{1,6}(\.\d{1,2})?$",
                                   description="The largest difference of a payment against the open amount booked "
                                               "as fee or rounding; a larger shortfall is a part payment")
    overpayments: Literal["refuse", "accept"] = Field("refuse", description="A payment over the open amount: refused, "
                                                      "or registered (the customer in credit)")
    due_days: dict[str, int] = Field(default_factory=dict, description="Payment method (or 'default') → days from "
                                     "the invoice date to its due date: the tenant's terms, checked and applied")


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
        documents=("voucher", "sales_invoice", "payment"),
        currencies=("NOK",),
        dimensions=DIMENSIONS,
        drafts=Drafts(available=True, meaning="a manual voucher in the journal-entry view (Bilagsregistrering), "
                                              "unposted, that someone in the company reviews and posts in GO"),
        checks=("accounts", "vat_codes", "customers", "suppliers", "departments", "projects"),
        not_accepted={**INVOICE_NOT_ACCEPTED, **NOT_ACCEPTED},  # a voucher's reason where both name a field
        fields={**FIELD_MAP, **INVOICE_FIELD_MAP},
        invoice_drafts=Drafts(available=True, meaning="a sales order (ordre, GO's invoice draft) that someone in the "
                                                      "company sends as an invoice in GO; posted (and delivered on "
                                                      "opt-in) by createAndSendInvoice when the tenant posts directly"),
    ),
    guide="docs/connect/poweroffice-go.md",
)
