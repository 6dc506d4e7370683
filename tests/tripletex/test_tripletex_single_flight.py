"""A burst of workers for one tenant makes one session and one lookup of each thing, not one each."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tripletex_support import Harness

from pipeline.model import Voucher

CUSTOMERS = ("10001", "10002", "10003")


def voucher(i: int) -> Voucher:
    return Voucher(reference=f"BURST-{i}", date="2026-11-20", description=f"Dagsoppgjør {i} på Hamar",
                   lines=[{"account": "1500", "amount": "125.00", "customer": {"number": CUSTOMERS[i % 3]}},
                          {"account": "3000", "amount": "-100.00", "vat_code": "3", "dimensions": {"department": "1"}},
                          {"account": "3000", "amount": "-25.00", "vat_code": "31", "dimensions": {"project": "100"}}])


def test_eight_workers_share_one_session_and_one_lookup_per_thing(h: Harness) -> None:
    # Slow answers to the first session and lookups, so that every worker arrives while they are on their way.
    h.sandbox.faults.slow_seconds = 0.4
    for path, method in ((r"/token/session/:create$", "PUT"), (r"^/ledger/account$", "GET"),
                         (r"^/ledger/vatType$", "GET"), (r"^/department$", "GET"), (r"^/project$", "GET")):
        h.sandbox.faults.add(path, method, "slow", times=8)
    start = threading.Barrier(8)

    def deliver(i: int) -> str:
        target = h.target()  # a fresh connect() per message, as the deliver stage makes
        start.wait(5)
        return target.deliver(voucher(i)).remote_id

    with ThreadPoolExecutor(8) as pool:
        delivered = list(pool.map(deliver, range(8)))

    assert len(set(delivered)) == 8 and h.sandbox.count("POST", "/v2/ledger/voucher") == 8
    asked = Counter(path for (method, path), n in h.sandbox.requests.items() for _ in range(n) if method != "POST")
    assert asked["/v2/token/session/:create"] == 1
    assert asked["/v2/ledger/account"] == 1
    # One by number; one by id for the VAT type an account is locked to (to name it in a problem).
    assert asked["/v2/ledger/vatType"] <= 2
    assert asked["/v2/department"] == 1 and asked["/v2/project"] == 1
    assert asked["/v2/customer"] <= len(CUSTOMERS)  # one search per customer at most, however many want it
    assert h.context.lookups.fetches <= 5 + len(CUSTOMERS)
