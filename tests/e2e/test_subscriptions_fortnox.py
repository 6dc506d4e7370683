"""Subscriptions to Fortnox, end to end on the local stack: the sandbox subscription system sends signed renewal,
payment and cancellation events to the webhook; Fortnox (its sandbox over HTTP, connected with a refresh token as
the consent leaves one) gets a booked invoice for a customer created once and e-mailed once, the Vipps payment
registered against it on Vipps' mode of payment, and Fortnox's own credit linked to it; the same events again
change nothing (issue 16, "Done when", for Fortnox)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import httpx
import pytest

from api.subscriptions import add_signing_secret
from pipeline.records.connections import connect
from pipeline.records.tenants import TenantRegistry
from sandboxes.fortnox import FortnoxSandbox
from sandboxes.subscriptions import Subscriber, SubscriptionSystem
from tests.e2e.test_subscriptions import taken, wait

pytestmark = pytest.mark.e2e
RENEWED = dt.date(2026, 11, 4)


@pytest.fixture
def fortnox():
    with FortnoxSandbox(rate_limit=None) as sandbox:
        yield sandbox


@pytest.fixture
def publisher(stack, fortnox):
    registry = TenantRegistry(stack.stores.tables)
    tenant = registry.add("Bygdebladet Røros AS")
    connect(registry, stack.stores.secrets, tenant.id, "fortnox",
            settings={"base_url": fortnox.base_url, "token_url": fortnox.token_url, "auth_url": fortnox.auth_url,
                      "client_id": fortnox.client_id, "timeout": 10, "direct_posting": True, "invoicing": True,
                      "create_customers": True, "send_invoices": True},
            credentials={"refresh_token": next(iter(fortnox.refresh_tokens)),
                         "client_secret": fortnox.clients[fortnox.client_id]},
            required=("refresh_token", "client_secret"))
    _, secret = add_signing_secret(stack.stores, tenant.id)
    system = SubscriptionSystem(f"{stack.url}/api/v1/sources/subscriptions/{tenant.id}/events", secret)
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"},
                      timeout=30) as client:
        yield tenant, system, client
    system.close()


def test_renewal_payment_and_cancellation_reach_fortnox_once(publisher, fortnox):
    tenant, system, client = publisher
    books = fortnox.company.invoicing
    seeded = len(books.customers)
    åse = Subscriber("Åse Ødegård", "ase@bygdebladet.no",
                     address={"lines": ["Kjerkgata 12"], "postal_code": "7374", "city": "Røros"})
    renewal = system.renew(åse, plan="Bygdebladet, papir og digitalt – desember", price=Decimal("249.00"),
                           vat_code="33", shipping=Decimal("100.00"), date=RENEWED)
    body = wait(client, taken(system.send(renewal)))
    assert body["status"] == "delivered", body
    assert [t["step"] for t in body["trace"]] == ["received", "translated", "adapted", "delivered"]
    detail = body["trace"][-1]["detail"]
    assert detail["draft"] is False and detail["sent"] == "email" and detail["customer"] == "created", detail
    [invoice] = books.invoices.values()
    assert invoice["Booked"] and invoice["Total"] == Decimal("349.00") and invoice["OCR"] == renewal["data"]["kid"]
    assert sorted(r["VAT"] for r in invoice["InvoiceRows"]) == [Decimal("12"), Decimal("25")]
    customers = [c for c in books.customers.values() if c["Email"] == "ase@bygdebladet.no"]
    assert [(c["Name"], c["Type"], c["City"]) for c in customers] == [("Åse Ødegård", "PRIVATE", "Røros")]
    assert books.sent == [(invoice["DocumentNumber"], "email")]

    payment = system.pay(renewal["data"]["invoice_number"], date=RENEWED, method="vipps")
    assert wait(client, taken(system.send(payment)))["status"] == "delivered"
    [paid] = books.payments.values()
    assert invoice["Balance"] == Decimal("0.00") and paid["Booked"] and paid["ModeOfPayment"] == "VIPPS"

    cancellation = system.cancel(renewal["data"]["invoice_number"], date=RENEWED + dt.timedelta(days=6))
    body = wait(client, taken(system.send(cancellation)))
    assert body["status"] == "delivered", body
    assert body["trace"][-1]["detail"]["credits_invoice"] == invoice["DocumentNumber"]
    [credit] = [i for i in books.invoices.values() if i["Credit"] == "true"]
    assert credit["CreditInvoiceReference"] == invoice["DocumentNumber"]
    assert invoice["CreditInvoiceReference"] == credit["DocumentNumber"] and credit["Total"] == Decimal("-349.00")
    assert credit["Booked"] and credit["Balance"] == Decimal("-349.00")  # the paid invoice: the customer in credit

    before = (len(books.invoices), len(books.payments), list(books.sent), len(books.customers))
    for event in (renewal, payment, cancellation):
        again = system.resend(event)
        assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    time.sleep(1.0)  # anything queued by mistake would land now
    assert (len(books.invoices), len(books.payments), list(books.sent), len(books.customers)) == before
    assert len(books.customers) == seeded + 1  # one new customer, created once
    assert len(books.sent) == 2  # the invoice and the credit invoice, each e-mailed once
