"""The workspace's demo organisation: an accounting firm with three clients in different states.

One healthy on the accounting system (its vouchers delivered, its connection test green), one whose vouchers are
blocked (they book on account 3999, which the system's chart lacks), one not yet connected. `bilagsbro demo` and
the browser tests (tests/browser) both build it with `seed`, sending the documents over HTTP as a vendor would.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

FIRM = "Regnskapsbyrået Ærlig & Co AS"
OWNER = "regnskap@aerlig.example"
BLOCKED_VOUCHER = {
    "type": "voucher", "reference": "kafe-2026-11-20", "date": "2026-11-20",
    "description": "Dagsoppgjør Kafé Blåbær – Ålesund", "currency": "NOK",
    "lines": [
        {"account": "1920", "amount": "1234.50", "description": "Bankterminal"},
        {"account": "3999", "amount": "-987.60", "vat_code": "3", "vat_amount": "-197.52",
         "description": "Salg, annet (konto 3999)"},
        {"account": "3000", "amount": "-246.90", "vat_code": "3", "vat_amount": "-49.38",
         "description": "Salg kaffe og bløtkake"},
    ],
}


@dataclass(frozen=True)
class DemoWorkspace:
    org: str
    healthy: str  # tenant ids
    blocked: str
    unconnected: str
    owner: str  # e-mail of the organisation's owner
    password: str
    documents: dict[str, list[str]]  # tenant → ids of the documents sent


def _send(base: str, key: str, body: Any, timeout: float) -> list[str]:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        answer = client.post("/api/v1/documents", json=body)
        answer.raise_for_status()
        ids = [d["id"] for d in answer.json().get("documents", [])]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [client.get(f"/api/v1/documents/{i}").json().get("status") for i in ids]
            if all(s in ("delivered", "blocked", "rejected", "failed") for s in states):
                break
            time.sleep(0.3)
    return ids


def seed(stores: Any, connectors: Any, base: str, system: Any, *, target: str = "tripletex",
         healthy: str | None = None, healthy_documents: list[str] | None = None, timeout: float = 90.0,
         password: str | None = None) -> DemoWorkspace:
    """The firm, its three clients and its owner (password given, or a new random one). `healthy` names a tenant
    already connected and delivered to (the demo's shop); without it one is made and sent the sample documents."""
    import json
    from pathlib import Path

    from pipeline.records.connections import change, check
    from pipeline.records.tenants import TenantRegistry
    from workspace.identity import Directory

    registry = TenantRegistry(stores.tables)
    directory = Directory(stores.tables)
    settings, credentials = system.connection()
    sent: dict[str, list[str]] = {}
    if healthy is None:
        shop = registry.add("Bakeriet på Røa AS", organization_number="999999999")
        change(stores, connectors, shop.id, target, settings=settings, credentials=credentials)
        samples = json.loads((Path(__file__).parent / "samples" / "documents.json").read_text("utf-8"))
        sent[shop.id] = _send(base, registry.issue_key(shop.id), samples[:2], timeout)
        healthy = shop.id
    else:
        sent[healthy] = list(healthy_documents or [])
    cafe = registry.add("Kafé Blåbær AS", organization_number="974760673")
    change(stores, connectors, cafe.id, target, settings=settings, credentials=credentials)
    sent[cafe.id] = _send(base, registry.issue_key(cafe.id, label="Kassesystem"), [BLOCKED_VOUCHER], timeout)
    fresh = registry.add("Fiskehandel Øst AS")
    org = directory.add_organisation(FIRM)
    for tenant in (healthy, cafe.id, fresh.id):
        directory.attach_client(org.id, tenant)
    for tenant in (healthy, cafe.id):
        directory.store_check(tenant, check(stores, connectors, registry.get(tenant)))
    password = password or secrets.token_urlsafe(12)
    directory.add_user(org.id, OWNER, name="Åse Ærlig", password=password, org_owner=True)
    return DemoWorkspace(org.id, healthy, cafe.id, fresh.id, OWNER, password, sent)
