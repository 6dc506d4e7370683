"""Customers in Tripletex: found by number, organisation number, e-mail or mobile phone — or created, once.

Every request the connector sends is checked against the official OpenAPI (the `h` fixture), the lookups
by `phoneNumberMobile` and the `POST /customer` body included.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any

import httpx
import pytest
from tripletex_support import Harness

from connectors.targets import tripletex
from pipeline.errors import ClaimHeld, TransientError
from pipeline.model import Voucher
from pipeline.records.names import TABLE_LEDGER


def unpaid(reference: str, customer: dict[str, Any], amount: str = "399.00") -> Voucher:
    """An order paid in part: the rest is owed by the customer, on 1500."""
    return Voucher(reference=reference, date="2026-11-20", description=f"Omnium ordre {reference}", lines=[
        {"account": "1920", "amount": "100.00", "description": "Betaling Vipps"},
        {"account": "1500", "amount": f"{float(amount) - 100:.2f}", "description": "Utestående", "customer": customer},
        {"account": "3000", "amount": f"-{amount}", "vat_code": "3", "description": "Salg 25 %"},
    ])


def receivable_customer(h: Harness, remote_id: str) -> dict[str, Any]:
    voucher = h.sandbox.company.vouchers[int(remote_id)]
    [line] = [p for p in voucher["postings"] if p["account"] and p["account"]["number"] == 1500]
    return h.sandbox.company.customers[line["customer"]["id"]]


def test_omnium_customers_are_found_by_mobile_phone_or_e_mail_when_their_id_is_no_customer_number(h: Harness):
    company = h.sandbox.company
    company.add_customer(10050, "Åse Ødegård", mobile="912 34 567")  # typed as Norwegians type it
    company.add_customer(10051, "Bjørn Æsøy", mobile="+4741234567")
    company.add_customer(10052, "Nordmann Sport AS", email="post@nordmann-sport.no")
    target = h.target()
    vouchers = [unpaid("O-1", {"phone": "+47 912 34 567", "name": "Åse Ødegård"}),
                unpaid("O-2", {"number": "C0042", "phone": "41234567"}),
                unpaid("O-3", {"number": "C0043", "email": "Post@Nordmann-Sport.no", "phone": "+4799999999"})]

    assert target.preflight(vouchers) == []
    customers = [receivable_customer(h, target.deliver(v).remote_id)["customerNumber"] for v in vouchers]

    assert customers == [10050, 10051, 10052]
    asked = [dict(httpx.QueryParams(e.url.split("?", 1)[1])) for e in h.exchanges.exchanges
             if "/customer?" in e.url and "phoneNumberMobile" in e.url]
    assert {a["phoneNumberMobile"] for a in asked} >= {"+4791234567", "91234567"}


def test_a_missing_customer_blocks_with_a_way_out_and_an_ambiguous_one_is_never_guessed(h: Harness):
    company = h.sandbox.company
    company.add_customer(10060, "Ola Nordmann", email="ola@example.no")
    company.add_customer(10061, "Ola Nordmann (dublett)", email="ola@example.no")
    missing = unpaid("O-10", {"name": "Ny Kunde", "email": "ny@example.no"})
    ambiguous = unpaid("O-11", {"name": "Ola", "email": "ola@example.no"})
    anonymous = unpaid("O-12", {"name": "Bare Et Navn", "number": "K-9"})

    plain = {p.reference: p for p in h.target().preflight([missing, ambiguous, anonymous])}
    assert plain["O-10"].code == "missing-customer" and "create_customers" in plain["O-10"].message
    assert plain["O-11"].code == "ambiguous-customer" and "10060" not in plain["O-11"].message
    creating = {p.reference: p for p in h.target(create_customers=True).preflight([missing, ambiguous, anonymous])}
    assert set(creating) == {"O-11", "O-12"}  # the missing one will be created; these two never
    assert "cannot be created" in creating["O-12"].message
    assert h.sandbox.count("POST", "/v2/customer") == 0


def test_a_missing_customer_is_created_once_and_found_by_the_next_order(h: Harness):
    target = h.target(create_customers=True)
    party = {"name": "Håkon Sæther", "phone": "+4790011223", "email": "hakon@example.no",
             "address": {"lines": ["Storgata 1"], "postal_code": "9008", "city": "Tromsø"}}

    first = target.deliver(unpaid("O-20", party))
    second = h.target(create_customers=True).deliver(unpaid("O-21", {"phone": "90011223"}))

    created = receivable_customer(h, first.remote_id)
    assert receivable_customer(h, second.remote_id)["id"] == created["id"]
    assert h.sandbox.count("POST", "/v2/customer") == 1
    assert created["name"] == "Håkon Sæther" and created["phoneNumberMobile"] == "+4790011223"
    assert created["email"] == "hakon@example.no" and created["postalAddress"]["city"] == "Tromsø"
    assert created["isPrivateIndividual"] is True and created["customerNumber"] >= 10000


def test_a_customer_another_worker_is_creating_is_waited_for_then_taken(h: Harness):
    target = h.target(create_customers=True)
    tables = h.context.tables
    assert tables is not None
    row = "email:kari.b@example.no"
    partition = "kunde-1|tripletex|customers"
    tables.insert(TABLE_LEDGER, {"PartitionKey": partition, "RowKey": row, "Key": row, "State": "creating",
                                 "LeaseUntil": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()})
    voucher = unpaid("O-30", {"name": "Kari B", "email": "kari.b@example.no"})

    with pytest.raises(ClaimHeld) as held:
        target.deliver(voucher)
    assert held.value.retry_after and held.value.retry_after > 0
    assert h.sandbox.count("POST", "/v2/customer") == 0 and h.sandbox.count("POST", "/v2/ledger/voucher") == 0

    other = h.sandbox.company.add_customer(10070, "Kari B", email="kari.b@example.no")  # the other worker's
    entity = tables.get(TABLE_LEDGER, partition, row)
    tables.update(TABLE_LEDGER, {**{k: v for k, v in entity.items() if k != "etag"}, "State": "created",
                                 "CustomerId": other["id"]}, etag=entity["etag"])
    assert receivable_customer(h, target.deliver(voucher).remote_id)["id"] == other["id"]
    assert h.sandbox.count("POST", "/v2/customer") == 0


def test_a_creation_whose_answer_was_lost_is_found_on_the_retry_not_created_again(h: Harness):
    h.sandbox.faults.add(r"^/customer$", "POST", "commit_then_500")
    voucher = unpaid("O-40", {"name": "Mari Bråten", "phone": "+4795566778"})

    with pytest.raises(TransientError):
        h.target(create_customers=True).deliver(voucher)
    delivery = h.target(create_customers=True).deliver(voucher)

    assert h.sandbox.count("POST", "/v2/customer") == 1
    assert [c["name"] for c in h.sandbox.company.customers.values() if c["phoneNumberMobile"] == "+4795566778"] == [
        "Mari Bråten"]
    assert receivable_customer(h, delivery.remote_id)["name"] == "Mari Bråten"


class Interleaving(httpx.BaseTransport):
    """Runs another delivery to completion (in its own thread) just before this one's POST /customer."""

    def __init__(self, inner: httpx.BaseTransport, other) -> None:
        self.inner, self.other, self.fired = inner, other, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/customer") and not self.fired:
            self.fired = True
            worker = threading.Thread(target=self.other)
            worker.start()
            worker.join(timeout=30)
        return self.inner.handle_request(request)


def test_two_deliveries_that_need_the_same_new_customer_at_once_create_it_once(h: Harness):
    outcomes: dict[str, Any] = {}
    second = unpaid("O-51", {"name": "Øystein Lø", "email": "oystein@example.no", "phone": "+4748899001"})

    def the_other_worker() -> None:
        try:
            outcomes["second"] = h.target(create_customers=True).deliver(second)
        except ClaimHeld as exc:
            outcomes["second"] = exc

    shared = h.target(create_customers=True).context
    own_cache = dataclasses.replace(shared, cache={})  # another worker: its own client and register, same tables
    racing = tripletex.TripletexTarget(own_cache, transport=Interleaving(h.transport, the_other_worker),
                                       sleep=h.waits.append)
    first = racing.deliver(unpaid("O-50", {"name": "Øystein Lø", "phone": "+4748899001"}))

    assert isinstance(outcomes["second"], ClaimHeld)  # it met the first one's claim: it waits, not creates
    retried = h.target(create_customers=True).deliver(second)  # the deliver stage looks again
    assert h.sandbox.count("POST", "/v2/customer") == 1
    assert receivable_customer(h, first.remote_id)["id"] == receivable_customer(h, retried.remote_id)["id"]
