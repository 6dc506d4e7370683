"""Switching accounting systems without switching integrations, end to end on the local stack: a tenant sends the
same kind of vouchers over the same API with the same key throughout; an operator switches its connection from
Tripletex to another system and back (admin API, connection test first); each voucher lands once, in the system the
tenant was connected to when it was delivered. Parametrised over every system with a sandbox in the registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pipeline.records.tenants import TenantRegistry
from sandboxes.registry import SANDBOXES, Running
from tests.e2e.test_tripletex_delivery import sale, send, wait
from tests.test_sandbox_registry import start

pytestmark = pytest.mark.e2e
OTHERS = sorted(name for name in SANDBOXES if name != "tripletex")


@pytest.fixture
def systems(request: pytest.FixtureRequest) -> Iterator[dict[str, Running]]:
    started = {name: start(name) for name in ("tripletex", request.param)}  # (skips a sandbox without its specs)
    yield started
    for running in started.values():
        running.stop()


def _switch(stack: Any, admin: str, tenant: str, name: str, running: Running) -> None:
    import connectors
    from pipeline.descriptors import TargetDescriptor

    settings, credentials = running.connection()
    descriptor = connectors.CONNECTORS[name]
    assert isinstance(descriptor, TargetDescriptor)
    # A system without drafts (Fiken) is connected only with the tenant's opt-in to direct posting.
    opt_in = {} if descriptor.accepts.drafts.available else {"direct_posting": True}
    answer = httpx.put(f"{stack.url}/api/v1/admin/tenants/{tenant}/connection", timeout=60,
                       headers={"Authorization": f"Bearer {admin}"},
                       json={"target": name, "settings": settings, "credentials": credentials, **opt_in})
    assert answer.status_code == 200 and answer.json()["activated"], answer.text


@pytest.mark.parametrize("systems", OTHERS, indirect=True)
def test_a_tenant_switches_to_another_system_and_back_with_its_source_unchanged(stack: Any,
                                                                                 systems: dict[str, Running]) -> None:
    registry = TenantRegistry(stack.stores.tables)
    tenant = registry.add("Bytteriet på Ørland AS")
    admin, key = registry.issue_key(None, role="admin"), registry.issue_key(tenant.id)
    [other] = [name for name in systems if name != "tripletex"]
    plan = [("tripletex", ["bytte-1", "bytte-2"]), (other, ["bytte-3", "bytte-4"]), ("tripletex", ["bytte-5"])]
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for name, references in plan:
            _switch(stack, admin, tenant.id, name, systems[name])
            for reference in references:
                for _ in range(2):  # the same message twice: once in the system
                    body = wait(client, send(client, sale(reference)))
                    assert body["status"] == "delivered", body
    landed = {name: sorted(p.reference for p in running.posted()) for name, running in systems.items()}
    assert landed == {"tripletex": ["bytte-1", "bytte-2", "bytte-5"], other: ["bytte-3", "bytte-4"]}
    assert all("Røros" in p.text for running in systems.values() for p in running.posted())


def test_a_tenant_goes_round_every_system_one_switch_after_another(stack: Any) -> None:
    """Every system switched to from another that is not Tripletex, and away from it to the next: a ring through the
    whole registry (and back to where it started), one voucher delivered in each, none in two."""
    ring = sorted(SANDBOXES)
    started: dict[str, Running] = {}
    try:
        for name in ring:
            started[name] = start(name)
        registry = TenantRegistry(stack.stores.tables)
        tenant = registry.add("Rundreisen på Røros AS")
        admin, key = registry.issue_key(None, role="admin"), registry.issue_key(tenant.id)
        with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
            for step, name in enumerate([*ring, ring[0]]):
                _switch(stack, admin, tenant.id, name, started[name])
                body = wait(client, send(client, sale(f"runde-{step}")))
                assert body["status"] == "delivered", (name, body)
        posted = {name: running.posted() for name, running in started.items()}
    finally:
        for running in started.values():
            running.stop()
    expected = {name: [f"runde-{step}"] for step, name in enumerate(ring)}
    expected[ring[0]] = sorted(["runde-0", f"runde-{len(ring)}"])
    assert {name: sorted(p.reference for p in held) for name, held in posted.items()} == expected
    assert all("Røros" in p.text for held in posted.values() for p in held)
