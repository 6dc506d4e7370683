"""Omnium orders pulled by the timer function, through every stage, on Azurite and the Omnium sandbox."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from pipeline.names import CONTAINER_DELIVERIES
from pipeline.tenants import TenantRegistry, secret_name
from sandboxes.omnium import OmniumSandbox

pytestmark = pytest.mark.e2e


def test_the_timer_pulls_orders_into_daily_summaries_exactly_once(stack):
    with OmniumSandbox() as omnium:
        omnium.seed_orders(n=400, stores=["oslo-1", "bergen-2"], days=3, seed=7)
        totals = omnium.totals()
        registry = TenantRegistry(stack.stores.tables)
        tenant = registry.add("Sport & Fritid Ålesund AS")
        name = secret_name(tenant.id, "omnium", "client-secret")
        stack.stores.secrets.set(name, omnium.client_secret)
        start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=5)).isoformat()
        registry.save(tenant.model_copy(update={"sources": {"omnium": {
            "base_url": omnium.base_url, "client_id": omnium.client_id, "client_secret_name": name,
            "start": start, "booking": {"mode": "daily"}}}}))
        for _ in range(2):  # the second run finds nothing new and makes no summary twice
            stack.invoke_timer("pull_orders")
            stack.wait_idle(timeout=120)
    delivered = sorted(stack.stores.blobs.list(CONTAINER_DELIVERIES, f"{tenant.id}/"))
    expected = {f"omnium-{store}-{day.isoformat()}" for (store, day), t in totals.items() if t.orders}
    assert {p.rsplit("/", 1)[1].removesuffix(".json") for p in delivered} == expected
    for path in delivered:
        voucher = json.loads(stack.stores.blobs.get(CONTAINER_DELIVERIES, path))
        store = voucher["reference"].removeprefix("omnium-")[: -len("-yyyy-mm-dd")]
        expected_day = totals[(store, dt.date.fromisoformat(voucher["date"]))]
        paid = {line["description"].removeprefix("Betaling "): Decimal(line["amount"])
                for line in voucher["lines"] if line.get("description", "").startswith("Betaling ")}
        assert paid == {method: amount for method, amount in expected_day.payments.items() if amount}
        assert sum(paid.values()) == expected_day.sales - expected_day.returns
        assert sum(Decimal(line["amount"]) for line in voucher["lines"]) == 0
