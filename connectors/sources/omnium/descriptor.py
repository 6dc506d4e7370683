"""Omnium OMS as the registry sees it: the settings of a pull, the API user's secret, how the pull is tested.

Facts: reference/target-apis.md §9; the operator's view in docs/sources/omnium.md.
"""

from __future__ import annotations

from pydantic import Field

from connectors.sources.omnium.booking import NAME, BookingOptions
from pipeline.descriptors import PulledDescriptor, Secret, Settings, Url
from pipeline.ports import PulledSource


class OmniumSettings(Settings):
    """A tenant's Omnium pull, without the client secret (a secret)."""

    base_url: Url = Field(...,
                          description="Omnium's API: https://api.omnium.no (production), https://apitest.omnium.no "
                                      "(test), or a sandbox")
    client_id: str = Field(..., min_length=1, max_length=200, description="The API user's client id")
    stores: list[str] | None = Field(None, description="Store ids to pull (all when left out)")
    start: str | None = Field(None, description="ISO time the first pull starts from (default: a day back)")
    booking: BookingOptions = Field(default_factory=BookingOptions, description="How the orders are booked")


def source() -> PulledSource:
    from connectors.sources.omnium.source import PULLED

    return PULLED


DESCRIPTOR = PulledDescriptor(
    name=NAME,
    title="Omnium",
    settings=OmniumSettings,
    secrets=(Secret(name="client_secret", label="Client secret",
                    where="Omnium: Configuration › Authorization › API Users, the API user's ClientSecret "
                          "(role OrderRead)"),),
    secret_names=("clientId", "clientSecret", "accessToken"),  # POST /api/Token?clientId&clientSecret
    source=source,
    check="one read of the orders changed in the last minute (POST /api/Orders/Search), auth and all",
    guide="docs/sources/omnium.md",
)
