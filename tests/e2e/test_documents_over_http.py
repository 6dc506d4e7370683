"""A vendor's view: documents over HTTP pass all four steps as queue-chained functions on Azurite."""

from __future__ import annotations

import base64
import json
import time

import pytest

import connectors
from pipeline.errors import TransientError
from pipeline.records.names import CONTAINER_DELIVERIES, CONTAINER_RECEIVED
from pipeline.records.tenants import TenantRegistry

pytestmark = pytest.mark.e2e


def voucher(reference: str, amount: str = "1250.00") -> dict:
    return {
        "type": "voucher", "reference": reference, "date": "2026-11-20",
        "description": "Dagsoppgjør kasse 7 – Ærøy, Østfold, Åsane",
        "lines": [
            {"account": "1920", "amount": amount, "description": "Bank"},
            {"account": "3000", "amount": f"-{amount}", "vat_code": "3", "description": "Salg 25 % æøå",
             "dimensions": {"department": "10", "project": "P1"}},
        ],
    }


def status(client, document_id):
    return client.get(f"/api/v1/documents/{document_id}").json()


def wait_for(client, document_id, done=("delivered", "failed", "blocked", "rejected"), timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = status(client, document_id)
        if body["status"] in done:
            return body
        time.sleep(0.1)
    raise AssertionError(f"{document_id} still {body['status']}: {body['trace']}")


def deliveries(stack, tenant_id):
    return sorted(stack.stores.blobs.list(CONTAINER_DELIVERIES, f"{tenant_id}/"))


def test_a_voucher_is_delivered_with_four_trace_steps(stack, tenant, client):
    response = client.post("/api/v1/documents", json=voucher("kasse7-2026-11-20"))
    assert response.status_code == 202, response.text
    document = response.json()["documents"][0]
    assert document["status_url"].endswith(f"/api/v1/documents/{document['id']}")
    body = wait_for(client, document["id"])
    assert [t["step"] for t in body["trace"]] == ["received", "translated", "adapted", "delivered"]
    assert len({t["trace_id"] for t in body["trace"]}) == 1  # one W3C trace across every queue hop
    delivered = body["trace"][-1]["detail"]
    assert delivered["draft"] is True and delivered["target"] == "file"
    [path] = deliveries(stack, tenant[0].id)
    written = json.loads(stack.stores.blobs.get(CONTAINER_DELIVERIES, path))
    assert written["description"] == "Dagsoppgjør kasse 7 – Ærøy, Østfold, Åsane"
    assert written["lines"][1]["amount"] == "-1250.00"
    # The original request is kept unchanged.
    original = body["trace"][0]["detail"]["original"].split("/", 1)[1]
    assert json.loads(stack.stores.blobs.get(CONTAINER_RECEIVED, original)) == voucher("kasse7-2026-11-20")


def test_the_same_document_sent_twice_is_delivered_once(stack, tenant, client):
    ids = [client.post("/api/v1/documents", json=voucher("dobbel-1")).json()["documents"][0]["id"]
           for _ in range(2)]
    final = [wait_for(client, i) for i in ids]
    assert sorted(f["trace"][-1]["step"] for f in final) == ["delivered", "duplicate"]
    assert len(deliveries(stack, tenant[0].id)) == 1


def test_a_batch_with_bad_documents_lists_every_problem_and_delivers_the_good(stack, tenant, client):
    unbalanced = voucher("ubalansert", "10.00")
    unbalanced["lines"][1]["amount"] = "-9.99"
    no_date = voucher("uten-dato")
    del no_date["date"]
    body = json.dumps([voucher("god-1"), unbalanced, no_date], indent=2, ensure_ascii=False)
    response = client.post("/api/v1/documents", content=body.encode("utf-8"),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    result = response.json()
    assert [d["reference"] for d in result["documents"]] == ["god-1"]
    by_reference = {p["reference"]: p for p in result["problems"]}
    assert "does not balance" in by_reference["ubalansert"]["message"]
    assert by_reference["uten-dato"]["field"] == "date" and by_reference["uten-dato"]["line"] > 1
    assert wait_for(client, result["documents"][0]["id"])["status"] == "delivered"


@pytest.mark.parametrize("body, status_code, needle", [
    (b"{not json", 400, "malformed JSON"),
    (b"", 400, "empty"),
    ("æøå".encode("latin-1"), 400, "not UTF-8"),
])
def test_bad_bodies_get_a_clear_4xx(client, body, status_code, needle):
    response = client.post("/api/v1/documents", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status_code
    assert needle in json.dumps(response.json(), ensure_ascii=False)


def test_missing_or_wrong_key_is_401(stack):
    import httpx

    with httpx.Client(base_url=stack.url) as anonymous:
        assert anonymous.post("/api/v1/documents", json=voucher("x")).status_code == 401
        wrong = anonymous.post("/api/v1/documents", json=voucher("x"), headers={"Authorization": "Bearer bb_nope"})
        assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]


def test_oversized_body_is_413(client):
    response = client.post("/api/v1/documents", content=b" " * (10 * 1024 * 1024 + 1),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_unknown_file_format_is_kept_and_reported(stack, tenant, client):
    response = client.post("/api/v1/files", params={"format": "lotus123", "name": "salg.wk1"}, content=b"\x00\x01")
    assert response.status_code == 400
    result = response.json()
    assert result["problems"][0]["code"] == "unknown-format"
    container, path = result["original"].split("/", 1)
    assert stack.stores.blobs.get(container, path) == b"\x00\x01"


def test_tenants_never_see_each_others_documents(stack, client):
    document_id = client.post("/api/v1/documents", json=voucher("hemmelig")).json()["documents"][0]["id"]
    registry = TenantRegistry(stack.stores.tables)
    other = registry.add("Konkurrenten AS")
    import httpx

    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(other.id)}"}) as c:
        assert c.get(f"/api/v1/documents/{document_id}").status_code == 404
        assert c.post(f"/api/v1/documents/{document_id}/retry").status_code == 404


def test_queue_messages_are_base64_and_carry_small_documents_inside_and_large_ones_by_reference(stack, tenant, client):
    """What another writer (or the real host) sees on the wire: base64 JSON; a voucher travels inside the message
    and keeps its shared form with its trace, a document too large for a message is a claim check."""
    from azure.storage.queue import QueueClient

    probe = QueueClient.from_connection_string(stack.settings["BILAGSBRO_STORAGE"], "probe-received")
    probe.create_queue()
    stack.send_message("probe-received", json.dumps({"hello": "æøå"}), connection="BILAGSBRO_STORAGE")
    [raw] = list(probe.receive_messages())
    assert json.loads(base64.b64decode(raw.content)) == {"hello": "æøå"}
    probe.delete_queue()
    large = {**voucher("stor-bunke"), "lines": [
        {"account": "1920", "amount": "1.00", "description": f"Kortsalg {i} på Røros"} for i in range(300)]
        + [{"account": "3000", "amount": "-300.00", "vat_code": "3"}]}
    response = client.post("/api/v1/documents", json=[voucher("claim-check"), large])
    assert response.status_code == 202, response.text
    small_id, large_id = (d["id"] for d in response.json()["documents"])
    small, big = wait_for(client, small_id), wait_for(client, large_id)
    assert small["trace"][1]["step"] == "translated" and small["trace"][1]["detail"]["shared_form"] == \
        "kept with this step"
    assert small["trace"][-1]["step"] == big["trace"][-1]["step"] == "delivered"
    ref = big["trace"][1]["detail"]["shared_form"]
    assert ref.startswith("documents/") and ref.endswith("/shared.json")
    kept = json.loads(stack.stores.blobs.get(*ref.split("/", 1)))
    assert kept["reference"] == "stor-bunke" and len(kept["lines"]) == 301


class AlwaysBusy:
    """A target that answers 503 forever: the message must end in the poison queue, with the reason."""

    name = "always-busy"

    def __init__(self, context):
        pass

    def preflight(self, documents):
        return []

    def render(self, document):
        return {}

    def deliver(self, document):
        raise TransientError("503 Service Unavailable from always-busy", connector="always-busy", status=503)

    def find(self, reference):
        return None


def test_a_message_that_keeps_failing_ends_in_the_poison_queue_and_the_trace_says_why(
        stack, tenant, client, monkeypatch):
    monkeypatch.setitem(connectors.TARGETS, "always-busy", AlwaysBusy)
    registry = TenantRegistry(stack.stores.tables)
    registry.save(tenant[0].model_copy(update={"target": "always-busy"}))
    document_id = client.post("/api/v1/documents", json=voucher("evig-503")).json()["documents"][0]["id"]
    body = wait_for(client, document_id, done=("failed",), timeout=90)
    steps = [t["step"] for t in body["trace"]]
    assert steps[:3] == ["received", "translated", "adapted"]
    assert steps.count("retrying") == 5  # host.json maxDequeueCount
    poisoned = body["trace"][-1]
    assert poisoned["step"] == "poisoned" and poisoned["detail"]["queue"] == "adapted"
    assert "503 Service Unavailable" in poisoned["detail"]["last_error"]["message"]
    assert deliveries(stack, tenant[0].id) == []


def test_a_quantity_that_is_no_number_is_a_422_over_http_and_the_good_documents_are_delivered(client):
    invoice = {"type": "sales_invoice", "reference": "faktura-abc", "date": "2026-11-20", "invoice_number": "9001",
               "customer": {"name": "Kunde på Hamar"}, "total": "30.00",
               "lines": [{"description": "Timer", "amount": "30.00", "quantity": "abc"}]}
    comma = {**invoice, "reference": "faktura-komma", "lines": [{**invoice["lines"][0], "quantity": "1,5"}]}
    response = client.post("/api/v1/documents", json=[voucher("god-med-tull"), invoice, comma])
    assert response.status_code == 422 and response.headers["content-type"].startswith("application/json")
    result = response.json()
    assert {(p["reference"], p["field"]) for p in result["problems"]} == {
        ("faktura-abc", "lines[0].quantity"), ("faktura-komma", "lines[0].quantity")}
    [good] = result["documents"]
    assert wait_for(client, good["id"])["status"] == "delivered"


def test_a_format_outside_latin_1_is_a_400_not_a_500(stack, client):
    response = client.post("/api/v1/files", params={"format": "日", "name": "kasse 1/日.csv"}, content=b"GBAT10;1")
    assert response.status_code == 400, response.text
    assert response.json()["problems"][0]["code"] == "unknown-format"
    container, path = response.json()["original"].split("/", 1)
    assert stack.stores.blobs.get(container, path) == b"GBAT10;1"


@pytest.mark.parametrize("body", [
    b'[] {"type": "voucher"}',
    (json.dumps(voucher("linje-1")) + "\n" + json.dumps(voucher("linje-2")) + "\n").encode(),
])
def test_content_after_the_first_json_value_is_a_400_with_its_offset_and_nothing_is_queued(client, body):
    response = client.post("/api/v1/documents", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    result = response.json()
    assert result["documents"] == [] and "byte offset" in result["problems"][0]["message"]


def test_every_413_has_a_json_body(client):
    response = client.post("/api/v1/documents", content=b" " * (10 * 1024 * 1024 + 1),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.headers["content-type"].startswith("application/json")
    assert "exceeds" in response.json()["error"]


def test_a_shared_form_file_with_a_vat_code_outside_saft_or_a_bad_kid_reports_them_and_delivers_the_rest(
        stack, tenant, client):
    bad_vat = voucher("fil-mva-99")
    bad_vat["lines"][1]["vat_code"] = "99"
    bad_kid = voucher("fil-kid")
    bad_kid["lines"][0]["kid"] = "1234567890"
    body = json.dumps([voucher("fil-god"), bad_vat, bad_kid], indent=1, ensure_ascii=False).encode("utf-8")
    response = client.post("/api/v1/files", params={"format": "shared-form", "name": "bilag.json"}, content=body)
    assert response.status_code == 202
    receipt_url = response.json()["status_url"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (receipt := client.get(receipt_url).json())["documents"]:
        time.sleep(0.1)
    assert {(p["reference"], p["code"]) for p in receipt["problems"]} == {
        ("fil-mva-99", "unknown-vat-code"), ("fil-kid", "invalid-kid")}
    assert all(p["line"] > 1 and p["file"] == "bilag.json" for p in receipt["problems"])
    [good] = receipt["documents"]
    assert good["reference"] == "fil-god" and wait_for(client, good["id"])["status"] == "delivered"


def test_an_idempotency_key_makes_a_retry_safe_over_http(stack, tenant, client):
    """On Azurite: the retry gets the first answer and the document is delivered once; another body under the
    same key is a 409; concurrent requests with one key take the document in once."""
    headers = {"Idempotency-Key": "2f1c7c1e-9a51-4d0e-8f5e-0c3b7a1d9e42"}
    first = client.post("/api/v1/documents", json=voucher("idem-kasse-1"), headers=headers)
    assert first.status_code == 202, first.text
    again = client.post("/api/v1/documents", json=voucher("idem-kasse-1"), headers=headers)
    assert again.status_code == 202 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    wait_for(client, first.json()["documents"][0]["id"])
    mine = [p for p in deliveries(stack, tenant[0].id)
            if b"idem-kasse-1" in stack.stores.blobs.get(CONTAINER_DELIVERIES, p)]
    assert len(mine) == 1
    other = client.post("/api/v1/documents", json=voucher("idem-kasse-2"), headers=headers)
    assert other.status_code == 409 and other.json()["problems"][0]["field"] == "Idempotency-Key"

    from concurrent.futures import ThreadPoolExecutor

    racing = {"Idempotency-Key": "race-idem-kasse-3"}
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: client.post("/api/v1/documents", json=voucher("idem-kasse-3"),
                                                      headers=racing), range(6)))
    fresh = [a for a in answers if a.status_code == 202 and "Idempotent-Replayed" not in a.headers]
    assert len(fresh) == 1, [a.status_code for a in answers]
    assert all(a.json() == fresh[0].json() or (a.status_code == 409 and a.headers["Retry-After"] == "1")
               for a in answers)
    receipts = {a.json()["receipt"] for a in answers if a.status_code == 202}
    assert receipts == {fresh[0].json()["receipt"]}
