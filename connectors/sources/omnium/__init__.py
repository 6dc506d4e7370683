"""Omnium OMS: pull changed orders over the REST API and turn them into sales vouchers for the books.

API: https://docs.omnium.no/docs/GettingStartedWithAPI/api-developer-guide (swagger at
https://api.omnium.no/documentation/orders; facts we rely on: /work/shared/reference/target-apis.md §9).
The package: `booking` (options and the pure mapping, orders → vouchers), `customers` (an order's customer
as a party: its id read as a phone number or e-mail where it is one), `client` (token auth as an `httpx.Auth`
flow, Search/Scroll, `connect`: settings + secret → client), and here the scheduled pull's view of Omnium
(`PULLED`).

Two ways into the books, chosen per tenant (`options["mode"]`):
- `"order"`: one sales voucher per order, reference `omnium-<order id>`, dated the Oslo business day the order
  was created; and one voucher per return order form, reference `omnium-<order id>-retur-<return id>`, dated
  the day of the return. A *changed* order maps to the same references again; the scheduled pull
  (`pipeline.bookings`) nets each against what was booked and posts only a difference, as a correction
  `<reference>-korr-<n>` — a change that moves no money posts nothing.
- `"daily"` (default): one voucher per store per Europe/Oslo business day, reference
  `omnium-<store>-<yyyy-mm-dd>`: sales per account and VAT code (gross, credit negative, with the VAT as
  Omnium computed it per line), discounts as debit lines on the same accounts (or `discount_account`),
  shipping, gift cards sold as a liability (`gift_card_account`, default 2900 "Forskudd fra kunder": a gift
  card is prepaid by the customer and is not revenue until redeemed; redeeming one is a payment method that
  debits the same account), payments per payment method (debit), and returns of that day as debit lines
  on the sales accounts with the refunds as credits. Orders count on the day they were created; returns on
  the day they were created. A day's summary is made once the day has closed; an order that arrives later
  (an offline till) or changes after that is booked as a supplement `omnium-<store>-<yyyy-mm-dd>-2`, `-3`, …
  holding only the difference (`pipeline.bookings`), so a store-day's vouchers always add up to its orders.
- Whatever is neither paid nor refunded goes to `receivable_account` (1500) with a customer: the order's own
  (its `customerId`/`customerNumber` read as a phone number or e-mail where it is one), or the tenant's
  `collective_customer` — on every daily summary, and on an order without a customer.

See docs/sources/omnium.md for the operator's view.

Money is Decimal end to end: the client parses JSON numbers with `parse_float=Decimal`. A voucher balances
by construction; the only balancing line is `rounding_account`, for Omnium's `grossRoundoff` (cash paid in
whole kroner) and any other difference up to `max_rounding` between the order total and its lines; a larger
difference is a `Problem`, not a voucher.
"""

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

