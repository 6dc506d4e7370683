"""Fiken as the registry sees it: its settings, the keys a customer gives us, what it accepts, its check.

Facts: reference/target-apis.md §5; the customer's side in docs/connect/fiken.md. Fiken has no draft for a
general journal entry, so "drafts first" means here: nothing reaches Fiken's ledger until the tenant opts in
to direct posting (the connection test fails until it does), and then each voucher is posted as an *open*
entry — one Fiken lets the company delete without a counter entry — unless the tenant asks for closed ones.
"""

from __future__ import annotations

from pydantic import Field

from connectors.targets.fiken.mapping import FIELD_MAP, NAME, NOT_ACCEPTED, PRODUCTION_URL, TOKEN_URL
from pipeline.descriptors import Accepts, Drafts, Secret, TargetDescriptor, TargetSettings, Url
from pipeline.ports import Target, TargetContext

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
               where="the operator's: Bilagsbro's Fiken app (Fiken: Rediger konto → API → Apper)", required=False),
    ),
    connect=connect,
    check="GET /companies: which companies the key reaches, whether the company has Fiken's API add-on, and that "
          "direct posting is chosen (Fiken has no drafts)",
    accepts=Accepts(
        documents=("voucher",),
        currencies=("NOK",),
        dimensions=(),
        drafts=DRAFTS,
        checks=("accounts", "vat_codes", "customers", "suppliers"),
        not_accepted=NOT_ACCEPTED,
        fields=FIELD_MAP,
    ),
    guide="docs/connect/fiken.md",
)
