"""The ledger's lease outlives the delivery it protects: renewed while the target keeps it waiting,
and a delivery that lost it anyway stops before posting."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from pipeline.errors import ClaimHeld, TransientError
from pipeline.ledger import before_post, deliver_once, ledger_entry, ledger_key
from pipeline.memory import MemoryTables
from pipeline.model import Voucher
from pipeline.ports import Delivery
from pipeline.records.names import TABLE_LEDGER

VOUCHER = Voucher(reference="bilag/7 på Røros", date="2026-11-20",
                  lines=[{"account": "1920", "amount": "5.00"}, {"account": "3000", "amount": "-5.00"}])
LEASE = dt.timedelta(seconds=0.6)


class SlowTarget:
    """Posts after `hold` seconds of waiting (429s, slow answers), asking the ledger first like a connector."""

    name = "slow"

    def __init__(self, hold: float = 0.0) -> None:
        self.hold = hold
        self.stored: dict[str, str] = {}
        self.posts = 0
        self.started = threading.Event()

    def deliver(self, document):
        self.started.set()
        time.sleep(self.hold)
        before_post()  # what connectors.http.send does before each POST
        self.posts += 1
        self.stored.setdefault(document.reference, f"v{len(self.stored) + 1}")
        return Delivery(remote_id=self.stored[document.reference], draft=True)

    def find(self, reference):
        remote = self.stored.get(reference)
        return Delivery(remote_id=remote, draft=True) if remote else None

    def preflight(self, documents):
        return []

    def render(self, document):
        return {}


def once(tables, target, lease=LEASE, doc="d-1"):
    return deliver_once(tables, target, VOUCHER, tenant="t", target_name="slow", document_id=doc, lease=lease)


def test_a_delivery_kept_waiting_longer_than_its_lease_keeps_a_racing_attempt_out():
    tables, target = MemoryTables(), SlowTarget(hold=LEASE.total_seconds() * 3)
    first = threading.Thread(target=once, args=(tables, target))
    first.start()
    target.started.wait(5)
    time.sleep(LEASE.total_seconds() * 1.5)  # the lease as first claimed has run out by now
    with pytest.raises(ClaimHeld):  # ... but was renewed: the second attempt waits instead of posting
        once(tables, target, doc="d-2")
    first.join()
    second = once(tables, target, doc="d-2")
    assert second.duplicate and target.posts == 1 and list(target.stored) == [VOUCHER.reference]


def test_a_delivery_that_lost_its_lease_does_not_post():
    tables, target = MemoryTables(), SlowTarget(hold=LEASE.total_seconds() * 2)
    outcome: list[object] = []
    first = threading.Thread(target=lambda: outcome.append(_catch(lambda: once(tables, target))))
    first.start()
    target.started.wait(5)
    # Someone else takes the reference over (say this worker's renewals were held up past the lease).
    partition, row = ledger_key("t", "slow", VOUCHER.reference)
    entry = tables.get(TABLE_LEDGER, partition, row)
    assert entry is not None
    tables.update(TABLE_LEDGER, {**entry, "DocumentId": "d-other"}, etag=entry["etag"])
    first.join()
    [error] = outcome
    assert isinstance(error, TransientError) and "lease" in str(error)
    assert target.posts == 0
    assert ledger_entry(tables, tenant="t", target_name="slow", reference=VOUCHER.reference)["DocumentId"] == "d-other"


def test_a_delivery_whose_worker_died_frees_the_reference_within_one_lease():
    tables, target = MemoryTables(), SlowTarget()
    partition, row = ledger_key("t", "slow", VOUCHER.reference)
    now = dt.datetime.now(dt.UTC)
    tables.insert(TABLE_LEDGER, {"PartitionKey": partition, "RowKey": row, "Reference": VOUCHER.reference,
                                 "State": "claimed", "Attempts": 1,
                                 "LeaseUntil": (now + LEASE).isoformat()})  # then the worker died: no renewals
    with pytest.raises(ClaimHeld):
        once(tables, target)
    time.sleep(LEASE.total_seconds() + 0.1)
    outcome = once(tables, target)
    assert outcome.looked_up and not outcome.duplicate and target.posts == 1


def _catch(call):
    try:
        return call()
    except Exception as exc:  # the test looks at what was raised
        return exc
