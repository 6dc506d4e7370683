"""Subscriptions to the books, end to end on the local stack: the sandbox subscription system sends signed renewal,
payment and cancellation events to the webhook; each accounting system that takes invoices (its sandbox over HTTP;
tests/e2e/invoicing_systems.py says where each keeps what) gets the invoice, the payment and the credit note
(issue 16, "Done when"); then what every source's events share, against Tripletex."""

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
from tests.e2e.invoicing_systems import SYSTEMS, Tripletex

pytestmark = pytest.mark.e2e
RENEWED = dt.date(2026, 11, 4)


@pytest.fixture
def tripletex():
    with TripletexSandbox() as sandbox:
        yield sandbox


def subscribe(stack, target, settings, credentials, required):
    """A publisher's tenant connected to `system`, its signing secret, its subscription system and an API client."""
    registry = TenantRegistry(stack.stores.tables)
    tenant = registry.add("Bygdebladet Røros AS")
    connect(registry, stack.stores.secrets, tenant.id, target, settings=settings, credentials=credentials,
            required=required)
    _, secret = add_signing_secret(stack.stores, tenant.id)
    system = SubscriptionSystem(f"{stack.url}/api/v1/sources/subscriptions/{tenant.id}/events", secret)
    client = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"},
                          timeout=30)
    return tenant, system, client


@pytest.fixture
def publisher(stack, tripletex):
    adapter = Tripletex()
    adapter.sandbox = tripletex
    tenant, system, client = subscribe(stack, "tripletex", *adapter.connection())
    with client:
        yield tenant, system, client
    system.close()


@pytest.fixture(params=sorted(SYSTEMS))
def books(request, stack):
    """Each accounting system that takes invoices, its sandbox running, and a publisher connected to it."""
    with SYSTEMS[request.param]().running() as adapter:
        tenant, system, client = subscribe(stack, adapter.name, *adapter.connection())
        with client:
            yield adapter, system, client
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


def test_renewal_payment_and_cancellation_reach_each_system_once(books):
    """Issue 16's "Done when", for every system that takes invoices: the renewal is a posted invoice with a new customer
    created once and sent by the system; its Vipps payment marks it paid; the cancellation a credit note linked to it;
    the same events twice change nothing."""
    adapter, system, client = books
    åse = Subscriber("Åse Ødegård", "ase@bygdebladet.no",
                     address={"lines": ["Kjerkgata 12"], "postal_code": "7374", "city": "Røros"})
    renewal = system.renew(åse, plan="Bygdebladet, papir og digitalt – desember", price=Decimal("249.00"),
                           vat_code="33", shipping=Decimal("100.00"), date=RENEWED)
    body = wait(client, taken(system.send(renewal)))
    assert body["status"] == "delivered", body
    assert [t["step"] for t in body["trace"]] == ["received", "translated", "adapted", "delivered"]
    detail = body["trace"][-1]["detail"]
    assert detail["draft"] is False and detail["customer"] == "created", detail
    invoice = adapter.invoice(renewal, detail)
    assert adapter.customers() == ["Åse Ødegård"]  # created once, æøå intact

    payment = system.pay(renewal["data"]["invoice_number"], date=RENEWED, method="vipps")
    assert wait(client, taken(system.send(payment)))["status"] == "delivered"
    adapter.paid(invoice)

    cancellation = system.cancel(renewal["data"]["invoice_number"], date=RENEWED + dt.timedelta(days=6))
    body = wait(client, taken(system.send(cancellation)))
    assert body["status"] == "delivered", body
    adapter.credited(invoice, renewal, body["trace"][-1]["detail"])

    before = adapter.held()
    for event in (renewal, payment, cancellation):
        again = system.resend(event)
        assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    time.sleep(1.0)  # anything queued by mistake would land now
    assert adapter.held() == before


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
