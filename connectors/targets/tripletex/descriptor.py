"""Tripletex as the registry sees it: its settings, the tokens a customer gives us, what it accepts, its check.

Facts: reference/target-apis.md §1; the customer's side in docs/connect/tripletex.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, field_validator

from connectors.targets.tripletex.invoicing import DEFAULT_PAYMENT_TYPES
from connectors.targets.tripletex.invoicing import FIELD_MAP as INVOICE_FIELD_MAP
from connectors.targets.tripletex.invoicing import NOT_ACCEPTED as INVOICE_NOT_ACCEPTED
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

    # Sales invoices, credit notes and payments (invoicing.py, sales.py; docs/connect/tripletex.md).
    customer_match: Literal["number", "organization_number", "email", "phone"] | None = Field(
        None, description="The one field an invoice's customer is found by (customer number, organisation number, "
                          "e-mail or mobile phone); none: each in that order. Tripletex's customer has no external "
                          "id field to match on")
    update_customers: bool = Field(True, description="Update a found customer's name, e-mail, address and invoice "
                                                     "delivery method when the invoice says otherwise")
    send_invoices: bool = Field(False, description="Have Tripletex send each invoice it posts (e-mail, or EHF for a "
                                                   "customer whose delivery method is EHF), once")
    payment_types: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_PAYMENT_TYPES),
        description="Payment method (card, vipps, bank, invoice, …) → the Tripletex payment type (its description) "
                    "a payment is registered with; the type's debit account is where the money lands")
    payment_difference_type: str | None = Field(
        None, max_length=100, description="The Tripletex payment type fees and rounding are registered with (its "
                                          "debit account, e.g. 7770); none: a difference is refused")
    payment_tolerance: str = Field("0.00", pattern=r"^\d{1,6}(\.\d{1,2})?$",
                                   description="The largest difference between a payment and the open amount booked "
                                               "as fee or rounding; more short is a part payment")
    overpayments: Literal["refuse", "accept"] = Field("refuse", description="A payment over the open amount (beyond "
                                                      "the tolerance): refused, or registered (the customer in credit)")
    due_days: dict[str, int] = Field(default_factory=dict, description="Payment method (or 'default') → days from "
                                     "the invoice date to its due date: the tenant's terms, checked and applied")

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
                     "operator (a company that runs its own Tripletex application gives its own)", platform=True),
        Secret(name="employee_token", label="Employee token (brukernøkkel)",
               where="Tripletex: the employee's «API-tilgang» tab → «Ny nøkkel», application Bilagsbro "
                     "(needs the «Integrasjoner» add-on; shown once)"),
    ),
    secret_names=(*SECRET_PARAMS, *SECRET_FIELDS),
    connect=connect,
    check="GET /token/session/>whoAmI: which company and employee the tokens log in as",
    accepts=Accepts(
        documents=("voucher", "sales_invoice", "payment"),
        currencies=("NOK",),
        dimensions=DIMENSIONS,
        drafts=Drafts(available=True, meaning="a non-posted voucher (sendToLedger=false, a temporary number) that "
                                              "someone in the company reviews and posts in Tripletex; an invoice or "
                                              "credit note: an order not yet invoiced"),
        checks=("accounts", "vat_codes", "customers", "suppliers", "departments", "projects"),
        not_accepted={**INVOICE_NOT_ACCEPTED, **NOT_ACCEPTED},  # a voucher's reason where both name a field
        fields={**FIELD_MAP, **INVOICE_FIELD_MAP},
    ),
    guide="docs/connect/tripletex.md",
)
