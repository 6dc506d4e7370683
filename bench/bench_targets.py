"""HTTP requests per delivered voucher through every accounting system's connector, against its sandbox.

For each system in `sandboxes.registry.SANDBOXES` (or `--only NAME`): start its sandbox, connect a tenant through
the registry (as `bilagsbro connect` does), and deliver N vouchers (default 1,000) by 8 concurrent workers through
the idempotency ledger, each voucher with a fresh target from the registry as the pipeline makes one per message;
a worker that meets a passing error tries the voucher again, as the queue would. Then the same again with a share
(default 10 %) of the voucher-creating requests failing — half refused before the commit (503 or throttling), half
committed and answered 500 — so the ledger's look-ups show in the figures.

Printed per run: vouchers delivered, HTTP requests the sandbox served (sessions, WSDLs, lookups, look-ups after
faults, posts: all of them) per delivered voucher beside the system's floor (1.00 for one voucher per request; a
system whose protocol needs more says so in its `Running.floor`), vouchers per second, and what the sandbox holds:
each reference once, none lost. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import connectors
from pipeline.connections import change
from pipeline.errors import TransientError
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.ports import Stores
from pipeline.tenants import TenantRegistry
from sandboxes.registry import SANDBOXES, Running

TRIES = 8


def voucher(i: int, run: str) -> Voucher:
    """A day's till settlement on the demo company's chart: card and cash against sales at two VAT rates."""
    return Voucher(reference=f"{run}-{i:06d}", date="2026-11-20", description=f"Dagsoppgjør {i} – Ærø",
                   lines=[{"account": "1920", "amount": "1250.00", "description": "Bankterminal"},
                          {"account": "3000", "amount": "-1000.00", "vat_code": "3", "description": "Salg 25 %",
                           "dimensions": {"department": "1"}},
                          {"account": "3000", "amount": "-250.00", "vat_code": "31", "description": "Salg 15 % (mat)",
                           "dimensions": {"project": "100"}}])


def run(name: str, running: Running, n: int, workers: int, fault_rate: float, seed: int) -> None:
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    registry = connectors.registry()
    tenants = TenantRegistry(stores.tables)
    label = f"{fault_rate:.0%} faults" if fault_rate else "no faults"
    tenant = tenants.add(f"Bench {name} {label}", organization_number="999999999")
    settings, credentials = running.connection()
    connection = change(stores, registry, tenant.id, name, settings=settings, credentials=credentials)
    if not connection.activated:
        print(f"  {name}: the connection test failed: {connection.check}")
        return
    tenant = tenants.get(tenant.id)
    run_id = f"{name}-{'f' if fault_rate else 'c'}"
    vouchers = [voucher(i, run_id) for i in range(n)]
    if fault_rate:
        running.inject_faults(fault_rate, seed=seed)
    before = running.requests()
    outcomes: list[str] = []
    started = time.perf_counter()

    def one(i: int) -> None:
        for _ in range(TRIES):
            target = registry.target_for(stores, tenant, f"doc-{i}")
            try:
                deliver_once(stores.tables, target, vouchers[i], tenant=tenant.id, target_name=name,
                             document_id=f"doc-{i}")
                outcomes.append("delivered")
                return
            except TransientError:  # OutcomeUnknown and ClaimHeld too: the queue tries the message again
                continue
        outcomes.append("gave up")

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(n)))
    elapsed = time.perf_counter() - started
    running.inject_faults(0.0, seed=seed)
    requests = running.requests() - before
    delivered = outcomes.count("delivered")
    held = [p.reference for p in running.posted() if p.reference.startswith(run_id)]
    twice = len(held) - len(set(held))
    lost = len({v.reference for v in vouchers} - set(held))
    floor: Any = getattr(running, "floor", 1.0)
    print(f"  {label:>10}: {delivered}/{n} delivered by {workers} workers in {elapsed:.1f} s "
          f"({delivered / elapsed:.0f} vouchers/s); {requests} requests = {requests / max(delivered, 1):.2f} per "
          f"voucher (floor {floor:.2f}); held once: {len(set(held))}, twice: {twice}, lost: {lost}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(SANDBOXES), help="one system")
    parser.add_argument("-n", type=int, default=1000, help="vouchers per run (default 1,000)")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--faults", type=float, default=0.10, help="share of failing voucher requests (default 0.10)")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    for name in [args.only] if args.only else sorted(SANDBOXES):
        running = SANDBOXES[name]()
        try:
            print(f"{running.title} ({name}): {getattr(running, 'floor_reason', 'one request per voucher')}")
            for rate in (0.0, args.faults):
                run(name, running, args.n, args.workers, rate, args.seed)
        finally:
            running.stop()


if __name__ == "__main__":
    main()
