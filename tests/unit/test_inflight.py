"""Nothing lost, nothing stuck: every way a message can vanish in a crash, and the sweeper bringing it back.

In-memory ports; "the host died before its output binding fired" is a stage's returned messages
that nobody sends, "the host died while a stage ran" is a message that is never settled. The sweeper
is given the time (`at`) instead of the test waiting for it. Shared-form documents from the API are
translated at intake (they are in the shared form already) and travel to adapt in envelopes of up to 32.
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
from api import http as api_http
from api import vendor as api
from pipeline import inflight
from pipeline.envelope import Enclosure, Envelope
from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.ports import Delivery, Stores
from pipeline.pulls.scheduled import pull_tenant
from pipeline.received import receive_drop
from pipeline.records.names import (
    QUEUE_ADAPTED,
    QUEUE_RECEIVED,
    QUEUE_TRANSLATED,
    TABLE_INFLIGHT,
    TABLE_TRACE,
)
from pipeline.records.tenants import TenantRegistry
from pipeline.records.trace import TraceLog, status
from pipeline.registry import Connectors
from pipeline.stages import run
from pipeline.sweeper import MAX_REQUEUES, sweep

STAGE_OF = {QUEUE_RECEIVED: "translate", QUEUE_TRANSLATED: "adapt", QUEUE_ADAPTED: "deliver"}
LATER = inflight.STALL + dt.timedelta(seconds=1)


def voucher(reference: str) -> dict[str, Any]:
    return {"type": "voucher", "reference": reference, "date": "2026-11-20", "description": "Kortsalg på Røros",
            "lines": [{"account": "1920", "amount": "100.00"}, {"account": "3000", "amount": "-100.00",
                                                                  "vat_code": "3"}]}


class Counting(MemoryTables):
    """Counts the storage requests a real adapter would send, per table."""

    def transact(self, table, operations):
        self.requests[(table, "batch")] += 1  # one entity-group transaction: one request
        return super().transact(table, operations)

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

    def delete(self, table, partition, row, *, etag=None):
        self.requests[(table, "delete")] += 1
        return super().delete(table, partition, row, etag=etag)


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


def post(stores, conns, key, body) -> api_http.Response:
    request = api_http.Request("POST", {}, {}, {"authorization": f"Bearer {key}", "content-type": "application/json"},
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
    """The receipts whose journeys are open (the sweeper's index: one row per receipt)."""
    return sorted(r for (t, _, r) in stores.tables.rows if t == TABLE_INFLIGHT)


def documents_in(message: str) -> list[str]:
    return [d["id"] for d in json.loads(message)["documents"]]


def test_a_request_whose_messages_never_left_is_sent_again_and_delivered(shop):
    stores, conns, tenant, key = shop
    response = post(stores, conns, key, [voucher("V-1"), voucher("V-2")])
    assert response.status == 202
    ids = [d["id"] for d in response.body["documents"]]
    # The host died after answering 202 and before its output binding sent: nothing is queued.
    assert in_flight(stores) == [response.body["receipt"]]
    assert swept(stores, inflight.now()) == []  # too early: the stall has not passed
    again = swept(stores, inflight.now() + LATER)
    assert [documents_in(m) for _, m in again] == [ids]  # one envelope carried both
    assert {q for q, _ in again} == {QUEUE_TRANSLATED}
    assert all(json.loads(m)["requeued"] == 1 for _, m in again)
    drain(stores, conns, QUEUE_TRANSLATED, [m for _, m in again])
    for document in ids:
        trace = TraceLog(stores.tables).read(tenant.id, document)
        assert [t["step"] for t in trace] == ["received", "translated", "requeued", "adapted", "delivered"]
        assert status(trace) == "delivered"
    assert in_flight(stores) == []  # the journey ended and took its index row with it
    assert swept(stores, inflight.now() + LATER * 3) == []
    assert POSTED == {"V-1": 1, "V-2": 1}


@pytest.mark.parametrize("lost_after", ["intake", "adapt"])
def test_a_stage_whose_output_binding_never_fired_is_taken_up_again_at_the_next_stage(shop, lost_after):
    stores, conns, tenant, key = shop
    response = post(stores, conns, key, voucher("V-1"))
    [document] = [d["id"] for d in response.body["documents"]]
    [message] = response.messages[QUEUE_TRANSLATED]
    if lost_after == "adapt":
        [message] = run("adapt", stores, conns, message)  # ... and the host died before sending `message`
    [(queue, copy)] = swept(stores, inflight.now() + LATER)
    assert queue == {"intake": QUEUE_TRANSLATED, "adapt": QUEUE_ADAPTED}[lost_after]
    assert {k: v for k, v in json.loads(copy).items() if k != "requeued"} == json.loads(message)
    drain(stores, conns, queue, [copy])
    assert status(TraceLog(stores.tables).read(tenant.id, document)) == "delivered"
    assert in_flight(stores) == []


def test_the_original_coming_back_after_its_host_died_is_dropped_once_a_copy_moved_on(shop):
    stores, conns, tenant, key = shop
    response = post(stores, conns, key, voucher("V-1"))
    [document] = [d["id"] for d in response.body["documents"]]
    [translated] = response.messages[QUEUE_TRANSLATED]
    # The host running adapt on `translated` died; ten minutes later the queue would hand it out again.
    [(queue, copy)] = swept(stores, inflight.now() + LATER)
    drain(stores, conns, queue, [copy])
    before = steps(stores, tenant.id, document)
    assert run("adapt", stores, conns, translated, dequeue_count=2) == []  # overtaken: nothing done
    assert steps(stores, tenant.id, document) == before
    assert before[-1] == "delivered" and POSTED == {"V-1": 1}


def test_two_copies_of_one_envelope_at_once_record_their_step_once(shop):
    """The sweeper's copy and the original taken at the same time: the first to record its step wins."""
    stores, conns, tenant, key = shop
    response = post(stores, conns, key, voucher("V-1"))
    [document] = [d["id"] for d in response.body["documents"]]
    [translated] = response.messages[QUEUE_TRANSLATED]
    [(_, copy)] = swept(stores, inflight.now() + LATER)
    [adapted] = run("adapt", stores, conns, copy)
    assert run("adapt", stores, conns, translated) == []  # not a redelivery, so not looked at first: its step fails
    assert steps(stores, tenant.id, document) == ["received", "translated", "requeued", "adapted"]
    drain(stores, conns, QUEUE_ADAPTED, [adapted])
    assert POSTED == {"V-1": 1} and in_flight(stores) == []


def test_a_retried_message_is_not_mistaken_for_a_stale_one(shop):
    stores, conns, tenant, key = shop
    response = post(stores, conns, key, voucher("V-1"))
    [document] = [d["id"] for d in response.body["documents"]]
    [message] = response.messages[QUEUE_TRANSLATED]
    tables, real = stores.tables, stores.tables.get
    tables.get = lambda table, *key: (_ for _ in ()).throw(ConnectionError("storage went away")) \
        if table == "tenants" else real(table, *key)  # a passing storage fault on the first try
    with pytest.raises(ConnectionError):
        run("adapt", stores, conns, message)
    tables.get = real
    drain(stores, conns, QUEUE_TRANSLATED, [message], dequeue_count=2)
    assert steps(stores, tenant.id, document) == ["received", "translated", "retrying", "adapted", "delivered"]


def test_one_document_failing_in_an_envelope_is_retried_alone_and_the_others_go_on(shop, monkeypatch):
    stores, conns, tenant, key = shop
    response = post(stores, conns, key, [voucher("V-1"), voucher("V-2"), voucher("V-3")])
    ids = [d["id"] for d in response.body["documents"]]
    from pipeline import delivered, failed

    real, tries = delivered.deliver_once, Counter()

    def flaky(tables, target, document, **kwargs):
        tries[document.reference] += 1
        if document.reference == "V-2" and tries["V-2"] == 1:
            raise TimeoutError("Tripletex did not answer")
        return real(tables, target, document, **kwargs)

    monkeypatch.setattr(delivered, "deliver_once", flaky)
    [adapted] = run("adapt", stores, conns, response.messages[QUEUE_TRANSLATED][0])
    assert run("deliver", stores, conns, adapted) == []
    [(queue, alone, delay)] = stores.queues.sent
    assert queue == QUEUE_ADAPTED and documents_in(alone) == [ids[1]] and delay == failed.RETRY_SECONDS
    assert steps(stores, tenant.id, ids[0])[-1] == steps(stores, tenant.id, ids[2])[-1] == "delivered"
    assert steps(stores, tenant.id, ids[1])[-1] == "retrying" and in_flight(stores) == [response.body["receipt"]]
    stores.queues.sent = []
    drain(stores, conns, QUEUE_ADAPTED, [alone])
    assert steps(stores, tenant.id, ids[1]) == ["received", "translated", "adapted", "retrying", "delivered"]
    assert POSTED == {"V-1": 1, "V-2": 1, "V-3": 1} and in_flight(stores) == []


def test_every_document_of_an_envelope_failing_is_the_queues_to_retry(shop, monkeypatch):
    stores, conns, tenant, key = shop
    response = post(stores, conns, key, [voucher("V-1"), voucher("V-2")])
    from pipeline import delivered

    def down(*args, **kwargs):
        raise TimeoutError("Tripletex did not answer")

    [adapted] = run("adapt", stores, conns, response.messages[QUEUE_TRANSLATED][0])
    monkeypatch.setattr(delivered, "deliver_once", down)
    with pytest.raises(TimeoutError):
        run("deliver", stores, conns, adapted)
    assert stores.queues.sent == []  # nothing split off: the message comes back whole
    monkeypatch.undo()
    drain(stores, conns, QUEUE_ADAPTED, [adapted], dequeue_count=2)
    for document in (d["id"] for d in response.body["documents"]):
        assert steps(stores, tenant.id, document) == ["received", "translated", "adapted", "retrying", "delivered"]


def test_a_document_waiting_behind_a_backlog_is_not_sent_twice(shop):
    stores, conns, tenant, key = shop
    post(stores, conns, key, voucher("V-1"))
    # Older messages than ours are still waiting in the queue: ours may well be among them.
    stores.queues.waiting[QUEUE_TRANSLATED] = inflight.now() - dt.timedelta(minutes=5)
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
            release.wait(90)
            return Delivery(remote_id="1", draft=True)

        def find(self, reference):
            return None

    registry = TenantRegistry(stores.tables)
    registry.save(registry.get(tenant.id).model_copy(update={"target": "slow"}))
    conns = Connectors(targets={"slow": Slow})
    response = post(stores, conns, key, voucher("V-1"))
    [document] = [d["id"] for d in response.body["documents"]]
    [adapted] = run("adapt", stores, conns, response.messages[QUEUE_TRANSLATED][0])
    worker = threading.Thread(target=run, args=("deliver", stores, conns, adapted))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while not (inflight.pending(stores.tables, Envelope.from_json(adapted)) or {}).get("LeaseUntil"):
            assert time.monotonic() < deadline, "the running stage never renewed its lease"
            time.sleep(0.02)
        # Its last step is long past the stall, and no message is waiting: only the lease says "alive".
        assert swept(stores, inflight.now() + dt.timedelta(seconds=5)) == []
    finally:
        release.set()
        worker.join()
    assert steps(stores, tenant.id, document)[-1] == "delivered"
    assert in_flight(stores) == []


def post_file(stores, conns, key, vouchers):
    request = api_http.Request("POST", {}, {"format": "shared-form", "name": "dag.json"},
                          {"authorization": f"Bearer {key}"}, json.dumps(vouchers).encode(), "http://x")
    response = api.post_file(stores, conns, request)
    assert response.status == 202, response.body
    return response


def test_a_file_whose_message_never_left_is_split_and_delivered(shop):
    stores, conns, tenant, key = shop
    response = post_file(stores, conns, key, [voucher("F-1"), voucher("F-2")])
    [(queue, copy)] = swept(stores, inflight.now() + LATER)
    assert queue == QUEUE_RECEIVED and json.loads(copy)["kind"] == "file"
    drain(stores, conns, queue, [copy])
    receipt = response.body["receipt"]
    found = api.get_receipt(stores, conns, api_http.Request("GET", {"id": receipt}, {},
                                                       {"authorization": f"Bearer {key}"}, b""))
    documents = found.body["documents"]
    assert [d["reference"] for d in documents] == ["F-1", "F-2"]
    assert all(steps(stores, tenant.id, d["id"])[-1] == "delivered" for d in documents)
    assert in_flight(stores) == []


def test_a_file_split_whose_documents_never_left_sends_the_documents_again(shop):
    stores, conns, tenant, key = shop
    response = post_file(stores, conns, key, [voucher(f"F-{i}") for i in range(40)])  # two parts: 32 and 8
    [file_message] = response.messages[QUEUE_RECEIVED]
    lost: list[str] = []
    queues, stores.queues = stores.queues, type("Lost", (), {"send": lambda self, q, m, **k: lost.append(m)})()
    first = run("translate", stores, conns, file_message)  # the last part is its output binding's ...
    stores.queues = queues  # ... which never fired, and the first part was sent and never arrived
    assert [len(documents_in(m)) for m in [*lost, *first]] == [32, 8]
    # The file's journey went on in its parts; each part's own row brings its message back.
    again = swept(stores, inflight.now() + LATER)
    assert Counter(q for q, _ in again) == Counter({QUEUE_TRANSLATED: 2})
    second = run("translate", stores, conns, file_message, dequeue_count=2)
    assert second == []  # the file was split: its original is stale
    receipt = response.body["receipt"]
    assert [d for _, m in again for d in documents_in(m)] == [f"d-{receipt[2:]}-{n:06d}" for n in range(40)]
    drain(stores, conns, QUEUE_TRANSLATED, [m for _, m in again])
    assert POSTED == {f"F-{i}": 1 for i in range(40)} and in_flight(stores) == []


def test_a_crash_in_the_middle_of_splitting_a_file_splits_it_again_without_doubles(shop, monkeypatch):
    stores, conns, tenant, key = shop
    response = post_file(stores, conns, key, [voucher(f"F-{i}") for i in range(70)])  # three parts: 32, 32, 6
    [file_message] = response.messages[QUEUE_RECEIVED]
    original = inflight.commit
    calls = []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SystemExit("the host died here")  # not an Exception: no retry trace, as with SIGKILL
        return original(*args, **kwargs)

    monkeypatch.setattr("pipeline.translated.commit", dying)
    with pytest.raises(SystemExit):
        run("translate", stores, conns, file_message)
    monkeypatch.setattr("pipeline.translated.commit", original)
    [first_part] = [m for _, m, _ in stores.queues.sent]  # the part recorded before the crash was sent
    stores.queues.sent = []
    again = swept(stores, inflight.now() + LATER)  # the file, and the part nobody has taken yet
    assert sorted(json.loads(m).get("kind", "documents") for _, m in again) == ["documents", "file"]
    drain(stores, conns, QUEUE_TRANSLATED, [first_part])
    for queue, copy in again:
        drain(stores, conns, queue, [copy])
    assert POSTED == {f"F-{i}": 1 for i in range(70)}
    receipt = response.body["receipt"]
    ids = [f"d-{receipt[2:]}-{n:06d}" for n in range(70)]  # the second split reused the first one's ids
    for document in ids:
        done = [s for s in steps(stores, tenant.id, document) if s != "requeued"]
        assert done == ["received", "translated", "adapted", "delivered"], (document, done)
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
    assert [q for q, _ in again] == [QUEUE_TRANSLATED]  # in the shared form: on to adapt
    drain(stores, conns, QUEUE_TRANSLATED, [m for _, m in again])
    pull_tenant(stores, Orders(), tenant, now=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    pulled, stores.queues.sent = [m for _, m, _ in stores.queues.sent], []
    drain(stores, conns, QUEUE_TRANSLATED, pulled)
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
    assert run("adapt", stores, conns, response.messages[QUEUE_TRANSLATED][0], dequeue_count=2) == []


def test_a_retry_through_the_api_starts_a_journey_the_sweeper_watches(shop):
    stores, conns, tenant, key = shop
    registry = TenantRegistry(stores.tables)
    registry.save(registry.get(tenant.id).model_copy(update={"target": "nowhere"}))
    response = post(stores, conns, key, voucher("V-1"))
    [document] = [d["id"] for d in response.body["documents"]]
    drain(stores, conns, QUEUE_TRANSLATED, response.messages[QUEUE_TRANSLATED])
    assert steps(stores, tenant.id, document)[-1] == "failed" and in_flight(stores) == []
    registry.save(registry.get(tenant.id).model_copy(update={"target": "file"}))  # the fix
    retried = api.retry_document(stores, conns, api_http.Request("POST", {"id": document}, {},
                                                             {"authorization": f"Bearer {key}"}, b""))
    assert retried.status == 202
    [message] = retried.messages[QUEUE_TRANSLATED]
    # The document alone, its second attempt, its shared form read from its translated step.
    assert json.loads(message)["documents"] == [{"id": document, "reference": "V-1", "attempt": 2}]
    assert in_flight(stores) == [response.body["receipt"]]
    # Its host dies before the retry's message leaves: the sweeper sends it.
    [(queue, copy)] = swept(stores, inflight.now() + LATER)
    assert queue == QUEUE_TRANSLATED and {k: v for k, v in json.loads(copy).items() if k != "requeued"} == \
        json.loads(message)
    drain(stores, conns, queue, [copy])
    assert steps(stores, tenant.id, document)[-2:] == ["adapted", "delivered"] and in_flight(stores) == []


def test_a_hundred_documents_cost_a_few_requests_per_envelope_beyond_their_delivery(shop):
    stores, conns, tenant, key = shop
    stores.tables.requests.clear()
    response = post(stores, conns, key, [voucher(f"V-{i}") for i in range(100)])
    assert len(response.messages[QUEUE_TRANSLATED]) == 4  # 32 + 32 + 32 + 4
    drain(stores, conns, QUEUE_TRANSLATED, response.messages[QUEUE_TRANSLATED])
    requests = stores.tables.requests
    # The journey: its index row opened once for the request, looked at as each envelope ends it, removed once.
    assert requests[(TABLE_INFLIGHT, "upsert")] == 1 and requests[(TABLE_INFLIGHT, "delete")] == 1
    assert requests[(TABLE_INFLIGHT, "get")] == 4
    # Each envelope's step is one transaction (its documents' rows, its end, where they go next), at intake
    # (received and translated), adapt and deliver; each end of a journey looks for envelopes left (a query).
    # Each such step also brings the tenant's document index up to date: one more transaction per envelope
    # and step (pipeline/records/documents.py), never one per document.
    assert requests[(TABLE_TRACE, "batch")] == 3 * 4 + 3 * 4 and requests[(TABLE_TRACE, "query")] == 4
    assert requests[(TABLE_TRACE, "get")] == 0 and requests[(TABLE_TRACE, "insert")] == 0
    # The tenant is read once (then kept for CACHE_SECONDS); the ledger claims and settles each voucher.
    assert requests[("tenants", "get")] == 1
    assert requests[("ledger", "insert")] == 100 and requests[("ledger", "update")] == 100
    # The tenant's webhook endpoints, read for the outcomes of the first envelope (then kept like the tenant).
    assert requests[("webhooks", "query")] == 1
    # ... the document index's 12, the API key's one read, the endpoints.
    assert sum(requests.values()) == 1 + 1 + 4 + 12 + 12 + 4 + 1 + 200 + 1 + 1
    assert POSTED == {f"V-{i}": 1 for i in range(100)}


def test_overtaken_reads_the_envelope_row_only_for_messages_that_may_be_copies(shop):
    stores, conns, tenant, key = shop
    env = Envelope(tenant=tenant.id, receipt="r-1", traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01", id="m-1",
                   documents=(Enclosure("d-1-000000"),))
    stores.tables.requests.clear()
    assert not inflight.overtaken(stores.tables, env, 1)
    assert stores.tables.requests[(TABLE_TRACE, "get")] == 0
    assert inflight.overtaken(stores.tables, env, 2)  # no row: taken already
    assert stores.tables.requests[(TABLE_TRACE, "get")] == 1
