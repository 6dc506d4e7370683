"""Idempotency-Key on POST /documents and POST /files: a retry gets the first answer and takes nothing in twice,
another request under the same key is a 409, concurrent requests with one key are answered once (in-memory
ports; the same over HTTP on Azurite is in tests/e2e/test_documents_over_http.py)."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

import connectors
from api import http as api_http
from api import vendor as api
from pipeline import idempotency
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.names import CONTAINER_RECEIVED, QUEUE_TRANSLATED, TABLE_IDEMPOTENCY
from pipeline.ports import Stores
from pipeline.tenants import TenantRegistry

VOUCHER = {"type": "voucher", "reference": "kasse-1", "date": "2026-11-20", "description": "Dagsoppgjør Ærøy",
           "lines": [{"account": "1920", "amount": "10.00"}, {"account": "3000", "amount": "-10.00", "vat_code": "3"}]}


@pytest.fixture
def stack():
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    registry = TenantRegistry(stores.tables)
    tenants = [registry.add(name, organization_number="999999999") for name in ("Kiosken AS", "Bakeriet AS")]
    return stores, connectors.registry(), [registry.issue_key(t.id) for t in tenants]


def post(stack, handler, body, *, key: str | None = "k-1", tenant: int = 0, query=None) -> api_http.Response:
    stores, conns, keys = stack
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {"authorization": f"Bearer {keys[tenant]}", "content-type": "application/json"}
    if key is not None:
        headers[idempotency.HEADER] = key
    return handler(stores, conns, api_http.Request("POST", {}, query or {}, headers, raw, "http://x"))


def originals(stack) -> list[str]:
    return list(stack[0].blobs.list(CONTAINER_RECEIVED))


def test_the_same_key_and_body_gets_the_first_answer_and_nothing_is_taken_in_twice(stack):
    first = post(stack, api.post_documents, VOUCHER)
    assert first.status == 202 and len(first.messages[QUEUE_TRANSLATED]) == 1
    assert "Idempotent-Replayed" not in first.headers
    again = post(stack, api.post_documents, VOUCHER)
    assert again.status == 202
    assert again.body == first.body  # the same receipt and document ids, æøå intact
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.messages == {}  # nothing queued a second time
    assert len(originals(stack)) == 1
    assert again.body["documents"][0]["reference"] == "kasse-1"


def test_without_a_key_every_request_is_its_own(stack):
    first = post(stack, api.post_documents, VOUCHER, key=None)
    second = post(stack, api.post_documents, VOUCHER, key=None)
    assert first.body["receipt"] != second.body["receipt"]


def test_the_same_key_with_another_body_is_a_409_naming_the_header(stack):
    assert post(stack, api.post_documents, VOUCHER).status == 202
    other = post(stack, api.post_documents, {**VOUCHER, "reference": "kasse-2"})
    assert other.status == 409
    assert "another request" in other.body["error"]
    assert other.body["problems"][0]["field"] == "Idempotency-Key"
    assert other.messages == {} and len(originals(stack)) == 1


def test_a_key_used_for_documents_is_another_request_on_files(stack):
    assert post(stack, api.post_documents, VOUCHER).status == 202
    assert post(stack, api.post_file, json.dumps(VOUCHER).encode(), query={"format": "shared-form"}).status == 409


def test_a_refused_answer_is_kept_too_so_a_retry_is_not_taken_in_half(stack):
    bad = [VOUCHER, {**VOUCHER, "reference": "kasse-2", "lines": []}]
    first = post(stack, api.post_documents, bad)
    assert first.status in (400, 422)
    again = post(stack, api.post_documents, bad)
    assert (again.status, again.body) == (first.status, first.body) and again.messages == {}


def test_keys_are_per_tenant(stack):
    mine = post(stack, api.post_documents, VOUCHER, tenant=0)
    theirs = post(stack, api.post_documents, VOUCHER, tenant=1)
    assert theirs.status == 202 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.body["receipt"] != mine.body["receipt"]


def test_files_honour_the_key(stack):
    body = "Konto;Beløp\n1920;10,00\n".encode()
    first = post(stack, api.post_file, body, query={"name": "kasse.csv"})
    again = post(stack, api.post_file, body, query={"name": "kasse.csv"})
    assert again.body == first.body and again.headers.get("Idempotent-Replayed") == "true"
    assert len(originals(stack)) == 1
    assert post(stack, api.post_file, body, query={"name": "kasse2.csv"}).status == 409  # the query is the request too


@pytest.mark.parametrize("key", ["", "a" * 256, "nøkkel", "with space"])
def test_a_key_that_is_not_visible_ascii_is_a_400_naming_the_header(stack, key):
    response = post(stack, api.post_documents, VOUCHER, key=key)
    assert response.status == 400 and response.body["problems"][0]["field"] == "Idempotency-Key"
    assert originals(stack) == []


def test_concurrent_requests_with_one_key_are_answered_once(stack):
    stores, conns, keys = stack
    gate = threading.Barrier(8)
    answers: list[api_http.Response] = []

    def one() -> None:
        gate.wait()
        answers.append(post(stack, api.post_documents, VOUCHER))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ran = [a for a in answers if a.messages]
    assert len(ran) == 1 and len(originals(stack)) == 1
    for other in answers:
        if other is ran[0]:
            continue
        # either still running (409, ask again) or the kept first answer
        assert (other.status == 409 and other.headers["Retry-After"] == "1") or other.body == ran[0].body
    assert post(stack, api.post_documents, VOUCHER).body == ran[0].body


class Clock:
    def __init__(self) -> None:
        self.at = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.at


def test_after_24_hours_the_key_is_free_again():
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    clock = Clock()
    keys = idempotency.IdempotencyKeys(stores.tables, stores.blobs, now=clock)
    runs: list[int] = []

    def handle() -> idempotency.Answer:
        runs.append(1)
        return idempotency.Answer(202, {"run": len(runs)})

    assert keys.answer("t", "k", "p1", handle) == (idempotency.Answer(202, {"run": 1}), False)
    clock.at += dt.timedelta(hours=23, minutes=59)
    assert keys.answer("t", "k", "p1", handle) == (idempotency.Answer(202, {"run": 1}), True)
    assert isinstance(keys.answer("t", "k", "p2", handle)[0], idempotency.Refused)
    clock.at += dt.timedelta(minutes=1)
    assert keys.answer("t", "k", "p2", handle) == (idempotency.Answer(202, {"run": 2}), False)


def test_a_request_that_failed_or_never_answered_does_not_hold_its_key():
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    clock = Clock()
    keys = idempotency.IdempotencyKeys(stores.tables, stores.blobs, now=clock)

    def boom() -> idempotency.Answer:
        raise RuntimeError("storage went away")

    with pytest.raises(RuntimeError):
        keys.answer("t", "k", "p", boom)
    assert stores.tables.get(TABLE_IDEMPOTENCY, "t", keys._row("k")) is None
    assert keys.answer("t", "k", "p", lambda: idempotency.Answer(503, {}))[0].status == 503
    assert keys.answer("t", "k", "p", lambda: idempotency.Answer(202, {"ok": 1}))[0] == idempotency.Answer(202, {"ok": 1})
    # a host that died mid-request leaves a running claim: after ABANDONED it may be run again
    stores.tables.upsert(TABLE_IDEMPOTENCY, {"PartitionKey": "t", "RowKey": keys._row("d"), "Fingerprint": "p",
                                             "State": "running", "Claim": "x", "At": clock.at.isoformat()})
    busy = keys.answer("t", "d", "p", lambda: idempotency.Answer(202, {}))[0]
    assert isinstance(busy, idempotency.Refused) and busy.retry_after == 1
    clock.at += idempotency.ABANDONED
    assert keys.answer("t", "d", "p", lambda: idempotency.Answer(202, {"again": 1})) == (
        idempotency.Answer(202, {"again": 1}), False)
