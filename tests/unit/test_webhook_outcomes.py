"""Which webhook events the stages raise, with in-memory ports: a delivery, a file read, a connection that fails;
a duplicate raises none, and a stage that runs again raises nothing twice."""

from __future__ import annotations

import json

import pytest

import connectors
from api import http as api_http
from api import vendor as api
from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets, MemoryTables
from pipeline.names import QUEUE_ADAPTED, QUEUE_RECEIVED, QUEUE_TRANSLATED, QUEUE_WEBHOOKS, TABLE_WEBHOOK_DELIVERIES
from pipeline.ports import Stores
from pipeline.stages import Connectors, run
from pipeline.tenants import TenantRegistry
from pipeline.webhook_endpoints import WebhookEndpoints

VOUCHER = {"type": "voucher", "reference": "kasse-Ærøy-1", "date": "2026-11-20",
           "lines": [{"account": "1920", "amount": "10.00"}, {"account": "3000", "amount": "-10.00", "vat_code": "3"}]}
EVERY = ["document.delivered", "document.blocked", "document.failed", "file.processed", "connection.unhealthy"]


@pytest.fixture
def stack():
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets(), queues=MemoryQueues())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Kiosken på hjørnet AS", organization_number="999999999")
    WebhookEndpoints(stores.tables, stores.secrets).add(tenant.id, "https://hooks.example.no/x", EVERY)
    return stores, Connectors(targets=connectors.TARGETS, sources=connectors.registry().sources), tenant, \
        registry.issue_key(tenant.id)


def send(stack, handler, body: bytes, query=None) -> api_http.Response:
    stores, conns, _, key = stack
    return handler(stores, conns, api_http.Request("POST", {}, query or {}, {"authorization": f"Bearer {key}",
                                                                       "content-type": "application/json"}, body, ""))


def drain(stack, messages: dict[str, list[str]]):
    """Every message through the stages that follow its queue (API documents skip translate: decision 0006)."""
    stores, conns, _, _ = stack
    messages = {queue: list(sent) for queue, sent in messages.items()}
    for queue, stage, onward in ((QUEUE_RECEIVED, "translate", QUEUE_TRANSLATED),
                                 (QUEUE_TRANSLATED, "adapt", QUEUE_ADAPTED), (QUEUE_ADAPTED, "deliver", None)):
        for message in messages.get(queue, []):
            for out in run(stage, stores, conns, message):
                assert onward is not None
                messages.setdefault(onward, []).append(out)


def events(stores) -> list[tuple[str, str]]:
    rows = [r for (table, _, _), r in stores.tables.rows.items() if table == TABLE_WEBHOOK_DELIVERIES]
    return sorted((r["Event"], json.loads(r["Body"])["data"].get("reference") or "") for r in rows)


def test_a_delivery_raises_document_delivered_and_a_duplicate_raises_nothing(stack):
    stores = stack[0]
    body = json.dumps(VOUCHER, ensure_ascii=False).encode()
    for _ in range(2):
        drain(stack, send(stack, api.post_documents, body).messages)
    assert events(stores) == [("document.delivered", "kasse-Ærøy-1")]
    assert [q for q, _, _ in stores.queues.sent if q == QUEUE_WEBHOOKS] == [QUEUE_WEBHOOKS]


def test_a_stage_that_runs_again_queues_the_same_delivery_not_a_new_one(stack):
    stores = stack[0]
    [translated] = send(stack, api.post_documents, json.dumps(VOUCHER).encode()).messages[QUEUE_TRANSLATED]
    [adapted] = run("adapt", stores, stack[1], translated)
    run("deliver", stores, stack[1], adapted)
    run("deliver", stores, stack[1], adapted)  # redelivered by the queue: its hop is behind, it is dropped
    assert events(stores) == [("document.delivered", "kasse-Ærøy-1")]


def test_a_file_raises_file_processed_with_its_counts(stack):
    stores = stack[0]
    answer = send(stack, api.post_file, json.dumps([VOUCHER]).encode(), {"format": "shared-form", "name": "a.json"})
    assert answer.status == 202, answer.body
    drain(stack, answer.messages)
    assert ("file.processed", "") in events(stores)
    [row] = [r for (t, _, _), r in stores.tables.rows.items()
             if t == TABLE_WEBHOOK_DELIVERIES and r["Event"] == "file.processed"]
    data = json.loads(row["Body"])["data"]
    assert data["receipt"] == answer.body["receipt"] and data["documents"] == 1 and data["file_name"] == "a.json"


def test_a_connection_without_credentials_raises_failed_and_unhealthy_once(stack):
    stores, _, tenant, _ = stack
    registry = TenantRegistry(stores.tables)
    registry.save(registry.get(tenant.id).model_copy(update={"target": "tripletex", "target_settings": {}}))
    for n in range(2):
        drain(stack, send(stack, api.post_documents,
                          json.dumps({**VOUCHER, "reference": f"k-{n}"}).encode()).messages)
    kinds = [kind for kind, _ in events(stores)]
    assert kinds.count("document.failed") == 2
    assert kinds.count("connection.unhealthy") == 1  # one an hour, not one per document
