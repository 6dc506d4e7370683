"""Switching accounting systems without switching integrations, end to end through the local stack on Azurite.

For every system with a sandbox in `sandboxes.registry.SANDBOXES` besides Tripletex: a shop's source keeps sending
the same way while the shop is pointed from Tripletex to that system and back again over the admin API. Each
voucher lands once, in the system the shop pointed to when it was sent; a voucher sent again after the switch
back is known to Tripletex's ledger entry and is not posted twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

import connectors
from pipeline.tenants import TenantRegistry
from sandboxes.registry import SANDBOXES, Running
from tests.test_sandbox_registry import start

pytestmark = pytest.mark.e2e
OTHERS = sorted(name for name in SANDBOXES if name != "tripletex")


@pytest.fixture
def systems(request: pytest.FixtureRequest) -> Iterator[dict[str, Running]]:
    started: dict[str, Running] = {}
    try:
        for name in ("tripletex", request.param):
            started[name] = start(name)
        yield started
    finally:
        for running in started.values():
            running.stop()


def sale(reference: str) -> dict[str, object]:
    return {"type": "voucher", "reference": reference, "date": "2026-11-20", "description": f"Salg {reference} – Ærø",
            "lines": [{"account": "1920", "amount": "300.00", "description": "Kort"},
                      {"account": "3000", "amount": "-300.00", "vat_code": "3", "description": "Blåbærsyltetøy"}]}


def deliver(client: httpx.Client, reference: str) -> dict[str, object]:
    answer = client.post("/api/v1/documents", json=sale(reference))
    assert answer.status_code == 202, answer.text
    document = answer.json()["documents"][0]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = client.get(document["status_url"]).json()
        if body["status"] in ("delivered", "blocked", "failed"):
            assert body["status"] == "delivered", body
            return body["trace"][-1]
        time.sleep(0.1)
    raise AssertionError(f"{reference} not delivered in time")


def point(admin: httpx.Client, tenant: str, name: str, running: Running) -> None:
    settings, credentials = running.connection()
    answer = admin.put(f"/api/v1/admin/tenants/{tenant}/connection",
                       json={"target": name, "settings": settings, "credentials": credentials})
    assert answer.status_code == 200 and answer.json()["check"]["ok"] is True, answer.text


def held(running: Running, prefix: str) -> list[str]:
    return sorted(p.reference for p in running.posted() if p.reference.startswith(prefix))


@pytest.mark.parametrize("systems", OTHERS, indirect=True)
def test_a_shop_switches_from_tripletex_and_back_and_each_voucher_lands_once_where_it_pointed(stack, systems):
    other = next(name for name in systems if name != "tripletex")
    registry = TenantRegistry(stack.stores.tables)
    shop = registry.add(f"Bytte {other} Ærø AS", organization_number="999999999")
    admin_key, vendor_key = registry.issue_key(None, role="admin"), registry.issue_key(shop.id)
    prefix = f"bytte-{other}-"
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30) as admin, \
            httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {vendor_key}"}, timeout=30) as vendor:
        point(admin, shop.id, "tripletex", systems["tripletex"])
        assert deliver(vendor, prefix + "1")["detail"]["target"] == "tripletex"
        point(admin, shop.id, other, systems[other])
        assert deliver(vendor, prefix + "2")["detail"]["target"] == other
        again = deliver(vendor, prefix + "2")  # the source sends it twice: once in the system all the same
        assert again["step"] == "duplicate"
        point(admin, shop.id, "tripletex", systems["tripletex"])
        assert deliver(vendor, prefix + "3")["detail"]["target"] == "tripletex"
        back = deliver(vendor, prefix + "1")  # sent again after two switches: Tripletex has it already
        assert back["step"] == "duplicate" and back["detail"]["target"] == "tripletex"
    assert held(systems["tripletex"], prefix) == [prefix + "1", prefix + "3"]
    assert held(systems[other], prefix) == [prefix + "2"]
    for name, running in systems.items():  # drafts first where the system has them (Fiken has none)
        assert all(p.draft for p in running.posted()) is connectors.CONNECTORS[name].accepts.drafts.available
