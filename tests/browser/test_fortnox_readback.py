"""Fortnox's books read back, end to end: the customer consents through the onboarding link in a real browser, the
backfill reads two fiscal years through the local host's queue, the balances equal Fortnox's own, a voucher booked
in Fortnox afterwards appears after the next timer run, and its PDF downloads over the API."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from pipeline.tenants import TenantRegistry
from sandboxes.fortnox import FortnoxSandbox
from sandboxes.fortnox.ledger import FortnoxLedger
from sandboxes.ledger_seed import Row, SeededBooks
from tests.browser.test_fortnox_consent import _link


@pytest.fixture
def fortnox() -> Iterator[FortnoxSandbox]:
    with FortnoxSandbox(refresh_token=None, rate_limit=None) as sandbox:
        sandbox.company.ledger = FortnoxLedger(SeededBooks(seed="consent", postings_per_year=1_000,
                                                           documents_per_year=10, years=(2025, 2026)))
        yield sandbox


def _sync_done(client: httpx.Client, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get("/api/v1/ledger/sync").json()
        if state["status"] != "running":
            return state  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"no end to the sync: {state}")


def test_consent_backfill_check_timer_and_pdf(stack: Any, page: Any, fortnox: FortnoxSandbox) -> None:
    tenant_id, url = _link(stack, fortnox, "Lesebok på Røa AS")
    page.goto(url)
    page.check("#direct_posting")
    page.click("#go")
    assert "archive" in page.locator("li").all_inner_texts()  # the documents need the archive scope
    page.click("text=Godkänn & aktivera")
    page.wait_for_url("**/api/onboarding/fortnox/callback**")
    assert page.locator("h1").inner_text() == "Fortnox er koblet til"

    key = TenantRegistry(stack.stores.tables).issue_key(tenant_id)
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        assert client.put("/api/v1/ledger/source", json={"source": "fortnox"}).status_code == 200
        assert client.post("/api/v1/ledger/sync").status_code == 202  # the current and earlier fiscal years
        done = _sync_done(client)
        assert done["status"] == "done", done
        assert done["years"] == ["2025-01-01..2025-12-31", "2026-01-01..2026-12-31"]  # all Fortnox has, ≤ today
        # 20 documents attached to vouchers, and the 2 waiting in Fortnox's inbox
        assert done["postings"] == 2_000 and done["documents"] == 22 and done["mismatch_count"] == 0
        inbox = client.get("/api/v1/ledger/inbox").json()["documents"]
        assert sorted((d["folder"], d["file_name"], d["voucher"]) for d in inbox) == [
            ("Kvitton & utlägg", "Kvittering Røros Kaffebrenneri.pdf", None),
            ("Leverantörsfakturor", "Faktura Høvding Engros 2026-118.pdf", None)]
        receipt = next(d for d in inbox if d["folder"] == "Kvitton & utlägg")
        got = client.get(f"/api/v1/ledger/documents/{receipt['id']}")
        assert got.status_code == 200 and got.content.startswith(b"%PDF-") and len(got.content) == receipt["size"]
        assert "filename*=UTF-8''Kvittering%20R%C3%B8ros%20Kaffebrenneri.pdf" in got.headers["content-disposition"]
        yearly = [b for b in client.get("/api/v1/ledger/balances").json()["balances"] if ".." in b["period"]]
        assert len(yearly) > 10 and all(b["matches"] is True for b in yearly)  # Fortnox's own carried − brought

        today = dt.date.today()
        booked = today if today.year == 2026 else dt.date(2026, 12, 1)
        added = fortnox.company.ledger.books.add(booked, "Kaffemaskin till fikarummet",
                                                 [Row("6800", Decimal("4000.00")), Row("2710", Decimal("1000.00")),
                                                  Row("1920", Decimal("-5000.00"))], document=True)
        ledger = fortnox.company.ledger
        invoice_id = next(i for i, (folder, _, _) in ledger.inbox_files.items() if folder == "inbox_s")
        ledger.book_inbox_file(invoice_id)  # the supplier invoice was booked in Fortnox: it left the inbox
        ledger.add_inbox_file("inbox_ku", "Taxi Trondheim–Værnes.pdf", b"%PDF-1.4 taxi")
        stack.invoke_timer("ledger_refresh")
        inbox = client.get("/api/v1/ledger/inbox").json()["documents"]
        assert sorted(d["file_name"] for d in inbox) == ["Kvittering Røros Kaffebrenneri.pdf", "Taxi Trondheim–Værnes.pdf"]
        rows = client.get("/api/v1/ledger/transactions", params={
            "from": booked.isoformat(), "to": booked.isoformat(), "voucher": f"A-{added.number}"}).json()["transactions"]
        assert [r["amount"] for r in rows] == ["4000.00", "1000.00", "-5000.00"]
        pdf = client.get(f"/api/v1/ledger/documents/{rows[0]['document']}")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
