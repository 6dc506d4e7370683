"""Subscriptions to Fiken, end to end on the local stack: the sandbox subscription system sends signed renewal,
payment and cancellation events to the webhook; Fiken (its sandbox over HTTP) gets an invoice with one new
customer, sent by Fiken itself, the payment on the account the payment method says, and a credit note linked to the
invoice; the same events twice change nothing (issue 16, for Fiken)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import httpx
import pytest

from api.subscriptions import add_signing_secret
from pipeline.records.connections import connect
from pipeline.records.tenants import TenantRegistry
from sandboxes.fiken import FikenSandbox
from sandboxes.subscriptions import Subscriber, SubscriptionSystem

pytestmark = pytest.mark.e2e
RENEWED = dt.date(2026, 11, 4)


@pytest.fixture
def fiken():
    with FikenSandbox() as sandbox:
        sandbox.company.add_account("1580", "Vipps-oppgjør")
        yield sandbox


@pytest.fixture
def publisher(stack, fiken):
    registry = TenantRegistry(stack.stores.tables)
    tenant = registry.add("Bygdebladet Røros AS")
    connect(registry, stack.stores.secrets, tenant.id, "fiken",
            settings={"base_url": fiken.base_url, "company_slug": fiken.company.slug, "timeout": 2,
                      "direct_posting": True, "create_customers": True, "customer_match": "email",
                      "send_invoices": True, "payment_accounts": {"vipps": "1580", "card": "1580",
                                                                  "bank": "1920:10001"}},
            credentials={"api_token": "sandbox-personal-token"})
    _, secret = add_signing_secret(stack.stores, tenant.id)
    system = SubscriptionSystem(f"{stack.url}/api/v1/sources/subscriptions/{tenant.id}/events", secret)
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"},
                      timeout=30) as client:
        yield tenant, system, client
    system.close()


def wait(client, document_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/documents/{document_id}").json()
        if body["status"] in ("delivered", "blocked", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(body)


def taken(response):
    assert response.status_code == 202, response.text
    [document] = response.json()["documents"]
    return document["id"]


def test_renewal_payment_and_cancellation_reach_fiken_once(publisher, fiken):
    tenant, system, client = publisher
    books = fiken.company.invoicing
    åse = Subscriber("Åse Ødegård", "ase@bygdebladet.no",
                     address={"lines": ["Kjerkgata 12"], "postal_code": "7374", "city": "Røros"})
    renewal = system.renew(åse, plan="Bygdebladet, papir og digitalt – desember", price=Decimal("249.00"),
                           vat_code="33", shipping=Decimal("100.00"), date=RENEWED)
    body = wait(client, taken(system.send(renewal)))
    assert body["status"] == "delivered", body
    assert [t["step"] for t in body["trace"]] == ["received", "translated", "adapted", "delivered"]
    detail = body["trace"][-1]["detail"]
    assert detail["draft"] is False and detail["customer"] == "created" and detail["sent"], detail
    [invoice] = books.invoices.values()
    assert invoice["gross"] == 34900 and invoice["orderReference"] == renewal["data"]["invoice_number"]
    assert [line["vatType"] for line in invoice["lines"]] == ["LOW", "HIGH"]
    customers = [c for c in fiken.company.contacts.values() if c.get("email") == "ase@bygdebladet.no"]
    assert [c["name"] for c in customers] == ["Åse Ødegård"]  # created once, æøå intact
    assert [(kind, ident) for kind, ident, _ in books.sent] == [("invoice", invoice["invoiceId"])]

    payment = system.pay(renewal["data"]["invoice_number"], date=RENEWED, method="vipps")
    assert wait(client, taken(system.send(payment)))["status"] == "delivered"
    assert invoice["sale"]["outstandingBalance"] == 0 and invoice["sale"]["settled"] is True
    assert [p["account"] for p in invoice["sale"]["salePayments"]] == ["1580"]  # Vipps lands on its own account

    cancellation = system.cancel(renewal["data"]["invoice_number"], date=RENEWED + dt.timedelta(days=6))
    assert wait(client, taken(system.send(cancellation)))["status"] == "delivered"
    [credit] = books.credit_notes.values()
    assert credit["associatedInvoiceId"] == invoice["invoiceId"] and credit["gross"] == 34900

    before = (len(books.invoices), len(books.drafts), len(books.credit_notes), len(invoice["sale"]["salePayments"]),
              list(books.sent), len(fiken.company.contacts))
    for event in (renewal, payment, cancellation):
        again = system.resend(event)
        assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    time.sleep(1.0)  # anything queued by mistake would land now
    assert (len(books.invoices), len(books.drafts), len(books.credit_notes), len(invoice["sale"]["salePayments"]),
            list(books.sent), len(fiken.company.contacts)) == before
