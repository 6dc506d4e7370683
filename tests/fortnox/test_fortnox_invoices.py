"""Fortnox invoices, credit notes, payments and customers over real HTTP against its sandbox: unbooked drafts, booked
and sent on opt-in and once, credit notes linked to the invoice they credit (Fortnox's own credit, or a credit
invoice naming it), payments partly paid, overpaid, with fees written off, and customers found by the tenant's field,
updated, and created once under concurrent invoices."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from connectors.targets.fortnox.mapping import SCOPES, scopes
from pipeline.errors import ClaimHeld, DataError, OutcomeUnknown
from pipeline.model import Payment, SalesInvoice
from pipeline.norway.kid import kid_mod10
from sandboxes.fortnox import FortnoxSandbox
from tests.fortnox.conftest import Wiring

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


def ours(sandbox: FortnoxSandbox) -> list[dict[str, Any]]:
    """The invoices Bilagsbro made (the seeded books have none)."""
    return [i for i in sandbox.company.invoicing.invoices.values() if i["ExternalInvoiceReference1"]
            or i["Credit"] == "true"]


def test_an_invoice_is_an_unbooked_draft_with_its_vat_due_date_ocr_and_reference(
        sandbox: FortnoxSandbox, wire: Callable[..., Wiring]) -> None:
    target = wire(create_customers=True, book_invoices=False).target()  # vouchers posted, invoices drafts
    assert target.preflight([renewal()]) == []
    delivery = target.deliver(renewal())
    [invoice] = ours(sandbox)
    assert delivery.draft and delivery.remote_id == f"invoice:{invoice['DocumentNumber']}"
    assert not invoice["Booked"] and invoice["Total"] == Decimal("1250.00") and invoice["TotalVAT"] == Decimal("250.00")
    assert (invoice["OCR"], invoice["DueDate"], invoice["ExternalInvoiceReference1"],
            invoice["ExternalInvoiceReference2"]) == (kid_mod10("4711"), "2026-11-18", "FORNY-1", "S-1")
    assert [r["Description"] for r in invoice["InvoiceRows"]] == ["Årsabonnement – Bygdebladet", "Porto"]
    assert invoice["InvoiceRows"][1]["AccountNumber"] == 3000 and invoice["VATIncluded"] is True
    assert sandbox.company.invoicing.sent == [] and delivery.details["customer"] == "created"


def test_booking_on_opt_in_and_sending_by_email_once(sandbox: FortnoxSandbox, wire: Callable[..., Wiring]) -> None:
    wired = wire(send_invoices=True, **POSTING)
    delivery = wired.target().deliver(renewal())
    [invoice] = ours(sandbox)
    assert invoice["Booked"] and not delivery.draft and delivery.details["sent"] == "email"
    assert wired.target().deliver(renewal()).remote_id == delivery.remote_id  # the progress row answers
    assert sandbox.company.invoicing.sent == [(invoice["DocumentNumber"], "email")]


def test_a_send_whose_outcome_is_unknown_is_never_repeated(sandbox: FortnoxSandbox,
                                                           wire: Callable[..., Wiring]) -> None:
    wired = wire(send_invoices=True, timeout=0.5, **POSTING)  # a case that injects a timeout
    sandbox.faults.add(r"^/invoices/\d+/email$", "GET", "timeout")
    with pytest.raises(OutcomeUnknown):
        wired.target().deliver(renewal())
    delivery = wired.target().deliver(renewal())
    assert delivery.details["sent"] == "unknown"
    assert len(sandbox.company.invoicing.sent) == 1  # the lost one went out; never a second


def test_a_timeout_after_fortnox_made_the_invoice_is_found_not_made_again(sandbox: FortnoxSandbox,
                                                                          wire: Callable[..., Wiring]) -> None:
    wired = wire(timeout=0.5, **POSTING)  # a case that injects a timeout
    sandbox.faults.add(r"^/invoices$", "POST", "timeout")
    with pytest.raises(OutcomeUnknown):
        wired.target().deliver(renewal())
    delivery = wired.target().deliver(renewal())
    [invoice] = ours(sandbox)
    assert delivery.remote_id == f"invoice:{invoice['DocumentNumber']}" and invoice["Booked"]


def test_a_lost_bookkeep_answer_is_read_from_booked_not_booked_twice(sandbox: FortnoxSandbox,
                                                                    wire: Callable[..., Wiring]) -> None:
    wired = wire(**POSTING)
    sandbox.faults.add(r"^/invoices/\d+/bookkeep$", "PUT", "commit_then_500", times=9)
    with pytest.raises(OutcomeUnknown):  # booked, then a 500: the action is never re-sent blindly
        wired.target().deliver(renewal())
    sandbox.faults.clear()
    delivery = wired.target().deliver(renewal())
    assert not delivery.draft and sandbox.count("PUT", "/bookkeep") == 1


def test_a_whole_cancellation_is_fortnoxs_own_credit_linked_to_the_invoice(sandbox: FortnoxSandbox,
                                                                          wire: Callable[..., Wiring]) -> None:
    target = wire(**POSTING).target()
    target.deliver(renewal())
    delivery = target.deliver(cancellation(amount="-1250.00"))
    [invoice, credit] = ours(sandbox)
    assert invoice["CreditInvoiceReference"] == credit["DocumentNumber"] and sandbox.count("PUT", "/credit") == 1
    assert credit["CreditInvoiceReference"] == invoice["DocumentNumber"] and credit["Total"] == Decimal("-1250.00")
    assert credit["Booked"] and invoice["Balance"] == Decimal("0.00") and not delivery.draft
    assert delivery.details["credits_invoice"] == invoice["DocumentNumber"]
    assert target.deliver(cancellation(amount="-1250.00")).remote_id == delivery.remote_id


def test_a_partial_credit_is_a_credit_invoice_naming_the_invoice(sandbox: FortnoxSandbox,
                                                                wire: Callable[..., Wiring]) -> None:
    target = wire(**POSTING).target()
    target.deliver(renewal())
    delivery = target.deliver(cancellation())
    [invoice, credit] = ours(sandbox)
    assert credit["CreditInvoiceReference"] == invoice["DocumentNumber"] and credit["Total"] == Decimal("-250.00")
    assert credit["ExternalInvoiceReference1"] == "OPPSIGELSE-1" and "for faktura S-1" in credit["Remarks"]
    assert invoice["Balance"] == Decimal("1000.00") and sandbox.count("PUT", "/credit") == 0
    assert "due_date" not in delivery.not_accepted  # the cancellation had none
    assert target.find("OPPSIGELSE-1") is not None


@pytest.mark.parametrize(("amount", "settings", "balance", "codes"), [
    ("1250.00", {}, Decimal("0.00"), []),
    ("1000.00", {}, Decimal("250.00"), []),  # partly paid: the rest stays open
    ("1249.50", {"payment_tolerance": "1.00", "write_off_account": "7770"}, Decimal("0.00"), []),
    ("1249.50", {"payment_tolerance": "1.00"}, None, ["payment-difference"]),  # no account to write it off on
    ("1300.00", {}, None, ["overpaid"]),
    ("1300.00", {"overpayments": "accept"}, Decimal("-50.00"), []),  # the customer in credit
])
def test_partly_paid_overpaid_fees_and_rounding_follow_the_rules(
        sandbox: FortnoxSandbox, wire: Callable[..., Wiring], amount: str, settings: dict[str, Any],
        balance: Decimal | None, codes: list[str]) -> None:
    target = wire(**POSTING, **settings).target()
    target.deliver(renewal())
    payment = paid(amount)
    assert [p.code for p in target.preflight([payment])] == codes
    books = sandbox.company.invoicing
    if codes:
        with pytest.raises(DataError):
            target.deliver(payment)
        assert not books.payments
        return
    delivery = target.deliver(payment)
    [invoice] = ours(sandbox)
    [made] = books.payments.values()
    assert invoice["Balance"] == balance and made["Booked"] and not delivery.draft
    assert (made["ModeOfPayment"], made["ModeOfPaymentAccount"], made["Amount"]) == ("VIPPS", 1582, Decimal(amount))
    if "write_off_account" in settings:
        assert [(w["Amount"], w["AccountNumber"]) for w in made["WriteOffs"]] == [(Decimal("0.50"), 7770)]
    found = target.find("BETALT-1")
    assert found is not None and (found.remote_id, found.details) == (delivery.remote_id, delivery.details)


def test_a_payment_finds_its_invoice_by_kid_and_takes_the_methods_mode_of_payment(
        sandbox: FortnoxSandbox, wire: Callable[..., Wiring]) -> None:
    target = wire(**POSTING).target()
    target.deliver(renewal())
    target.deliver(paid("1250.00", invoice_number=None, kid=kid_mod10("4711"), payment_method="card"))
    [made] = sandbox.company.invoicing.payments.values()
    assert (made["ModeOfPayment"], made["ModeOfPaymentAccount"]) == ("KORT", 1580)


def test_a_payment_lost_after_fortnox_made_it_is_found_among_the_invoices_payments(
        sandbox: FortnoxSandbox, wire: Callable[..., Wiring]) -> None:
    wired = wire(timeout=0.5, **POSTING)  # a case that injects a timeout
    wired.target().deliver(renewal())
    sandbox.faults.add(r"^/invoicepayments$", "POST", "timeout")
    with pytest.raises(OutcomeUnknown):
        wired.target().deliver(paid("1000.00"))
    delivery = wired.target().deliver(paid("1000.00"))
    [made] = sandbox.company.invoicing.payments.values()
    assert delivery.remote_id == f"payment:{made['Number']}" and made["Booked"]


def test_a_payment_of_an_unbooked_invoice_and_everything_it_lacks_are_reported_at_once(
        sandbox: FortnoxSandbox, wire: Callable[..., Wiring]) -> None:
    drafts = wire(create_customers=True, book_invoices=False, modes_of_payment={"vipps": "SWISH"}).target()
    drafts.deliver(renewal())
    assert {p.code for p in drafts.preflight([paid("1250.00")])} == {"unknown-payment-method", "invoice-not-posted"}
    assert [p.code for p in drafts.preflight([paid("1.00", invoice_number="S-9")])] == [
        "unknown-payment-method", "missing-invoice"]
    assert not sandbox.company.invoicing.payments


def test_preflight_reports_everything_an_invoice_lacks_at_once(sandbox: FortnoxSandbox,
                                                               wire: Callable[..., Wiring]) -> None:
    target = wire(due_days={"invoice": 14}).target()  # creates no customers
    invoice = SalesInvoice(reference="MANGEL-1", date="2027-03-01", invoice_number="S-7", currency="EUR",
                           customer={"email": "ukjent@example.no", "name": "Ukjent"}, total="230.00",
                           due_date="2027-03-02", payment_method="invoice", lines=[
                               {"description": "Matkasse", "amount": "115.00", "vat_code": "31"},
                               {"description": "Kurs", "amount": "115.00", "vat_code": "1", "account": "9999"}])
    found = {(p.code, p.field) for p in target.preflight([invoice])}
    assert found == {("unsupported-currency", "currency"), ("no-financial-year", "date"),
                     ("unsupported-vat", "lines[0].vat_code"), ("unknown-vat-code", "lines[1].vat_code"),
                     ("due-date-terms", "due_date"), ("missing-customer", "customer")}
    with pytest.raises(DataError):
        target.deliver(invoice)
    assert ours(sandbox) == []


def test_a_norwegian_rate_is_taken_where_the_companys_vat_setup_has_it(sandbox: FortnoxSandbox,
                                                                       wire: Callable[..., Wiring]) -> None:
    food = renewal(total="115.00", lines=[{"description": "Matkasse", "amount": "115.00", "vat_code": "31"}])
    assert [p.code for p in wire(**POSTING).target().preflight([food])] == ["unsupported-vat"]
    sandbox.company.invoicing.vat_rates.add(Decimal("15"))
    target = wire(vat_rates=["25", "15", "12", "0"], **POSTING).target()
    assert target.preflight([food]) == []
    target.deliver(food)
    [invoice] = ours(sandbox)
    assert invoice["InvoiceRows"][0]["VAT"] == Decimal("15") and invoice["TotalVAT"] == Decimal("15.00")


def test_a_found_customer_is_updated_when_the_invoice_says_otherwise(sandbox: FortnoxSandbox,
                                                                     wire: Callable[..., Wiring]) -> None:
    books = sandbox.company.invoicing
    books.customers["20100"] = books._customer({"CustomerNumber": "20100", "Name": "Fjordkafé Ålesund AS",
                                                "OrganisationNumber": "923609016", "Type": "COMPANY"})
    fjordkafé = {"number": "20100", "name": "Fjordkafé Ålesund AS", "email": "post@fjordkafe.no",
                 "organization_number": "923609016", "delivery_method": "ehf"}
    target = wire(update_customers=True, send_invoices=True, **POSTING).target()
    delivery = target.deliver(renewal(customer=fjordkafé))
    held = books.customers["20100"]
    assert delivery.details["customer"] == "updated" and held["Email"] == "post@fjordkafe.no"
    assert held["DefaultDeliveryTypes"]["Invoice"] == "ELECTRONICINVOICE" and delivery.details["sent"] == "einvoice"
    assert len(books.customers) == 4  # none created


def test_the_tenants_match_field_decides_which_customer_is_meant(sandbox: FortnoxSandbox,
                                                                 wire: Callable[..., Wiring]) -> None:
    # the source's number 10002 is another customer in Fortnox; the tenant matches by organisation number
    books = sandbox.company.invoicing
    books.customers["20100"] = books._customer({"CustomerNumber": "20100", "Name": "Fjordkafé",
                                                "OrganisationNumber": "923609016", "Type": "COMPANY"})
    party = {"number": "10002", "name": "Fjordkafé", "organization_number": "923609016"}
    delivery = wire(customer_match="organization_number", **POSTING).target().deliver(renewal(customer=party))
    assert delivery.details["customer_number"] == "20100"
    assert wire(customer_match="number", **POSTING).target().deliver(
        renewal("FORNY-2", number="S-2", customer=party)).details["customer_number"] == "10002"


def test_b2c_and_b2b_customers_are_created_with_their_kind_address_and_contact(sandbox: FortnoxSandbox,
                                                                             wire: Callable[..., Wiring]) -> None:
    target = wire(**POSTING).target()
    target.deliver(renewal())
    target.deliver(renewal("FORNY-2", number="S-2", customer={"name": "Røros Trykk AS", "email": "post@trykk.no",
                                                              "organization_number": "912345602"}))
    made = {c["Name"]: c for c in sandbox.company.invoicing.customers.values()}
    åse, trykk = made["Åse Ødegård Bakken"], made["Røros Trykk AS"]
    assert (åse["Type"], åse["Address1"], åse["ZipCode"], åse["City"], åse["Phone1"], åse["EmailInvoice"]) == (
        "PRIVATE", "Kjerkgata 1", "7374", "Røros", "+4791234567", "ase@bygdebladet.no")
    assert (trykk["Type"], trykk["OrganisationNumber"]) == ("COMPANY", "912345602")


def test_concurrent_invoices_for_one_new_customer_create_it_once(sandbox: FortnoxSandbox,
                                                                 wire: Callable[..., Wiring]) -> None:
    wired = wire(**POSTING)
    sandbox.faults.slow_seconds = 0.3
    sandbox.faults.add(r"^/customers$", "POST", "slow")  # the creation takes a while: the others overlap it

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
    customers = [c for c in sandbox.company.invoicing.customers.values() if c["Email"] == "ase@bygdebladet.no"]
    assert len(customers) == 1 and sandbox.count("POST", "/3/customers") == 1
    assert {i["CustomerNumber"] for i in ours(sandbox)} == {customers[0]["CustomerNumber"]}


def test_two_customers_sharing_an_email_are_never_guessed_between(sandbox: FortnoxSandbox,
                                                                  wire: Callable[..., Wiring]) -> None:
    books = sandbox.company.invoicing
    for number in ("20100", "20101"):
        books.customers[number] = books._customer({"CustomerNumber": number, "Name": "Åse", "Email": ÅSE["email"]})
    target = wire(customer_match="email", **POSTING).target()
    assert [p.code for p in target.preflight([renewal()])] == ["missing-customer"]
    with pytest.raises(DataError):
        target.deliver(renewal())
    assert ours(sandbox) == [] and len(books.customers) == 5


@pytest.mark.parametrize("invoicing", [False, True])
def test_the_consent_asks_for_the_invoice_scopes_when_the_tenant_invoices(invoicing: bool) -> None:
    from urllib.parse import parse_qs, urlsplit

    from api.http import Request
    from connectors.targets.fortnox import consent
    from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets, MemoryTables
    from pipeline.ports import Stores
    from pipeline.records.tenants import TenantRegistry

    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets(), queues=MemoryQueues())
    tenant = TenantRegistry(stores.tables).add("Bygdebladet Røros AS")
    made = consent.new_link(stores, tenant.id, {"client_id": "app", "invoicing": invoicing}, "hemmelig",
                            "https://bilagsbro.example")
    link = {"link": made["url"].rsplit("/", 1)[1]}
    page = consent.show(stores, {}, Request("GET", link, {}, {}, b"", "https://bilagsbro.example"))
    assert ("id='invoices'" in page.body) is invoicing
    go = consent.start(stores, {}, Request("POST", link, {}, {}, b"direct_posting=yes", "https://bilagsbro.example"))
    asked = set(parse_qs(urlsplit(go.headers["Location"]).query)["scope"][0].split())
    assert asked == set(scopes(invoicing)) and set(SCOPES) <= asked
    assert ({"invoice", "payment"} <= asked) is invoicing and "customer" in asked


def test_the_sandbox_refuses_as_fortnox_does(sandbox: FortnoxSandbox, wire: Callable[..., Wiring]) -> None:
    target = wire(**POSTING).target()
    with pytest.raises(DataError) as refused:
        target.request("POST", "invoices", body={"Invoice": {"CustomerNumber": "10001", "InvoiceDate": "2026-11-04",
                                                              "InvoiceRows": [{"Price": 100, "VAT": 15}]}})
    assert "momssats" in (refused.value.provider_message or "")
    drafts = wire(create_customers=True, book_invoices=False).target()
    drafts.deliver(renewal())
    [invoice] = ours(sandbox)
    with pytest.raises(DataError) as unbooked:
        target.request("POST", "invoicepayments", body={"InvoicePayment": {
            "InvoiceNumber": int(invoice["DocumentNumber"]), "Amount": 10, "PaymentDate": "2026-11-12"}})
    assert "bokförd" in (unbooked.value.provider_message or "")
    assert not sandbox.company.invoicing.payments


def test_the_rate_limit_is_waited_out_and_nothing_is_made_twice() -> None:
    import time

    with FortnoxSandbox(rate_limit=(3, 0.5)) as sandbox:  # Fortnox's 25 per 5 s, scaled down
        wired = Wiring(sandbox, **POSTING, send_invoices=True)
        target = wired.target()

        def sleep(seconds: float) -> None:
            wired.sleeps.append(seconds)
            time.sleep(min(seconds, 0.5))
        target.context.sleep = sleep
        target.deliver(renewal())
        target.deliver(paid("1250.00"))
        wired.close()
    books = sandbox.company.invoicing
    assert len(ours(sandbox)) == 1 and len(books.payments) == 1 and len(books.sent) == 1
    assert wired.sleeps  # 429s came and were waited out


def test_the_connection_test_checks_the_invoice_scope_and_the_modes_of_payment(
        sandbox: FortnoxSandbox, wire: Callable[..., Wiring]) -> None:
    from pipeline.errors import ConfigError

    said = wire(invoicing=True, modes_of_payment={"vipps": "VIPPS", "card": "SWISH"}).target().check()
    assert said["invoices"]["modes_of_payment"] == {"vipps": "VIPPS"}
    assert said["invoices"]["modes_of_payment_missing"] == {"card": "SWISH"}
    assert "invoices" not in wire().target().check()  # a tenant that does not invoice is not asked
    for token in sandbox.refresh_tokens.values():
        token.discard("invoice")  # consented before it invoiced
    with pytest.raises(ConfigError, match="onboarding link"):
        wire(invoicing=True).target().check()
