"""Faults end to end: the idempotency ledger and the connector against a misbehaving sandbox.

Whatever goes wrong — a 500 after the commit, a timeout with or without a commit, 429s, a worker that
dies between the POST and the ledger update, a message delivered twice — every voucher ends in
Tripletex exactly once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tripletex_support import Harness

from pipeline.errors import DataError, OutcomeUnknown, TransientError
from pipeline.ledger import deliver_once, ledger_entry, ledger_key
from pipeline.memory import MemoryTables
from pipeline.model import Voucher
from pipeline.records.names import TABLE_LEDGER
from tests.timing import FAULT_CLIENT_TIMEOUT

TENANT = "kunde-1"


def voucher(reference: str, amount: str = "100.00") -> Voucher:
    return Voucher(reference=reference, date="2026-11-03", description=f"Kortsalg {reference} på Røros",
                   lines=[{"account": "1920", "amount": amount},
                          {"account": "3000", "amount": f"-{amount}", "vat_code": "3"}])


def once(tables: MemoryTables, h: Harness, document: Voucher) -> Any:
    return deliver_once(tables, h.target(), document, tenant=TENANT, target_name="tripletex",
                        document_id=f"doc-{document.reference}", lease=dt.timedelta(0))


def retrying(tables: MemoryTables, h: Harness, document: Voucher, *, attempts: int = 5) -> Any:
    """What the queue does: deliver again after a retryable error, up to a bound."""
    for _ in range(attempts):
        try:
            return once(tables, h, document)
        except TransientError:
            continue
    raise AssertionError(f"{document.reference} not delivered in {attempts} attempts")


def assert_each_once(h: Harness, references: list[str]) -> None:
    numbers = sorted(v["externalVoucherNumber"] for v in h.sandbox.vouchers)
    assert numbers == sorted(references)


@pytest.fixture
def slow(make_harness: Any) -> Harness:
    """A connector with a short timeout (tests/timing.py: far shorter than the sandbox's stall on a "timeout" fault)."""
    return make_harness(timeout=FAULT_CLIENT_TIMEOUT)


def test_commit_then_500_is_looked_up_not_posted_again(h: Harness) -> None:
    tables = MemoryTables()
    h.sandbox.faults.add(r"^/ledger/voucher$", "POST", "commit_then_500")
    with pytest.raises(OutcomeUnknown) as caught:
        once(tables, h, voucher("V-1"))
    assert caught.value.status == 500 and caught.value.request_id
    outcome = once(tables, h, voucher("V-1"))
    assert outcome.looked_up and outcome.duplicate
    assert outcome.delivery.remote_id == str(h.sandbox.vouchers[0]["id"])
    assert ledger_entry(tables, tenant=TENANT, target_name="tripletex", reference="V-1")["State"] == "delivered"
    assert h.sandbox.count("POST", "/v2/ledger/voucher") == 1
    assert_each_once(h, ["V-1"])


@pytest.mark.parametrize("committed", [True, False])
def test_timeout_with_or_without_commit(slow: Harness, committed: bool) -> None:
    tables = MemoryTables()
    slow.sandbox.faults.add(r"^/ledger/voucher$", "POST", "timeout", commit=committed)
    with pytest.raises(OutcomeUnknown):
        once(tables, slow, voucher("V-1"))
    outcome = once(tables, slow, voucher("V-1"))
    assert outcome.looked_up and outcome.duplicate is committed
    assert slow.sandbox.count("POST", "/v2/ledger/voucher") == (1 if committed else 2)
    assert_each_once(slow, ["V-1"])


def test_429_and_503_are_retried_inside_the_connector(h: Harness) -> None:
    tables = MemoryTables()
    h.sandbox.faults.add(r"^/ledger/voucher$", "POST", "429", times=2)
    h.sandbox.faults.add(r"^/ledger/account$", "GET", "503", times=2)
    outcome = once(tables, h, voucher("V-1"))
    assert not outcome.duplicate and not outcome.looked_up
    assert h.waits[:2] != [] and 1.0 in h.waits  # the 429s' X-Rate-Limit-Reset: 1 was honoured
    assert h.sandbox.count("POST", "/v2/ledger/voucher") == 3
    assert_each_once(h, ["V-1"])


def test_a_worker_dying_between_post_and_ledger_update(h: Harness) -> None:
    tables = MemoryTables()
    document = voucher("V-1")
    # The dead worker claimed the reference and posted; then the process vanished.
    partition, row = ledger_key(TENANT, "tripletex", document.reference)
    tables.insert(TABLE_LEDGER, {"PartitionKey": partition, "RowKey": row, "Reference": document.reference,
                                 "State": "claimed", "DocumentId": "doc-V-1", "Attempts": 1,
                                 "LeaseUntil": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).isoformat()})
    h.target().deliver(document)
    # While its lease runs, another attempt must not post.
    with pytest.raises(TransientError, match="right now"):
        deliver_once(tables, h.target(), document, tenant=TENANT, target_name="tripletex", document_id="doc-V-1")
    entry = tables.get(TABLE_LEDGER, partition, row)
    assert entry is not None
    tables.update(TABLE_LEDGER, {**entry, "LeaseUntil": "2026-01-01T00:00:00+00:00"}, etag=entry["etag"])
    outcome = once(tables, h, document)
    assert outcome.looked_up and outcome.duplicate
    assert h.sandbox.count("POST", "/v2/ledger/voucher") == 1
    assert_each_once(h, ["V-1"])


def test_a_message_delivered_twice_posts_once(h: Harness) -> None:
    tables = MemoryTables()
    first = once(tables, h, voucher("V-1"))
    second = once(tables, h, voucher("V-1"))
    assert not first.duplicate and second.duplicate and not second.looked_up
    assert second.delivery.remote_id == first.delivery.remote_id
    assert_each_once(h, ["V-1"])


def test_a_run_through_every_fault_ends_with_each_voucher_exactly_once(slow: Harness) -> None:
    tables = MemoryTables()
    faults = slow.sandbox.faults
    faults.add(r"^/ledger/voucher$", "POST", "commit_then_500")
    faults.add(r"^/ledger/voucher$", "POST", "timeout", commit=True)
    faults.add(r"^/ledger/voucher$", "POST", "429", times=2)
    faults.add(r"^/ledger/voucher$", "POST", "timeout", commit=False)
    faults.add(r"^/ledger/voucher$", "POST", "503")
    faults.add(r"^/ledger/voucher$", "POST", "401")
    faults.add(r"^/ledger/voucher/>externalVoucherNumber$", "GET", "503")
    references = [f"V-{i}" for i in range(1, 9)]
    for reference in references + references[::3]:  # some messages arrive twice
        retrying(tables, slow, voucher(reference))
    assert faults.active and all(f.times == 0 for f in faults.active)
    assert_each_once(slow, references)
    for reference in references:
        entry = ledger_entry(tables, tenant=TENANT, target_name="tripletex", reference=reference)
        assert entry is not None and entry["State"] == "delivered"


def test_preflight_names_every_problem_at_once_and_nothing_is_posted(h: Harness) -> None:
    h.sandbox.company.deactivate_account(6300)
    documents = [
        Voucher(reference="P-1", date="2026-11-03",
                lines=[{"account": "1500", "amount": "200.00", "customer": {"number": "99999"}},
                       {"account": "3999", "amount": "-200.00", "vat_code": "3"}]),
        Voucher(reference="P-2", date="2026-11-03",
                lines=[{"account": "6300", "amount": "50.00", "vat_code": "32",
                        "dimensions": {"department": "9", "project": "404"}},
                       {"account": "1500", "amount": "-40.00"},
                       {"account": "4999", "amount": "-10.00"}]),
        voucher("P-3"),
    ]
    target = h.target()
    problems = target.preflight(documents)
    found = sorted((p.reference, p.field, p.code) for p in problems)
    assert found == [
        ("P-1", "lines[0].customer", "missing-customer"),
        ("P-1", "lines[1].account", "missing-account"),
        ("P-2", "lines[0].account", "inactive-account"),
        ("P-2", "lines[0].dimensions.department", "missing-department"),
        ("P-2", "lines[0].dimensions.project", "missing-project"),
        ("P-2", "lines[0].vat_code", "unknown-vat-code"),
        ("P-2", "lines[1].customer", "customer-required"),
        ("P-2", "lines[2].account", "missing-account"),
    ]
    assert all(p.message for p in problems)
    assert h.sandbox.count("POST") == 0 and h.sandbox.vouchers == []
    assert h.sandbox.count("GET", "/v2/ledger/account") == 1  # one bulk lookup for every account
    # deliver refuses the same way, before any POST, with the problems attached.
    with pytest.raises(DataError) as caught:
        target.deliver(documents[0])
    assert {p.code for p in caught.value.problems} == {"missing-customer", "missing-account"}
    assert h.sandbox.vouchers == []
