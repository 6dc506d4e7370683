"""Visma.net ERP as the registry sees it: its settings, the keys a customer gives us, what it accepts, its check.

Facts: reference/target-apis.md §7; the customer's side in docs/connect/visma-net.md.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from connectors.targets.visma_net.invoicing import DEFAULT_PAYMENT_METHODS
from connectors.targets.visma_net.invoicing import FIELD_MAP as INVOICE_FIELD_MAP
from connectors.targets.visma_net.invoicing import NOT_ACCEPTED as INVOICE_NOT_ACCEPTED
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

    # Sales invoices, credit notes and payments (invoicing.py, sales.py; docs/connect/visma-net.md).
    customer_match: Literal["number", "organization_number", "email", "phone"] | None = Field(
        None, description="The one field an invoice's customer is found by (customer number, organisation number, "
                          "e-mail or phone); none: each in that order")
    create_customers: bool = Field(False, description="Create a customer Visma.net lacks (exactly once) instead of "
                                                      "blocking the invoice")
    update_customers: bool = Field(False, description="Update a found customer's name, organisation number, e-mail, "
                                                      "phone, address and invoice delivery when the invoice says "
                                                      "otherwise (asks Visma.net for the update scope)")
    customer_classes: dict[Literal["b2c", "b2b", "ehf"], str] = Field(default_factory=dict, description=(
        "Kind of customer (b2c: a private person; b2b: with an organisation number; ehf: a business taking EHF) → "
        "the Visma.net customer class a new customer is created in (its accounts, terms and numbering)"))
    send_invoices: bool = Field(False, description="Have Visma.net send each invoice and credit note it releases "
                                                   "(AutoInvoice: EHF/PEPPOL, e-mail or print as the customer is set "
                                                   "up), once")
    vat_categories: dict[str, str] = Field(default_factory=dict, description=(
        "VAT ID → the Visma.net VAT category an invoice line with it takes; without one, the category holding the "
        "VAT ID with the fewest others"))
    payment_methods: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_PAYMENT_METHODS),
        description="Payment method (card, vipps, bank, invoice, …) → the Visma.net payment method ID a payment is "
                    "registered with")
    cash_accounts: dict[str, str] = Field(default_factory=dict, description=(
        "Payment method → the Visma.net cash account its money lands on; without one, the payment's bank account"))
    write_off_reason: str | None = Field(None, max_length=20, description=(
        "The Visma.net reason code (its account) a shortfall within the tolerance is written off with: fees and "
        "rounding; none: such a difference is refused"))
    payment_tolerance: str = Field("0.00", pattern=r"^\d{1,6}(\.\d{1,2})?$",
                                   description="The largest shortfall of a payment written off as fee or rounding; "
                                               "more short is a part payment")
    overpayments: Literal["refuse", "accept"] = Field("refuse", description="A payment over the open amount: refused, "
                                                      "or registered with the rest unapplied (the customer in credit)")
    due_days: dict[str, int] = Field(default_factory=dict, description="Payment method (or 'default') → days from "
                                     "the invoice date to its due date: the tenant's terms, checked and applied")

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
                     "Portal → the integration → Credentials → «Generate secret»; shown once)", platform=True),
    ),
    platform_settings=("client_id",),
    connect=connect,
    check="a Visma Connect token for the tenant, then GET /v1/branch and /v1/financialPeriod: which company and "
          "branch the tenant id reaches, which scopes were granted, and which periods are open",
    accepts=Accepts(
        documents=("voucher", "sales_invoice", "payment"),
        currencies=CURRENCIES,
        dimensions=DIMENSIONS,
        drafts=Drafts(available=True, meaning="a journal transaction, customer invoice, credit note or payment on hold "
                                              "(status Hold) that someone in the company takes off hold and releases "
                                              "in Visma.net"),
        checks=("accounts", "vat_codes", "departments", "projects"),
        not_accepted={**INVOICE_NOT_ACCEPTED, **NOT_ACCEPTED},  # a voucher's reason where both name a field
        fields={**FIELD_MAP, **INVOICE_FIELD_MAP},
    ),
    guide="docs/connect/visma-net.md",
)
