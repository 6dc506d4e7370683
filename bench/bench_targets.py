"""HTTP requests per delivered voucher for every accounting system with a sandbox in the registry, with and
without faults.

For each system in `sandboxes.registry.SANDBOXES` (or `--only NAME`): start its sandbox, connect a tenant through
`pipeline.connections.change` (connection test included), then deliver N vouchers (default 1,000) through the
idempotency ledger by 8 concurrent workers sharing the tenant's connection cache, as one host's queue-triggered
functions do (a fresh target per message, the pipeline's `target_for`); a retryable error is tried again, as the
queue would. Then the same with `--faults` (default 10 %) of the voucher-creating requests failing: half refused
before commit (503 or 429), half committed and answered 500 — each of those costs a lookup before the retry.

Printed per run: vouchers, HTTP requests served by the sandbox (token or session, lookups, posts, retries),
requests per delivered voucher beside the floor measured in the same run — one voucher-creating request per
voucher (1.00) for systems that take one voucher a request — and vouchers per second. After each run: every
reference is in the system exactly once.
"""

from __future__ import annotations

import argparse
import time
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

FLOOR = 1.0  # one voucher-creating request per voucher


def voucher(i: int, run: str) -> Voucher:
    return Voucher(reference=f"{run}-{i:05d}", date="2026-11-20", description=f"Dagsoppgjør {i} på Røros",
                   lines=[{"account": "1920", "amount": f"{100 + i % 50}.00", "description": "Kort og Vipps"},
                          {"account": "3000", "amount": f"-{100 + i % 50}.00", "vat_code": "3",
                           "description": "Salg av blåbær"}])


def run(name: str, count: int, workers: int, faults: float, seed: int) -> None:
    running = SANDBOXES[name]()
    try:
        stores = Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())
        tenant = TenantRegistry(stores.tables).add("Bench Butikk Ærø AS")
        settings, credentials = running.connection()
        registry = connectors.registry()
        outcome = change(stores, registry, tenant.id, name, settings=settings, credentials=credentials)
        assert outcome.activated, outcome.check
        tenant = TenantRegistry(stores.tables).get(tenant.id)
        for label, rate in (("no faults", 0.0), (f"{faults:.0%} faults", faults)):
            if rate:
                running.inject_faults(rate, seed=seed)
            tag = "faults" if rate else "clean"
            documents = [voucher(i, tag) for i in range(count)]
            retries = 0

            def deliver(document: Voucher) -> int:
                tries = 0
                while True:
                    target = registry.target_for(stores, tenant, f"d-{document.reference}")
                    try:
                        deliver_once(stores.tables, target, document, tenant=tenant.id, target_name=name,
                                     document_id=f"d-{document.reference}")
                        return tries
                    except TransientError as exc:
                        tries += 1
                        time.sleep(min(exc.retry_after or 0.0, 0.05))

            before, started = running.requests(), time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                retries = sum(pool.map(deliver, documents))
            seconds = time.perf_counter() - started
            served = running.requests() - before
            references = [p.reference for p in running.posted() if p.reference.startswith(f"{tag}-")]
            assert sorted(references) == sorted(d.reference for d in documents), "a voucher missing or twice"
            print(f"{running.title:22s} {label:10s} {count:5d} vouchers  {served:6d} requests  "
                  f"{served / count:5.2f} requests/voucher (floor {FLOOR:.2f})  {retries:4d} queue retries  "
                  f"{count / seconds:7.1f} vouchers/s", flush=True)
    finally:
        running.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(SANDBOXES), action="append", help="only these systems")
    parser.add_argument("--vouchers", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--faults", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for name in args.only or sorted(SANDBOXES):
        run(name, args.vouchers, args.workers, args.faults, args.seed)


if __name__ == "__main__":
    main()
