"""Nothing lost, nothing stuck: every way a message can vanish in a crash, and the sweeper bringing it back.

In-memory ports; "the host died before its output binding fired" is a stage's returned messages
that nobody sends, "the host died while a stage ran" is a message that is never settled. The sweeper
is given the time (`at`) instead of the test waiting for it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from typing import Any

import pytest

import connectors
from pipeline import api, inflight
from pipeline.envelope import Envelope
from pipeline.intake import receive_drop
from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.names import (
    QUEUE_ADAPTED,
    QUEUE_RECEIVED,
    QUEUE_TRANSLATED,
    TABLE_INFLIGHT,
    TABLE_TRACE,
)
from pipeline.ports import Delivery, NotFound, Stores
from pipeline.scheduled import pull_tenant
from pipeline.stages import Connectors, run
from pipeline.sweeper import MAX_REQUEUES, sweep
from pipeline.tenants import TenantRegistry
from pipeline.trace import TraceLog, status

STAGE_OF = {QUEUE_RECEIVED: "translate", QUEUE_TRANSLATED: "adapt", QUEUE_ADAPTED: "deliver"}
LATER = inflight.STALL + dt.timedelta(seconds=1)


def voucher(reference: str) -> dict[str, Any]:
    return {"type": "voucher", "reference": reference, "date": "2026-11-20", "description": "Kortsalg på Røros",
            "lines": [{"account": "1920", "amount": "100.00"}, {"account": "3000", "amount": "-100.00",
                                                                  "vat_code": "3"}]}


class Counting(MemoryTables):
    """Counts the storage requests a real adapter would send, per table."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: Counter[tuple[str, str]] = Counter()

    def insert(self, table, entity):
        self.requests[(table, "insert")] += 1
        return super().insert(table, entity)

    def get(self, table, partition, row):
        self.requests[(table, "get")] += 1
        return super().get(table, partition, row)

    def update(self, table, entity, *, etag):
        self.requests[(table, "update")] += 1
        return super().update(table, entity, etag=etag)

    def upsert(self, table, entity):
        self.requests[(table, "upsert")] += 1
        return super().upsert(table, entity)

    def insert_many(self, table, entities):
        # One transaction per partition and hundred, as AzureTables sends them.
        partitions = Counter(e["PartitionKey"] for e in entities)
        self.requests[(table, "batch")] += sum(-(-n // 100) for n in partitions.values())
        for entity in entities:
            super().upsert(table, entity)

    def query(self, table, partition, row_prefix=""):
        self.requests[(table, "query")] += 1
        return super().query(table, partition, row_prefix)

    def delete(self, table, partition, row):
        self.requests[(table, "delete")] += 1
        return super().delete(table, partition, row)


POSTED: Counter[str] = Counter()  # reference → times the file target was asked to deliver it


def counted(context):
    """The file target, counting what it is asked to deliver (its blobs would hide a second write)."""
    target = connectors.TARGETS["file"](context)
    deliver = target.deliver

    def counting(document):
        POSTED[document.reference] += 1
        return deliver(document)

    target.deliver = counting
    return target


@pytest.fixture
def shop():
    POSTED.clear()
    stores = Stores(blobs=MemoryBlobs(), tables=Counting(), secrets=MemorySecrets(), queues=MemoryQueues())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Sykkelbua på Røros AS")
    return stores, Connectors(targets={**connectors.TARGETS, "file": counted}, sources=connectors.SOURCES,
                              sniffers=connectors.SNIFFERS), tenant, registry.issue_key(tenant.id)


def post(stores, conns, key, body) -> api.Response:
    request = api.Request("POST", {}, {}, {"authorization": f"Bearer {key}", "content-type": "application/json"},
                          json.dumps(body, ensure_ascii=False).encode("utf-8"), "http://x")
    return api.post_documents(stores, conns, request)


def drain(stores, conns, queue: str, messages: list[str], *, dequeue_count: int = 1) -> None:
    """Run messages through the stages until nothing is left to send, as a healthy host would."""
    todo = [(queue, m) for m in messages]
    while todo:
        queue, message = todo.pop(0)
        stage = STAGE_OF[queue]
        nxt = {"translate": QUEUE_TRANSLATED, "adapt": QUEUE_ADAPTED}.get(stage)
        out = run(stage, stores, conns, message, dequeue_count=dequeue_count)
        todo.extend((nxt, m) for m in out if nxt)
        dequeue_count = 1
        sent, stores.queues.sent = stores.queues.sent, []  # explicit sends (waiting, resubmitted)
        todo.extend((q, m) for q, m, _ in sent)


def swept(stores, at) -> list[tuple[str, str]]:
    """Sweep at `at`; returns (queue, message) of what it sent again."""
    stores.queues.sent = []
    sweep(stores, at=at)
    sent, stores.queues.sent = stores.queues.sent, []
    return [(q, m) for q, m, _ in sent]


def steps(stores, tenant, document) -> list[str]:
    return [t["step"] for t in TraceLog(stores.tables).read(tenant, document)]


def in_flight(stores) -> list[str]:
    return sorted(r for (t, _, r) in stores.tables.rows if t == TABLE_INFLIGHT)


def test_a_request_whose_messages_never_left_is_sent_again_and_delivered(shop):
    stores, conns, tenant, key = shop
    response = post(stores, conns, key, [voucher("V-1"), voucher("V-2")])
    assert response.status == 202
    ids = [d["id"] for d in response.body["documents"]]
    # The host died after answering 202 and before its output binding sent: nothing is queued.
    assert in_flight(stores) == sorted(ids)
    assert swept(stores, inflight.now()) == []  # too early: the stall has not passed
    again = swept(stores, inflight.now() + LATER)
    assert sorted(json.loads(m)["document"] for _, m in again) == sorted(ids)
    assert {q for q, _ in again} == {QUEUE_RECEIVED}
    assert all(json.loads(m)["requeued"] == 1 for _, m in again)
    drain(stores, conns, QUEUE_RECEIVED, [m for _, m in again])
    for document in ids:
        trace = TraceLog(stores.tables).read(tenant.id, document)
        assert [t["step"] for t in trace] == ["received", "requeued", "translated", "adapted", "delivered"]
        assert status(trace) == "delivered"
    assert in_flight(stores) == []  # each journey ended and took its index row with it
    assert swept(stores, inflight.now() + LATER * 3) == []
    assert POSTED == {"V-1": 1, "V-2": 1}


@pytest.mark.parametrize("lost_after", ["translate", "adapt"])
def test_a_stage_whose_output_binding_never_fired_is_taken_up_again_at_the_next_stage(shop, lost_after):
    stores, conns, tenant, key = shop
    response = post(stores, conns, key, voucher("V-1"))
    [document] = [d["id"] for d in response.body["documents"]]
    message = response.messages[QUEUE_RECEIVED][0]
    for stage in ("translate", "adapt"):
        [message] = run(stage, stores, conns, message)
        if stage == lost_after:
            break  # ... and the host died before sending `message`
    [(queue, copy)] = swept(stores, inflight.now() + LATER)
    assert queue == {"translate": QUEUE_TRANSLATED, "adapt": QUEUE_ADAPTED}[lost_after]
    assert {k: v for k, v in json.loads(copy).items() if k not in ("requeued", "traceparent")} == \
        {k: v for k, v in json.loads(message).items() if k != "traceparent"}
    drain(stores, conns, queue, [copy])
    assert status(TraceLog(stores.tables).read(tenant.id, document)) == "delivered"
    assert in_flight(stores) == []


def test_the_original_coming_back_after_its_host_died_is_dropped_once_a_copy_moved_on(shop):
    stores, conns, tenant, key = shop
    response = post(stores, conns, key, voucher("V-1"))
    [document] = [d["id"] for d in response.body["documents"]]
    [translated] = run("translate", stores, conns, response.messages[QUEUE_RECEIVED][0])
    # The host running adapt on `translated` died; ten minutes later the queue would hand it out again.
    [(queue, copy)] = swept(stores, inflight.now() + LATER)
    drain(stores, conns, queue, [copy])
    before = steps(stores, tenant.id, document)
    assert run("adapt", stores, conns, translated, dequeue_count=2) == []  # overtaken: nothing done
    assert steps(stores, tenant.id, document) == before
    assert before[-1] == "delivered" and POSTED == {"V-1": 1}


def test_a_retried_message_is_not_mistaken_for_a_stale_one(shop):
    stores, conns, tenant, key = shop
    response = post(stores, conns, key, voucher("V-1"))
    [document] = [d["id"] for d in response.body["documents"]]
    message = response.messages[QUEUE_RECEIVED][0]
    stores.blobs.blobs, saved = {}, stores.blobs.blobs  # a passing storage fault on the first try
    with pytest.raises(NotFound):
        run("translate", stores, conns, message)
    stores.blobs.blobs = saved
    drain(stores, conns, QUEUE_RECEIVED, [message], dequeue_count=2)
    assert steps(stores, tenant.id, document) == ["received", "retrying", "translated", "adapted", "delivered"]


def test_a_document_waiting_behind_a_backlog_is_not_sent_twice(shop):
    stores, conns, tenant, key = shop
    post(stores, conns, key, voucher("V-1"))
    # Older messages than ours are still waiting in the queue: ours may well be among them.
    stores.queues.waiting[QUEUE_RECEIVED] = inflight.now() - dt.timedelta(minutes=5)
    assert swept(stores, inflight.now() + LATER) == []
    stores.queues.waiting.clear()  # the backlog is gone, and ours was not in it
    assert len(swept(stores, inflight.now() + LATER * 2)) == 1


def test_a_stage_that_runs_long_keeps_its_lease_and_is_left_alone(shop, monkeypatch):
    stores, conns, tenant, key = shop
    monkeypatch.setattr(inflight, "RENEW_AFTER", 0.05)
    monkeypatch.setattr(inflight, "RENEW_EVERY", 0.05)
    release = threading.Event()

    class Slow:
        name = "slow"

        def __init__(self, context):
            pass

        def preflight(self, documents):
            return []

        def render(self, document):
            return {}

        def deliver(self, document):
            release.wait(10)
            return Delivery(remote_id="1", draft=True)

        def find(self, reference):
            return None

    registry = TenantRegistry(stores.tables)
    registry.save(registry.get(tenant.id).model_copy(update={"target": "slow"}))
    conns = Connectors(targets={"slow": Slow})
    response = post(stores, conns, key, voucher("V-1"))
    [document] = [d["id"] for d in response.body["documents"]]
    [translated] = run("translate", stores, conns, response.messages[QUEUE_RECEIVED][0])
    [adapted] = run("adapt", stores, conns, translated)
    worker = threading.Thread(target=run, args=("deliver", stores, conns, adapted))
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while not (stores.tables.get(TABLE_INFLIGHT, tenant.id, document) or {}).get("LeaseUntil"):
            assert time.monotonic() < deadline, "the running stage never renewed its lease"
            time.sleep(0.02)
        # Its last step is long past the stall, and no message is waiting: only the lease says "alive".
        assert swept(stores, inflight.now() + dt.timedelta(seconds=5)) == []
    finally:
        release.set()
        worker.join()
    assert steps(stores, tenant.id, document)[-1] == "delivered"
    assert in_flight(stores) == []


def test_a_file_whose_message_never_left_is_split_and_delivered(shop):
    stores, conns, tenant, key = shop
    request = api.Request("POST", {}, {"format": "shared-form", "name": "dag.json"},
                          {"authorization": f"Bearer {key}"},
                          json.dumps([voucher("F-1"), voucher("F-2")]).encode(), "http://x")
    response = api.post_file(stores, conns, request)
    assert response.status == 202, response.body
    [(queue, copy)] = swept(stores, inflight.now() + LATER)
    assert queue == QUEUE_RECEIVED and json.loads(copy)["kind"] == "file"
    drain(stores, conns, queue, [copy])
    receipt = response.body["receipt"]
    found = api.get_receipt(stores, conns, api.Request("GET", {"id": receipt}, {},
                                                       {"authorization": f"Bearer {key}"}, b""))
    documents = found.body["documents"]
    assert [d["reference"] for d in documents] == ["F-1", "F-2"]
    assert all(steps(stores, tenant.id, d["id"])[-1] == "delivered" for d in documents)
    assert in_flight(stores) == []


def test_a_file_split_whose_documents_never_left_sends_the_documents_again(shop):
    stores, conns, tenant, key = shop
    request = api.Request("POST", {}, {"format": "shared-form", "name": "dag.json"},
                          {"authorization": f"Bearer {key}"},
                          json.dumps([voucher("F-1"), voucher("F-2")]).encode(), "http://x")
    response = api.post_file(stores, conns, request)
    file_message = response.messages[QUEUE_RECEIVED][0]
    first = run("translate", stores, conns, file_message)  # its output binding never fired
    # The file's journey ended with the split; each document's own journey brings its message back.
    again = swept(stores, inflight.now() + LATER)
    assert Counter(q for q, _ in again) == Counter({QUEUE_TRANSLATED: 2})
    second = run("translate", stores, conns, file_message, dequeue_count=2)
    assert second == []  # the file's journey had ended: its original is stale
    assert sorted(json.loads(m)["document"] for m in first) == sorted(json.loads(m)["document"] for _, m in again)
    drain(stores, conns, QUEUE_TRANSLATED, [m for _, m in again])
    assert POSTED == {"F-1": 1, "F-2": 1}


def test_a_crash_in_the_middle_of_splitting_a_file_splits_it_again_without_doubles(shop, monkeypatch):
    stores, conns, tenant, key = shop
    request = api.Request("POST", {}, {"format": "shared-form", "name": "dag.json"},
                          {"authorization": f"Bearer {key}"},
                          json.dumps([voucher(f"F-{i}") for i in range(5)]).encode(), "http://x")
    response = api.post_file(stores, conns, request)
    file_message = response.messages[QUEUE_RECEIVED][0]
    original = inflight.record
    calls = []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise SystemExit("the host died here")  # not an Exception: no retry trace, as with SIGKILL
        return original(*args, **kwargs)

    monkeypatch.setattr("pipeline.stages.record", dying)
    with pytest.raises(SystemExit):
        run("translate", stores, conns, file_message)
    monkeypatch.setattr("pipeline.stages.record", original)
    [(queue, copy)] = swept(stores, inflight.now() + LATER)  # only the file: its documents are not indexed yet
    assert json.loads(copy)["kind"] == "file"
    drain(stores, conns, queue, [copy])
    assert POSTED == {f"F-{i}": 1 for i in range(5)}
    # (the file's report lives beside its documents, under the receipt's id)
    documents = {p.split("/")[1] for (c, p) in stores.blobs.blobs if c == "documents" and p.split("/")[1][:2] == "d-"}
    assert len(documents) == 5  # the second split reused the first one's document ids
    assert in_flight(stores) == []


def test_an_sftp_drop_whose_message_never_left_is_sent_again(shop):
    stores, conns, tenant, key = shop
    intake = receive_drop(stores, f"{tenant.id}/inbound/shared-form/dag.json",
                          json.dumps([voucher("S-1")]).encode(), known_formats=conns.sources)
    assert intake is not None and intake.envelopes
    [(queue, copy)] = swept(stores, inflight.now() + LATER)
    drain(stores, conns, queue, [copy])
    assert POSTED == {"S-1": 1}


class Orders:
    """A pulled source with two orders, each booked as its own voucher."""

    name = "kasse"
    page_size = 100

    def __init__(self) -> None:
        self.modified = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
        self.orders = [{"id": f"o-{i}", "modified": self.modified.isoformat(), "amount": "100.00"} for i in (1, 2)]

    def feed(self, settings, secrets, *, tenant):
        return self

    def changed(self, since, until, *, page=0):
        return self.orders if page == 0 and since <= self.modified <= until else []

    def key(self, record):
        return dt.datetime.fromisoformat(record["modified"]), record["id"]

    def identity(self, item):
        return f"{item['id']}@1"

    def dump(self, item):
        return json.dumps(item).encode()

    def load(self, data):
        return json.loads(data)

    def periods(self, item, options):
        return set()

    def period_end(self, day):
        raise AssertionError("no daily summaries here")

    def documents(self, items, options, periods=None):
        return [Voucher.model_validate({**voucher(f"kasse-{i['id']}"), "date": "2026-11-20"}) for i in items]


def test_a_pulled_order_whose_message_never_left_is_sent_again(shop):
    stores, conns, tenant, key = shop
    registry = TenantRegistry(stores.tables)
    tenant = registry.get(tenant.id).model_copy(update={"sources": {"kasse": {"start": "2026-11-19T00:00:00+00:00"}}})
    registry.save(tenant)

    class DiesOnSend(MemoryQueues):
        def send(self, queue, message, *, delay_seconds=0):
            raise SystemExit("the host died between storing the order and queueing it")

    stores.queues = DiesOnSend()
    with pytest.raises(SystemExit):
        pull_tenant(stores, Orders(), tenant, now=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    stores.queues = MemoryQueues()
    # What was accepted before the host died is sent again by the sweeper; the rest of the batch was never
    # accepted, the watermark stayed put, and the next run takes it.
    again = swept(stores, inflight.now() + LATER)
    assert [q for q, _ in again] == [QUEUE_RECEIVED]
    drain(stores, conns, QUEUE_RECEIVED, [m for _, m in again])
    pull_tenant(stores, Orders(), tenant, now=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    pulled, stores.queues.sent = [m for _, m, _ in stores.queues.sent], []
    drain(stores, conns, QUEUE_RECEIVED, pulled)
    assert POSTED == {"kasse-o-1": 1, "kasse-o-2": 1}
    assert in_flight(stores) == []


def test_a_document_that_takes_its_worker_down_every_time_is_poisoned_in_the_end(shop):
    stores, conns, tenant, key = shop
    response = post(stores, conns, key, voucher("V-1"))
    [document] = [d["id"] for d in response.body["documents"]]
    at = inflight.now()
    sent = 0
    for _ in range(MAX_REQUEUES + 1):
        at += dt.timedelta(hours=1)
        sent += len(swept(stores, at))  # each copy is taken and the worker dies with it: no progress
    assert sent == MAX_REQUEUES
    trace = TraceLog(stores.tables).read(tenant.id, document)
    assert status(trace) == "failed" and trace[-1]["step"] == "poisoned"
    assert "sent again" in trace[-1]["detail"]["last_error"]["message"]
    assert in_flight(stores) == []
    # A copy still on its way when the document was poisoned does nothing.
    assert run("translate", stores, conns, response.messages[QUEUE_RECEIVED][0], dequeue_count=2) == []


def test_a_retry_through_the_api_starts_a_journey_the_sweeper_watches(shop):
    stores, conns, tenant, key = shop
    registry = TenantRegistry(stores.tables)
    registry.save(registry.get(tenant.id).model_copy(update={"target": "nowhere"}))
    response = post(stores, conns, key, voucher("V-1"))
    [document] = [d["id"] for d in response.body["documents"]]
    drain(stores, conns, QUEUE_RECEIVED, response.messages[QUEUE_RECEIVED])
    assert steps(stores, tenant.id, document)[-1] == "failed" and in_flight(stores) == []
    registry.save(registry.get(tenant.id).model_copy(update={"target": "file"}))  # the fix
    retried = api.retry_document(stores, conns, api.Request("POST", {"id": document}, {},
                                                             {"authorization": f"Bearer {key}"}, b""))
    assert retried.status == 202
    [message] = retried.messages[QUEUE_TRANSLATED]
    assert json.loads(message)["hop"] == 4 and in_flight(stores) == [document]
    # Its host dies before the retry's message leaves: the sweeper sends it.
    [(queue, copy)] = swept(stores, inflight.now() + LATER)
    assert queue == QUEUE_TRANSLATED and json.loads(copy)["hop"] == 4
    drain(stores, conns, queue, [copy])
    assert steps(stores, tenant.id, document)[-1] == "delivered" and in_flight(stores) == []


def test_journeys_cost_one_delete_per_document_beyond_the_writes_that_happen_anyway(shop):
    stores, conns, tenant, key = shop
    stores.tables.requests.clear()
    response = post(stores, conns, key, [voucher(f"V-{i}") for i in range(100)])
    drain(stores, conns, QUEUE_RECEIVED, response.messages[QUEUE_RECEIVED])
    requests = stores.tables.requests
    # The index: one transaction for the whole request, one delete as each journey ends.
    assert requests[(TABLE_INFLIGHT, "batch")] == 1
    assert requests[(TABLE_INFLIGHT, "delete")] == 100
    assert {k for k in requests if k[0] == TABLE_INFLIGHT} == {(TABLE_INFLIGHT, "batch"), (TABLE_INFLIGHT, "delete")}
    # The state rides in each step's trace transaction: four steps, four requests, nothing read back.
    assert requests[(TABLE_TRACE, "batch")] == 400
    assert requests[(TABLE_TRACE, "insert")] == 0 and requests[(TABLE_TRACE, "get")] == 0


def test_overtaken_reads_the_state_only_for_messages_that_may_be_copies(shop):
    stores, conns, tenant, key = shop
    env = Envelope(tenant=tenant.id, document="d-1", receipt="r-1", blob="x/y", traceparent="00-" + "1" * 32 +
                   "-" + "2" * 16 + "-01", hop=1)
    stores.tables.requests.clear()
    assert not inflight.overtaken(stores.tables, env, 1)
    assert stores.tables.requests[(TABLE_TRACE, "get")] == 0
    assert not inflight.overtaken(stores.tables, env, 2)
    assert stores.tables.requests[(TABLE_TRACE, "get")] == 1
