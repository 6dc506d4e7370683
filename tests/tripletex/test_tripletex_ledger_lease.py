"""The idempotency ledger's lease against a Tripletex that answers slowly and rate-limits for longer
than the lease: a second worker racing the first must not post the voucher again."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from tripletex_support import Harness

from connectors.targets import tripletex
from pipeline.errors import ClaimHeld
from pipeline.ledger import deliver_once, ledger_entry
from pipeline.memory import MemoryTables
from pipeline.model import Voucher

LEASE = dt.timedelta(seconds=1.5)  # short, so that the test takes seconds; production's is 30 s


def voucher() -> Voucher:
    return Voucher(reference="kasse-3-2026-11-20", date="2026-11-20", description="Dagsoppgjør kasse 3, Røros",
                   lines=[{"account": "1920", "amount": "980.00"},
                          {"account": "3000", "amount": "-980.00", "vat_code": "3"}])


def worker(h: Harness) -> tripletex.TripletexTarget:
    """The connector as a worker runs it: it really sleeps through 429s (the harness only notes them)."""
    return tripletex.TripletexTarget(h.context, transport=h.transport, sleep=time.sleep)


def test_a_delivery_kept_waiting_past_its_lease_by_slow_answers_and_429s_posts_once(make_harness: Any) -> None:
    first, second = make_harness(timeout=5.0), make_harness(timeout=5.0)
    sandbox = first.sandbox
    sandbox.faults.slow_seconds = 0.8
    sandbox.faults.reset_seconds = 1
    sandbox.faults.add(r"^/ledger/account$", "GET", "slow")  # the lookups answer slowly ...
    sandbox.faults.add(r"^/ledger/voucher$", "POST", "429", times=3)  # ... then Tripletex rate-limits for 3 s
    tables = MemoryTables()  # one ledger for both workers
    document = voucher()
    outcomes: list[Any] = []

    def deliver(h: Harness, document_id: str) -> Any:
        return deliver_once(tables, worker(h), document, tenant="kunde-1", target_name="tripletex",
                            document_id=document_id, lease=LEASE)

    racing = threading.Thread(target=lambda: outcomes.append(deliver(first, "d-first")))
    racing.start()
    time.sleep(LEASE.total_seconds() + 0.5)  # the first lease, as claimed, has run out; the POST has not gone
    assert racing.is_alive() and sandbox.vouchers == []
    # The second worker (the queue redelivered the message, or the same voucher came twice) waits, as
    # the queue would make it, until the first is done.
    deadline = time.monotonic() + 20
    while True:
        try:
            second_outcome = deliver(second, "d-second")
            break
        except ClaimHeld:
            assert time.monotonic() < deadline, "the first delivery never finished"
            time.sleep(0.25)
    racing.join()
    [first_outcome] = outcomes
    assert not first_outcome.duplicate and second_outcome.duplicate
    assert [v["externalVoucherNumber"] for v in sandbox.vouchers] == ["kasse-3-2026-11-20"]
    assert sandbox.count("POST", "/v2/ledger/voucher") == 4  # three 429s, one voucher
    entry = ledger_entry(tables, tenant="kunde-1", target_name="tripletex", reference=document.reference)
    assert entry is not None and entry["State"] == "delivered" and entry["DocumentId"] == "d-first"
