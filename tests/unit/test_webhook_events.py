"""Webhook endpoints and events with in-memory ports: registration refuses unsafe targets and unknown events,
each event is queued once per endpoint (deduplicated by id), signed with every live secret, retried with backoff
through the queue, every attempt logged and listed; the same over HTTP with a real receiver is in
tests/e2e/test_webhooks.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import connectors
from api import http as api_http
from api import webhooks as webhook_api
from pipeline import webhooks
from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets, MemoryTables
from pipeline.names import QUEUE_WEBHOOKS
from pipeline.ports import Stores
from pipeline.tenants import TenantRegistry
from pipeline.webhook_events import Reply, attempt, deliveries, emit


class Clock:
    def __init__(self) -> None:
        self.at = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
def stack(monkeypatch):
    monkeypatch.setenv(webhooks.ALLOW_PRIVATE_SETTING, "true")
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets(), queues=MemoryQueues())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Kiosken på hjørnet AS", organization_number="999999999")
    return stores, tenant.id, registry.issue_key(tenant.id), registry.issue_key(None, role="admin")


def call(stack, handler, body=None, *, path=None, key=None, method="POST"):
    stores, _, tenant_key, _ = stack
    raw = b"" if body is None else json.dumps(body).encode()
    request = api_http.Request(method, path or {}, {}, {"authorization": f"Bearer {key or tenant_key}",
                                                   "content-type": "application/json"}, raw, "http://x")
    return handler(stores, connectors.registry(), request)


def register(stack, events=("document.delivered",)):
    answer = call(stack, webhook_api.create_webhook, {"url": "http://127.0.0.1:9/hook", "events": list(events)})
    assert answer.status == 201, answer.body
    return answer.body


class Receiver:
    """Answers from a script (None: no connection), keeps what it got."""

    def __init__(self, *statuses: int | None) -> None:
        self.script, self.got = list(statuses), []

    def __call__(self, url, headers, body):
        self.got.append((url, dict(headers), body))
        status = self.script.pop(0) if self.script else 200
        return Reply(status, "ok") if status else Reply(None, error="ConnectError: connection refused")


def test_registration_returns_the_secret_once_and_lists_without_it(stack):
    made = register(stack)
    assert made["secret"].startswith("whsec_") and made["id"].startswith("wh-")
    listed = call(stack, webhook_api.list_webhooks, method="GET").body["endpoints"]
    assert [e["id"] for e in listed] == [made["id"]] and made["secret"] not in json.dumps(listed)
    assert "secret" not in listed[0]
    stores = stack[0]
    assert made["secret"] not in json.dumps(list(stores.tables.rows.values()), default=str)  # only its name is kept there


def test_registration_refuses_unknown_events_and_private_targets_in_production(stack, monkeypatch):
    bad = call(stack, webhook_api.create_webhook, {"url": "http://127.0.0.1/x", "events": ["document.posted"]})
    assert bad.status == 422 and bad.body["problems"][0]["field"] == "events"
    monkeypatch.delenv(webhooks.ALLOW_PRIVATE_SETTING)
    unsafe = call(stack, webhook_api.create_webhook, {"url": "https://127.0.0.1/x", "events": ["file.processed"]})
    assert unsafe.status == 422 and unsafe.body["problems"][0]["code"] == "unsafe-target"
    assert call(stack, webhook_api.create_webhook, {"url": "https://x/", "events": ["file.processed"],
                                                    "secret": "mine"}).status == 400


def test_the_admin_api_registers_for_a_tenant(stack):
    stores, tenant, _, admin = stack
    made = call(stack, webhook_api.admin_create_webhook, {"url": "http://127.0.0.1:9/h", "events": ["file.processed"]},
                path={"id": tenant}, key=admin)
    assert made.status == 201
    assert call(stack, webhook_api.admin_list_webhooks, path={"id": tenant}, key=admin,
                method="GET").body["endpoints"][0]["id"] == made.body["id"]
    assert call(stack, webhook_api.create_webhook, {"url": "http://127.0.0.1/", "events": ["file.processed"]},
                key=admin).status == 403


def test_an_event_is_signed_retried_with_backoff_and_every_attempt_is_kept(stack):
    stores, tenant, _, _ = stack
    made = register(stack)
    assert emit(stores, tenant, "file.processed", "r-1.processed", {}) == 0  # not subscribed: nothing
    assert emit(stores, tenant, "document.delivered", "d-1.delivered.1", {"reference": "Ærøy-1"}) == 1
    assert emit(stores, tenant, "document.delivered", "d-1.delivered.1", {"reference": "Ærøy-1"}) == 1  # again
    [(queue, message, _), again] = stores.queues.sent
    assert queue == QUEUE_WEBHOOKS and again[1] == message
    clock, receiver = Clock(), Receiver(503, None, 500)
    states = []
    for _ in range(4):
        states.append(attempt(stores, message, receiver, allow_private=True, now=clock))
        clock.at += dt.timedelta(seconds=stores.queues.sent[-1][2])
    assert states == ["retrying", "retrying", "retrying", "delivered"]
    assert [delay for _, _, delay in stores.queues.sent[2:]] == list(webhooks.BACKOFF[:3])
    assert attempt(stores, again[1], receiver, allow_private=True, now=clock) == "delivered"  # the copy: no POST
    assert len(receiver.got) == 4
    bodies = {body for _, _, body in receiver.got}
    assert len(bodies) == 1 and json.loads(bodies.pop())["data"]["reference"] == "Ærøy-1"
    for _, headers, body in receiver.got:
        assert headers[webhooks.EVENT_ID_HEADER] == "d-1.delivered.1"
        stamp = int(headers[webhooks.SIGNATURE_HEADER].split(",")[0][2:])
        assert webhooks.verify(made["secret"], headers[webhooks.SIGNATURE_HEADER], body,
                               now=dt.datetime.fromtimestamp(stamp, dt.UTC))
    [delivery] = call(stack, webhook_api.list_webhook_deliveries, path={"id": made["id"]}, method="GET").body[
        "deliveries"]
    assert delivery["state"] == "delivered" and delivery["attempt_count"] == 4
    assert [a["status"] for a in delivery["attempts"]] == [503, None, 500, 200]
    assert "connection refused" in delivery["attempts"][1]["error"]
    times = [dt.datetime.fromisoformat(a["at"]) for a in delivery["attempts"]]
    assert [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)] == list(webhooks.BACKOFF[:3])


def test_after_24_hours_of_failures_the_delivery_is_failed_and_kept(stack):
    stores, tenant, _, _ = stack
    made = register(stack)
    emit(stores, tenant, "document.delivered", "d-2.delivered.1", {})
    message = stores.queues.sent[0][1]
    clock = Clock()
    start = clock.at
    state = "retrying"
    while state == "retrying":
        state = attempt(stores, message, Receiver(500), allow_private=True, now=clock)
        clock.at += dt.timedelta(seconds=stores.queues.sent[-1][2])
    assert state == "failed"
    [delivery] = deliveries(stores, tenant, made["id"])
    last = dt.datetime.fromisoformat(delivery["attempts"][-1]["at"])
    assert last == start + webhooks.RETRY_FOR


def test_rotation_signs_with_both_secrets_during_the_overlap(stack):
    stores, tenant, _, _ = stack
    made = register(stack)
    rotated = call(stack, webhook_api.rotate_webhook_secret, {"overlap_hours": 1}, path={"id": made["id"]})
    assert rotated.status == 200 and rotated.body["secret"] != made["secret"]
    emit(stores, tenant, "document.delivered", "d-3.delivered.1", {})
    receiver = Receiver(200)
    attempt(stores, stores.queues.sent[0][1], receiver, allow_private=True)
    _, headers, body = receiver.got[0]
    assert headers[webhooks.SIGNATURE_HEADER].count("v1=") == 2
    for secret in (made["secret"], rotated.body["secret"]):
        assert webhooks.verify(secret, headers[webhooks.SIGNATURE_HEADER], body)


def test_a_deleted_endpoint_gets_nothing_more(stack):
    stores, tenant, _, _ = stack
    made = register(stack)
    emit(stores, tenant, "document.delivered", "d-4.delivered.1", {})
    assert call(stack, webhook_api.delete_webhook, path={"id": made["id"]}, method="DELETE").status == 200
    receiver = Receiver()
    assert attempt(stores, stores.queues.sent[0][1], receiver, allow_private=True) == "cancelled"
    assert receiver.got == []
    assert call(stack, webhook_api.delete_webhook, path={"id": made["id"]}, method="DELETE").status == 404


def test_an_endpoint_that_now_resolves_privately_is_not_called(stack):
    stores, tenant, _, _ = stack
    register(stack)
    emit(stores, tenant, "document.delivered", "d-5.delivered.1", {})
    receiver = Receiver()
    assert attempt(stores, stores.queues.sent[0][1], receiver, allow_private=False) == "retrying"
    assert receiver.got == []
