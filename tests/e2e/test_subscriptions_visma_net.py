"""Subscriptions to Visma.net, end to end on the local stack: the sandbox subscription system sends signed renewal,
payment and cancellation events to the webhook; Visma.net (its sandbox over HTTP) gets a released customer invoice
for a customer created once and sent by AutoInvoice, the Vipps payment applied to it, and a credit note naming it;
the same events again change nothing (issue 16, "Done when", for Visma.net)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import httpx
import pytest

from api.subscriptions import add_signing_secret
from pipeline.records.connections import connect
from pipeline.records.tenants import TenantRegistry
from sandboxes.subscriptions import Subscriber, SubscriptionSystem
from sandboxes.visma_net import VismaNetSandbox
from tests.e2e.test_subscriptions import taken, wait

pytestmark = pytest.mark.e2e
RENEWED = dt.date(2026, 11, 4)


@pytest.fixture
def visma():
    with VismaNetSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def publisher(stack, visma):
    registry = TenantRegistry(stack.stores.tables)
    tenant = registry.add("Bygdebladet Røros AS")
    connect(registry, stack.stores.secrets, tenant.id, "visma-net",
            settings={"base_url": visma.base_url, "token_url": visma.token_url, "tenant_id": visma.tenant_id,
                      "client_id": visma.client_id, "timeout": 2, "direct_posting": True,
                      "create_customers": True, "send_invoices": True},
            credentials={"client_secret": visma.client_secret}, required=("client_secret",))
    _, secret = add_signing_secret(stack.stores, tenant.id)
    system = SubscriptionSystem(f"{stack.url}/api/v1/sources/subscriptions/{tenant.id}/events", secret)
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"},
                      timeout=30) as client:
        yield tenant, system, client
    system.close()


def test_renewal_payment_and_cancellation_reach_visma_net_once(publisher, visma):
    tenant, system, client = publisher
    ledger = visma.receivables
    åse = Subscriber("Åse Ødegård", "ase@bygdebladet.no",
                     address={"lines": ["Kjerkgata 12"], "postal_code": "7374", "city": "Røros"})
    renewal = system.renew(åse, plan="Bygdebladet, papir og digitalt – desember", price=Decimal("249.00"),
                           vat_code="33", shipping=Decimal("100.00"), date=RENEWED)
    body = wait(client, taken(system.send(renewal)))
    assert body["status"] == "delivered", body
    assert [t["step"] for t in body["trace"]] == ["received", "translated", "adapted", "delivered"]
    detail = body["trace"][-1]["detail"]
    assert detail["draft"] is False and detail["sent"] == "autoinvoice" and detail["customer"] == "created", detail
    [invoice] = ledger.documents["invoice"].values()
    assert invoice["status"] == "Open" and invoice["amount"] == Decimal("349.00")
    assert invoice["paymentReference"] == renewal["data"]["kid"]
    assert {t["taxId"] for t in invoice["taxDetails"]} == {"33", "3"}
    customers = [c for c in ledger.customers.values() if c["mainContact"].get("email") == "ase@bygdebladet.no"]
    assert [c["name"] for c in customers] == ["Åse Ødegård"]  # created once, æøå intact
    assert ledger.sent == [("invoice", invoice["referenceNumber"])]

    payment = system.pay(renewal["data"]["invoice_number"], date=RENEWED, method="vipps")
    assert wait(client, taken(system.send(payment)))["status"] == "delivered"
    assert invoice["balance"] == Decimal("0.00") and invoice["status"] == "Closed"
    [paid] = ledger.documents["payment"].values()
    assert paid["paymentMethod"]["id"] == "VIPPS" and paid["status"] == "Closed"

    cancellation = system.cancel(renewal["data"]["invoice_number"], date=RENEWED + dt.timedelta(days=6))
    body = wait(client, taken(system.send(cancellation)))
    assert body["status"] == "delivered", body
    assert body["trace"][-1]["detail"]["credits_invoice"] == invoice["referenceNumber"]
    [credit] = ledger.documents["credit"].values()
    assert credit["amount"] == Decimal("349.00") and credit["status"] == "Open"  # the paid invoice: a customer credit
    assert f"for faktura {renewal['data']['invoice_number']}" in credit["invoiceText"]

    before = ({k: len(v) for k, v in ledger.documents.items()}, list(ledger.sent), len(ledger.customers))
    for event in (renewal, payment, cancellation):
        again = system.resend(event)
        assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    time.sleep(1.0)  # anything queued by mistake would land now
    assert ({k: len(v) for k, v in ledger.documents.items()}, list(ledger.sent), len(ledger.customers)) == before
