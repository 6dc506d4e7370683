"""The four steps with in-memory ports: the pure logic of intake and stages, without Azure."""

from __future__ import annotations

import json

import pytest

import connectors
from api import http as api_http
from api import vendor as api
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records.names import CONTAINER_DELIVERIES, QUEUE_TRANSLATED
from pipeline.records.tenants import TenantRegistry
from pipeline.registry import Connectors
from pipeline.stages import run

VOUCHER = {
    "type": "voucher", "reference": "kasse7-2026-11-20", "date": "2026-11-20",
    "description": "Dagsoppgjør kasse 7", "currency": "NOK",
    "lines": [
        {"account": "1920", "amount": "1250.00", "description": "Bank"},
        {"account": "3000", "amount": "-1250.00", "vat_code": "3", "description": "Salg 25 %",
         "dimensions": {"department": "10", "project": "P1"}},
    ],
}


@pytest.fixture
def stack():
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Kiosken på hjørnet AS", organization_number="999999999")
    key = registry.issue_key(tenant.id)
    return stores, Connectors(targets=connectors.TARGETS), tenant, key


def post(stores, conns, key, body, path=None):
    request = api_http.Request("POST", path or {}, {}, {"authorization": f"Bearer {key}",
                                                   "content-type": "application/json"},
                          json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8"), "http://x")
    return api.post_documents(stores, conns, request)


def drain(stores, conns, messages):
    """Shared-form documents from the API are translated at intake: they go on from adapt."""
    for stage in ("adapt", "deliver"):
        messages = [m for msg in messages for m in run(stage, stores, conns, msg)]


def test_voucher_goes_through_all_four_steps(stack):
    stores, conns, tenant, key = stack
    response = post(stores, conns, key, VOUCHER)
    assert response.status == 202, response.body
    drain(stores, conns, response.messages[QUEUE_TRANSLATED])
    doc_id = response.body["documents"][0]["id"]
    status = api.get_document(stores, conns, api_http.Request("GET", {"id": doc_id}, {},
                                                         {"authorization": f"Bearer {key}"}, b""))
    steps = [t["step"] for t in status.body["trace"]]
    assert steps == ["received", "translated", "adapted", "delivered"]
    assert status.body["status"] == "delivered"
    written = [p for (c, p) in stores.blobs.blobs if c == CONTAINER_DELIVERIES]
    assert written == [f"{tenant.id}/drafts/kasse7-2026-11-20.json"]
    delivered = json.loads(stores.blobs.get(CONTAINER_DELIVERIES, written[0]))
    assert delivered["description"] == "Dagsoppgjør kasse 7"
    assert delivered["lines"][1]["amount"] == "-1250.00"


def test_same_reference_twice_is_delivered_once(stack):
    stores, conns, tenant, key = stack
    for _ in range(2):
        response = post(stores, conns, key, VOUCHER)
        drain(stores, conns, response.messages[QUEUE_TRANSLATED])
    last = api.get_document(stores, conns, api_http.Request("GET", {"id": response.body["documents"][0]["id"]}, {},
                                                       {"authorization": f"Bearer {key}"}, b""))
    assert last.body["trace"][-1]["step"] == "duplicate"
    assert len([1 for (c, _) in stores.blobs.blobs if c == CONTAINER_DELIVERIES]) == 1


def test_mixed_batch_lists_every_problem_and_keeps_the_good(stack):
    stores, conns, tenant, key = stack
    bad = {**VOUCHER, "reference": "bad-1", "lines": [{**VOUCHER["lines"][0], "amount": "1250.01"},
                                                       VOUCHER["lines"][1]]}
    worse = {**VOUCHER, "reference": "bad-2", "date": "2026-13-01"}
    response = post(stores, conns, key, [VOUCHER, bad, worse])
    assert response.status == 422
    assert [d["reference"] for d in response.body["documents"]] == ["kasse7-2026-11-20"]
    problems = response.body["problems"]
    assert {p["reference"] for p in problems} == {"bad-1", "bad-2"}
    assert any("does not balance" in p["message"] and "0.01" in p["message"] for p in problems)
    assert any(p.get("field") == "date" for p in problems)
    assert all(p["line"] > 1 for p in problems)
    # The whole request is kept unchanged, the bad documents included.
    originals = [v for (c, _), v in stores.blobs.blobs.items() if c == "received"]
    assert json.loads(originals[0][0]) == [VOUCHER, bad, worse]


def test_wrong_key_is_401_and_other_tenants_documents_are_404(stack):
    stores, conns, tenant, key = stack
    assert post(stores, conns, "bb_wrong", VOUCHER).status == 401
    response = post(stores, conns, key, VOUCHER)
    other = TenantRegistry(stores.tables).add("Annen kunde")
    other_key = TenantRegistry(stores.tables).issue_key(other.id)
    doc_id = response.body["documents"][0]["id"]
    seen = api.get_document(stores, conns, api_http.Request("GET", {"id": doc_id}, {},
                                                       {"authorization": f"Bearer {other_key}"}, b""))
    assert seen.status == 404


def test_malformed_json_is_400_with_line(stack):
    stores, conns, tenant, key = stack
    request = api_http.Request("POST", {}, {}, {"authorization": f"Bearer {key}"}, b'[\n{"type": "voucher",\n]', "")
    response = api.post_documents(stores, conns, request)
    assert response.status == 400
    assert response.body["problems"][0]["line"] == 3
    assert response.body["problems"][0]["code"] == "malformed-json"


def test_a_document_adapted_for_the_old_target_is_adapted_again_after_a_switch(stack):
    from pipeline.memory import MemoryQueues

    stores, conns, tenant, key = stack
    stores.queues = MemoryQueues()
    response = post(stores, conns, key, VOUCHER)
    [translated] = response.messages[QUEUE_TRANSLATED]
    [adapted] = run("adapt", stores, conns, translated)
    registry = TenantRegistry(stores.tables)
    registry.save(registry.get(tenant.id).model_copy(update={"target": "other"}))
    assert run("deliver", stores, conns, adapted) == []
    [(queue, message, _)] = stores.queues.sent
    # Back to adapt with the shared form (as its translated step kept it), not the old target's adapted form.
    [document] = json.loads(message)["documents"]
    assert queue == QUEUE_TRANSLATED and document["id"] == response.body["documents"][0]["id"]
    assert "body" not in document and "blob" not in document
    assert "target" not in json.loads(message)
    registry.save(registry.get(tenant.id).model_copy(update={"target": "file"}))
    drain(stores, conns, [message])
    steps = [t["step"] for t in api.get_document(stores, conns, api_http.Request(
        "GET", {"id": document["id"]}, {}, {"authorization": f"Bearer {key}"}, b"")).body["trace"]]
    assert steps == ["received", "translated", "adapted", "resubmitted", "adapted", "delivered"]


def test_a_documents_envelope_is_read_from_its_own_member(stack):
    stores, conns, tenant, key = stack
    bad = {**VOUCHER, "reference": "skjev", "lines": [VOUCHER["lines"][0]]}
    body = {"source": "documents", "batch": [1, 2], "documents": [VOUCHER, bad]}
    response = post(stores, conns, key, body)
    assert [d["reference"] for d in response.body["documents"]] == ["kasse7-2026-11-20"]
    [problem] = response.body["problems"]
    text = json.dumps(body, ensure_ascii=False, indent=1).splitlines()
    assert problem["reference"] == "skjev" and problem["file"] == "documents[1]"
    assert text[problem["line"] - 1].strip() == "{"  # the line where that document starts
    assert '"reference": "skjev"' in "\n".join(text[problem["line"]:problem["line"] + 12])
