"""The idempotency ledger: claims, unknown outcomes looked up first, refusals, concurrent attempts."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.errors import DataError, OutcomeUnknown, TransientError
from pipeline.ledger import deliver_once, ledger_entry, ledger_key
from pipeline.memory import MemoryTables
from pipeline.model import Voucher
from pipeline.ports import Delivery
from pipeline.records.names import TABLE_LEDGER

VOUCHER = Voucher(reference="bilag/1 æøå", date="2026-11-20",
                  lines=[{"account": "1920", "amount": "5.00"}, {"account": "3000", "amount": "-5.00"}])


class FlakyTarget:
    """Stores what it is given; can commit and then fail, or fail before committing."""

    name = "flaky"

    def __init__(self, failures=()):
        self.stored: dict[str, str] = {}
        self.failures = list(failures)
        self.posts = 0
        self.finds = 0

    def deliver(self, document):
        self.posts += 1
        failure = self.failures.pop(0) if self.failures else None
        if failure == "before":
            raise TransientError("429 too many requests")
        if failure == "refuse":
            raise DataError("account 9999 does not exist")
        self.stored[document.reference] = f"v{len(self.stored) + 1}"
        if failure == "after":
            raise OutcomeUnknown("500 after commit")
        return Delivery(remote_id=self.stored[document.reference], draft=True)

    def find(self, reference):
        self.finds += 1
        remote = self.stored.get(reference)
        return Delivery(remote_id=remote, draft=True) if remote else None

    def preflight(self, documents):
        return []

    def render(self, document):
        return {}


def deliver(tables, target, doc_id="d-1"):
    return deliver_once(tables, target, VOUCHER, tenant="t", target_name="flaky", document_id=doc_id)


def test_second_delivery_is_a_duplicate_without_a_request():
    tables, target = MemoryTables(), FlakyTarget()
    first, second = deliver(tables, target), deliver(tables, target, "d-2")
    assert (first.duplicate, second.duplicate) == (False, True)
    assert target.posts == 1 and target.finds == 0
    assert ledger_entry(tables, tenant="t", target_name="flaky", reference=VOUCHER.reference)["State"] == "delivered"


def test_commit_then_500_is_looked_up_not_posted_again():
    tables, target = MemoryTables(), FlakyTarget(["after"])
    with pytest.raises(OutcomeUnknown):
        deliver(tables, target)
    outcome = deliver(tables, target)
    assert outcome.looked_up and outcome.duplicate
    assert target.posts == 1 and list(target.stored) == [VOUCHER.reference]


def test_failure_before_commit_is_posted_on_retry_after_a_lookup():
    tables, target = MemoryTables(), FlakyTarget(["before"])
    with pytest.raises(TransientError):
        deliver(tables, target)
    outcome = deliver(tables, target)
    assert outcome.looked_up and not outcome.duplicate
    assert target.posts == 2 and target.finds == 1 and len(target.stored) == 1


def test_worker_dying_between_post_and_ledger_update():
    tables, target = MemoryTables(), FlakyTarget()
    target.stored[VOUCHER.reference] = "v1"  # the POST went through, then the worker died
    partition, row = ledger_key("t", "flaky", VOUCHER.reference)
    tables.insert(TABLE_LEDGER, {"PartitionKey": partition, "RowKey": row, "State": "claimed",
                                 "LeaseUntil": (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()})
    outcome = deliver(tables, target)
    assert outcome.looked_up and outcome.delivery.remote_id == "v1"
    assert target.posts == 0


def test_a_live_claim_makes_a_concurrent_attempt_wait():
    tables, target = MemoryTables(), FlakyTarget()
    partition, row = ledger_key("t", "flaky", VOUCHER.reference)
    tables.insert(TABLE_LEDGER, {"PartitionKey": partition, "RowKey": row, "State": "claimed",
                                 "LeaseUntil": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()})
    with pytest.raises(TransientError, match="right now"):
        deliver(tables, target)
    assert target.posts == 0 and target.finds == 0


def test_a_refusal_is_recorded_and_can_be_retried_after_a_fix():
    tables, target = MemoryTables(), FlakyTarget(["refuse"])
    with pytest.raises(DataError):
        deliver(tables, target)
    entry = ledger_entry(tables, tenant="t", target_name="flaky", reference=VOUCHER.reference)
    assert entry["State"] == "failed" and "9999" in entry["Error"]
    outcome = deliver(tables, target)
    assert not outcome.duplicate and len(target.stored) == 1
