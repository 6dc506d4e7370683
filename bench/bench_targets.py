"""HTTP requests per delivered voucher for every HTTP target, against its sandbox: 8 workers, then 10 % faults.

For each target the sandbox registry starts (`sandboxes.registry.SANDBOXES`), N vouchers (default 1,000) go through the idempotency ledger (`deliver_once` over in-memory
tables) by 8 concurrent workers sharing the connection's cache, as the queue-triggered functions of one host do — each
message with a fresh `connect()`. A second run injects faults into a share of the voucher-creating requests (half
refused before commit, half committed and answered 500) and retries what the queue would retry. Printed: HTTP
requests the sandbox served per delivered voucher, beside the floor (1.00 for a system that takes one voucher per
request), and whether every voucher is held exactly once.

    python bench/bench_targets.py [--only xledger] [-n 1000] [--workers 8] [--faults 0.10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import connectors  # noqa: E402
from pipeline.errors import ClaimHeld, TransientError  # noqa: E402
from pipeline.ledger import deliver_once  # noqa: E402
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables  # noqa: E402
from pipeline.model import Voucher  # noqa: E402
from pipeline.ports import TargetContext  # noqa: E402

BATCHING = {"xledger"}  # targets whose connector sends the vouchers of concurrent deliveries in one call


def floor(name: str, workers: int) -> float:
    return 1.0 / workers if name in BATCHING else 1.0


def sandboxes() -> dict[str, Callable[[], Any]]:
    from sandboxes.registry import SANDBOXES

    return dict(SANDBOXES)


def voucher(i: int, run: str) -> Voucher:
    return Voucher(reference=f"{run}-{i:06d}", date="2026-11-20", description=f"Dagsoppgjør {i} æøå",
                   lines=[{"account": "1920", "amount": "1250.00"},
                          {"account": "3000", "amount": "-1000.00", "vat_code": "3", "dimensions": {"department": "1"}},
                          {"account": "3000", "amount": "-250.00", "vat_code": "31", "dimensions": {"project": "100"}}])


def deliver_all(name: str, running: Any, n: int, workers: int, run: str) -> tuple[int, float]:
    settings, credentials = running.connection()
    secrets = MemorySecrets({f"bench-{k}": v for k, v in credentials.items()})
    cache: dict[str, Any] = {}
    tables = MemoryTables()
    factory = connectors.TARGETS[name]

    def one(v: Voucher) -> None:
        for _ in range(200):
            context = TargetContext(tenant=f"bench-{run}", settings={**settings, "secrets": {k: f"bench-{k}" for k in
                                                                                            credentials}},
                                    secrets=secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(), cache=cache,
                                    tables=tables)
            try:
                deliver_once(tables, factory(context), v, tenant=f"bench-{run}", target_name=name, document_id=v.reference,
                             lease=dt.timedelta(seconds=30))
                return
            except ClaimHeld:
                time.sleep(0.01)
            except TransientError:
                continue  # what the queue does: deliver again (the ledger looks the reference up first)
        raise AssertionError(f"{v.reference} never delivered")

    before = running.requests()
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, [voucher(i, run) for i in range(n)]))
    return running.requests() - before, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--faults", type=float, default=0.10)
    parser.add_argument("--only", action="append")
    args = parser.parse_args()
    ok = True
    for name, start in sandboxes().items():
        if args.only and name not in args.only:
            continue
        running = start()
        try:
            for label, rate in (("no faults", 0.0), (f"{args.faults:.0%} faults", args.faults)):
                run = "plain" if rate == 0 else "faults"
                if rate:
                    running.inject_faults(rate, seed=7)
                requests, seconds = deliver_all(name, running, args.n, args.workers, run)
                held = [p.reference for p in running.posted() if p.reference.startswith(f"{run}-")]
                once = len(held) == len(set(held)) == args.n
                ok &= once
                print(f"{running.title:<16} {label:<11} {args.n} vouchers, {args.workers} workers: "
                      f"{requests / args.n:.3f} HTTP requests per voucher (floor {floor(name, args.workers):.3f}) · "
                      f"{args.n / seconds:.0f} vouchers/s · each held once: {once}", flush=True)
        finally:
            running.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
