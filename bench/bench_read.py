"""Reading a year of books back: postings read per second and HTTP requests per 1,000 postings, for each source.

A small company's year — 20,000 postings, 300 documents (sandboxes/ledger_seed.py) — from each source:

- **tripletex**: its sandbox over loopback, `/ledger/posting` a month at a time (pages of 1,000);
- **fortnox**: its sandbox, the year's SIE 4 export (`/3/sie/4`) in one request;
- **sie4**: the same books as an uploaded SIE 4 file in Blob Storage.

For each, in the same run: (1) **the source alone** — `postings()` over the year, nothing stored: postings/s, HTTP
requests per 1,000 postings (counted by the sandbox), beside the floor for that source: the same HTTP pages fetched
and `json.loads`-ed (Tripletex), the same export fetched and split into tokens line by line (Fortnox, SIE); (2)
**the whole backfill** into Azurite (in memory, started here) through `pipeline.readback.sync` — postings,
balances, documents and the check — postings/s beside Azurite's own floor: entity-group transactions of 100
entities per second, times 100 ÷ 2 (each posting is written to two tables), measured on this Azurite just before.

Usage: python bench/bench_read.py [--postings 20000] [--documents 300] [--sources tripletex,fortnox,sie4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
YEAR = 2025


def _tripletex(books: Any) -> tuple[Any, Any, Any]:
    from connectors.ledgers.tripletex import TripletexLedger
    from connectors.targets.tripletex.target import TripletexTarget
    from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
    from pipeline.ports import TargetContext
    from sandboxes.tripletex import TripletexSandbox

    box = TripletexSandbox().start()
    box.ledger.books = books
    context = TargetContext(tenant="bench", settings={
        "base_url": box.base_url, "timeout": 30, "secrets": {"consumer_token": "c", "employee_token": "e"}},
        secrets=MemorySecrets({"c": box.consumer_token, "e": box.employee_token}), blobs=MemoryBlobs(),
        exchanges=MemoryExchanges(), tables=MemoryTables())
    return box, TripletexLedger(TripletexTarget(context)), lambda: sum(box.requests.values())


def _fortnox(books: Any) -> tuple[Any, Any, Any]:
    from connectors.ledgers.fortnox import FortnoxLedger
    from connectors.targets.fortnox.target import FortnoxTarget
    from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
    from pipeline.ports import TargetContext
    from sandboxes.fortnox import FortnoxSandbox
    from sandboxes.fortnox.ledger import FortnoxLedger as Books

    box = FortnoxSandbox(rate_limit=None).start()  # Fortnox's 25 per 5 s would measure Fortnox, not us
    box.company.ledger = Books(books)
    context = TargetContext(tenant="bench", settings={
        "base_url": box.base_url, "token_url": box.token_url, "auth_url": box.auth_url, "client_id": box.client_id,
        "timeout": 30, "direct_posting": True, "secrets": {"refresh_token": "r", "client_secret": "s"}},
        secrets=MemorySecrets({"r": next(iter(box.refresh_tokens)), "s": box.clients[box.client_id]}),
        blobs=MemoryBlobs(), exchanges=MemoryExchanges(), tables=MemoryTables())
    return box, FortnoxLedger(FortnoxTarget(context)), box.total


def _floor_tripletex(box: Any) -> tuple[float, int]:
    """The same monthly pages fetched with one session and `json.loads`-ed: (seconds, postings)."""
    import httpx

    from connectors.ledgers.tripletex import POSTING_FIELDS

    with httpx.Client(base_url=box.base_url + "/", timeout=30) as client:
        token = client.put("token/session/:create", params={
            "consumerToken": box.consumer_token, "employeeToken": box.employee_token,
            "expirationDate": "2030-01-01"}).json()["value"]["token"]
        client.auth = ("0", token)
        started, count = time.perf_counter(), 0
        for month in range(1, 13):
            start = dt.date(YEAR, month, 1)
            end = (start + dt.timedelta(days=32)).replace(day=1)
            offset = 0
            while True:
                page = json.loads(client.get("ledger/posting", params={
                    "dateFrom": start.isoformat(), "dateTo": end.isoformat(), "from": offset, "count": 1000,
                    "fields": POSTING_FIELDS}).content)
                count += len(page["values"])
                offset += len(page["values"])
                if not page["values"] or offset >= page["fullResultSize"]:
                    break
        return time.perf_counter() - started, count


def _floor_sie(data: bytes) -> tuple[float, int]:
    """The export split into tokens, line by line (what any SIE reader must do): (seconds, #TRANS rows)."""
    import shlex

    started, count = time.perf_counter(), 0
    for line in data.decode("cp865").splitlines():
        if line.lstrip().startswith("#TRANS"):
            shlex.split(line.replace("{", " ").replace("}", " "), posix=False)
            count += 1
    return time.perf_counter() - started, count


def _floor_fortnox(box: Any) -> tuple[float, int]:
    import httpx

    box.refresh_tokens["bench-floor"] = set(next(iter(box.refresh_tokens.values())))  # its own: tokens are single use
    started = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        token = client.post(box.token_url, auth=(box.client_id, box.clients[box.client_id]),
                            data={"grant_type": "refresh_token", "refresh_token": "bench-floor"}).json()["access_token"]
        data = client.get(f"{box.base_url}/sie/4", params={"financialyear": 1},
                          headers={"Authorization": f"Bearer {token}"}).content
    fetched = time.perf_counter() - started
    seconds, count = _floor_sie(data)
    return fetched + seconds, count


def _azurite_floor(stores: Any) -> float:
    """Postings/s Azurite could take: entity-group transactions of 100 per second × 100 ÷ 2 tables."""
    from pipeline.records.names import TABLE_GL_BY_DATE

    partition = f"floor-{uuid.uuid4().hex[:8]}"
    started, batches = time.perf_counter(), 0
    while time.perf_counter() - started < 3.0:
        stores.tables.transact(TABLE_GL_BY_DATE, [("upsert", {"PartitionKey": partition, "RowKey": f"{batches:06d}{i:03d}",
                                                              "Amount": "125.00", "Account": "1920", "Text": "Blåbær"})
                                                  for i in range(100)])
        batches += 1
    return batches * 100 / 2 / (time.perf_counter() - started)


def _backfill(stores: Any, source: Any) -> tuple[float, dict[str, Any]]:
    from pipeline.readback import sync

    tenant = f"bench-{uuid.uuid4().hex[:6]}"
    opener = lambda *args: source  # noqa: E731
    sync.choose(stores, tenant, "main", source.name, {}, known={source.name: None})
    started = time.perf_counter()
    _, message = sync.start(stores, opener, tenant, "main", start=dt.date(YEAR, 1, 1), end=dt.date(YEAR, 12, 31))
    following: str | None = message
    while following:
        following = sync.step(stores, opener, following)
    seconds = time.perf_counter() - started
    state = sync.read_state(stores, tenant, "main")
    assert state is not None
    return seconds, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postings", type=int, default=20_000)
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--sources", default="tripletex,fortnox,sie4")
    args = parser.parse_args()

    from bilagsbro.azurite import start_azurite
    from bilagsbro.stack import prepare, stores_for
    from connectors.ledgers.files import SieLedger
    from pipeline.records.names import CONTAINER_GL
    from sandboxes.ledger_seed import SeededBooks
    from sandboxes.sie_export import export

    print(f"bench_read: a year of {args.postings:,} postings and {args.documents} documents per source; "
          f"load {os.getloadavg()[0]:.1f}")
    with start_azurite(in_memory=True) as azurite:
        prepare(azurite.connection_string)
        stores = stores_for(azurite.connection_string, Path(tempfile.mkdtemp(prefix="bench-read-")))
        azurite_floor = _azurite_floor(stores)
        print(f"  floor: Azurite takes {azurite_floor:,.0f} postings/s (transactions of 100, two tables)")
        for name in args.sources.split(","):
            books = SeededBooks(seed="bench", postings_per_year=args.postings, documents_per_year=args.documents,
                                years=(YEAR,))
            box: Any = None
            if name == "tripletex":
                box, source, requests = _tripletex(books)
                floor_seconds, floor_count = _floor_tripletex(box)
            elif name == "fortnox":
                box, source, requests = _fortnox(books)
                floor_seconds, floor_count = _floor_fortnox(box)
            else:
                data = export(books, [YEAR], currency="NOK")
                path = f"bench/main/files/{uuid.uuid4().hex}.se"
                stores.blobs.put(CONTAINER_GL, path, data)
                source, requests = SieLedger(stores.blobs, path), (lambda: 0)
                floor_seconds, floor_count = _floor_sie(data)
            before = requests()
            started = time.perf_counter()
            count = sum(1 for _ in source.postings(dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)))
            alone = time.perf_counter() - started
            made = requests() - before
            per_thousand = made / count * 1000 if count else 0.0
            print(f"  {name}: source alone {count / alone:,.0f} postings/s ({count:,} in {alone:.2f} s), "
                  f"{per_thousand:.2f} HTTP requests per 1,000 postings; floor (same bytes, parse only) "
                  f"{floor_count / floor_seconds:,.0f} postings/s — ours ÷ floor {count / alone / (floor_count / floor_seconds):.2f}")
            before = requests()
            seconds, state = _backfill(stores, source)
            made = requests() - before
            print(f"    backfill into Azurite: {state['postings'] / seconds:,.0f} postings/s ({state['postings']:,} "
                  f"postings, {state['documents']} documents, {state['slices']} slices in {seconds:.1f} s; "
                  f"{made / state['postings'] * 1000:.2f} HTTP requests per 1,000 postings with documents and checks; "
                  f"mismatches {state['mismatch_count']}) beside Azurite's {azurite_floor:,.0f} — "
                  f"{state['postings'] / seconds / azurite_floor:.2f} of the floor")
            if box is not None:
                box.stop()


if __name__ == "__main__":
    main()
