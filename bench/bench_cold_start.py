"""Cold start: how long a fresh interpreter takes from nothing to the end of each trigger's first invocation.

What a cold Functions worker pays before it answers its first event: `import function_app` (and indexing its
functions, as the worker does), then the first call of the trigger — building the stores, importing what
that call needs, reading and writing Azure Storage (Azurite here, in memory). Each trigger is measured in
fresh interpreters (RUNS of them; median and fastest shown), with the input a real host would hand it: an
HTTP request, a queue message the pipeline itself made, a blob, a timer tick. The second call in the same
interpreter (warm) is shown beside it. Target: first invocation ≤ 1.0 s, import included.

The interpreter has what the Function App has: packages installed here for tests and development only (not
in requirements.txt or required by what is) cannot be imported in it, as they are not deployed.

Usage: python bench/bench_cold_start.py [--runs 5] [--only adapt,deliver]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 1.0

CHILD = r"""
import json, sys, time
started = time.perf_counter()
spec = json.loads(sys.argv[1])


class Refused:
    # What the Function App does not install (only requirements.txt is deployed): an optional import of one
    # (httpx tries its command line's click and rich) fails here as it would there.
    refused = set(spec["refused"])
    tried = set()

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in self.refused:
            self.tried.add(top)
            raise ModuleNotFoundError(f"{top} is not deployed", name=name)
        return None


sys.meta_path.insert(0, Refused())
import function_app
import azure.functions as func
function_app.app.get_functions()  # the worker indexes the app once it is imported
imported = time.perf_counter()


class Out(func.Out):
    def __init__(self):
        self.value = None

    def set(self, value):
        self.value = value

    def get(self):
        return self.value


def trigger(spec):
    kind = spec["kind"]
    if kind == "http":
        return {"req": func.HttpRequest(spec["method"], "http://localhost:7071/api/" + spec["route"],
                                        headers=spec.get("headers", {}), params=spec.get("params", {}),
                                        route_params=spec.get("route_params", {}),
                                        body=spec.get("body", "").encode("utf-8"))}
    if kind == "queue":
        from azure.functions.queue import QueueMessage
        return {"msg": QueueMessage(id="m1", body=spec["body"].encode("utf-8"), dequeue_count=1)}
    if kind == "timer":
        from azure.functions.timer import TimerRequest
        return {"timer": TimerRequest(past_due=False)}
    if kind == "blob":
        from azure.functions.blob import InputStream
        data = spec["body"].encode("utf-8")
        return {"drop": InputStream(data=data, name=spec["name"], length=len(data))}
    raise ValueError(kind)


def call(spec):
    kwargs = trigger(spec)
    kwargs.update({name: Out() for name in spec.get("outputs", [])})
    result = getattr(function_app, spec["function"])(**kwargs)
    status = getattr(result, "status_code", None)
    if status is not None and status >= 400:
        raise SystemExit(f"{spec['function']} answered {status}: {result.get_body()[:300]!r}")


call(spec)
first = time.perf_counter()
call(spec.get("again", spec))
second = time.perf_counter()
print(json.dumps({"import": imported - started, "first": first - imported, "second": second - first,
                  "refused": sorted(Refused.tried)}))
"""


def deployed(root: Path) -> set[str]:
    """The distributions the Function App has: requirements.txt and what they require, transitively."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    todo = [Requirement(line.split("#")[0].strip()).name
            for line in (root / "requirements.txt").read_text("utf-8").splitlines() if line.split("#")[0].strip()]
    seen: set[str] = set()
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def refused(root: Path) -> list[str]:
    """Top-level modules of what is installed here but not deployed (test and development tools)."""
    from importlib import metadata

    from packaging.utils import canonicalize_name

    keep = deployed(root) | {"bilagsbro", "pip", "setuptools"}  # and what any Python installation has
    return sorted(top for top, dists in metadata.packages_distributions().items()
                  if not top.startswith("_") and all(canonicalize_name(d) not in keep for d in dists))


def prepare(conn: str, data: Path, runs: int) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """A tenant, its keys, and for each trigger and run the input its first and second call get — fresh for
    every run (a queue message is taken once), made with the pipeline itself."""
    import connectors
    from api import http as api_http
    from api import vendor as api
    from bilagsbro.stack import prepare as create_storage
    from bilagsbro.stack import settings_for, stores_for
    from pipeline import stages  # stages.run: what the trigger functions call
    from pipeline.records.names import QUEUE_RECEIVED, QUEUE_TRANSLATED
    from pipeline.records.tenants import TenantRegistry

    create_storage(conn)
    stores = stores_for(conn, data)
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Kaldstart AS")
    key = registry.issue_key(tenant.id)
    admin = registry.issue_key(None, role="admin")
    conns = connectors.registry()
    auth = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    admin_auth = {"authorization": f"Bearer {admin}", "content-type": "application/json"}
    count = iter(range(1_000_000))

    def voucher() -> dict[str, Any]:
        return {"type": "voucher", "reference": f"k-{next(count)}", "date": "2026-11-20",
                "description": "Kaldstart på Røros",
                "lines": [{"account": "1920", "amount": "100.00"}, {"account": "3000", "amount": "-100.00",
                                                                     "vat_code": "3"}]}

    def posted() -> api_http.Response:
        return api.post_documents(stores, conns, api_http.Request("POST", {}, {}, auth, json.dumps([voucher()]).encode(),
                                                             ""))

    def translated() -> str:
        return str(posted().messages[QUEUE_TRANSLATED][0])

    def adapted() -> str:
        return stages.run("adapt", stores, conns, translated())[0]

    def file() -> str:
        request = api_http.Request("POST", {}, {"format": "shared-form", "name": "dag.json"}, auth,
                              json.dumps([voucher()]).encode(), "")
        return str(api.post_file(stores, conns, request).messages[QUEUE_RECEIVED][0])

    document = posted().body["documents"][0]["id"]

    def queue(function: str, make: Any, outputs: list[str]) -> list[dict[str, Any]]:
        return [{"function": function, "kind": "queue", "body": make(), "outputs": outputs,
                 "again": {"function": function, "kind": "queue", "body": make(), "outputs": outputs}}
                for _ in range(runs)]

    def same(spec: dict[str, Any]) -> list[dict[str, Any]]:
        return [spec] * runs

    return {
        "receive_documents": same({"function": "receive_documents", "kind": "http", "method": "POST",
                                   "route": "v1/documents", "headers": auth, "body": json.dumps([voucher()]),
                                   "outputs": ["translated"]}),
        "document_status": same({"function": "document_status", "kind": "http", "method": "GET",
                                 "route": f"v1/documents/{document}", "headers": auth,
                                 "route_params": {"id": document}}),
        "receive_file": same({"function": "receive_file", "kind": "http", "method": "POST", "route": "v1/files",
                              "headers": auth, "params": {"format": "shared-form", "name": "dag.json"},
                              "body": json.dumps([voucher()]), "outputs": ["received"]}),
        "tenant_create": same({"function": "tenant_create", "kind": "http", "method": "POST",
                               "route": "v1/admin/tenants", "headers": admin_auth,
                               "body": json.dumps({"name": "Ny kunde AS"})}),
        "translate": queue("translate", file, ["out"]),
        "adapt": queue("adapt", translated, ["out"]),
        "deliver": queue("deliver", adapted, []),
        "receive_drop": same({"function": "receive_drop", "kind": "blob", "body": json.dumps([voucher()]),
                              "name": f"sftp/{tenant.id}/inbound/shared-form/dag.json", "outputs": ["received"]}),
        "sweep": same({"function": "sweep", "kind": "timer"}),
        "pull_orders": same({"function": "pull_orders", "kind": "timer"}),
    }, settings_for(conn, data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated function names")
    args = parser.parse_args()
    from bilagsbro.azurite import start_azurite

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"{args.runs} fresh interpreters per trigger; Azurite in memory")
    with start_azurite(in_memory=True) as azurite, tempfile.TemporaryDirectory() as tmp:
        specs, settings = prepare(azurite.connection_string, Path(tmp), args.runs)
        blocked = refused(ROOT)
        env = {**os.environ, **settings, "PYTHONPATH": str(ROOT)}
        only = {n for n in args.only.split(",") if n}
        print(f"{'trigger':<18} {'import':>8} {'1st call':>9} {'total':>8} {'fastest':>8} {'2nd call':>9}   target ≤ "
              f"{TARGET_SECONDS * 1000:.0f} ms")
        worst = 0.0
        all_runs: list[dict[str, Any]] = []
        for function, inputs in specs.items():
            if only and function not in only:
                continue
            runs = []
            for spec in inputs:
                out = subprocess.run([sys.executable, "-c", CHILD, json.dumps({**spec, "refused": blocked})], cwd=ROOT,
                                     env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    raise SystemExit(f"{function} failed:\n{out.stderr[-3000:]}{out.stdout[-500:]}")
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            all_runs.extend(runs)
            total = [r["import"] + r["first"] for r in runs]
            median = statistics.median(total)
            worst = max(worst, median)
            print(f"{function:<18} {statistics.median(r['import'] for r in runs) * 1000:>6.0f}ms "
                  f"{statistics.median(r['first'] for r in runs) * 1000:>7.0f}ms {median * 1000:>6.0f}ms "
                  f"{min(total) * 1000:>6.0f}ms {statistics.median(r['second'] for r in runs) * 1000:>7.0f}ms"
                  f"   {'ok' if median <= TARGET_SECONDS else 'over'}")
        tried = sorted({name for r in all_runs for name in r["refused"]})
        print(f"as deployed: {len(blocked)} development packages are not importable "
              f"(tried and refused: {', '.join(tried) or 'none'})")
        print(f"slowest first invocation (median, import included): {worst * 1000:.0f} ms "
              f"(target ≤ {TARGET_SECONDS * 1000:.0f} ms); load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
