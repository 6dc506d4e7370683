"""Documents per second through the whole local stack beside Azurite's own rate, and storage operations per
document per stage, all measured in one run: for this checkout and (`--compare DIR`) another one.

Each checkout is measured in a child process of its own (its own imports, its own Azurite, in memory):

1. **the floor** — the most Azurite serves this process through the Azure SDK (WORKERS or 4 × WORKERS
   threads at once, the better): single operations (blob PUT and GET, table insert, point read and merge,
   queue send, receive and delete) and entity-group transactions of 34 and of 100 entities; taken before
   and after the stack, and averaged (the machine's load moves);
2. **the stack** — the local host running that checkout's function_app.py with at most WORKERS function
   invocations at once, N vouchers posted over HTTP in requests of 100 by WORKERS clients, until every one
   is delivered to the file target and the host is idle. Every request the Azure SDK sends is counted and
   put down to the function it ran for (queue polling, the sweeper and the host's own emulation of Event
   Grid apart).

`efficiency = documents/s × operations per document ÷ floor operations/s`, where the floor is the rate at
which Azurite would serve exactly the stack's mix of operations (each kind at its own measured rate; a
transaction at the rate of its size, between those of 34 and 100 entities). 1.0 means the stack keeps
Azurite as busy as Azurite can be kept; what is left is time spent in Python between storage calls.

Usage: python bench/bench_stack.py [-n 1000] [--workers 8] [--compare DIR [--rounds 2]]
(DIR: another checkout, e.g. `git archive <commit> | tar -x -C DIR` with its node_modules linked in.)
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FLOOR_SECONDS = 1.0  # each kind of operation is timed this long, at each of two concurrencies
BATCH_SIZES = (34, 100)  # a 32-document envelope's transaction (trace rows, its end, the next one), and the most

STAGES = {  # function → the stage it belongs to
    "receive_documents": "intake", "receive_file": "intake", "receive_drop": "intake", "pull_orders": "intake",
    "translate": "translate", "adapt": "adapt", "deliver": "deliver", "sweep": "sweeper",
}
PIPELINE = ("intake", "translate", "adapt", "deliver", "queue polling", "sweeper")


def voucher(i: int) -> dict[str, Any]:
    return {"type": "voucher", "reference": f"bench-{i:06d}", "date": "2026-11-20",
            "description": f"Dagsoppgjør {i} æøå",
            "lines": [{"account": "1920", "amount": "1250.00"},
                      {"account": "3000", "amount": "-1250.00", "vat_code": "3"}]}


# -- counting ------------------------------------------------------------------------------------------


class Counter:
    """Every request the Azure SDK sends, by stage and kind; a batch also by its number of entities."""

    def __init__(self) -> None:
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.batch_entities: collections.Counter[str] = collections.Counter()  # stage → entities in its batches
        self.on = False
        self.label = threading.local()
        self.lock = threading.Lock()

    def stage(self) -> str:
        label = getattr(self.label, "stage", None)
        if label:
            return STAGES.get(label, label)
        name = threading.current_thread().name
        if name.startswith("bilagsbro-deliver"):  # the deliver stage's documents, delivered side by side
            return "deliver"
        if name.startswith("bilagsbro-send"):  # a pull's envelopes, sent side by side
            return "intake"
        if name.startswith("localhost-queue-"):
            return "queue polling"
        if name.startswith("localhost-blob-scan") or name.startswith("localhost-visibility"):
            return "host emulation"
        if name.startswith("bilagsbro-leases"):
            return "leases"
        return "bench"  # this script's own calls (waiting for the host): not the stack's

    def count(self, request: Any, ports: dict[str, str]) -> None:
        if not self.on:
            return
        url = request.url
        service = next((s for s, port in ports.items() if f":{port}/" in url), "other")
        kind = _kind(service, request.method, url)
        stage = self.stage()
        with self.lock:
            self.counts[(stage, kind)] += 1
            if kind == "table batch":
                body = request.body if isinstance(request.body, (bytes, bytearray)) else b""
                self.batch_entities[stage] += body.count(b"application/http")


def _kind(service: str, method: str, url: str) -> str:
    if service == "table":
        if "$batch" in url:
            return "table batch"
        return {"POST": "table insert", "GET": "table get", "DELETE": "table delete"}.get(method, "table update")
    if service == "blob":
        return "blob put" if method == "PUT" else "blob get"
    if service == "queue":
        return {"POST": "queue send", "DELETE": "queue delete", "PUT": "queue update"}.get(method, "queue receive")
    return f"{service} {method}"


# -- the floor -----------------------------------------------------------------------------------------


def rate(workers: int, op: Callable[[int, int], None], seconds: float = FLOOR_SECONDS) -> float:
    """Operations per second Azurite serves to threads doing `op(worker, n)` as fast as they can: the better of
    `workers` and 4 × `workers` threads (more threads in one process can mean more of Azurite, or more of
    the GIL: its own rate is the most it serves)."""
    return max(_rate(workers, op, seconds), _rate(4 * workers, op, seconds, first=workers))


def _rate(workers: int, op: Callable[[int, int], None], seconds: float, first: int = 0) -> float:
    done = [0] * workers
    stop = time.perf_counter() + seconds

    def work(worker: int, slot: int) -> None:
        n = 0
        while time.perf_counter() < stop:
            op(worker, n)
            n += 1
        done[slot] = n

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda i: work(first + i, i), range(workers)))
    return sum(done) / (time.perf_counter() - started)


def floor(connection_string: str, workers: int, name: str = "floor") -> dict[str, float]:
    """Azurite's own rates, kind by kind (see the module docstring), on storage of their own (`name`)."""
    from azure.data.tables import TableServiceClient, UpdateMode
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient

    blobs = BlobServiceClient.from_connection_string(connection_string).get_container_client(name)
    blobs.create_container()
    tables = TableServiceClient.from_connection_string(connection_string)
    table = tables.create_table(name)
    queue = QueueClient.from_connection_string(connection_string, name)
    queue.create_queue()
    body = ("Dagsoppgjør æøå " * 64).encode()  # 1 KB, about what a voucher's JSON is
    text = body.decode()[:1000]
    out: dict[str, float] = {}
    with ThreadPoolExecutor(workers) as pool:  # what the reads and updates below read and update
        list(pool.map(lambda i: blobs.upload_blob(f"kept/{i}", body), range(50)))
        list(pool.map(lambda i: table.create_entity({"PartitionKey": f"kept{i // 50}", "RowKey": f"{i % 50:08d}",
                                                     "Text": text}), range(50 * workers)))
    out["blob put"] = rate(workers, lambda w, n: blobs.upload_blob(f"{w}/{n}", body, overwrite=True))
    out["blob get"] = rate(workers, lambda w, n: blobs.download_blob(f"kept/{n % 50}").readall())
    out["table insert"] = rate(workers, lambda w, n: table.create_entity(
        {"PartitionKey": f"p{w}", "RowKey": f"{n:08d}", "Text": text}))
    out["table get"] = rate(workers, lambda w, n: table.get_entity(f"kept{w % workers}", f"{n % 50:08d}"))
    out["table update"] = rate(workers, lambda w, n: table.update_entity(
        {"PartitionKey": f"kept{w % workers}", "RowKey": f"{n % 50:08d}", "N": n}, mode=UpdateMode.MERGE))
    for size in BATCH_SIZES:
        out[f"table batch {size}"] = rate(workers, lambda w, n, size=size: table.submit_transaction(
            [("upsert", {"PartitionKey": f"b{size}-{w}-{n}", "RowKey": f"{i:03d}", "Text": text}) for i in range(size)]))
    out["queue send"] = rate(workers, lambda w, n: queue.send_message(text))
    out["queue receive"] = rate(workers, lambda w, n: list(queue.receive_messages(messages_per_page=32,
                                                                                 max_messages=32)))
    # Deletes of messages received beforehand, from a queue as short as the stack's (Azurite's delete slows
    # down as its queue grows): 32 per worker, all deleted, timed.
    short = QueueClient.from_connection_string(connection_string, f"{name}-delete")
    short.create_queue()
    deletes = []
    for threads in (workers, 4 * workers):
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda i: short.send_message(text), range(32 * threads)))
        received = [m for _ in range(threads) for m in short.receive_messages(messages_per_page=32, max_messages=32,
                                                                                visibility_timeout=300)]
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(short.delete_message, received))
        deletes.append(len(received) / (time.perf_counter() - started))
    out["queue delete"] = max(deletes)
    out["queue update"] = out["queue send"]
    out["table delete"] = out["table update"]
    return out


def floor_seconds(counts: dict[str, int], batch_entities: int, rates: dict[str, float]) -> float:
    """How long Azurite needs for this mix of operations at its own rates."""
    seconds = 0.0
    for kind, count in counts.items():
        if kind == "table batch":
            small, large = BATCH_SIZES
            mean = batch_entities / count if count else 0
            t_small, t_large = 1 / rates[f"table batch {small}"], 1 / rates[f"table batch {large}"]
            per = t_small + (t_large - t_small) * (mean - small) / (large - small)
            seconds += count * max(per, 0.0)
        else:
            seconds += count / rates.get(kind, rates["table get"])
    return seconds


# -- the stack -----------------------------------------------------------------------------------------


def child(n: int, workers: int) -> dict[str, Any]:
    """Runs in the checkout measured (cwd and PYTHONPATH): the floor, then the stack on a fresh Azurite."""
    import httpx
    from azure.core.pipeline.transport import RequestsTransport

    import bilagsbro
    from bilagsbro import localhost
    from bilagsbro.azurite import start_azurite

    counter = Counter()
    ports: dict[str, str] = {}
    send = RequestsTransport.send

    def counting(self: Any, request: Any, **kwargs: Any) -> Any:
        counter.count(request, ports)
        return send(self, request, **kwargs)

    RequestsTransport.send = counting  # type: ignore[method-assign]

    class Capped(ThreadPoolExecutor):
        """At most `workers` function invocations at once: the host's pool, capped."""

        def __init__(self, max_workers: int | None = None, **kwargs: Any) -> None:
            super().__init__(min(max_workers or workers, workers), **kwargs)

    localhost.ThreadPoolExecutor = Capped  # type: ignore[misc]
    invoke, process = localhost.LocalHost._invoke, localhost.LocalHost._process

    def labelled(function_of: Callable[..., Any], wrapped: Callable[..., Any]) -> Callable[..., Any]:
        def run(self: Any, *args: Any) -> Any:
            before = getattr(counter.label, "stage", None)
            counter.label.stage = function_of(*args)
            try:
                return wrapped(self, *args)
            finally:
                counter.label.stage = before
        return run

    localhost.LocalHost._invoke = labelled(lambda function, *_: function.name, invoke)  # type: ignore[method-assign]
    localhost.LocalHost._process = labelled(lambda watch, *_: watch.function.name, process)  # type: ignore[method-assign]

    load = os.getloadavg()
    with start_azurite(in_memory=True) as azurite:
        conn = azurite.connection_string
        for part in conn.split(";"):
            for service in ("Blob", "Queue", "Table"):
                if part.startswith(f"{service}Endpoint="):
                    ports[service.lower()] = part.split(":")[2].split("/")[0]
        before = floor(conn, workers, "floorbefore")
        os.environ["BILAGSBRO_STORAGE"] = conn
        from bilagsbro.stack import local_stack, stores_for
        from pipeline.records.tenants import TenantRegistry

        data = Path(tempfile.mkdtemp(prefix="bench-stack-"))
        with local_stack(0, data_dir=data, in_memory=True, record=False) as host:
            stores = stores_for(conn, data)
            registry = TenantRegistry(stores.tables)
            tenant = registry.add("Benk AS")
            key = registry.issue_key(tenant.id)
            host.wait_idle(30)
            counter.on = True
            cpu = time.process_time()  # this process: the host's Python (Azurite runs in its own)
            started = time.perf_counter()

            retried: list[int] = []

            def post(start: int) -> None:
                """One request of 100; sent again (as a vendor would) when the host answers 5xx or not at all — the
                references are the same, so the ledger delivers each once."""
                body = [voucher(i) for i in range(start, min(start + 100, n))]
                with httpx.Client(base_url=host.url, headers={"Authorization": f"Bearer {key}"}, timeout=300) as c:
                    for attempt in range(4):
                        try:
                            response = c.post("/api/v1/documents", json=body)
                        except httpx.TransportError:
                            if attempt == 3:
                                raise
                        else:
                            if response.status_code < 500 or attempt == 3:
                                response.raise_for_status()
                                return
                        retried.append(start)

            with ThreadPoolExecutor(workers) as clients:
                list(clients.map(post, range(0, n, 100)))
            accepted = time.perf_counter() - started
            host.wait_idle(timeout=3600)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            counter.on = False
            delivered = sum(1 for _ in stores.blobs.list("deliveries", f"{tenant.id}/"))
        # The machine's load changes while the stack runs: the floor is taken before and after, and averaged.
        after = floor(conn, workers, "floorafter")
    rates = {kind: (before[kind] + after[kind]) / 2 for kind in before}
    by_stage: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for (stage, kind), count in counter.counts.items():
        by_stage[stage][kind] = count
    return {"root": os.getcwd(), "package": str(Path(bilagsbro.__file__).parent), "n": n, "workers": workers,
            "delivered": delivered, "accepted_s": accepted, "elapsed_s": elapsed, "cpu_s": cpu, "rates": rates,
            "retried": len(retried),
            "counts": by_stage, "batch_entities": dict(counter.batch_entities), "floors": [before, after],
            "load": [load, os.getloadavg()]}


def measure(root: Path, n: int, workers: int) -> dict[str, Any]:
    code = f"import sys, json; sys.argv = ['bench_stack']; sys.path.insert(0, {str(ROOT / 'bench')!r}); " \
           f"import bench_stack; print('RESULT ' + json.dumps(bench_stack.child({n}, {workers})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(root)})
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]))
    raise RuntimeError(f"the stack of {root} failed:\n{out.stderr[-4000:]}")


def report(result: dict[str, Any]) -> float:
    n = result["n"]
    rates = result["rates"]
    counts: dict[str, dict[str, int]] = result["counts"]
    pipeline = {stage: kinds for stage, kinds in counts.items() if stage in PIPELINE}
    mix: collections.Counter[str] = collections.Counter()
    for kinds in pipeline.values():
        mix.update(kinds)
    total = sum(mix.values())
    entities = sum(result["batch_entities"].get(stage, 0) for stage in pipeline)
    needs = floor_seconds(dict(mix), entities, rates)
    floor_rate = total / needs if needs else 0.0
    per_second = n / result["elapsed_s"]
    efficiency = per_second * (total / n) / floor_rate if floor_rate else 0.0
    print(f"checkout {result['root']} (package {result['package']})")
    print(f"  load average {result['load'][0][0]:.1f} before, {result['load'][1][0]:.1f} after; "
          f"{os.cpu_count()} cores; {result['workers']} workers")
    print("  floor (Azurite, this process, operations/s; mean of before and after the stack): " + ", ".join(
        f"{kind} {value:.0f} ({b:.0f}/{a:.0f})" for (kind, value), b, a in zip(
            rates.items(), result["floors"][0].values(), result["floors"][1].values(), strict=True)
        if kind not in ("queue update", "table delete")))
    again = f" ({result['retried']} request(s) of 100 sent again after a 5xx)" if result.get("retried") else ""
    print(f"  documents: {n} sent{again}, {result['delivered']} delivered; accepted in {result['accepted_s']:.1f} s, "
          f"all four steps in {result['elapsed_s']:.1f} s → {per_second:.1f} documents/s")
    print(f"  storage operations per document: {total / n:.2f}  (floor for this mix: {floor_rate:.0f} operations/s); "
          f"the host's CPU: {result['cpu_s'] / n * 1000:.1f} ms per document (the bench's HTTP clients included)")
    for stage in PIPELINE:
        kinds = pipeline.get(stage, {})
        if kinds:
            detail = ", ".join(f"{k} {v / n:.2f}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
            print(f"    {stage:<14} {sum(kinds.values()) / n:5.2f}   ({detail})")
    for stage in sorted(set(counts) - set(PIPELINE) - {"bench"}):
        print(f"    not counted: {stage} {sum(counts[stage].values())} operations "
              f"({'the local host emulating Event Grid and renewing visibility' if stage == 'host emulation' else stage})")
    print(f"  efficiency = {per_second:.1f} documents/s × {total / n:.2f} operations per document ÷ {floor_rate:.0f} "
          f"operations/s = {efficiency:.2f}  (target ≥ 0.7)")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--compare", type=Path, action="append", default=[],
                        help="another checkout to measure in the same run (e.g. the code before a change)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure each checkout this many times, taking turns (the machine's load drifts)")
    args = parser.parse_args()
    roots = [ROOT, *args.compare]
    speeds: dict[Path, list[float]] = {root: [] for root in roots}
    for round_ in range(args.rounds):
        for root in roots if round_ % 2 == 0 else list(reversed(roots)):
            if args.rounds > 1:
                print(f"round {round_ + 1}:")
            speeds[root].append(report(measure(root.resolve(), args.n, args.workers)))
    mine = statistics.median(speeds[ROOT])
    for root in args.compare:
        theirs = statistics.median(speeds[root])
        print(f"{ROOT.name}: {mine:.1f} documents/s = {mine / theirs:.1f} × {root}'s {theirs:.1f} in the same run "
              f"(median of {args.rounds} round(s), taking turns; target ≥ 3×)")


if __name__ == "__main__":
    main()
