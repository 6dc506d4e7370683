"""A host killed with SIGKILL loses nothing and leaves nothing stuck: the local host runs in a child
process on its own Azurite, dies where a real host can die, and comes back on the same storage.

The sweeper runs every second here and calls a document stalled after 8 s (production: every 15 s,
45 s; the stall must stay above host.json's visibilityTimeout, 5 s, after which a failed message comes
back by itself), and idle queues are polled each second (host.json: every 10 s at most), so that each case takes
seconds. Messages the dead host held stay invisible for 600 s, as in
Azure: every wait below is far shorter, so what brings the work back is the sweeper, not the queue.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bilagsbro.azurite import AzuriteNotInstalled, find_azurite, start_azurite
from bilagsbro.localhost import KILL_BEFORE_OUTPUT
from bilagsbro.process import HostProcess
from pipeline.ledger import ledger_entry
from pipeline.records.connections import connect
from pipeline.records.names import TABLE_INFLIGHT
from pipeline.records.tenants import TenantRegistry
from pipeline.records.trace import TraceLog, status
from sandboxes.tripletex import TripletexSandbox

pytestmark = pytest.mark.e2e
SETTLE = 240.0  # a generous bound on waiting; far below the 600 s a dead host's messages stay hidden
FAST_SWEEPER = {"SWEEP_SCHEDULE": "* * * * * *", "SWEEP_STALL_SECONDS": "8"}


@pytest.fixture(scope="module")
def storage() -> Iterator[str]:
    try:
        find_azurite()
    except AzuriteNotInstalled as exc:
        pytest.skip(f"Azurite is not installed ({exc}); `make test` installs it with npm ci")
    with start_azurite(in_memory=True) as azurite:
        yield azurite.connection_string


@pytest.fixture
def tripletex() -> Iterator[TripletexSandbox]:
    with TripletexSandbox() as sandbox:
        sandbox.faults.timeout_seconds = 1.5
        yield sandbox


@pytest.fixture
def world(storage: str, tripletex: TripletexSandbox, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A tenant delivering to the Tripletex sandbox, and a host process that can be killed."""
    from bilagsbro.stack import prepare, stores_for

    prepare(storage)
    stores = stores_for(storage, tmp_path)
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Sykkelbua på Røros AS")
    connect(registry, stores.secrets, tenant.id, "tripletex",
            settings={"base_url": tripletex.base_url, "timeout": 1.0},
            credentials={"consumer_token": tripletex.consumer_token, "employee_token": tripletex.employee_token},
            required=("consumer_token", "employee_token"))
    host = HostProcess(tmp_path, storage, FAST_SWEEPER, host_json=polled_each_second(tmp_path))
    try:
        yield {"stores": stores, "tenant": tenant, "key": registry.issue_key(tenant.id), "host": host}
    finally:
        host.stop(grace=5.0)  # a test's end need not wait out a delivery that is waiting out a dead claim's lease


def polled_each_second(folder: Path) -> Path:
    """The project's host.json with idle queues polled at least once a second (at most every 10 s there): what the
    sweeper sends again goes straight to storage, and should not wait for a poller that has backed off."""
    config = json.loads((Path(__file__).resolve().parents[2] / "host.json").read_text("utf-8"))
    config["extensions"]["queues"]["maxPollingInterval"] = "00:00:01"
    path = folder / "host.json"
    path.write_text(json.dumps(config), "utf-8")
    return path


def sale(reference: str) -> dict[str, Any]:
    return {"type": "voucher", "reference": reference, "date": "2026-11-20", "description": "Salg på Røros – æøå",
            "lines": [{"account": "1920", "amount": "500.00"},
                      {"account": "3000", "amount": "-500.00", "vat_code": "3"}]}


def client(world: dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=world["host"].url, headers={"Authorization": f"Bearer {world['key']}"}, timeout=30)


def in_flight(world: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in world["stores"].tables.due(TABLE_INFLIGHT, "9999") if r["PartitionKey"] == world["tenant"].id]


def settle(world: dict[str, Any], sandbox: TripletexSandbox, references: list[str]) -> None:
    """Wait until every reference is in Tripletex, no journey of the tenant is open and every document
    has reached its end (a copy that lost the race may still be finishing as `duplicate`)."""
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        posted = {v["externalVoucherNumber"] for v in sandbox.vouchers}
        if posted >= set(references) and not in_flight(world) and \
                set(documents_of(world, references).values()) <= {"delivered", "failed", "blocked"}:
            return
        assert world["host"].alive, world["host"].log.read_text("utf-8", errors="replace")[-3000:]
        time.sleep(0.25)
    missing = sorted(set(references) - {v["externalVoucherNumber"] for v in sandbox.vouchers})
    raise AssertionError(f"not settled: missing {missing}, in flight {in_flight(world)}")


def assert_exactly_once(sandbox: TripletexSandbox, references: list[str]) -> None:
    counts = Counter(v["externalVoucherNumber"] for v in sandbox.vouchers)
    assert counts == Counter(references), {r: n for r, n in counts.items() if n != 1}


def documents_of(world: dict[str, Any], references: list[str]) -> dict[str, str]:
    """reference → status, from each delivered document's trace (found through the ledger)."""
    trace, found = TraceLog(world["stores"].tables), {}
    for reference in references:
        entry = ledger_entry(world["stores"].tables, tenant=world["tenant"].id, target_name="tripletex",
                             reference=reference)
        assert entry is not None, reference
        found[reference] = status(trace.read(world["tenant"].id, entry["DocumentId"]))
    return found


def test_a_host_killed_after_storing_a_request_and_before_queueing_it_loses_nothing(world, tripletex):
    host = world["host"]
    host.start(**{KILL_BEFORE_OUTPUT: "receive_documents"})
    references = ["krasj-1", "krasj-2", "krasj-3"]
    with client(world) as http, pytest.raises(httpx.TransportError):
        http.post("/api/v1/documents", json=[sale(r) for r in references])  # no answer: the host died
    assert host.wait_dead() == -9
    # Its journey is open (one index row for the request) and its envelope's row holds all three documents.
    [journey] = in_flight(world)
    assert tripletex.vouchers == []
    [envelope] = world["stores"].tables.query("trace", f"{world['tenant'].id}|{journey['RowKey']}", "~msg|")
    assert [d["reference"] for d in json.loads(envelope["Body"])["documents"]] == references
    host.start()  # the client never sends again
    settle(world, tripletex, references)
    assert_exactly_once(tripletex, references)
    assert set(documents_of(world, references).values()) == {"delivered"}


@pytest.mark.parametrize("dies_in", ["translate", "adapt", "receive_file"])
def test_a_host_killed_between_a_step_and_its_queue_message_loses_nothing(world, tripletex, dies_in):
    host = world["host"]
    host.start(**{KILL_BEFORE_OUTPUT: dies_in})
    references = [f"{dies_in}-1", f"{dies_in}-2"]
    with client(world) as http:
        try:
            # Documents from the API are in the shared form: translated at intake, they go straight to adapt.
            # A file is translated by the translate stage (a file this small: one part, sent by its output binding).
            if dies_in in ("receive_file", "translate"):
                http.post("/api/v1/files", params={"format": "shared-form", "name": "dag.json"},
                          content=json.dumps([sale(r) for r in references]).encode())
            else:
                assert http.post("/api/v1/documents", json=[sale(r) for r in references]).status_code == 202
        except httpx.TransportError:
            assert dies_in == "receive_file"
    assert host.wait_dead() == -9
    assert tripletex.vouchers == []
    host.start()
    settle(world, tripletex, references)
    assert_exactly_once(tripletex, references)
    assert set(documents_of(world, references).values()) == {"delivered"}


def test_thirty_vouchers_through_tripletex_faults_and_a_sigkill_mid_flight_arrive_exactly_once(world, tripletex):
    faults = tripletex.faults
    for kind, commit in (("commit_then_500", True), ("429", True), ("503", True), ("timeout", True),
                         ("timeout", False)):
        faults.add(r"^/ledger/voucher$", "POST", kind, times=1000, commit=commit, chance=0.06)
    host = world["host"]
    host.start()
    references = [f"kasse-{i:02d}" for i in range(30)]
    with client(world) as http:
        for start in range(0, 30, 10):
            response = http.post("/api/v1/documents", json=[sale(r) for r in references[start:start + 10]])
            assert response.status_code == 202, response.text
    deadline = time.monotonic() + SETTLE
    while len(tripletex.vouchers) < 5:
        assert time.monotonic() < deadline and host.alive
        time.sleep(0.02)
    host.kill()
    delivered_at_kill = len({v["externalVoucherNumber"] for v in tripletex.vouchers})
    assert 5 <= delivered_at_kill < 30  # killed mid-flight
    host.start()
    settle(world, tripletex, references)
    assert_exactly_once(tripletex, references)
    assert set(documents_of(world, references).values()) == {"delivered"}
    assert faults.fired  # the faults did happen


def test_a_host_killed_while_tripletex_holds_its_post_leaves_the_voucher_there_once(world, tripletex):
    """The worst moment: the POST has reached Tripletex, the host dies before it hears back, the ledger
    says `claimed`, and the message stays invisible for ten minutes. The sweeper sends it again; the copy
    waits out the dead claim's lease (30 s, no longer renewed), looks the reference up, finds it."""
    host = world["host"]
    host.start()
    tripletex.faults.slow_seconds = 3.0
    tripletex.faults.add(r"^/ledger/voucher$", "POST", "slow")  # commits after the host is gone
    with client(world) as http:
        assert http.post("/api/v1/documents", json=sale("midt-i-posten")).status_code == 202
    deadline = time.monotonic() + SETTLE
    while tripletex.count("POST", "/v2/ledger/voucher") == 0:
        assert time.monotonic() < deadline and host.alive
        time.sleep(0.02)
    host.kill()
    host.start()
    settle(world, tripletex, ["midt-i-posten"])
    assert_exactly_once(tripletex, ["midt-i-posten"])
    assert tripletex.count("POST", "/v2/ledger/voucher") == 1  # looked up, not posted again
    entry = ledger_entry(world["stores"].tables, tenant=world["tenant"].id, target_name="tripletex", reference="midt-i-posten")
    trace = TraceLog(world["stores"].tables).read(world["tenant"].id, entry["DocumentId"])
    assert trace[-1]["step"] == "delivered" and trace[-1]["detail"].get("looked_up_first") is True
    assert "requeued" in [t["step"] for t in trace]
