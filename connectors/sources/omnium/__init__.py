"""Omnium OMS: pull changed orders over the REST API and turn them into sales vouchers for the books.

API: https://docs.omnium.no/docs/GettingStartedWithAPI/api-developer-guide (swagger at
https://api.omnium.no/documentation/orders; facts we rely on: /work/shared/reference/target-apis.md §9).
The package: `booking` (options and the pure mapping, orders → vouchers), `customers` (an order's customer
as a party: its id read as a phone number or e-mail where it is one), `client` (token auth as an `httpx.Auth`
flow, Search/Scroll, `connect`: settings + secret → client), `source` (the scheduled pull's view of Omnium,
`PULLED`) and `descriptor` (what the registry knows of it).

Two ways into the books, chosen per tenant (`options["mode"]`):
- `"order"`: one sales voucher per order, reference `omnium-<order id>`, dated the Oslo business day the order
  was created; and one voucher per return order form, reference `omnium-<order id>-retur-<return id>`, dated
  the day of the return. A *changed* order maps to the same references again; the scheduled pull
  (`pipeline.pulls.bookings`) nets each against what was booked and posts only a difference, as a correction
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
  holding only the difference (`pipeline.pulls.bookings`), so a store-day's vouchers always add up to its orders.
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

from typing import Any


def __getattr__(name: str) -> Any:
    """The source's names, loaded on first use: the registry imports only `descriptor` (cold start). A submodule
    asked for by name (`from ... import descriptor`) is left to the import system."""
    import importlib
    import importlib.util

    if name.startswith("__") or importlib.util.find_spec(f"{__name__}.{name}") is not None:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"{__name__}.source"), name)
