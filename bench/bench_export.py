"""The open export's throughput and memory, beside its floor: reading the same documents from Azurite and writing
nothing.

Writes N delivered documents of one tenant straight into Azurite (shared form + trace rows, as the stages leave
them: web-shop orders, each with a customer of its own), then runs each measurement in its own interpreter so that
peak memory (ru_maxrss, which counts SQLite's and lxml's C memory too) does not mix:

- bare interpreter, with the modules imported
- read only (floor): `entries()` — the listing, one blob read and one table query per document, nothing written
- JSON lines: the same, written to /dev/null
- SAF-T: the same, written to /dev/null

and the SAF-T writer alone on 10× the documents made in memory (no storage), to show its memory staying flat.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = """
import json, resource, sys, time, datetime as dt
sys.path.insert(0, {root!r})
from bilagsbro.stack import stores_for
from pipeline.export import Company, Delivered, Entry, OSLO, Period, jsonl
from pipeline.export.entries import entries
from pipeline.export.saft import SaftFile
stores = stores_for({connection!r}, __import__("pathlib").Path({data!r}))
today = dt.datetime.now(OSLO).date()
period = Period(today, today)
start = time.perf_counter()
count, size = 0, 0
mode = {mode!r}
if mode == "read only (floor)":
    count = sum(1 for _ in entries(stores, "bench", period))
elif mode == "JSON lines":
    for chunk in jsonl.chunks(entries(stores, "bench", period)):
        size += len(chunk)
    count = {n}
elif mode == "SAF-T":
    saft = SaftFile(entries(stores, "bench", period), company=Company(name="Benk AS", organization_number="999999999"),
                    period=period)
    size = sum(len(chunk) for chunk in saft.chunks())
    count = saft.summary.transactions
elif mode.startswith("SAF-T writer"):
    from pipeline.model import Voucher
    at = dt.datetime.now(dt.UTC)
    def made(n):
        for i in range(n):
            v = Voucher(reference=f"ordre-{{i}}", date="2026-11-20", description=f"Ordre {{i}}",
                        lines=[{{"account": "1500", "amount": "1250.00",
                                 "customer": {{"number": f"K{{i}}", "name": f"Kunde {{i}} på Ås"}}}},
                               {{"account": "3000", "amount": "-1250.00", "vat_code": "3"}}])
            yield Entry(id=f"d-{{i}}", document=v, received_at=at, status="delivered", delivered=Delivered("file", at))
    many = int(mode.rsplit(" ", 1)[1])
    saft = SaftFile(made(many), company=Company(name="Benk AS", organization_number="999999999"), period=period)
    size = sum(len(chunk) for chunk in saft.chunks())
    count = many
print(json.dumps({{"seconds": time.perf_counter() - start, "count": count, "bytes": size,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def populate(stores: object, n: int) -> None:
    """N delivered orders of tenant `bench`, as the stages leave them (shared form, trace: received, delivered)."""
    import datetime as dt
    import secrets

    from pipeline.model import Voucher
    from pipeline.names import CONTAINER_DOCUMENTS
    from pipeline.records.history import document_path
    from pipeline.trace import TraceEntry, TraceLog

    log = TraceLog(stores.tables)  # type: ignore[attr-defined]
    now = dt.datetime.now(dt.UTC)
    for i in range(n):
        document_id = f"d-{now:%Y%m%d%H%M%S}{secrets.token_hex(6)}"
        voucher = Voucher(reference=f"ordre-{i}", date="2026-11-20", description=f"Nettordre {i} – Ålesund",
                          lines=[{"account": "1500", "amount": "1250.00",
                                  "customer": {"number": f"K{i}", "name": f"Kunde {i} på Ås", "email": f"k{i}@x.no"}},
                                 {"account": "3000", "amount": "-1000.00", "vat_code": "3",
                                  "dimensions": {"department": str(i % 5)}},
                                 {"account": "3000", "amount": "-250.00", "vat_code": "31"}])
        stores.blobs.put(CONTAINER_DOCUMENTS, document_path("bench", document_id),  # type: ignore[attr-defined]
                         voucher.model_dump_json(exclude_none=True).encode())
        log.write_many([TraceEntry("bench", document_id, "received", {"receipt": "r-bench"}, reference=voucher.reference),
                        TraceEntry("bench", document_id, "delivered", {"target": "file", "remote_id": f"x/{i}",
                                                                       "draft": True}, reference=voucher.reference)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="documents in storage (default 1000)")
    args = parser.parse_args()
    import tempfile

    from bilagsbro.azurite import start_azurite
    from bilagsbro.stack import prepare, stores_for

    azurite = start_azurite(in_memory=True)
    try:
        with tempfile.TemporaryDirectory() as data:
            prepare(azurite.connection_string)
            stores = stores_for(azurite.connection_string, Path(data))
            populate(stores, args.n)
            modes = ["bare interpreter", "read only (floor)", "JSON lines", "SAF-T",
                     f"SAF-T writer {args.n}", f"SAF-T writer {10 * args.n}"]
            results = {}
            for mode in modes:
                code = CHILD.format(root=str(ROOT), connection=azurite.connection_string, data=data, mode=mode, n=args.n)
                out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        azurite.stop()
    bare = results["bare interpreter"]["maxrss_kib"]
    print(f"{args.n} delivered documents in Azurite (3-line orders, a customer each); peak RSS above the bare "
          f"interpreter with the modules imported ({bare / 1024:.0f} MiB)")
    for mode in modes[1:]:
        r = results[mode]
        rate = r["count"] / r["seconds"] if r["seconds"] else 0
        print(f"  {mode:24} {r['count']:>7} docs  {r['seconds']:7.2f} s  {rate:8.0f} docs/s  "
              f"{r['bytes'] / 1e6:7.1f} MB out  peak +{(r['maxrss_kib'] - bare) / 1024:6.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
