"""`bilagsbro demo`: the whole product in one command on a fresh machine.

Starts Azurite and the local host, creates a demo tenant, sends the sample documents over HTTP as a
vendor would, and prints each document's four logged steps as the stack delivers them.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

SAMPLES = Path(__file__).parent / "samples"
FINAL = {"delivered", "blocked", "rejected", "failed"}


def run_demo(port: int = 0, timeout: float = 120.0) -> int:
    from bilagsbro.stack import local_stack, stores_for
    from pipeline.tenants import TenantRegistry

    data_dir = Path(tempfile.mkdtemp(prefix="bilagsbro-demo-"))
    with local_stack(port, data_dir=data_dir, in_memory=True, record=False) as host:
        base = f"http://127.0.0.1:{host.port}"
        stores = stores_for(host.settings["BILAGSBRO_STORAGE"], data_dir)
        registry = TenantRegistry(stores.tables)
        tenant = registry.add("Demo Butikk Ærø AS", organization_number="999999999")
        key = registry.issue_key(tenant.id)
        print(f"Local stack on {base}/api   tenant {tenant.id} ({tenant.name}) → target {tenant.target}")
        headers = {"Authorization": f"Bearer {key}"}
        body = (SAMPLES / "documents.json").read_bytes()
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            response = client.post("/api/v1/documents", content=body,
                                   headers={"Content-Type": "application/json"})
            print(f"POST /api/v1/documents → {response.status_code}")
            receipt = response.json()
            for problem in receipt.get("problems", []):
                print(f"  problem: {problem}")
            documents = receipt.get("documents", [])
            statuses = _wait(client, documents, timeout)
        for document in documents:
            status = statuses[document["id"]]
            print(f"\n{document['type']} {document['reference']}  [{status['status']}]  {document['status_url']}")
            for step in status["trace"]:
                print(f"  {step['at'][11:23]}  {step['step']:<11} {_summary(step['detail'])}")
        delivered = sum(1 for s in statuses.values() if s["status"] == "delivered")
        print(f"\n{delivered} of {len(documents)} documents delivered with their four steps logged.")
        return 0 if documents and delivered == len(documents) else 1


def _wait(client: httpx.Client, documents: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    statuses: dict[str, Any] = {}
    while time.monotonic() < deadline:
        for document in documents:
            statuses[document["id"]] = client.get(f"/api/v1/documents/{document['id']}").json()
        if all(s["status"] in FINAL for s in statuses.values()):
            break
        time.sleep(0.3)
    return statuses


def _summary(detail: dict[str, Any]) -> str:
    keep = ("target", "remote_id", "draft", "not_accepted", "format", "problems", "error", "note", "original",
            "shared_form", "adapted", "last_error")
    return json.dumps({k: v for k, v in detail.items() if k in keep}, ensure_ascii=False)[:160]
