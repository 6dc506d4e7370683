"""Every sandbox the demo and the target bench can start connects, takes the demo's vouchers once, and counts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import connectors
from pipeline.connections import change
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.shared_form import DOCUMENT
from pipeline.tenants import TenantRegistry
from sandboxes.registry import SANDBOXES

SAMPLE = Path(__file__).resolve().parents[1] / "bilagsbro" / "samples" / "documents.json"


def test_every_sandbox_is_an_accounting_system_in_the_registry():
    assert "tripletex" in SANDBOXES
    assert set(SANDBOXES) <= set(connectors.TARGETS)


def start(name):
    """The sandbox running; one that serves an official spec (Finago Office's WSDLs) needs ../shared/specs, and
    without it the test skips, saying so — except in CI, where the specs must be there."""
    try:
        return SANDBOXES[name]()
    except FileNotFoundError as exc:
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip(f"{name}'s sandbox cannot start: {exc}")


@pytest.mark.parametrize("name", sorted(SANDBOXES))
def test_the_demo_shop_connects_and_its_sample_vouchers_land_once_with_their_letters(name):
    running = start(name)
    try:
        stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
        tenant = TenantRegistry(stores.tables).add("Demo Butikk Ærø AS", organization_number="999999999")
        settings, credentials = running.connection()
        connection = change(stores, connectors.registry(), tenant.id, name, settings=settings, credentials=credentials)
        assert connection.activated, connection.check
        before = running.requests()
        tenant = TenantRegistry(stores.tables).get(tenant.id)
        target = connectors.registry().target_for(stores, tenant, "d-demo")
        documents = [DOCUMENT.validate_python(d) for d in json.loads(SAMPLE.read_text("utf-8"))]
        assert target.preflight(documents) == []
        for document in documents * 2:  # the second round finds each in the ledger: nothing twice
            deliver_once(stores.tables, target, document, tenant=tenant.id, target_name=name,
                         document_id=f"d-{document.reference}")
        posted = running.posted()
        assert sorted(p.reference for p in posted) == sorted(d.reference for d in documents)
        # Drafts first where the system has them; a system without (Fiken) is connected only opted in to posting.
        assert all(p.draft for p in posted) is connectors.CONNECTORS[name].accepts.drafts.available
        assert "Ø" in " ".join(p.text for p in posted)
        assert running.requests() > before
    finally:
        running.stop()
