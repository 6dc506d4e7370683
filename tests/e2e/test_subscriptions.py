"""Subscriptions to the books, end to end on the local stack: the sandbox subscription system sends signed renewal,
payment and cancellation events to the webhook; Tripletex (its sandbox over HTTP) gets the invoice, the payment and
the credit note (issue 16, "Done when")."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
from decimal import Decimal

import httpx
import pytest

from api.subscriptions import add_signing_secret
from pipeline.records.connections import connect
from pipeline.records.tenants import TenantRegistry
from sandboxes.subscriptions import Subscriber, SubscriptionSystem
from sandboxes.tripletex import TripletexSandbox

pytestmark = pytest.mark.e2e
RENEWED = dt.date(2026, 11, 4)


@pytest.fixture
def tripletex():
    with TripletexSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def publisher(stack, tripletex):
    registry = TenantRegistry(stack.stores.tables)
    tenant = registry.add("Bygdebladet Røros AS")
    connect(registry, stack.stores.secrets, tenant.id, "tripletex",
            settings={"base_url": tripletex.base_url, "timeout": 2, "direct_posting": True,
                      "create_customers": True, "send_invoices": True},
            credentials={"consumer_token": tripletex.consumer_token, "employee_token": tripletex.employee_token},
            required=("consumer_token", "employee_token"))
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


def test_renewal_payment_and_cancellation_reach_tripletex_once(publisher, tripletex):
    tenant, system, client = publisher
    åse = Subscriber("Åse Ødegård", "ase@bygdebladet.no",
                     address={"lines": ["Kjerkgata 12"], "postal_code": "7374", "city": "Røros"})
    renewal = system.renew(åse, plan="Bygdebladet, papir og digitalt – desember", price=Decimal("249.00"),
                           vat_code="33", shipping=Decimal("100.00"), date=RENEWED)
    body = wait(client, taken(system.send(renewal)))
    assert body["status"] == "delivered", body
    assert [t["step"] for t in body["trace"]] == ["received", "translated", "adapted", "delivered"]
    detail = body["trace"][-1]["detail"]
    assert detail["draft"] is False and detail["sent"] == "EMAIL" and detail["customer"] == "created", detail
    [invoice] = tripletex.invoicing.invoices.values()
    assert invoice["amount"] == Decimal("349.00") and invoice["kid"] == renewal["data"]["kid"]
    customers = [c for c in tripletex.company.customers.values() if c["email"] == "ase@bygdebladet.no"]
    assert [c["name"] for c in customers] == ["Åse Ødegård"]  # created once, æøå intact
    assert tripletex.invoicing.sent == [(invoice["id"], "EMAIL")]

    payment = system.pay(renewal["data"]["invoice_number"], date=RENEWED, method="vipps")
    assert wait(client, taken(system.send(payment)))["status"] == "delivered"
    assert invoice["amountOutstanding"] == Decimal("0.00")
    vipps = next(t["id"] for t in tripletex.invoicing.payment_types.values() if t["description"] == "Vipps")
    assert [p["paymentTypeId"] for p in tripletex.invoicing.payments] == [vipps]

    cancellation = system.cancel(renewal["data"]["invoice_number"], date=RENEWED + dt.timedelta(days=6))
    assert wait(client, taken(system.send(cancellation)))["status"] == "delivered"
    [credit] = [i for i in tripletex.invoicing.invoices.values() if i["isCreditNote"]]
    assert credit["creditedInvoice"] == invoice["id"] and credit["amount"] == Decimal("-349.00")

    before = (len(tripletex.invoicing.invoices), len(tripletex.invoicing.orders), len(tripletex.invoicing.payments),
              list(tripletex.invoicing.sent), len(tripletex.company.customers))
    for event in (renewal, payment, cancellation):
        again = system.resend(event)
        assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    time.sleep(1.0)  # anything queued by mistake would land now
    assert (len(tripletex.invoicing.invoices), len(tripletex.invoicing.orders), len(tripletex.invoicing.payments),
            list(tripletex.invoicing.sent), len(tripletex.company.customers)) == before


def test_an_unsigned_stale_or_foreign_event_is_refused_and_nothing_kept(publisher, stack):
    tenant, system, client = publisher
    event = system.renew(Subscriber("Per Ås", "per@example.no"), plan="Månedsabonnement", price=Decimal("99.00"),
                         date=RENEWED)
    assert system.send(event, secret="whsec_not-ours").status_code == 401
    assert system.send(event, at=int(time.time()) - 3600).status_code == 401
    unsigned = httpx.post(system.url, json=event, timeout=30)
    assert unsigned.status_code == 401 and "missing signature" in unsigned.json()["error"]
    assert client.get("/api/v1/receipts").json().get("receipts", []) == []


def test_an_event_the_shared_form_refuses_names_its_field(publisher):
    tenant, system, client = publisher
    event = system.renew(Subscriber("Per Ås", "per@example.no"), plan="Månedsabonnement", price=Decimal("99.00"),
                         date=RENEWED)
    event["data"]["lines"][0]["amount"] = "99,00"
    answer = system.send(event)
    assert answer.status_code == 422, answer.text
    problems = {p["field"]: p["message"] for p in answer.json()["problems"]}
    assert "99,00" in problems["data.lines.0.amount"]
    assert answer.json()["receipt"]  # kept unchanged all the same


def test_a_blocked_payment_is_reported_to_the_vendors_webhook_and_listed_among_problems(publisher):
    """Issue 16 §6: invoices and payments take the path every document takes — document.blocked to the vendor's
    endpoints, and the document listed with its problems."""
    tenant, system, client = publisher
    got: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        made = client.post("/api/v1/webhooks", json={"url": f"http://127.0.0.1:{server.server_port}/hook",
                                                     "events": ["document.blocked", "document.failed"]})
        assert made.status_code == 201, made.text
        system.invoices["9999"] = {"kid": None, "lines": [{"amount": "199.00"}]}  # never sent to Bilagsbro
        event = system.pay("9999", date=RENEWED, method="card")
        body = wait(client, taken(system.send(event)))
        assert body["status"] == "blocked", body
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not got:
            time.sleep(0.2)
        [hook] = got
        assert hook["type"] == "document.blocked", hook
        assert f"payment-{event['id']}" in json.dumps(hook) and "missing-invoice" in json.dumps(hook)
        listed = client.get("/api/v1/documents", params={"status": "blocked"}).json()["documents"]
        assert [d["reference"] for d in listed] == [f"payment-{event['id']}"]
    finally:
        server.shutdown()
        server.server_close()
