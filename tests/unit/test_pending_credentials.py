"""New credentials take over only after their connection test passes; until then the old ones go on.

Stores are in memory; Tripletex and Omnium are their sandboxes over real HTTP on loopback.
"""

from __future__ import annotations

import json
import secrets

import pytest

import connectors
from api import admin
from api import admin as admin_api
from api import http as api_http
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records.connections import change, change_source, check
from pipeline.records.tenants import TenantRegistry
from sandboxes.omnium import OmniumSandbox
from sandboxes.tripletex import TripletexSandbox


@pytest.fixture
def stores():
    return Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())


@pytest.fixture
def tripletex():
    with TripletexSandbox(consumer_token="consumer-" + secrets.token_hex(8),
                          employee_token="employee-" + secrets.token_hex(8)) as box:
        yield box


def _admin(stores):
    return TenantRegistry(stores.tables).issue_key(None, role="admin")


def _put_connection(stores, key, tenant_id, body):
    return admin_api.put_connection(stores, connectors.registry(), api_http.Request(
        "PUT", {"id": tenant_id}, {}, {"authorization": f"Bearer {key}"}, json.dumps(body).encode(), ""))


def _tokens(box, employee=None):
    return {"consumer_token": box.consumer_token, "employee_token": employee or box.employee_token}


def _values(stores, tenant):
    names = tenant.target_settings["secrets"]
    return {key: stores.secrets.get(name) for key, name in names.items()}


def test_a_failed_connection_test_keeps_the_working_credentials_and_reports_why(stores, tripletex):
    tenant = TenantRegistry(stores.tables).add("Verksted Ørsta AS")
    boss = _admin(stores)
    good = _put_connection(stores, boss, tenant.id, {"target": "tripletex", "settings": {
        "base_url": tripletex.base_url}, "credentials": _tokens(tripletex)})
    assert good.status == 200 and good.body["activated"] and good.body["check"]["ok"]
    working = TenantRegistry(stores.tables).get(tenant.id)

    typo = _put_connection(stores, boss, tenant.id, {"target": "tripletex", "settings": {
        "base_url": tripletex.base_url}, "credentials": _tokens(tripletex, employee="employee-typo-1234")})
    assert typo.status == 422 and typo.body["activated"] is False
    assert "Tripletex refused the consumer/employee tokens" in typo.body["error"]

    now = TenantRegistry(stores.tables).get(tenant.id)
    assert now.target_settings == working.target_settings  # the same secret names ...
    assert _values(stores, now) == _tokens(tripletex)  # ... holding the same working values
    assert check(stores, connectors.registry(), now)["ok"]  # deliveries go on with them
    pending = admin.get_connection(stores, connectors.registry(), api_http.Request(
        "GET", {"id": tenant.id}, {}, {"authorization": f"Bearer {boss}"}, b"", "")).body["pending"]
    assert pending["state"] == "failed" and pending["check"]["error"]["status"] == 403
    assert "employee-typo-1234" not in json.dumps(pending)  # names of secrets, never values


def test_new_credentials_go_to_the_other_slot_and_take_over_once_checked(stores, tripletex):
    tenant = TenantRegistry(stores.tables).add("Bakeri Vadsø AS")
    first = change(stores, connectors.registry(), tenant.id, "tripletex",
                   settings={"base_url": tripletex.base_url, "company_id": "0"}, credentials=_tokens(tripletex))
    assert first.activated
    old_names = first.tenant.target_settings["secrets"]
    tripletex.employee_token = "employee-rotated-" + secrets.token_hex(4)  # the customer made a new token
    rotated = change(stores, connectors.registry(), tenant.id, "tripletex", settings={},
                     credentials={"employee_token": tripletex.employee_token})
    assert rotated.activated and rotated.check["ok"]
    names = rotated.tenant.target_settings["secrets"]
    assert names["consumer_token"] == old_names["consumer_token"]  # not given: carried over
    assert names["employee_token"] != old_names["employee_token"]
    assert {names["employee_token"][-3:], old_names["employee_token"][-3:]} == {"--a", "--b"}
    assert rotated.tenant.target_settings["base_url"] == tripletex.base_url  # settings carried over too
    assert _values(stores, rotated.tenant) == _tokens(tripletex)
    assert rotated.tenant.pending == {}


def test_of_two_changes_at_once_only_the_later_can_take_over(stores, tripletex, monkeypatch):
    import pipeline.records.connections as connections

    tenant = TenantRegistry(stores.tables).add("Samtidig AS")
    real_check = connections.check
    later: list = []

    def check_while_another_change_comes_in(stores_, connectors_, candidate):
        result = real_check(stores_, connectors_, candidate)
        if candidate.target == "tripletex":  # the first change is being tested when the second arrives and passes
            later.append(change(stores, connectors.registry(), tenant.id, "file", settings={}, credentials={}))
        return result

    monkeypatch.setattr(connections, "check", check_while_another_change_comes_in)
    first = change(stores, connectors.registry(), tenant.id, "tripletex",
                   settings={"base_url": tripletex.base_url}, credentials=_tokens(tripletex))
    assert first.superseded and not first.activated
    assert later[0].activated and TenantRegistry(stores.tables).get(tenant.id).target == "file"


def test_a_new_omnium_secret_takes_over_only_when_omnium_accepts_it(stores):
    source = connectors.pulled()["omnium"]
    tenant = TenantRegistry(stores.tables).add("Sportsbutikken AS")
    with OmniumSandbox(client_secret="omnium-" + secrets.token_hex(8)) as omnium:
        settings = {"base_url": omnium.base_url, "client_id": omnium.client_id}
        good = change_source(stores, source, tenant.id, "omnium", settings=settings,
                             secret_setting="client_secret_name", secret=omnium.client_secret)
        assert good.activated and omnium.issued  # a token was fetched with it
        working = TenantRegistry(stores.tables).get(tenant.id).sources["omnium"]
        bad = change_source(stores, source, tenant.id, "omnium", settings=settings,
                            secret_setting="client_secret_name", secret="omnium-typo")
        assert not bad.activated and bad.check["error"]["status"] == 401
        kept = TenantRegistry(stores.tables).get(tenant.id)
        assert kept.sources["omnium"] == working
        assert stores.secrets.get(working["client_secret_name"]) == omnium.client_secret
        assert kept.pending["omnium"]["state"] == "failed"


def test_a_credential_an_http_header_cannot_carry_is_a_refused_connection_not_a_crash(stores):
    tenant = TenantRegistry(stores.tables).add("Tegn i Nøkkelen AS")
    refused = _put_connection(stores, _admin(stores), tenant.id, {
        "target": "poweroffice-go", "settings": {"base_url": "http://127.0.0.1:9/v2"},
        "credentials": {"application_key": "a", "client_key": "b", "subscription_key": "Þórshöfn-nøkkel"}})
    assert refused.status == 422 and not refused.body["activated"]
    assert "HTTP header cannot carry" in refused.body["check"]["error"]["message"]
    assert TenantRegistry(stores.tables).get(tenant.id).target == "file"
