"""Fiken as the registry sees it: its settings, the keys a customer gives us, what it accepts, its check.

Facts: reference/target-apis.md §5; the customer's side in docs/connect/fiken.md. Fiken has no draft for a
general journal entry, so "drafts first" means here: nothing reaches Fiken's ledger until the tenant opts in
to direct posting (the connection test fails until it does), and then each voucher is posted as an *open*
entry — one Fiken lets the company delete without a counter entry — unless the tenant asks for closed ones.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from connectors.targets.fiken.invoicing import FIELD_MAP as INVOICE_FIELD_MAP
from connectors.targets.fiken.invoicing import NOT_ACCEPTED as INVOICE_NOT_ACCEPTED
from connectors.targets.fiken.mapping import FIELD_MAP, NAME, NOT_ACCEPTED, PRODUCTION_URL, TOKEN_URL
from pipeline.descriptors import Accepts, Drafts, Secret, TargetDescriptor, TargetSettings, Url
from pipeline.ports import Target, TargetContext

# Fiken's first bank account is 1920:10001 in every company [unverified: its numbering of sub-accounts from 10001];
# preflight checks that the account exists, so a wrong default is a named problem, never a wrong booking.
DEFAULT_PAYMENT_ACCOUNTS = {"card": "1920:10001", "vipps": "1920:10001", "bank": "1920:10001",
                            "invoice": "1920:10001"}
INVOICE_DRAFTS = Drafts(available=True, meaning=(
    "an invoice draft (fakturautkast) that someone in the company reviews and makes an invoice in Fiken; made an "
    "invoice by Bilagsbro only on opt-in (direct_posting). A credit note without opt-in is a credit-note draft"))
DRAFTS = Drafts(available=False, meaning=(
    "Fiken has no draft for a general journal entry (fri postering): nothing is sent until the tenant opts in to "
    "direct posting; entries are then posted open (open=true: the company can delete one in Fiken without a "
    "counter entry) unless the setting open_entries is false"))


class FikenSettings(TargetSettings):
    """A tenant's Fiken connection, without its keys (those are secrets)."""

    base_url: Url = Field(PRODUCTION_URL,
                          description="Fiken's API: https://api.fiken.no/api/v2 (production), or a sandbox")
    company_slug: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", description=(
        "The company's slug in Fiken: the part after /foretak/ in the company's address on fiken.no "
        "(GET /companies lists the slugs a key reaches)"))
    open_entries: bool = Field(True, description="Post entries open (deletable in Fiken without a counter entry); "
                                                 "false posts them closed, as Fiken does by default")
    client_id: str | None = Field(None, min_length=1, max_length=200, description=(
        "OAuth: the client id of the Fiken app the refresh token was issued to (with the secrets refresh_token "
        "and client_secret); not needed with a personal API token"))
    token_url: Url = Field(TOKEN_URL,
                           description="OAuth: Fiken's token endpoint (https://fiken.no/oauth/token), or a sandbox's")
    timeout: float = Field(30.0, gt=0, le=300, description="Seconds to wait for Fiken's answer")

    # Sales invoices, credit notes and payments (invoicing.py, sales.py; docs/decisions/0013-fiken-invoices.md).
    create_customers: bool = Field(False, description="Create a customer contact Fiken lacks (exactly once) instead "
                                                      "of blocking the invoice")
    customer_match: Literal["number", "organization_number", "email", "phone"] | None = Field(
        None, description="The one field an invoice's customer is found by (our customer number — Fiken's "
                          "memberNumber, or its own customer number —, organisation number, e-mail or phone); none: "
                          "each in that order")
    update_customers: bool = Field(True, description="Update a found customer's name, e-mail, organisation number "
                                                     "and address when the invoice says otherwise")
    send_invoices: bool = Field(False, description="Have Fiken send each invoice and credit note it makes (e-mail, "
                                                   "EHF or letter as the customer's delivery method says), once")
    income_account: str = Field("3000", pattern=r"^\d{4}$", description="The income account of an invoice line "
                                                                       "that names none")
    payment_accounts: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_PAYMENT_ACCOUNTS),
        description="Payment method (card, vipps, bank, invoice, …) → the Fiken account a payment lands on "
                    "(a bank account 1920:NNNNN, or a clearing account such as 1580)")
    payment_tolerance: str = Field("0.00", pattern=r"^\d{1,6}(\.\d{1,2})?$",
                                   description="The largest shortfall of a payment against the open amount "
                                               "registered as its fee (fees, rounding); more is a part payment")
    overpayments: Literal["refuse", "accept"] = Field("refuse", description="A payment over the open amount: "
                                                      "refused, or registered (the customer in credit)")
    due_days: dict[str, int] = Field(default_factory=dict, description="Payment method (or 'default') → days from "
                                     "the invoice date to its due date: the tenant's terms, checked and applied")


def connect(context: TargetContext) -> Target:
    """The Fiken target for one tenant's message (its HTTP plumbing imported on first use)."""
    from connectors.targets.fiken.target import FikenTarget

    return FikenTarget(context)


DESCRIPTOR = TargetDescriptor(
    name=NAME,
    title="Fiken",
    settings=FikenSettings,
    secrets=(
        Secret(name="api_token", label="Personal API token (personlig API-nøkkel)",
               where="Fiken: Rediger konto → API → Personlige API-nøkler → «Opprett ny nøkkel» (needs the API add-on, "
                     "Foretak → Tilleggstjenester → API). Fiken's terms allow personal tokens for a company's own "
                     "integrations; Bilagsbro as a service connects with OAuth instead", required=False),
        Secret(name="refresh_token", label="OAuth refresh token",
               where="issued when the customer approves Bilagsbro's Fiken app (https://fiken.no/oauth/authorize); the "
                     "operator exchanges the code once (docs/connect/fiken.md)", required=False),
        Secret(name="client_secret", label="OAuth client secret",
               where="the operator's: Bilagsbro's Fiken app (Fiken: Rediger konto → API → Apper)", required=False,
               platform=True),
    ),
    platform_settings=("client_id",),
    connect=connect,
    check="GET /companies: which companies the key reaches, whether the company has Fiken's API add-on, and that "
          "direct posting is chosen (Fiken has no drafts)",
    accepts=Accepts(
        documents=("voucher", "sales_invoice", "payment"),
        currencies=("NOK",),
        dimensions=(),
        drafts=DRAFTS,
        checks=("accounts", "vat_codes", "customers", "suppliers"),
        not_accepted={**INVOICE_NOT_ACCEPTED, **NOT_ACCEPTED},  # a voucher's reason where both name a field
        fields={**FIELD_MAP, **INVOICE_FIELD_MAP},
        invoice_drafts=INVOICE_DRAFTS,
    ),
    guide="docs/connect/fiken.md",
)
