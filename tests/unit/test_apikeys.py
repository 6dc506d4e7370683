"""Vendor API keys: listed by hint, revoked at once, rotated with an overlap, by the admin API."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import connectors
from api import admin
from api import http as api_http
from api import vendor as api
from pipeline.errors import ConfigError
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import NotFound, Stores
from pipeline.records.apikeys import ApiKeys, hash_key, key_id
from pipeline.records.names import TABLE_APIKEYS
from pipeline.records.tenants import TenantRegistry

VOUCHER = {"type": "voucher", "reference": "nøkkel-1", "date": "2026-11-20",
           "lines": [{"account": "1920", "amount": "1.00"}, {"account": "3000", "amount": "-1.00"}]}


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


class CountingTables(MemoryTables):
    """Records the range queries made, to show that listing never scans the table."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[tuple[str, str, str]] = []

    def query(self, table, partition, row_prefix=""):
        self.queries.append((table, partition, row_prefix))
        return super().query(table, partition, row_prefix)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def tables():
    return CountingTables()


def test_keys_are_listed_by_hint_from_the_tenants_own_index_never_in_full(tables, clock):
    keys = ApiKeys(tables, clock=clock)
    first, _ = keys.issue("butikk-1", label="Kasse 1")
    clock.now += dt.timedelta(seconds=1)
    second, _ = keys.issue("butikk-1", label="Nettbutikk")
    other, _ = keys.issue("butikk-2")
    listed = keys.owned_by("butikk-1")
    assert [k.label for k in listed] == ["Kasse 1", "Nettbutikk"]
    assert [k.status for k in listed] == ["active", "active"]
    assert listed[0].hint == f"{first[:7]}…{first[-4:]}" and listed[0].key_id == key_id(hash_key(first))
    assert all(k not in json.dumps([v.as_dict() for v in listed]) for k in (first, second, other))
    assert all(k not in json.dumps(list(tables.rows.values())) for k in (first, second, other))  # hashed only
    assert tables.queries == [(TABLE_APIKEYS, "key", "by-tenant|butikk-1|")]  # a range, not a scan


def test_a_revoked_key_is_refused_at_once_and_the_others_go_on(tables, clock):
    keys = ApiKeys(tables, clock=clock)
    kept, _ = keys.issue("butikk-1")
    revoked, view = keys.issue("butikk-1")
    assert keys.authenticate(revoked) == ("tenant", "butikk-1")
    assert keys.revoke("butikk-1", view.key_id).status == "revoked"
    assert keys.authenticate(revoked) is None
    assert keys.authenticate(kept) == ("tenant", "butikk-1")
    assert keys.revoke("butikk-1", view.key_id).status == "revoked"  # twice is fine
    with pytest.raises(NotFound):
        keys.revoke("butikk-2", view.key_id)  # another tenant's key is not found, let alone revoked


def test_a_rotated_key_works_through_its_overlap_and_not_a_moment_longer(tables, clock):
    keys = ApiKeys(tables, clock=clock)
    old, view = keys.issue("butikk-1", label="Kasse")
    new, new_view, old_view = keys.rotate("butikk-1", view.key_id, overlap=dt.timedelta(hours=24))
    assert old_view.status == "expiring" and old_view.replaced_by == new_view.key_id
    assert new_view.replaces == view.key_id and new_view.label == "Kasse"
    clock.now += dt.timedelta(hours=23, minutes=59)
    assert keys.authenticate(old) == ("tenant", "butikk-1") and keys.authenticate(new) == ("tenant", "butikk-1")
    clock.now += dt.timedelta(minutes=1)
    assert keys.authenticate(old) is None and keys.authenticate(new) == ("tenant", "butikk-1")
    assert {k.key_id: k.status for k in keys.owned_by("butikk-1")} == {view.key_id: "expired",
                                                                       new_view.key_id: "active"}
    with pytest.raises(ConfigError):
        keys.rotate("butikk-1", view.key_id)


def test_rotating_again_during_the_overlap_never_extends_it(tables, clock):
    keys = ApiKeys(tables, clock=clock)
    old, view = keys.issue("butikk-1")
    keys.rotate("butikk-1", view.key_id, overlap=dt.timedelta(hours=1))
    _, _, again = keys.rotate("butikk-1", view.key_id, overlap=dt.timedelta(hours=24))
    assert dt.datetime.fromisoformat(again.expires_at) == clock.now + dt.timedelta(hours=1)
    _, _, now = keys.rotate("butikk-1", view.key_id, overlap=dt.timedelta(0))
    assert keys.authenticate(old) is None and now.status == "expired"


def test_a_key_issued_before_the_index_is_listed_after_its_first_use(tables, clock):
    legacy = "bb_" + "L" * 43
    tables.insert(TABLE_APIKEYS, {"PartitionKey": "key", "RowKey": hash_key(legacy), "Tenant": "butikk-1",
                                  "Role": "tenant", "Hint": "bb_LLLL…", "CreatedAt": "2026-01-01T00:00:00+00:00",
                                  "Revoked": False})
    keys = ApiKeys(tables, clock=clock)
    assert keys.owned_by("butikk-1") == []
    assert keys.authenticate(legacy) == ("tenant", "butikk-1")
    [listed] = keys.owned_by("butikk-1")
    keys.revoke("butikk-1", listed.key_id)
    assert keys.authenticate(legacy) is None


# -- the admin API ---------------------------------------------------------------------------------------


def _call(stores, handler, key, *, body=None, **path):
    request = api_http.Request("POST", path, {}, {"authorization": f"Bearer {key}"},
                          json.dumps(body).encode() if body is not None else b"", "")
    return handler(stores, connectors.registry(), request)


def _send(stores, key):
    return _call(stores, api.post_documents, key, body=VOUCHER).status


def test_the_admin_api_lists_issues_revokes_and_rotates_a_tenants_keys():
    stores = Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Nøkkelbutikken AS")
    first = registry.issue_key(tenant.id)
    boss = registry.issue_key(None, role="admin")
    assert _call(stores, admin.list_api_keys, first, id=tenant.id).status == 403  # a vendor key cannot
    issued = _call(stores, admin.issue_api_key, boss, body={"label": "Kasse 2"}, id=tenant.id)
    assert issued.status == 201 and issued.body["key"]["label"] == "Kasse 2"
    second = issued.body["api_key"]
    listed = _call(stores, admin.list_api_keys, boss, id=tenant.id).body["keys"]
    assert [k["hint"][:7] for k in listed] == [first[:7], second[:7]]
    assert first not in json.dumps(listed) and second not in json.dumps(listed)

    assert _send(stores, second) == 202
    revoked = _call(stores, admin.revoke_api_key, boss, id=tenant.id, key_id=listed[1]["key_id"])
    assert revoked.status == 200 and revoked.body["key"]["status"] == "revoked"
    assert _send(stores, second) == 401  # at once
    assert _call(stores, admin.revoke_api_key, boss, id=tenant.id, key_id="0" * 16).status == 404

    rotated = _call(stores, admin.rotate_api_key, boss, body={"overlap_hours": 2}, id=tenant.id,
                    key_id=listed[0]["key_id"])
    assert rotated.status == 201 and rotated.body["replaces"]["status"] == "expiring"
    assert _send(stores, first) == 202 and _send(stores, rotated.body["api_key"]) == 202  # both, in the overlap
    assert _call(stores, admin.rotate_api_key, boss, id=tenant.id, key_id=listed[1]["key_id"]).status == 409
    assert _call(stores, admin.rotate_api_key, boss, body={"overlap_days": 1}, id=tenant.id,
                 key_id=listed[0]["key_id"]).status == 400  # unknown field
    assert _call(stores, admin.rotate_api_key, boss, body={"overlap_hours": -1}, id=tenant.id,
                 key_id=listed[0]["key_id"]).status == 400
    assert _call(stores, admin.list_api_keys, boss, id="no-such-tenant").status == 404


def test_the_routes_and_the_openapi_document_name_the_key_operations():
    from api.openapi import spec
    from bilagsbro.stack import load_function_app

    routes = {(f.get_trigger().get_dict_repr().get("route"), tuple(str(getattr(m, "value", m)) for m in
               f.get_trigger().get_dict_repr().get("methods") or ())) for f in load_function_app().app.get_functions()}
    paths = spec()["paths"]
    for route, method in (("v1/admin/tenants/{id}/keys", "GET"), ("v1/admin/tenants/{id}/keys", "POST"),
                          ("v1/admin/tenants/{id}/keys/{key_id}/revoke", "POST"),
                          ("v1/admin/tenants/{id}/keys/{key_id}/rotate", "POST"),
                          ("v1/admin/tenants/{id}/connection", "GET")):
        assert (route, (method,)) in routes
        assert method.lower() in paths[f"/api/{route}"]
