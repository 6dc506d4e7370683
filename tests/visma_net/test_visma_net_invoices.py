"""Visma.net invoices, credit notes, payments and customers over real HTTP against its sandbox, every request held
against the official spec (the `w`/`make` fixtures): drafts on hold, release and AutoInvoice on opt-in and once,
credit notes applied to the invoice they credit, payments partly paid, overpaid, with fees written off, and customers
found by the tenant's field, updated, and created once under concurrent invoices."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from pipeline.errors import ClaimHeld, DataError, OutcomeUnknown
from pipeline.model import Payment, SalesInvoice
from pipeline.norway.kid import kid_mod10
from sandboxes.visma_net import VismaNetSandbox
from tests.timing import FAULT_CLIENT_TIMEOUT
from tests.visma_net.visma_net_support import Wired

POSTING = {"direct_posting": True, "create_customers": True}
ÅSE = {"name": "Åse Ødegård Bakken", "email": "ase@bygdebladet.no", "phone": "912 34 567",
       "address": {"lines": ["Kjerkgata 1"], "postal_code": "7374", "city": "Røros"}, "delivery_method": "email"}


def renewal(reference: str = "FORNY-1", *, number: str = "S-1", customer: dict[str, Any] | None = None,
            **fields: Any) -> SalesInvoice:
    return SalesInvoice(**{"reference": reference, "date": "2026-11-04", "invoice_number": number,
                           "customer": customer or ÅSE, "due_date": "2026-11-18", "kid": kid_mod10("4711"),
                           "description": "Bygdebladet, helårsabonnement", "total": "1250.00", "lines": [
                               {"description": "Årsabonnement – Bygdebladet", "amount": "1000.00", "vat_code": "3"},
                               {"description": "Porto", "amount": "250.00", "vat_code": "3", "account": "3000"}],
                           **fields})


def cancellation(reference: str = "OPPSIGELSE-1", credits: str = "S-1", amount: str = "-250.00") -> SalesInvoice:
    return SalesInvoice(reference=reference, date="2026-11-10", invoice_number=f"K-{credits}", credits=credits,
                        customer=ÅSE, total=amount, lines=[{"description": "Porto refundert", "amount": amount,
                                                            "vat_code": "3"}])


def paid(amount: str, reference: str = "BETALT-1", **fields: Any) -> Payment:
    return Payment(**{"reference": reference, "date": "2026-11-12", "amount": amount, "invoice_number": "S-1",
                      "payment_method": "vipps", **fields})


def invoices(sandbox: VismaNetSandbox) -> list[dict[str, Any]]:
    return list(sandbox.receivables.documents["invoice"].values())


def test_an_invoice_is_a_customer_invoice_on_hold_with_its_vat_due_date_kid_and_reference(w: Wired) -> None:
    target = w.target(create_customers=True)
    assert target.preflight([renewal()]) == []
    delivery = target.deliver(renewal())
    assert delivery.draft and delivery.details["customer"] == "created"
    [made] = invoices(w.sandbox)
    assert (made["status"], made["externalReference"], made["paymentReference"]) == ("Hold", "FORNY-1", kid_mod10("4711"))
    assert made["documentDueDate"] == "2026-11-18T00:00:00" and made["invoiceText"].startswith("Faktura S-1: Bygdebladet")
    assert made["taxDetails"] == [{"taxId": "3", "taxableAmount": Decimal("1000.00"), "vatAmount": Decimal("250.00")}]
    assert [line["amountInCurrency"] for line in made["invoiceLines"]] == [Decimal("800.00"), Decimal("200.00")]
    assert made["amount"] == Decimal("1250.00") and made["invoiceLines"][0]["description"] == "Årsabonnement – Bygdebladet"
    assert w.sandbox.count("POST", "/v1/customerinvoice") == 0  # no release, no send: a draft


def test_direct_posting_releases_and_autoinvoice_sends_it_once(make: Callable[..., Wired]) -> None:
    wired = make(send_invoices=True, **POSTING)
    delivery = wired.target().deliver(renewal())
    assert not delivery.draft and delivery.details["sent"] == "autoinvoice"
    [made] = invoices(wired.sandbox)
    assert made["status"] == "Open" and wired.sandbox.receivables.sent == [("invoice", made["referenceNumber"])]
    again = wired.target().deliver(renewal())  # the same document again (the ledger's retry): nothing new
    assert again == delivery and len(wired.sandbox.receivables.sent) == 1 and len(invoices(wired.sandbox)) == 1


def test_a_send_whose_outcome_is_unknown_is_never_repeated(make: Callable[..., Wired]) -> None:
    wired = make(send_invoices=True, timeout=FAULT_CLIENT_TIMEOUT, **POSTING)
    wired.sandbox.faults.add(r"/action/sendToAutoInvoice$", "POST", "timeout")
    with pytest.raises(OutcomeUnknown):
        wired.target().deliver(renewal())
    delivery = wired.target().deliver(renewal())
    assert delivery.details["sent"] == "unknown"
    assert wired.sandbox.count("POST", f"/v1/customerinvoice/{invoices(wired.sandbox)[0]['referenceNumber']}"
                                       "/action/sendToAutoInvoice") == 1


def test_a_timeout_after_visma_net_made_the_invoice_is_found_not_made_again(make: Callable[..., Wired]) -> None:
    wired = make(timeout=FAULT_CLIENT_TIMEOUT, **POSTING)
    wired.sandbox.faults.add(r"^/v2/customerinvoice$", "POST", "timeout")
    target = wired.target()
    with pytest.raises(OutcomeUnknown):
        target.deliver(renewal())
    assert target.find("FORNY-1") is None  # unfinished: deliver resumes it, looking first
    delivery = target.deliver(renewal())
    assert len(invoices(wired.sandbox)) == 1 and not delivery.draft
    found = target.find("FORNY-1")
    assert found is not None and (found.remote_id, found.details) == (delivery.remote_id, delivery.details)


def test_a_lost_release_answer_is_read_from_the_status_not_released_twice(make: Callable[..., Wired]) -> None:
    wired = make(timeout=FAULT_CLIENT_TIMEOUT, **POSTING)
    wired.sandbox.faults.add(r"/v1/customerinvoice/\d+/action/release$", "POST", "timeout")
    with pytest.raises(OutcomeUnknown):
        wired.target().deliver(renewal())
    delivery = wired.target().deliver(renewal())
    number = invoices(wired.sandbox)[0]["referenceNumber"]
    assert not delivery.draft and wired.sandbox.count("POST", f"/v1/customerinvoice/{number}/action/release") == 1


def test_a_credit_note_is_applied_to_the_invoice_it_credits(make: Callable[..., Wired]) -> None:
    wired = make(**POSTING)
    target = wired.target()
    target.deliver(renewal())
    assert target.preflight([cancellation()]) == []
    delivery = target.deliver(cancellation())
    [invoice] = invoices(wired.sandbox)
    [note] = wired.sandbox.receivables.documents["credit"].values()
    assert delivery.remote_id == f"credit:{note['referenceNumber']}" and note["status"] == "Closed"
    assert note["applications"][0]["refNbr"] == invoice["referenceNumber"] and invoice["balance"] == Decimal("1000.00")
    assert note["invoiceText"] == "Kreditnota K-S-1 for faktura S-1" and note["amount"] == Decimal("250.00")
    assert "due_date" not in delivery.not_accepted  # the cancellation had none


def test_a_credit_note_of_an_invoice_still_on_hold_is_refused_when_posting_directly(make: Callable[..., Wired]) -> None:
    drafts = make(create_customers=True)
    drafts.target().deliver(renewal())  # on hold
    posting = drafts.target(direct_posting=True)
    assert [p.code for p in posting.preflight([cancellation()])] == ["missing-invoice"]


@pytest.mark.parametrize(("amount", "settings", "balance", "codes"), [
    ("400.00", {}, Decimal("850.00"), []),  # partly paid: the rest stays open
    ("1249.50", {"payment_tolerance": "1.00", "write_off_reason": "AVRUNDING"}, Decimal("0.00"), []),  # fee written off
    ("1249.50", {"payment_tolerance": "1.00"}, None, ["payment-difference"]),  # no reason code to write it off with
    ("1300.00", {}, None, ["overpaid"]),
    ("1300.00", {"overpayments": "accept"}, Decimal("0.00"), []),  # the surplus stays unapplied on the payment
])
def test_partly_paid_overpaid_fees_and_rounding_follow_the_rules(make: Callable[..., Wired], amount: str,
                                                                 settings: dict[str, Any], balance: Decimal | None,
                                                                 codes: list[str]) -> None:
    wired = make(**POSTING, **settings)
    target = wired.target()
    target.deliver(renewal())
    payment = paid(amount)
    assert [p.code for p in target.preflight([payment])] == codes
    if codes:
        with pytest.raises(DataError):
            target.deliver(payment)
        assert not wired.sandbox.receivables.documents["payment"]
        return
    delivery = target.deliver(payment)
    [invoice] = invoices(wired.sandbox)
    [made] = wired.sandbox.receivables.documents["payment"].values()
    assert invoice["balance"] == balance and made["status"] in ("Open", "Closed") and not delivery.draft
    assert (made["paymentMethod"]["id"], made["cashAccount"], made["paymentRef"]) == ("VIPPS", "1920", "BETALT-1")
    if "write_off_reason" in settings:
        assert made["applications"][0]["balanceWriteOff"] == Decimal("0.50")
        assert made["applications"][0]["writeOffReasonCode"] == "AVRUNDING"
    found = target.find("BETALT-1")
    assert found is not None and (found.remote_id, found.details) == (delivery.remote_id, delivery.details)


def test_a_payment_finds_its_invoice_by_kid_and_lands_on_the_methods_cash_account(make: Callable[..., Wired]) -> None:
    wired = make(cash_accounts={"card": "1900"}, **POSTING)
    target = wired.target()
    target.deliver(renewal())
    payment = paid("1250.00", invoice_number=None, kid=kid_mod10("4711"), payment_method="card")
    target.deliver(payment)
    [made] = wired.sandbox.receivables.documents["payment"].values()
    assert (made["paymentMethod"]["id"], made["cashAccount"]) == ("KORT", "1900")
    assert invoices(wired.sandbox)[0]["status"] == "Closed"


def test_a_payment_is_a_draft_on_hold_by_default_and_what_it_lacks_is_reported_at_once(
        make: Callable[..., Wired]) -> None:
    wired = make(**POSTING)
    wired.target().deliver(renewal())
    drafts = wired.target(direct_posting=False, payment_methods={"vipps": "MOBILEPAY"})
    wrong = paid("100.00", bank_account="1999")
    assert sorted(p.code for p in drafts.preflight([wrong])) == ["unknown-cash-account", "unknown-payment-method"]
    delivery = wired.target(direct_posting=False).deliver(paid("100.00"))
    assert delivery.draft and next(iter(wired.sandbox.receivables.documents["payment"].values()))["status"] == "Hold"


def test_preflight_reports_everything_an_invoice_lacks_at_once(w: Wired) -> None:
    bad = renewal(customer={"number": "99999", "name": "Ukjent AS"}, due_date="2026-11-30", payment_method="vipps",
                  lines=[{"description": "Abonnement", "amount": "1000.00", "vat_code": "86"},
                         {"description": "Porto", "amount": "250.00", "vat_code": "3", "vat_amount": "40.00",
                          "account": "3999"}])
    codes = sorted(p.code for p in w.target(due_days={"vipps": 10}).preflight([bad]))
    assert codes == ["due-date-terms", "missing-account", "missing-customer", "unknown-vat-code", "vat-mismatch"]


def test_a_found_customer_is_updated_when_the_invoice_says_otherwise(make: Callable[..., Wired]) -> None:
    wired = make(update_customers=True, **POSTING)
    known = {"number": "10002", "name": "Bakeriet på Røros AS", "email": "faktura@bakerietroros.no",
             "delivery_method": "ehf", "organization_number": "987654325"}
    delivery = wired.target().deliver(renewal(customer=known))
    assert delivery.details["customer"] == "updated"
    held = wired.sandbox.receivables.customers["10002"]
    assert held["mainContact"]["email"] == "faktura@bakerietroros.no" and held["acceptAutoInvoices"] is True
    assert wired.sandbox.count("PUT", "/v1/customer/10002") == 1
    wired.target().deliver(renewal("FORNY-2", number="S-2", customer=known))
    assert wired.sandbox.count("PUT", "/v1/customer/10002") == 1  # nothing changed since
    unchanged = make(**POSTING).target().deliver(renewal("FORNY-3", number="S-3", customer={**known, "name": "Nytt"}))
    assert unchanged.details["customer"] == "found"  # the tenant has not opted in to updates (update_customers)


def test_the_tenants_match_field_decides_which_customer_is_meant(make: Callable[..., Wired]) -> None:
    wired = make(customer_match="organization_number", customer_classes={"ehf": "EHF", "b2c": "PRIVAT"}, **POSTING)
    by_org = {"number": "777", "name": "Fjordkafé Ålesund AS", "organization_number": "913579240"}
    delivery = wired.target().deliver(renewal(customer=by_org))
    assert delivery.details["customer_number"] == "10001"  # its own number 777 is not what this tenant matches by
    b2b = {"name": "Ny Bedrift AS", "organization_number": "923456783", "delivery_method": "ehf"}
    made = wired.target().deliver(renewal("FORNY-2", number="S-2", customer=b2b))
    created = wired.sandbox.receivables.customers[made.details["customer_number"]]
    assert made.details["customer"] == "created" and created["corporateId"] == "923456783"
    assert created["acceptAutoInvoices"] is True and created["customerClass"] == {"id": "EHF"}


def test_a_b2c_customer_is_created_with_address_email_and_phone(make: Callable[..., Wired]) -> None:
    wired = make(**POSTING)
    delivery = wired.target().deliver(renewal())
    held = wired.sandbox.receivables.customers[delivery.details["customer_number"]]
    assert held["name"] == "Åse Ødegård Bakken" and held.get("corporateId") is None
    assert held["mainContact"] == {"email": "ase@bygdebladet.no", "phone1": "+4791234567"}
    assert held["mainAddress"]["city"] == "Røros" and held["sendInvoicesByEmail"] is True


def test_concurrent_invoices_for_one_new_customer_create_it_once(make: Callable[..., Wired]) -> None:
    wired = make(**POSTING)
    wired.sandbox.faults.slow_seconds = 0.3
    wired.sandbox.faults.add(r"^/v1/customer$", "POST", "slow")  # the creation takes a while: the others overlap it

    def deliver(i: int) -> str:
        target = wired.target()
        for _ in range(200):  # as the queue would: a claim held by another worker is tried again
            try:
                return target.deliver(renewal(f"FORNY-{i}", number=f"S-{i}")).remote_id
            except ClaimHeld:
                continue
        raise AssertionError("never delivered")

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(deliver, range(6)))
    assert len(set(ids)) == 6
    customers = [c for c in wired.sandbox.receivables.customers.values()
                 if c["mainContact"].get("email") == "ase@bygdebladet.no"]
    assert len(customers) == 1 and wired.sandbox.count("POST", "/v1/customer") == 1
    assert {i["customer"]["number"] for i in invoices(wired.sandbox)} == {customers[0]["number"]}


def test_two_customers_sharing_an_email_are_never_guessed_between(make: Callable[..., Wired]) -> None:
    wired = make(customer_match="email", **POSTING)
    for number in ("30001", "30002"):
        wired.sandbox.receivables.create_customer({"number": {"value": number}, "overrideNumberSeries": {"value": True},
                                                   "name": {"value": "Åse"},
                                                   "mainContact": {"value": {"email": {"value": "ase@bygdebladet.no"}}}})
    assert [p.code for p in wired.target().preflight([renewal()])] == ["missing-customer"]
    with pytest.raises(DataError):
        wired.target().deliver(renewal())
    assert wired.sandbox.count("POST", "/v1/customer") == 0


def test_the_connection_test_says_which_payment_methods_payments_take(make: Callable[..., Wired]) -> None:
    answer = make(payment_methods={"vipps": "VIPPS", "card": "AMEX"}, cash_accounts={"vipps": "1900"}).target().check()
    assert answer["payments"] == {"vipps": "VIPPS → 1900", "card": "missing in Visma.net: payment method AMEX"}


def test_the_sandbox_refuses_as_visma_net_does(sandbox: VismaNetSandbox, w: Wired) -> None:
    """Its customer ledger's refusals in Visma.net's error envelope (`{"message": "VismaId: …"}`), and release only off
    hold."""
    target = w.target()
    refused = target.client.post("v2/customerinvoice", json={"customerNumber": {"value": "99999"},
                                                            "documentDate": {"value": "2026-11-04T00:00:00"},
                                                            "invoiceLines": []})
    assert refused.status_code == 400 and refused.json()["message"].startswith("VismaId: ")
    assert "Customer '99999' cannot be found" in refused.json()["message"]
    target.deliver(renewal(customer={"number": "10001", "name": "Fjordkafé Ålesund AS"}))
    [held] = invoices(sandbox)
    answer = target.client.post(f"v1/customerinvoice/{held['referenceNumber']}/action/release").json()
    assert answer["actionResult"] == "Failed" and held["status"] == "Hold"
    over = target.client.post("v1/customerPayment", json={
        "type": {"value": "Payment"}, "customer": {"value": "10001"}, "paymentMethod": {"value": "BANK"},
        "cashAccount": {"value": "1920"}, "paymentAmount": {"value": 2000}, "paymentRef": {"value": "X"},
        "paymentLines": [{"operation": "Insert", "documentType": {"value": "Invoice"},
                          "refNbr": {"value": held["referenceNumber"]}, "amountPaid": {"value": 2000}}]})
    assert over.status_code == 400 and "is not an open invoice" in over.json()["message"]
