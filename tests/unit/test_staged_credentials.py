"""Credentials a wizard was given, kept for its next steps (pipeline.records.connections.stage / staged): written
where the next change writes them anyway, never over a name in force, readable for 30 minutes, for that system only.

Stores are in memory; Tripletex is its sandbox over real HTTP on loopback.
"""

from __future__ import annotations

import datetime as dt
import secrets

import pytest

import connectors
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records.connections import STAGED_FOR, change, stage, staged, staged_names
from pipeline.records.tenants import TenantRegistry
from sandboxes.tripletex import TripletexSandbox


@pytest.fixture
def stores() -> Stores:
    return Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())


@pytest.fixture
def tripletex():
    with TripletexSandbox(consumer_token="consumer-" + secrets.token_hex(8),
                          employee_token="employee-" + secrets.token_hex(8)) as box:
        yield box


def _tokens(box, employee=None):
    return {"consumer_token": box.consumer_token, "employee_token": employee or box.employee_token}


def test_staged_credentials_never_touch_the_ones_in_force_and_feed_the_next_change(stores, tripletex):
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Verksted Ørsta AS")
    assert change(stores, connectors.registry(), tenant.id, "tripletex", settings={"base_url": tripletex.base_url},
                  credentials=_tokens(tripletex)).activated
    in_force = dict(registry.get(tenant.id).target_settings["secrets"])
    before = {name: stores.secrets.get(name) for name in in_force.values()}

    written = stage(stores, tenant.id, "tripletex", {"employee_token": "ny-nøkkel"})
    assert set(written) == {"employee_token"} and written["employee_token"] not in in_force.values()
    assert {name: stores.secrets.get(name) for name in in_force.values()} == before  # deliveries go on untouched
    assert registry.get(tenant.id).target_settings["secrets"] == in_force
    assert staged(stores, tenant.id, "tripletex") == {"employee_token": "ny-nøkkel"}
    assert staged(stores, tenant.id, "fiken") == {}  # another system's wizard does not see them

    # a second step adds to what the first gave; the change that passes clears the staging
    stage(stores, tenant.id, "tripletex", {"consumer_token": tripletex.consumer_token})
    assert set(staged(stores, tenant.id, "tripletex")) == {"employee_token", "consumer_token"}
    stage(stores, tenant.id, "tripletex", {"employee_token": tripletex.employee_token})
    outcome = change(stores, connectors.registry(), tenant.id, "tripletex", settings={},
                     credentials=staged(stores, tenant.id, "tripletex"))
    assert outcome.activated
    assert staged(stores, tenant.id, "tripletex") == {}


def test_a_failed_change_keeps_its_credentials_for_the_next_try_then_they_expire(stores, tripletex):
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Sjøbua i Å AS")
    failed = change(stores, connectors.registry(), tenant.id, "tripletex", settings={"base_url": tripletex.base_url},
                    credentials=_tokens(tripletex, employee="feil"))
    assert not failed.activated and registry.get(tenant.id).target == "file"
    assert staged(stores, tenant.id, "tripletex")["consumer_token"] == tripletex.consumer_token
    later = dt.datetime.now(dt.UTC) + STAGED_FOR + dt.timedelta(seconds=1)
    assert staged_names(registry.get(tenant.id), "tripletex", now=later) == {}


def test_a_new_primary_never_writes_over_the_read_only_connection_of_the_same_system(stores, tripletex):
    """Switching back to a system kept read-only: the candidate's credentials go to the other slot, so a failed
    test leaves the read-only connection's credentials as they were."""
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Fjellbakeriet på Røros AS")
    read_only = {"consumer_token": f"{tenant.id}--tripletex--consumer_token--a",
                 "employee_token": f"{tenant.id}--tripletex--employee_token--a"}
    for key, name in read_only.items():
        stores.secrets.set(name, _tokens(tripletex)[key])
    registry.save(registry.get(tenant.id).model_copy(update={"connections": {"tripletex": {
        "settings": {"base_url": tripletex.base_url, "secrets": read_only}, "mode": "read-only", "since": "x"}}}))
    written = stage(stores, tenant.id, "tripletex", {"employee_token": "kandidat"})
    assert written["employee_token"].endswith("--b")
    refused = change(stores, connectors.registry(), tenant.id, "tripletex", settings={"base_url": tripletex.base_url},
                     credentials=_tokens(tripletex, employee="kandidat"))
    assert not refused.activated
    assert {k: stores.secrets.get(n) for k, n in read_only.items()} == _tokens(tripletex)
