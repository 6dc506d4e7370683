"""Fortnox as the registry sees it: its settings, the keys the consent gives us, what it accepts, its check.

Facts: reference/target-apis.md §8; the customer's side in docs/connect/fortnox.md. Fortnox has no draft for a
voucher, so "drafts first" means here: nothing reaches Fortnox until the tenant opts in to direct posting (the
preflight names the missing opt-in, the connection test and delivery refuse until it is given). The refresh token
comes from the hosted consent flow (connectors/targets/fortnox/consent.py), never from the customer's hands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from connectors.targets.fortnox.invoicing import (
    DEFAULT_MODES,
    INVOICE_NOT_ACCEPTED,
    PAYMENT_NOT_ACCEPTED,
    SWEDISH_RATES,
)
from connectors.targets.fortnox.invoicing import FIELD_MAP as INVOICE_FIELD_MAP
from connectors.targets.fortnox.mapping import AUTH_URL, FIELD_MAP, NAME, NOT_ACCEPTED, PRODUCTION_URL, TOKEN_URL
from pipeline.descriptors import Accepts, Code, Drafts, Secret, TargetDescriptor, TargetSettings, Url
from pipeline.ports import Stores, Target, TargetContext

DRAFTS = Drafts(available=False, meaning=(
    "Fortnox has no draft for a voucher (a voucher is booked when it is created): nothing is sent until the tenant "
    "opts in to direct posting; a booked voucher is corrected in Fortnox with a reversing voucher"))
INVOICE_DRAFTS = Drafts(available=True, meaning=(
    "an unbooked invoice, credit invoice or invoice payment (Ej bokförd) that someone in the company books in "
    "Fortnox; booked by Bilagsbro only on opt-in (book_invoices, else direct_posting)"))


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

    # Sales invoices, credit notes and payments (invoicing.py, sales.py, payments.py; docs/decisions/0012-*).
    invoicing: bool = Field(False, description=(
        "The tenant sends sales invoices, credit notes and payments: the consent asks for Fortnox's invoice, payment "
        "and settings scopes too (the company needs Fortnox's invoicing licence, Fakturering)"))
    book_invoices: bool | None = Field(None, description=(
        "Book each invoice, credit invoice and payment in Fortnox (PUT …/bookkeep); false leaves them unbooked "
        "drafts someone books in Fortnox; none: as direct_posting says"))
    customer_match: Literal["number", "organization_number", "email"] | None = Field(
        None, description="The one field an invoice's customer is found by (customer number, organisation number or "
                          "e-mail; Fortnox cannot search by phone); none: each in that order")
    create_customers: bool = Field(False, description="Create a customer Fortnox lacks (exactly once) instead of "
                                                      "blocking the invoice")
    update_customers: bool = Field(False, description="Update a found customer's name, organisation number, e-mail, "
                                                      "phone, address and invoice delivery when the invoice says "
                                                      "otherwise")
    send_invoices: bool = Field(False, description="Have Fortnox send each invoice and credit invoice it books, once: "
                                                   "as an e-invoice to a customer set up for them, else by e-mail")
    vat_rates: tuple[str, ...] = Field(SWEDISH_RATES, description=(
        "The VAT rates (percent) the company's VAT setup in Fortnox takes on an invoice row; an invoice line whose "
        "VAT code has another rate is refused in preflight. Swedish by default (25, 12, 6, 0): which rates a "
        "Norwegian company in Fortnox takes is [unverified]"))
    modes_of_payment: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_MODES),
        description="Payment method (card, vipps, bank, invoice, …) → the Fortnox mode of payment (its code) a "
                    "payment is registered with; its account is where the money lands")
    write_off_account: Code | None = Field(None, description=(
        "The account a payment's difference within the tolerance (fees, rounding) is written off on; none: such a "
        "difference is refused"))
    payment_tolerance: str = Field("0.00", pattern=r"^\d{1,6}(\.\d{1,2})?$",
                                   description="The largest difference between a payment and the open amount written "
                                               "off as fee or rounding; a larger shortfall is a part payment")
    overpayments: Literal["refuse", "accept"] = Field("refuse", description="A payment over the open amount: "
                                                      "refused, or registered (the customer in credit)")
    due_days: dict[str, int] = Field(default_factory=dict, description="Payment method (or 'default') → days from "
                                     "the invoice date to its due date: the tenant's terms, checked and applied")


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
          "chosen (Fortnox has no voucher drafts; invoices stay unbooked drafts unless book_invoices)",
    accepts=Accepts(
        documents=("voucher", "sales_invoice", "payment"),
        currencies=("NOK",),
        dimensions=("department", "project"),
        drafts=DRAFTS,
        checks=("accounts", "vat_codes", "departments", "projects"),
        # a voucher's reason where two name a field, an invoice's before a payment's
        not_accepted={**PAYMENT_NOT_ACCEPTED, **INVOICE_NOT_ACCEPTED, **NOT_ACCEPTED},
        fields={**FIELD_MAP, **INVOICE_FIELD_MAP},
        invoice_drafts=INVOICE_DRAFTS,
    ),
    guide="docs/connect/fortnox.md",
    consent=consent_link,
    consent_gives=("refresh_token",),
)
