"""Delivery to Tripletex (its sandbox over HTTP) through the whole local stack on Azurite."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import pytest

from pipeline.records.connections import connect
from pipeline.records.tenants import TenantRegistry
from sandboxes.tripletex import TripletexSandbox

pytestmark = pytest.mark.e2e


@pytest.fixture
def tripletex():
    with TripletexSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def shop(stack, tripletex):
    registry = TenantRegistry(stack.stores.tables)
    tenant = registry.add("Sykkelbua på Røros AS")
    connect(registry, stack.stores.secrets, tenant.id, "tripletex",
            settings={"base_url": tripletex.base_url, "timeout": 2},
            credentials={"consumer_token": tripletex.consumer_token, "employee_token": tripletex.employee_token},
            required=("consumer_token", "employee_token"))
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"},
                      timeout=30) as client:
        yield tenant, client


def wait(client, document_id, done=("delivered", "blocked", "failed"), timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/documents/{document_id}").json()
        if body["status"] in done:
            return body
        time.sleep(0.1)
    raise AssertionError(body)


def send(client, document):
    response = client.post("/api/v1/documents", json=document)
    assert response.status_code == 202, response.text
    return response.json()["documents"][0]["id"]


def sale(reference, **line):
    return {"type": "voucher", "reference": reference, "date": "2026-11-20", "description": "Salg på Røros – æøå",
            "lines": [{"account": "1920", "amount": "500.00"},
                      {"account": "3000", "amount": "-500.00", "vat_code": "3", **line}]}


def test_a_draft_lands_in_tripletex_with_ids_vat_customer_dimensions_and_æøå(shop, tripletex):
    tenant, client = shop
    document = {
        "type": "voucher", "reference": "faktura-7001", "date": "2026-11-20",
        "description": "Faktura 7001 til Blåbærgården Økologiske",
        "lines": [
            {"account": "1500", "amount": "1250.00", "invoice_number": "7001", "kid": "0000070011",
             "customer": {"number": "10002", "name": "Blåbærgården Økologiske"}},
            {"account": "3000", "amount": "-1250.00", "vat_code": "3", "description": "Bær og syltetøy",
             "dimensions": {"department": "1", "project": "100"}},
        ],
    }
    body = wait(client, send(client, document))
    delivered = body["trace"][-1]
    assert [t["step"] for t in body["trace"]] == ["received", "translated", "adapted", "delivered"]
    assert delivered["detail"]["draft"] is True and delivered["detail"]["not_accepted"] == ["lines[0].kid"]
    [voucher] = tripletex.vouchers_with("faktura-7001")
    assert voucher["description"] == "Faktura 7001 til Blåbærgården Økologiske"
    company = tripletex.company
    by_row = {p["row"]: p for p in voucher["postings"] if p["row"] > 0}
    account_numbers = {a["id"]: a["number"] for a in company.accounts.values()}
    assert account_numbers[by_row[1]["account"]["id"]] == 1500
    assert company.customers[by_row[1]["customer"]["id"]]["customerNumber"] == 10002
    assert by_row[1]["invoiceNumber"] == "7001"
    assert company.departments[by_row[2]["department"]["id"]]["departmentNumber"] == "1"
    assert company.projects[by_row[2]["project"]["id"]]["number"] == "100"
    assert Decimal(str(by_row[2]["amountGross"])) == Decimal("-1250.00")
    assert str(delivered["detail"]["remote_id"]) == str(voucher["id"])
    # Every request and response for this document is kept, tokens redacted.
    document_id = body["id"]
    kept = client.get(f"/api/v1/documents/{document_id}", params={"include": "exchanges"}).json()["exchanges"]
    posts = [x for x in kept if x["method"] == "POST"]
    assert len(posts) == 1 and "faktura-7001" in posts[0]["request"]["text"]
    assert posts[0]["response"]["status"] == 201
    assert all(x["request"]["headers"].get("authorization", "[redacted]") == "[redacted]" for x in kept)
    assert tripletex.employee_token not in json.dumps(kept)


def test_preflight_reports_every_problem_at_once_posts_nothing_and_a_retry_after_the_fix_delivers(
        shop, tripletex, stack):
    tenant, client = shop
    document = {
        "type": "voucher", "reference": "mangler-alt", "date": "2026-11-20",
        "lines": [
            {"account": "1500", "amount": "300.00", "customer": {"number": "55555", "name": "Ukjent Kunde AS"}},
            {"account": "3999", "amount": "-100.00", "vat_code": "3"},
            {"account": "4999", "amount": "-100.00"},
            # A SAF-T code (raw fish, 11.11 %) this company has no VAT type for; a code outside SAF-T
            # ("99") never gets this far: intake refuses it (decision 0002).
            {"account": "3000", "amount": "-100.00", "vat_code": "32"},
        ],
    }
    document_id = send(client, document)
    body = wait(client, document_id)
    assert body["status"] == "blocked"
    report = body["trace"][-1]["detail"]["problems"]
    assert {(p["code"], p["field"]) for p in report} >= {
        ("missing-customer", "lines[0].customer"), ("missing-account", "lines[1].account"),
        ("missing-account", "lines[2].account"), ("unknown-vat-code", "lines[3].vat_code")}
    assert tripletex.vouchers_with("mangler-alt") == []
    # The accountant fixes Tripletex and the tenant's VAT map, then retries without the source resending.
    company = tripletex.company
    company.add_account(3999, "Salg, annet")
    company.add_account(4999, "Varekjøp, annet")
    company.add_customer(55555, "Ukjent Kunde AS")
    registry = TenantRegistry(stack.stores.tables)
    fixed = registry.get(tenant.id)
    registry.save(fixed.model_copy(update={"rules": fixed.rules.model_copy(update={"vat_map": {"32": "3"}})}))
    assert client.post(f"/api/v1/documents/{document_id}/retry").status_code == 202
    body = wait(client, document_id, done=("delivered",))
    assert [t["step"] for t in body["trace"]][-4:] == ["blocked", "resubmitted", "adapted", "delivered"]
    assert len(tripletex.vouchers_with("mangler-alt")) == 1


@pytest.mark.parametrize("fault", ["commit_then_500", "429", "503", "timeout"])
def test_faults_end_with_every_voucher_in_tripletex_exactly_once(shop, tripletex, fault):
    tenant, client = shop
    tripletex.faults.timeout_seconds = 3  # past the connector's read timeout (2 s for this tenant)
    tripletex.faults.add(r"^/ledger/voucher$", "POST", fault, times=1)
    ids = [send(client, sale(f"feil-{fault}-{i}")) for i in range(3)]
    ids.append(send(client, sale(f"feil-{fault}-0")))  # the same voucher sent twice
    for document_id in ids:
        wait(client, document_id, done=("delivered",), timeout=120)
    for i in range(3):
        assert len(tripletex.vouchers_with(f"feil-{fault}-{i}")) == 1
    assert tripletex.faults.fired
