"""The subscription source's pure parts: the signature (rotation, tolerance, tampering) and each event's translation,
and the webhook handler against in-memory stores (kept before parsed, once per event id)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from api.http import Request
from api.subscriptions import add_signing_secret, post_subscription_event
from pipeline import subscriptions
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.model import Payment, SalesInvoice
from pipeline.ports import Stores
from pipeline.records.names import CONTAINER_RECEIVED
from pipeline.records.tenants import TenantRegistry

NOW = 1_795_000_000
BODY = b'{"id": "evt_1", "type": "payment", "data": {}}'


def test_a_signature_by_any_active_secret_verifies_and_nothing_else_does() -> None:
    header = subscriptions.sign("ny", BODY, NOW)
    assert subscriptions.verify(header, BODY, ["gammel", "ny"], now=NOW) is None  # rotation: both active
    assert "does not match" in subscriptions.verify(header, BODY, ["gammel"], now=NOW)
    assert "does not match" in subscriptions.verify(header, BODY + b" ", ["ny"], now=NOW)  # the body, byte for byte
    assert "300 seconds" in subscriptions.verify(header, BODY, ["ny"], now=NOW + 301)
    assert subscriptions.verify(header, BODY, ["ny"], now=NOW - 300) is None
    assert "missing" in subscriptions.verify(None, BODY, ["ny"], now=NOW)
    assert "malformed" in subscriptions.verify("v1=abc", BODY, ["ny"], now=NOW)
    assert "malformed" in subscriptions.verify("t=1,v1=zz", BODY, ["ny"], now=NOW)


def renewal(**data: object) -> dict:
    return {"id": "evt_9", "type": "renewal", "data": {
        "invoice_number": "5001", "date": "2026-11-04", "payment_method": "vipps",
        "customer": {"name": "Åse Ødegård", "email": "ase@example.no"},
        "lines": [{"description": "Bygdebladet", "amount": "249.00", "vat_code": "33"},
                  {"description": "Frakt", "amount": "100.00", "vat_code": "3"}], **data}}


def test_events_become_an_invoice_a_payment_and_a_credit_note() -> None:
    invoice, problems = subscriptions.translate(renewal(), receipt="r-1")
    assert problems == [] and isinstance(invoice, SalesInvoice)
    assert (invoice.reference, invoice.total, invoice.payment_method) == ("renewal-evt_9", Decimal("349.00"), "vipps")
    assert invoice.customer.name == "Åse Ødegård" and invoice.origin and invoice.origin.format == "subscriptions"
    paid, _ = subscriptions.translate({"id": "evt_10", "type": "payment", "data": {
        "invoice_number": "5001", "date": "2026-11-05", "amount": "349.00", "method": "vipps"}}, receipt="r-2")
    assert isinstance(paid, Payment) and paid.payment_method == "vipps" and paid.amount == Decimal("349.00")
    credit, _ = subscriptions.translate({"id": "evt_11", "type": "cancellation", "data": {
        "credit_note_number": "K5001", "credits": "5001", "date": "2026-11-10",
        "customer": {"name": "Åse Ødegård", "email": "ase@example.no"},
        "lines": [{"description": "Oppsagt", "amount": "349.00", "vat_code": "33"}]}}, receipt="r-3")
    assert isinstance(credit, SalesInvoice) and credit.credits == "5001" and credit.total == Decimal("-349.00")
    assert credit.lines[0].amount == Decimal("-349.00")


@pytest.mark.parametrize(("event", "fields"), [
    ({"type": "renewal", "data": {}}, ["id"]),
    ({"id": "evt_1", "type": "refund", "data": {}}, ["type"]),
    (renewal(date="4.11.2026"), ["data.date"]),
])
def test_a_bad_event_is_problems_naming_fields(event: dict, fields: list[str]) -> None:
    document, problems = subscriptions.translate(event, receipt="r-1")
    assert document is None and [p.field for p in problems] == fields


@pytest.fixture
def stores() -> Stores:
    return Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets({}))


def post(stores: Stores, tenant: str, body: bytes, header: str | None) -> object:
    headers = {subscriptions.HEADER: header} if header else {}
    return post_subscription_event(stores, None, Request("POST", {"id": tenant}, {}, headers, body), now=NOW)


def test_the_webhook_keeps_before_it_parses_and_takes_an_event_once(stores: Stores) -> None:
    tenant = TenantRegistry(stores.tables).add("Bygdebladet AS").id
    _, old = add_signing_secret(stores, tenant)
    _, new = add_signing_secret(stores, tenant)
    body = json.dumps(renewal(), ensure_ascii=False).encode()
    first = post(stores, tenant, body, subscriptions.sign(old, body, NOW))  # the old secret still works
    assert first.status == 202 and first.body["documents"][0]["reference"] == "renewal-evt_9"
    again = post(stores, tenant, body, subscriptions.sign(new, body, NOW))
    assert again.status == 200 and again.body["duplicate"] is True and again.body["receipt"] == first.body["receipt"]
    assert again.messages == {}
    kept = [b for b in stores.blobs.list(CONTAINER_RECEIVED, "") if b.endswith("event.json")]
    assert len(kept) == 2  # each signed body kept unchanged, the duplicate too
    bad = b'{"id": "evt_2", "type": "renewal", "data": {"lines": "ikke en liste"'
    refused = post(stores, tenant, bad, subscriptions.sign(new, bad, NOW))
    assert refused.status == 400 and refused.body["receipt"]
    assert post(stores, tenant, body, subscriptions.sign("whsec_feil", body, NOW)).status == 401
    assert post(stores, "finnes-ikke", body, subscriptions.sign(new, body, NOW)).status == 401
    _, third = add_signing_secret(stores, tenant)  # a third secret retires the oldest
    assert post(stores, tenant, body, subscriptions.sign(old, body, NOW)).status == 401
