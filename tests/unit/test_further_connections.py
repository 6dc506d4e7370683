"""A further accounting system beside the primary one (issue 13 §2: resend "to another connected system"): added by
the admin API (or `bilagsbro connect ... --further`), tested first as the primary connection is, resendable to,
and removable; the primary one is never changed or removed this way.

Stores are in memory; Tripletex is its sandbox over real HTTP on loopback.
"""

from __future__ import annotations

import json
import secrets

import pytest

import connectors
from api import admin
from api import http as api_http
from api import resend as resend_api
from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records.names import QUEUE_TRANSLATED
from pipeline.records.tenants import TenantRegistry
from sandboxes.tripletex import TripletexSandbox
from tests.unit.test_history import call, post, voucher
from tests.unit.test_inflight import drain


@pytest.fixture
def shop():
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets(), queues=MemoryQueues())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Fjellbakeriet på Røros AS")  # primary: the file target
    with TripletexSandbox(consumer_token="consumer-" + secrets.token_hex(8),
                          employee_token="employee-" + secrets.token_hex(8)) as box:
        yield stores, connectors.registry(), tenant.id, registry.issue_key(tenant.id), registry.issue_key(
            None, role="admin"), box


def _put(stores, conns, key, tenant, body) -> api_http.Response:
    return admin.put_further_connection(stores, conns, api_http.Request(
        "PUT", {"id": tenant}, {}, {"authorization": f"Bearer {key}", "content-type": "application/json"},
        json.dumps(body).encode(), ""))


def _delete(stores, conns, key, tenant, system) -> api_http.Response:
    return admin.delete_further_connection(stores, conns, api_http.Request(
        "DELETE", {"id": tenant, "system": system}, {}, {"authorization": f"Bearer {key}"}, b"", ""))


def _tripletex(box, employee=None) -> dict:
    return {"target": "tripletex", "settings": {"base_url": box.base_url, "timeout": 5},
            "credentials": {"consumer_token": box.consumer_token, "employee_token": employee or box.employee_token}}


def _resend(stores, conns, key, document, **body) -> api_http.Response:
    response = call(resend_api.resend_document, stores, conns, key, path={"id": document},
                    body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                    headers={"content-type": "application/json"})
    drain(stores, conns, QUEUE_TRANSLATED, response.messages.get(QUEUE_TRANSLATED, []))
    return response


def test_a_further_system_is_tested_first_then_takes_resends_while_new_documents_go_to_the_primary(shop):
    stores, conns, tenant, key, boss, box = shop
    refused = _put(stores, conns, boss, tenant, _tripletex(box, employee="utløpt-token"))
    assert refused.status == 422 and "connection test failed" in refused.body["error"]
    assert refused.body["activated"] is False
    assert "tripletex" not in TenantRegistry(stores.tables).get(tenant).connections  # nothing changed

    added = _put(stores, conns, boss, tenant, _tripletex(box))
    assert added.status == 200, added.body
    assert added.body["activated"] and added.body["connected"] == "tripletex" and added.body["target"] == "file"
    found = TenantRegistry(stores.tables).get(tenant)
    assert found.target == "file" and found.connections["tripletex"]["mode"] == "active"
    names = found.connections["tripletex"]["settings"]["secrets"]
    assert stores.secrets.get(names["employee_token"]) == box.employee_token  # the value in the store only
    assert box.employee_token not in json.dumps(added.body)

    [document] = [d["id"] for d in post(stores, conns, key, [voucher("V-7")]).body["documents"]]
    assert box.vouchers == []  # new documents still go to the primary (the file target)
    sent = _resend(stores, conns, key, document, target="tripletex", reason="prøver Tripletex før byttet")
    assert sent.status == 202, sent.body
    assert [v["externalVoucherNumber"] for v in box.vouchers] == ["V-7"]
    assert "Røros – blåbær" in json.dumps(box.vouchers, ensure_ascii=False, default=str)


def test_a_further_connection_is_removed_and_then_refuses_resends(shop):
    stores, conns, tenant, key, boss, box = shop
    assert _put(stores, conns, boss, tenant, _tripletex(box)).status == 200
    [document] = [d["id"] for d in post(stores, conns, key, [voucher("V-8")]).body["documents"]]

    removed = _delete(stores, conns, boss, tenant, "tripletex")
    assert removed.status == 200 and "tripletex" not in removed.body.get("connections", {})
    assert _delete(stores, conns, boss, tenant, "tripletex").status == 404
    refused = _resend(stores, conns, key, document, target="tripletex", reason="test")
    assert refused.status == 422 and "not connected to 'tripletex'" in refused.body["error"]
    assert box.vouchers == []


def test_the_primary_system_is_neither_added_nor_removed_as_a_further_one(shop):
    stores, conns, tenant, key, boss, box = shop
    again = _put(stores, conns, boss, tenant, {"target": "file", "settings": {}})
    assert again.status == 422 and again.body["problems"][0]["field"] == "target"
    assert "primary" in again.body["error"]
    kept = _delete(stores, conns, boss, tenant, "file")
    assert kept.status == 409 and "primary" in kept.body["error"]
    assert TenantRegistry(stores.tables).get(tenant).target == "file"


def test_only_an_admin_key_adds_or_removes_a_further_connection(shop):
    stores, conns, tenant, key, boss, box = shop
    assert _put(stores, conns, key, tenant, _tripletex(box)).status == 403
    assert _delete(stores, conns, key, tenant, "tripletex").status == 403
    assert TenantRegistry(stores.tables).get(tenant).connections == {}


def _remote(stores, conns, key, document, **query) -> api_http.Response:
    from api import history as history_api

    return call(history_api.get_remote, stores, conns, key, path={"id": document}, query=query)


def test_a_read_only_connection_still_answers_whether_it_holds_a_document(shop):
    stores, conns, tenant, key, boss, box = shop
    assert _put(stores, conns, boss, tenant, _tripletex(box)).status == 200
    [sent, kept_home] = [d["id"] for d in post(stores, conns, key, [voucher("V-10"), voucher("V-11")]).body["documents"]]
    assert _resend(stores, conns, key, sent, target="tripletex", reason="til Tripletex").status == 202
    registry = TenantRegistry(stores.tables)
    found = registry.get(tenant)  # as a switch leaves the old system: read-only, for look-ups and history
    registry.save(found.model_copy(update={"connections": {
        "tripletex": {**found.connections["tripletex"], "mode": "read-only"}}}))

    there = _remote(stores, conns, key, sent, target="tripletex")
    assert there.status == 200, there.body
    assert there.body["found"] is True and there.body["connection"] == "read-only"
    assert there.body["remote_id"] == str(box.vouchers[0]["id"]) and there.body["reference"] == "V-10"
    absent = _remote(stores, conns, key, kept_home, target="tripletex")
    assert absent.status == 200 and absent.body["found"] is False
    home = _remote(stores, conns, key, kept_home)  # the primary system (the file target)
    assert home.status == 200 and home.body["found"] is True and home.body["connection"] == "primary"
    assert len(box.vouchers) == 1  # a look-up writes nothing

    refused = _remote(stores, conns, key, sent, target="fiken")
    assert refused.status == 422 and refused.body["problems"][0]["field"] == "target"
    assert _remote(stores, conns, key, "d-20261120000000-ffffff").status in (404, 410)
