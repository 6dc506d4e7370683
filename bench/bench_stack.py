"""Documents per second through the whole local stack, and storage operations per document.

Starts Azurite and the local host, sends N vouchers over HTTP (in requests of 100), waits until
every one is delivered to the file target, and counts every HTTP request the Azure SDK made to
Azurite (blob, queue, table; queue polling included) while doing so.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import threading
import time
from pathlib import Path

import httpx
from azure.core.pipeline.transport import RequestsTransport

COUNTS: collections.Counter[str] = collections.Counter()
_lock = threading.Lock()
_send = RequestsTransport.send


def _counting_send(self, request, **kwargs):  # every storage operation passes through here
    url = request.url
    service = next((name for name, port in PORTS.items() if f":{port}/" in url), "other")
    with _lock:
        COUNTS[f"{service} {request.method}"] += 1
    return _send(self, request, **kwargs)


PORTS: dict[str, int] = {}


def voucher(i: int) -> dict:
    return {"type": "voucher", "reference": f"bench-{i:06d}", "date": "2026-11-20",
            "description": f"Dagsoppgjør {i} æøå",
            "lines": [{"account": "1920", "amount": "1250.00"},
                      {"account": "3000", "amount": "-1250.00", "vat_code": "3"}]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1000)
    args = parser.parse_args()
    from bilagsbro.stack import local_stack, stores_for
    from pipeline.tenants import TenantRegistry

    data = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    with local_stack(0, data_dir=data, in_memory=True, record=False) as host:
        conn = host.settings["BILAGSBRO_STORAGE"]
        for part in conn.split(";"):
            for service in ("Blob", "Queue", "Table"):
                if part.startswith(f"{service}Endpoint="):
                    PORTS[service.lower()] = int(part.split(":")[2].split("/")[0])
        stores = stores_for(conn, data)
        registry = TenantRegistry(stores.tables)
        tenant = registry.add("Benk AS")
        key = registry.issue_key(tenant.id)
        host.wait_idle(30)
        RequestsTransport.send = _counting_send
        started = time.perf_counter()
        with httpx.Client(base_url=host.url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
            for start in range(0, args.n, 100):
                response = client.post("/api/v1/documents",
                                       json=[voucher(i) for i in range(start, min(start + 100, args.n))])
                response.raise_for_status()
        accepted = time.perf_counter() - started
        host.wait_idle(timeout=1800)
        elapsed = time.perf_counter() - started
        RequestsTransport.send = _send
        delivered = sum(1 for _ in stores.blobs.list("deliveries", f"{tenant.id}/"))
    total = sum(COUNTS.values())
    print(f"documents: {args.n} sent, {delivered} delivered")
    print(f"HTTP intake: {accepted:.1f} s ({args.n / accepted:.0f} documents/s accepted)")
    print(f"end to end:  {elapsed:.1f} s  → {args.n / elapsed:.1f} documents/s through all four steps")
    print(f"storage operations: {total} in all, {total / args.n:.1f} per document")
    for name, count in sorted(COUNTS.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<13} {count:>7}  ({count / args.n:.2f} per document)")


if __name__ == "__main__":
    main()
