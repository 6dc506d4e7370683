"""Reading the books back, end to end on the local stack (Azurite + the local Functions host running function_app.py):
Tripletex through its connection, and SIE 4 for a company without API access — the backfill through the
`ledgersync` queue, the check against the system's own report, the timer, a document downloaded over HTTP.
(Fortnox through the consent link in a real browser: tests/browser/test_fortnox_readback.py.)
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from pipeline.records.connections import connect
from pipeline.records.tenants import TenantRegistry
from sandboxes.ledger_seed import Row, SeededBooks
from sandboxes.sie_export import export
from sandboxes.tripletex import TripletexSandbox


def wait_done(client: httpx.Client, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.get("/api/v1/ledger/sync")
        assert answer.status_code == 200, answer.text
        if answer.json()["status"] != "running":
            return answer.json()  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"the sync did not finish in {timeout} s: {answer.json()}")


@pytest.fixture
def tripletex_shop(stack: Any) -> Any:
    with TripletexSandbox() as box:
        box.ledger.books = SeededBooks(postings_per_year=1_500, documents_per_year=12)
        registry = TenantRegistry(stack.stores.tables)
        tenant = registry.add("Sykkelbua på Røros AS", organization_number="999999999")
        connect(registry, stack.stores.secrets, tenant.id, "tripletex",
                settings={"base_url": box.base_url, "timeout": 5},
                credentials={"consumer_token": box.consumer_token, "employee_token": box.employee_token},
                required=("consumer_token", "employee_token"))
        with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"},
                          timeout=60) as client:
            yield box, client


def test_tripletex_backfill_timer_and_documents_over_http(stack: Any, tripletex_shop: Any) -> None:
    box, client = tripletex_shop
    assert client.put("/api/v1/ledger/source", json={"source": "tripletex"}).status_code == 200
    started = client.post("/api/v1/ledger/sync", params={"from": "2025-01-01", "to": "2026-12-31"})
    assert started.status_code == 202, started.text
    done = wait_done(client)
    assert done["status"] == "done", done
    assert done["postings"] == 3_000 and done["mismatch_count"] == 0 and done["documents"] == 24
    balances = client.get("/api/v1/ledger/balances", params={"from": "2025-01", "to": "2026-12"}).json()
    assert balances["mismatches"] == 0 and len(balances["balances"]) > 24
    assert all(b["matches"] is True for b in balances["balances"])  # each equals the sandbox's /balanceSheet

    added = box.ledger.books.add(dt.date(2026, 11, 26), "Sykkelhjelmer fra Høvding Engros",
                                 [Row("4000", Decimal("800.00"), "1"), Row("2710", Decimal("200.00")),
                                  Row("2400", Decimal("-1000.00"), supplier="20001")], document=True)
    stack.invoke_timer("ledger_refresh")
    found = client.get("/api/v1/ledger/transactions", params={"from": "2026-11-26", "to": "2026-11-26",
                                                              "voucher": f"2026-{added.number}"}).json()
    rows = found["transactions"]
    assert [(r["account"], r["amount"]) for r in rows] == [("4000", "800.00"), ("2710", "200.00"),
                                                           ("2400", "-1000.00")]
    assert rows[2]["supplier"] == "20001" and rows[0]["text"] == "Sykkelhjelmer fra Høvding Engros"
    pdf = client.get(f"/api/v1/ledger/documents/{rows[0]['document']}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["content-type"].startswith("application/pdf")
    progress = client.get("/api/v1/ledger/sync").json()
    assert progress["last_refresh"] is not None


def test_a_sie_file_for_a_company_without_api_access(stack: Any, client: httpx.Client) -> None:
    books = SeededBooks(seed="sie-e2e", postings_per_year=1_000, documents_per_year=0, years=(2025, 2026))
    data = export(books, [2025, 2026], company="Bakeriet på Røa AS", currency="NOK")
    started = client.post("/api/v1/ledger/files", params={"format": "sie4", "name": "Bakeriet 2025-2026.se"},
                          content=data, headers={"Content-Type": "application/octet-stream"})
    assert started.status_code == 202, started.text
    done = wait_done(client)
    assert done["status"] == "done" and done["source"] == "sie4", done
    assert done["postings"] == 2_000 and done["mismatch_count"] == 0 and done["problem_count"] == 0
    yearly = [b for b in client.get("/api/v1/ledger/balances").json()["balances"] if ".." in b["period"]]
    assert yearly and all(b["matches"] for b in yearly)  # equal to the file's own #RES and #UB − #IB
    chart = client.get("/api/v1/ledger/accounts").json()
    assert any(a["name"] == "Leverandørgjeld" for a in chart["accounts"])
    source = client.get("/api/v1/ledger/source").json()
    assert source["source"] == "sie4"
    export_ = client.get("/api/v1/ledger/export", params={"from": "2026-01-01", "to": "2026-01-31"})
    assert export_.status_code == 200 and b"<AuditFile" in export_.content
