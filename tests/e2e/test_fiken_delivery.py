"""Delivery to Fiken (its sandbox over HTTP) through the whole local stack on Azurite: an open journal entry with
the customer's own account and Fiken's VAT, a blocked voucher that a retry delivers after the fix, faults that end
with each voucher in Fiken once, and a tenant that switches from Tripletex to Fiken without touching its source."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from pipeline.connections import connect
from pipeline.tenants import TenantRegistry
from sandboxes.fiken import FikenSandbox
from sandboxes.tripletex import TripletexSandbox

pytestmark = pytest.mark.e2e


@pytest.fixture
def fiken():
    with FikenSandbox() as sandbox:
        yield sandbox


def on_fiken(stack, fiken, tenant_id):
    connect(TenantRegistry(stack.stores.tables), stack.stores.secrets, tenant_id, "fiken",
            settings={"base_url": fiken.base_url, "company_slug": fiken.company.slug, "timeout": 2,
                      "direct_posting": True},
            credentials={"api_token": "sandbox-personal-token"})


@pytest.fixture
def shop(stack, fiken):
    registry = TenantRegistry(stack.stores.tables)
    tenant = registry.add("Bakeriet i Bodø AS")
    on_fiken(stack, fiken, tenant.id)
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


def sale(reference):
    return {"type": "voucher", "reference": reference, "date": "2026-11-20", "description": "Salg i Bodø – æøå",
            "lines": [{"account": "1920", "amount": "500.00"},
                      {"account": "3000", "amount": "-500.00", "vat_code": "3"}]}


def test_an_open_entry_lands_in_fiken_with_the_customers_account_fikens_vat_and_æøå(shop, fiken):
    tenant, client = shop
    document = {"type": "voucher", "reference": "faktura-7001", "date": "2026-11-20",
                "description": "Faktura 7001 til Fjordkafé Ålesund AS",
                "lines": [{"account": "1500", "amount": "1250.00", "kid": "0000070011",
                           "customer": {"number": "10001", "name": "Fjordkafé Ålesund AS"}},
                          {"account": "3000", "amount": "-1250.00", "vat_code": "3", "description": "Bær og syltetøy",
                           "dimensions": {"project": "100"}}]}
    body = wait(client, send(client, document))
    assert [t["step"] for t in body["trace"]] == ["received", "translated", "adapted", "delivered"]
    delivered = body["trace"][-1]["detail"]
    assert delivered["draft"] is False
    assert delivered["not_accepted"] == ["lines[0].kid", "lines[1].dimensions.project"]
    [entry] = fiken.entries
    assert entry["_open"] and entry["description"] == "[faktura-7001] Faktura 7001 til Fjordkafé Ålesund AS: " \
                                                      "Bær og syltetøy"
    assert entry["lines"] == [{"amount": 125000, "account": "1500:10001"},
                              {"amount": -100000, "account": "3000", "vatCode": "3"},
                              {"amount": -25000, "account": "2700"}]
    assert str(delivered["remote_id"]) == str(entry["transactionId"])
    kept = client.get(f"/api/v1/documents/{body['id']}", params={"include": "exchanges"}).json()["exchanges"]
    posts = [x for x in kept if x["method"] == "POST"]
    assert len(posts) == 1 and posts[0]["response"]["status"] == 201 and "Fjordkafé" in posts[0]["request"]["text"]
    assert "sandbox-personal-token" not in json.dumps(kept)


def test_preflight_reports_everything_at_once_and_a_retry_after_the_fix_delivers(shop, fiken, stack):
    tenant, client = shop
    document = {"type": "voucher", "reference": "mangler-alt", "date": "2026-11-20", "lines": [
        {"account": "1500", "amount": "300.00", "customer": {"number": "55555", "name": "Ukjent Kunde AS"}},
        {"account": "3999", "amount": "-100.00", "vat_code": "3"},
        {"account": "4999", "amount": "-100.00"},
        {"account": "3000", "amount": "-100.00", "vat_code": "83"}]}  # SAF-T import basis: Fiken has no code 83
    document_id = send(client, document)
    body = wait(client, document_id)
    assert body["status"] == "blocked"
    assert {(p["code"], p["field"]) for p in body["trace"][-1]["detail"]["problems"]} == {
        ("missing-customer", "lines[0].customer"), ("missing-account", "lines[1].account"),
        ("missing-account", "lines[2].account"), ("unknown-vat-code", "lines[3].vat_code")}
    assert fiken.entries == []
    company = fiken.company
    company.add_account("3999", "Salg, annet")
    company.add_account("4999", "Varekjøp, annet")
    company.add_contact("Ukjent Kunde AS", customer=True, customer_number=55555)
    registry = TenantRegistry(stack.stores.tables)
    fixed = registry.get(tenant.id)
    registry.save(fixed.model_copy(update={"rules": fixed.rules.model_copy(update={"vat_map": {"83": "3"}})}))
    assert client.post(f"/api/v1/documents/{document_id}/retry").status_code == 202
    body = wait(client, document_id, done=("delivered",))
    assert [t["step"] for t in body["trace"]][-4:] == ["blocked", "resubmitted", "adapted", "delivered"]
    [entry] = fiken.entries
    assert ("1500:55555", 30000) in [(line["account"], line["amount"]) for line in entry["lines"]]


@pytest.mark.parametrize("fault", ["commit_then_500", "timeout", "503", "429"])
def test_faults_end_with_every_voucher_in_fiken_exactly_once(shop, fiken, fault):
    tenant, client = shop
    fiken.faults.timeout_seconds = 3  # past the connector's read timeout (2 s for this tenant)
    fiken.faults.add(r"/generalJournalEntries$", "POST", fault, times=1)
    ids = [send(client, sale(f"feil-{fault}-{i}")) for i in range(3)]
    ids.append(send(client, sale(f"feil-{fault}-0")))  # the same voucher sent twice
    for document_id in ids:
        wait(client, document_id, done=("delivered",), timeout=120)
    references = [e["description"].split("]")[0][1:] for e in fiken.entries]
    assert sorted(references) == sorted(f"feil-{fault}-{i}" for i in range(3))
    assert fiken.faults.fired


def test_a_tenant_switches_from_tripletex_to_fiken_with_its_source_unchanged(stack, fiken):
    registry = TenantRegistry(stack.stores.tables)
    tenant = registry.add("Bytter System AS")
    with TripletexSandbox() as tripletex, httpx.Client(
            base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"},
            timeout=30) as client:
        connect(registry, stack.stores.secrets, tenant.id, "tripletex",
                settings={"base_url": tripletex.base_url, "timeout": 2},
                credentials={"consumer_token": tripletex.consumer_token, "employee_token": tripletex.employee_token})
        batch = [sale("bytte-1"), sale("bytte-2")]
        for document in batch:
            wait(client, send(client, document), done=("delivered",))
        on_fiken(stack, fiken, tenant.id)
        for document in [*batch, sale("bytte-3")]:  # the same file again, and one more
            wait(client, send(client, document), done=("delivered",))
        assert sorted(v["externalVoucherNumber"] for v in tripletex.vouchers) == ["bytte-1", "bytte-2"]
        assert sorted(e["description"].split("]")[0][1:] for e in fiken.entries) == ["bytte-1", "bytte-2", "bytte-3"]
