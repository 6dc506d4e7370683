"""Subscriptions to PowerOffice GO, end to end on the local stack: the sandbox subscription system sends signed
renewal, payment and cancellation events to the webhook; GO (its sandbox over HTTP) gets a sales order for a customer
created once, posted and delivered by createAndSendInvoice, the Vipps payment as a bank voucher matched to the
invoice, and a credit note linked to it; the same events again change nothing (issue 16, "Done when", for GO)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import httpx
import pytest

from api.subscriptions import add_signing_secret
from pipeline.records.connections import connect
from pipeline.records.tenants import TenantRegistry
from sandboxes.poweroffice_go import PowerOfficeSandbox
from sandboxes.subscriptions import Subscriber, SubscriptionSystem
from tests.e2e.test_subscriptions import taken, wait

pytestmark = pytest.mark.e2e
RENEWED = dt.date(2026, 11, 4)


@pytest.fixture
def go():
    with PowerOfficeSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def publisher(stack, go):
    registry = TenantRegistry(stack.stores.tables)
    tenant = registry.add("Bygdebladet Røros AS")
    connect(registry, stack.stores.secrets, tenant.id, "poweroffice-go",
            settings={"base_url": go.base_url, "timeout": 30, "direct_posting": True, "create_customers": True,
                      "send_invoices": True, "products": {"3": "ABO", "33": "ABO-LAV"},
                      "payment_accounts": {"vipps": "1580"}},
            credentials={"application_key": go.application_key, "client_key": go.client_key,
                         "subscription_key": go.subscription_key},
            required=("application_key", "client_key", "subscription_key"))
    _, secret = add_signing_secret(stack.stores, tenant.id)
    system = SubscriptionSystem(f"{stack.url}/api/v1/sources/subscriptions/{tenant.id}/events", secret)
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"},
                      timeout=30) as client:
        yield tenant, system, client
    system.close()


def _held(go: PowerOfficeSandbox) -> tuple[int, int, int, int, int]:
    sales = go.sales
    return (len(sales.orders), len(sales.invoices), len(sales.deliveries), len(go.client.customers),
            len(go.client.vouchers))


def test_renewal_payment_and_cancellation_reach_poweroffice_go_once(publisher, go):
    tenant, system, client = publisher
    sales = go.sales
    customers_before = len(go.client.customers)
    åse = Subscriber("Åse Ødegård", "ase@bygdebladet.no",
                     address={"lines": ["Kjerkgata 12"], "postal_code": "7374", "city": "Røros"})
    renewal = system.renew(åse, plan="Bygdebladet, papir og digitalt – desember", price=Decimal("249.00"),
                           vat_code="33", shipping=Decimal("100.00"), date=RENEWED)
    body = wait(client, taken(system.send(renewal)))
    assert body["status"] == "delivered", body
    assert [t["step"] for t in body["trace"]] == ["received", "translated", "adapted", "delivered"]
    detail = body["trace"][-1]["detail"]
    assert detail["draft"] is False and detail["sent"] == "auto" and detail["customer"] == "created", detail
    assert detail["delivered_as"] == "PdfByEmail"
    [invoice] = [i for i in sales.invoices.values() if i["IsCreatedByCurrentIntegration"]]
    assert invoice["TotalAmount"] == Decimal("349.00") and invoice["Balance"] == Decimal("349.00")
    assert invoice["CustomMatchingReference"] == renewal["data"]["invoice_number"]
    assert {line["SalesAccountNo"] for line in invoice["_lines"]} == {3020, 3000}  # VAT 33 and 3 by product
    assert detail["invoice_number"] == str(invoice["InvoiceNo"]) and detail["kid"] == invoice["Cid"]
    created = [c for c in go.client.customers.values() if c.get("EmailAddress") == "ase@bygdebladet.no"]
    assert [(c["FirstName"], c["LastName"], c["IsPerson"]) for c in created] == [("Åse", "Ødegård", True)]
    assert created[0]["MailAddress"]["City"] == "Røros"  # æøå intact
    assert len(go.client.customers) == customers_before + 1
    assert sales.deliveries == [(invoice["InvoiceNo"], "PdfByEmail", "ase@bygdebladet.no")]

    payment = system.pay(renewal["data"]["invoice_number"], date=RENEWED, method="vipps")
    assert wait(client, taken(system.send(payment)))["status"] == "delivered"
    assert invoice["Balance"] == Decimal("0.00")
    [paid] = [v for v in go.client.vouchers.values() if v["Id"] in invoice["_payments"]]
    assert go.client.accounts[paid["VoucherLines"][0]["AccountId"]]["AccountNo"] == 1580

    cancellation = system.cancel(renewal["data"]["invoice_number"], date=RENEWED + dt.timedelta(days=6))
    body = wait(client, taken(system.send(cancellation)))
    assert body["status"] == "delivered", body
    assert body["trace"][-1]["detail"]["credits_invoice"] == str(invoice["InvoiceNo"])
    [credit] = [i for i in sales.invoices.values() if i.get("RelatedInvoiceNo") == invoice["InvoiceNo"]]
    assert credit["TotalAmount"] == Decimal("-349.00") and credit["Balance"] == Decimal("-349.00")  # a customer credit

    before = _held(go)
    for event in (renewal, payment, cancellation):
        again = system.resend(event)
        assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    time.sleep(1.0)  # anything queued by mistake would land now
    assert _held(go) == before
