"""Omnium as a pulled source (`PULLED`): what the scheduled pull (pipeline.pulls.scheduled) calls, over `booking` and `client`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.sources.omnium.booking import (
    NAME,
    BookingOptions,
    accounts_named,
    business_day,
    business_day_end,
    business_days_touched,
    daily_summaries,
    documents,
    latest_versions,
    order_json,
    order_key,
    order_vouchers,
    parse_time,
    read_order,
    summary_reference,
)
from connectors.sources.omnium.client import OmniumClient, OmniumToken, connect, error_for
from pipeline.errors import Problem
from pipeline.model import Voucher
from pipeline.ports import SecretStore

__all__ = [
    "NAME", "PULLED", "BookingOptions", "OmniumClient", "OmniumSource", "OmniumToken", "accounts_named",
    "business_day",
    "business_day_end", "business_days_touched", "connect", "daily_summaries", "documents", "error_for",
    "latest_versions", "order_json", "order_key", "order_vouchers", "parse_time", "read_order",
    "summary_reference",
]

# -- the scheduled pull's view of Omnium (pipeline.ports.PulledSource) ------------------------------


class OmniumSource:
    """Omnium orders as a pulled source: one voucher per order, or daily summaries per store."""

    name = NAME

    def feed(self, settings: Mapping[str, Any], secrets: SecretStore, *, tenant: str) -> OmniumClient:
        return connect(settings, secrets, tenant=tenant)

    def identity(self, item: Mapping[str, Any]) -> str:
        modified, order_id = order_key(item)
        safe = re.sub(r"[^0-9A-Za-z_.-]", "_", order_id)
        return f"{safe}@{modified.astimezone(dt.UTC):%Y%m%dT%H%M%S%f}"

    def dump(self, item: Mapping[str, Any]) -> bytes:
        return order_json(item)

    def load(self, data: bytes) -> dict[str, Any]:
        return read_order(data)

    def periods(self, item: Mapping[str, Any], options: Mapping[str, Any]) -> set[tuple[str, dt.date]]:
        if BookingOptions.from_options(options).mode == "order":
            return set()
        return business_days_touched(item)

    def period_end(self, day: dt.date) -> dt.datetime:
        return business_day_end(day)

    def documents(self, items: Sequence[Mapping[str, Any]], options: Mapping[str, Any],
                  periods: Sequence[tuple[str, dt.date]] | None = None) -> list[Voucher | Problem]:
        return documents(items, options, days=periods)


    def accounts(self, options: Mapping[str, Any]) -> dict[str, list[str]]:
        return accounts_named(BookingOptions.from_options(options))


PULLED = OmniumSource()

