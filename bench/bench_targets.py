"""HTTP requests per delivered voucher, for every accounting system in the sandbox registry, beside the floor.

For each target in `sandboxes.registry.SANDBOXES` (or `--only NAME`): start its sandbox with the demo company,
connect a tenant through the registry (the connection test included, not counted), then deliver N vouchers
(default 1,000) by 8 concurrent workers through the idempotency ledger (`pipeline.ledger.deliver_once` over
in-memory tables), each message with its own target from the registry as the pipeline makes one, a voucher whose
attempt fails with a passing error tried again as the queue would. Twice: without faults, and with a share
(default 10 %) of the voucher-creating requests failing — half refused before commit (503 or 429), half committed
and answered 500 (`Running.inject_faults`).

Printed per run: vouchers delivered, every HTTP request the sandbox served (tokens, lookups, posts, the look-ups
after an unknown outcome) per delivered voucher beside the floor — 1.00 for a system that takes one voucher per
request (a batching system would name its own) — vouchers per second, and what the system holds: each voucher
exactly once. Figures, not assertions: nothing here fails on time.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import connectors
from pipeline.connections import change
from pipeline.errors import TransientError
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.ports import Stores
from pipeline.tenants import TenantRegistry
from sandboxes.registry import SANDBOXES

FLOOR = {name: 1.0 for name in SANDBOXES}  # one voucher per request; a system that batches names its floor here
TRIES = 8


def voucher(i: int, run: str) -> Voucher:
    """A day's sale on the demo company's accounts, VAT codes, department and project; amounts vary."""
    high, middle = 1000 + i % 97, 200 + i % 13
    return Voucher(reference=f"{run}-{i:05d}", date="2026-11-20", description=f"Dagsoppgjør {i} på Røros æøå",
                   lines=[{"account": "1920", "amount": f"{high + middle}.00", "description": "Bankterminal"},
                          {"account": "3000", "amount": f"-{high}.00", "vat_code": "3",
                           "dimensions": {"department": "1"}, "description": "Salg høy sats"},
                          {"account": "3000", "amount": f"-{middle}.00", "vat_code": "31",
                           "dimensions": {"project": "100"}, "description": "Salg middels sats"}])


def run(name: str, n: int, workers: int, fault_rate: float, seed: int) -> None:
    running = SANDBOXES[name]()
    try:
        registry = connectors.registry()
        stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
        tenant = TenantRegistry(stores.tables).add(f"Benk {running.title} Ærø AS")
        settings, credentials = running.connection()
        connection = change(stores, registry, tenant.id, name, settings=settings, credentials=credentials)
        if not connection.activated:
            print(f"{name}: the connection test failed: {connection.check}")
            return
        tenant = TenantRegistry(stores.tables).get(tenant.id)
        if fault_rate:
            running.inject_faults(fault_rate, seed=seed)
        label = "f" if fault_rate else "c"
        vouchers = [voucher(i, label) for i in range(n)]
        attempts: Counter[str] = Counter()
        before = running.requests()
        started = time.perf_counter()

        def one(v: Voucher) -> bool:
            for _ in range(TRIES):
                attempts["tries"] += 1
                try:
                    deliver_once(stores.tables, registry.target_for(stores, tenant, f"d-{v.reference}"), v,
                                 tenant=tenant.id, target_name=name, document_id=f"d-{v.reference}")
                    return True
                except TransientError:
                    attempts["retried"] += 1  # the queue delivers the message again
            return False

        with ThreadPoolExecutor(workers) as pool:
            delivered = sum(pool.map(one, vouchers))
        elapsed = time.perf_counter() - started
        requests = running.requests() - before
        held = Counter(p.reference for p in running.posted())
        once = sum(1 for v in vouchers if held[v.reference] == 1)
        twice = sum(1 for v in vouchers if held[v.reference] > 1)
        floor = FLOOR.get(name, 1.0)
        what = f"{fault_rate:.0%} faults" if fault_rate else "no faults"
        print(f"{running.title:16s} {what:10s} {workers} workers: {delivered}/{n} delivered in {elapsed:6.2f} s "
              f"({delivered / elapsed:6.1f}/s); {requests} HTTP requests = {requests / max(delivered, 1):.3f} per "
              f"delivered voucher (floor {floor:.2f}); {attempts['retried']} attempts retried; held once "
              f"{once}, twice or more {twice}")
    finally:
        running.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=sorted(SANDBOXES), help="one system (default: every one in the registry)")
    parser.add_argument("-n", "--vouchers", type=int, default=1000)
    parser.add_argument("-w", "--workers", type=int, default=8)
    parser.add_argument("--faults", type=float, default=0.10, help="share of voucher POSTs that fail in the 2nd run")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for name in [args.only] if args.only else sorted(SANDBOXES):
        run(name, args.vouchers, args.workers, 0.0, args.seed)
        run(name, args.vouchers, args.workers, args.faults, args.seed)


if __name__ == "__main__":
    main()
