"""Delivery to PowerOffice GO (its sandbox over HTTP) through the whole local stack on Azurite: drafts found again
through the sent record in real Table Storage after faults, so every voucher lands exactly once."""

from __future__ import annotations

import time

import httpx
import pytest

from pipeline.connections import connect
from pipeline.tenants import TenantRegistry
from sandboxes.poweroffice_go import PowerOfficeSandbox
from tests.poweroffice_go.support import stored

pytestmark = pytest.mark.e2e


@pytest.fixture
def shop(stack):
    with PowerOfficeSandbox(rate_limit=1000) as go:
        registry = TenantRegistry(stack.stores.tables)
        tenant = registry.add("Sykkelbua på Røros AS")
        connect(registry, stack.stores.secrets, tenant.id, "poweroffice-go",
                settings={"base_url": go.base_url, "timeout": 2},
                credentials={"application_key": go.application_key, "client_key": go.client_key,
                             "subscription_key": go.subscription_key},
                required=("application_key", "client_key", "subscription_key"))
        with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"},
                          timeout=30) as client:
            yield go, client


def send(client, reference):
    document = {"type": "voucher", "reference": reference, "date": "2026-11-20", "description": "Salg på Røros – æøå",
                "lines": [{"account": "1920", "amount": "500.00"},
                          {"account": "3000", "amount": "-500.00", "vat_code": "3", "dimensions": {"department": "1"}}]}
    response = client.post("/api/v1/documents", json=document)
    assert response.status_code == 202, response.text
    return response.json()["documents"][0]["id"]


def wait(client, document_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/documents/{document_id}").json()
        if body["status"] in ("delivered", "blocked", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(body)


@pytest.mark.parametrize("fault", ["commit_then_500", "timeout", "429", "503"])
def test_faults_end_with_every_draft_in_poweroffice_go_exactly_once(shop, fault):
    go, client = shop
    go.faults.timeout_seconds = 3  # past the connector's read timeout (2 s for this tenant)
    go.faults.add(r"^/JournalEntryVouchers/ManualJournals$", "POST", fault, times=1)
    references = [f"go-feil-{fault}-{i}-æøå" for i in range(3)]
    ids = [send(client, reference) for reference in references] + [send(client, references[0])]
    bodies = [wait(client, document_id) for document_id in ids]
    assert {b["status"] for b in bodies} == {"delivered"}, bodies
    assert sorted(s.reference for s in stored(go)) == sorted(references)
    assert all(s.draft for s in stored(go)) and go.faults.fired
