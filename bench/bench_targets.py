"""HTTP requests per delivered voucher for every accounting system with a sandbox, without and with faults.

For each target in `sandboxes.registry.SANDBOXES` (`--only NAME` for one): start its sandbox with the demo company,
connect a tenant through the registry (`pipeline.records.connections.change`, connection test included), then deliver N
vouchers (default 1,000) through the idempotency ledger by 8 concurrent workers sharing the tenant's connection
cache, each message with a fresh target from `Connectors.target_for`, as the queue-triggered functions of one host
do. A message whose outcome is unknown or passing (5xx, timeout, 429 beyond the connector's retries) is delivered
again, as the queue would. The second run injects faults into 10 % of the voucher-creating requests (half refused
before commit, half committed and then answered 500: `Running.inject_faults`).

Printed per run: vouchers delivered once / lost / posted twice, vouchers per second, and HTTP requests per
delivered voucher — every request the sandbox served after the connection was made (sessions, tokens, lookups,
posts, look-ups after unknown outcomes) — beside the floor: 1.00 for a system that takes one voucher per request;
a system whose documented protocol needs another number per voucher says so in its `Running` (`floor(workers)`:
Finago Office asks GetEntryId for each voucher's number before SaveBundleList, 2.00).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import connectors
from pipeline.errors import BilagsbroError
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.ports import Stores
from pipeline.records.connections import change
from pipeline.records.tenants import TenantRegistry
from sandboxes.registry import SANDBOXES

FLOOR = 1.00  # one voucher per request; a system whose protocol needs another number says so in its Running


def floor_of(running: object, workers: int) -> tuple[float, str]:
    """The fewest requests per voucher the system's protocol allows with `workers` concurrent deliveries, and why
    when it is not one (the sandbox's `Running.floor`)."""
    floor = getattr(running, "floor", None)
    if floor is None:
        return FLOOR, ""
    value, reason = floor(workers)
    return float(value), f": {reason}"


ATTEMPTS = 8


def voucher(i: int, run: str) -> Voucher:
    return Voucher(reference=f"{run}-{i:06d}", date="2026-11-20", description=f"Dagsoppgjør {i} – Bjørnøya æøå",
                   lines=[{"account": "1920", "amount": f"{1250 + i % 97}.{i % 100:02d}"},
                          {"account": "3000", "amount": f"-{1000 + i % 97}.{i % 100:02d}", "vat_code": "3"},
                          {"account": "3010", "amount": "-250.00", "vat_code": "31"}])


def bench(name: str, n: int, workers: int, fault_rate: float) -> None:
    running = SANDBOXES[name]()
    registry = connectors.registry()
    try:
        stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
        tenants = TenantRegistry(stores.tables)
        tenant = tenants.add("Bench Butikk Ærø AS", organization_number="999999999")
        settings, credentials = running.connection()
        connection = change(stores, registry, tenant.id, name, settings=settings, credentials=credentials)
        if not connection.activated:
            raise SystemExit(f"{name}: the connection test failed: {connection.check}")
        tenant = tenants.get(tenant.id)
        run = f"{name}-{'faults' if fault_rate else 'clean'}"
        vouchers = [voucher(i, run) for i in range(n)]
        if fault_rate:
            running.inject_faults(fault_rate, seed=7)
        before = running.requests()
        outcomes: collections.Counter[str] = collections.Counter()

        def one(i: int) -> None:
            for attempt in range(ATTEMPTS):
                target = registry.target_for(stores, tenant, f"d-{i}")
                try:
                    deliver_once(stores.tables, target, vouchers[i], tenant=tenant.id, target_name=name,
                                 document_id=f"d-{i}", lease=dt.timedelta(0))
                    return
                except BilagsbroError as exc:
                    if not exc.retryable or attempt == ATTEMPTS - 1:
                        outcomes[f"failed: {type(exc).__name__}"] += 1
                        return
                    outcomes["delivered again (queue retry)"] += 1

        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, range(n)))
        elapsed = time.perf_counter() - started
        requests = running.requests() - before
        posted = collections.Counter(p.reference for p in running.posted() if p.reference.startswith(run))
        once = sum(1 for count in posted.values() if count == 1)
        twice = sum(1 for count in posted.values() if count > 1)
        lost = n - len(posted)
        label = f"{running.title}, {workers} workers, {fault_rate:.0%} faults"
        floor, reason = floor_of(running, workers)
        print(f"{label:38s} {once} once / {lost} lost / {twice} posted twice in {elapsed:6.2f} s "
              f"({n / elapsed:6.1f} vouchers/s): {requests} HTTP requests = {requests / max(1, once):.3f} per "
              f"delivered voucher (floor {floor:.3f}{reason})" + (f"; {dict(outcomes)}" if outcomes else ""))
    finally:
        registry.close()
        running.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--vouchers", type=int, default=1000)
    parser.add_argument("-w", "--workers", type=int, default=8)
    parser.add_argument("--faults", type=float, default=0.10, help="share of voucher POSTs that fail in run two")
    parser.add_argument("--only", choices=sorted(SANDBOXES), action="append", help="these systems only")
    args = parser.parse_args()
    for name in args.only or sorted(SANDBOXES):
        bench(name, args.vouchers, args.workers, 0.0)
        bench(name, args.vouchers, args.workers, args.faults)


if __name__ == "__main__":
    main()
