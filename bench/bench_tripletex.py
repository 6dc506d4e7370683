"""HTTP requests per voucher and vouchers per second through the Tripletex connector, against the sandbox.

Starts the Tripletex sandbox on loopback, then delivers N vouchers (default 1,000) three times: straight
through `target.deliver` one at a time, through the idempotency ledger (`pipeline.ledger.deliver_once`
over in-memory tables), and through the ledger by 8 concurrent workers sharing the tenant's cache (as the
queue-triggered functions of one host do), each voucher with a fresh `connect()` as the pipeline makes one
per message. The floor is one request per voucher (the POST): session and lookups are cached per tenant
and connection, and a burst of workers shares one lookup (single flight). In the concurrent run the sandbox
answers the session and the lookups after `--latency` seconds (50 ms by default: a loopback sandbox answers in
well under a millisecond, so without it a burst hardly ever overlaps the way it does against the real Tripletex).
Every exchange is recorded in an in-memory exchange log, as in production.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from connectors.targets import tripletex
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.ports import TargetContext
from sandboxes.tripletex import TripletexSandbox

CUSTOMERS = ("10001", "10002", "10003")


def voucher(i: int, run: str) -> Voucher:
    customer = CUSTOMERS[i % len(CUSTOMERS)]
    return Voucher(
        reference=f"{run}-{i:06d}", date="2026-11-20", description=f"Dagsoppgjør {i} æøå",
        lines=[{"account": "1500", "amount": "1250.00", "customer": {"number": customer},
                "invoice_number": f"F-{i}"},
               {"account": "3000", "amount": "-1000.00", "vat_code": "3", "dimensions": {"department": "1"}},
               {"account": "3000", "amount": "-250.00", "vat_code": "31", "dimensions": {"project": "100"}}])


LOOKUPS = (("PUT", r"/token/session/:create$"), ("GET", r"^/ledger/account$"), ("GET", r"^/ledger/vatType$"),
           ("GET", r"^/customer$"), ("GET", r"^/department$"), ("GET", r"^/project$"))


def run(sandbox: TripletexSandbox, n: int, *, through_ledger: bool, workers: int = 1, latency: float = 0.0) -> None:
    label = "deliver_once + MemoryTables" if through_ledger else "target.deliver"
    run_id = "ledger" if through_ledger else "direct"
    if workers > 1:
        label, run_id = f"{label}, {workers} workers", f"{run_id}-{workers}"
    if latency:
        sandbox.faults.slow_seconds = latency
        for method, path in LOOKUPS:
            sandbox.faults.add(path, method, "slow", times=10 * workers)
    context = TargetContext(
        tenant=f"bench-{run_id}",
        settings={"base_url": sandbox.base_url,
                  "secrets": {"consumer_token": "consumer", "employee_token": "employee"}},
        secrets=MemorySecrets({"consumer": sandbox.consumer_token, "employee": sandbox.employee_token}),
        blobs=MemoryBlobs(), exchanges=MemoryExchanges())
    tables = MemoryTables()
    vouchers = [voucher(i, run_id) for i in range(n)]
    before = sum(sandbox.requests.values())
    posts_before = sandbox.count("POST", "/v2/ledger/voucher")
    started = time.perf_counter()

    def one(i: int) -> None:
        target = tripletex.connect(context)
        if through_ledger:
            deliver_once(tables, target, vouchers[i], tenant=context.tenant, target_name="tripletex",
                         document_id=f"doc-{i}")
        else:
            target.deliver(vouchers[i])

    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(n)))
    else:
        for i in range(n):
            one(i)
    elapsed = time.perf_counter() - started
    requests = sum(sandbox.requests.values()) - before
    posts = sandbox.count("POST", "/v2/ledger/voucher") - posts_before
    tripletex.close(context)
    sandbox.faults.clear()
    print(f"{label:30s} {n} vouchers in {elapsed:6.2f} s: {n / elapsed:7.1f} vouchers/s, "
          f"{requests} HTTP requests = {requests / n:.3f} per voucher (floor 1.000: {posts} POSTs; "
          f"{requests - posts} session/lookups), {len(context.exchanges.exchanges)} exchanges recorded")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", "--vouchers", type=int, default=1000)
    parser.add_argument("-w", "--workers", type=int, default=8, help="concurrent workers in the third run")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the sandbox takes to answer the "
                        "session and each lookup in the third run")
    args = parser.parse_args()
    with TripletexSandbox() as sandbox:
        run(sandbox, args.vouchers, through_ledger=False)
        run(sandbox, args.vouchers, through_ledger=True)
        run(sandbox, args.vouchers, through_ledger=True, workers=args.workers, latency=args.latency)
        print(f"sandbox holds {len(sandbox.vouchers)} vouchers; requests by path:")
        for (method, path), count in sorted(sandbox.requests.items()):
            print(f"  {method:4s} {path:45s} {count}")


if __name__ == "__main__":
    main()
