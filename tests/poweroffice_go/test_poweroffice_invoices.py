"""PowerOffice GO sales invoices, credit notes, payments and customers against the sandbox over HTTP (every request
held against GO's published DTOs by the harness): drafts as sales orders, posting and delivery once, lines by
product, due dates by terms, linked credit notes, payments in part, in full with a fee, over; customers found by the
tenant's field, created once under concurrent invoices, updated; the connection test's missing role."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from connectors.targets.poweroffice_go.descriptor import DESCRIPTOR
from pipeline.errors import ClaimHeld, ConfigError, DataError, OutcomeUnknown
from pipeline.model import Payment, SalesInvoice
from pipeline.norway.kid import kid_mod10
from tests.contract.harnesses.poweroffice_go import SEND, Harness

ÅSE = {"name": "Åse Ødegård", "email": "ase@bygdebladet.no",
       "address": {"lines": ["Kjerkgata 12"], "postal_code": "7374", "city": "Røros"}}


def target(go: Harness, **settings: Any) -> Any:
    """A connection with a patient client (30 s: no test here times out unless it injects the timeout)."""
    context = go.connect(direct_posting=settings.pop("direct_posting", False))
    context.settings = {**context.settings, "timeout": 30.0, **settings}
    return DESCRIPTOR.connect(context)


def invoice(reference: str = "FAKTURA-1", number: str = "70001", customer: dict[str, Any] | None = None,
            **fields: Any) -> SalesInvoice:
    values: dict[str, Any] = {
        "reference": reference, "date": "2026-11-04", "invoice_number": number, "customer": customer or ÅSE,
        "due_date": "2026-11-18", "kid": kid_mod10(number) if number.isdigit() else None, "total": "349.00",
        "lines": [
            {"description": "Bygdebladet, papir og digitalt – desember", "amount": "249.00", "vat_code": "33"},
            {"description": "Porto", "amount": "100.00", "vat_code": "3", "vat_amount": "20.00"}]}
    return SalesInvoice(**{**values, **fields})


def payment(reference: str = "BETALING-1", amount: str = "349.00", number: str | None = "70001",
            **fields: Any) -> Payment:
    return Payment(**{"reference": reference, "date": "2026-11-12", "amount": amount, "invoice_number": number,
                      "payment_method": "bank", **fields})


def posted(go: Harness, number: str = "70001", **settings: Any) -> dict[str, Any]:
    """Our invoice, posted in GO (direct posting), as GO holds it."""
    target(go, **{**settings, "direct_posting": True}).deliver(invoice(f"FAKTURA-{number}", number))
    return next(i for i in go.sandbox.sales.invoices.values() if i.get("CustomMatchingReference") == number)


PRODUCTS = {"3": "ABO", "33": "ABO-LAV", "31": "ABO-MAT", "5": "ABO-FRI"}


def test_an_invoice_is_a_sales_order_until_the_tenant_opts_in(go: Harness) -> None:
    connection = target(go, products=PRODUCTS)
    assert connection.preflight([invoice()]) == []
    delivery = connection.deliver(invoice())
    assert delivery.draft is True and delivery.details["customer"] == "created"
    [order] = go.sandbox.sales.orders.values()
    assert delivery.remote_id == order["Id"] and not [i for i in go.sandbox.sales.invoices.values()
                                                      if i["IsCreatedByCurrentIntegration"]]
    assert order["ExternalImportReference"] == "FAKTURA-1" and order["CustomMatchingReference"] == "70001"
    assert order["ImportedOrderNo"] == 70001 and order["PaymentTerm"] == 14
    assert order["TotalAmount"] == Decimal("349.00")  # GO's sum of our net prices and its VAT is our total
    assert [(line["ProductCode"], line["ProductUnitPrice"]) for line in order["SalesOrderLines"]] == [
        ("ABO-LAV", Decimal("222.32")), ("ABO", Decimal("80.00"))]
    [åse] = [c for c in go.sandbox.client.customers.values() if c.get("EmailAddress") == "ase@bygdebladet.no"]
    assert (åse["IsPerson"], åse["FirstName"], åse["LastName"]) == (True, "Åse", "Ødegård")
    assert åse["MailAddress"] == {"AddressLine1": "Kjerkgata 12", "ZipCode": "7374", "City": "Røros",
                                  "CountryCode": "NO"}
    assert set(delivery.not_accepted) == {"kid", "receivable_account"}  # GO makes its own KID


def test_preflight_names_every_missing_product_account_and_vat_code_at_once(go: Harness) -> None:
    go.sandbox.sales.add_product("GAMMEL", "Utgått", 3000, archived=True)
    wrong = invoice(total="600.00", lines=[
        {"description": "Uten produkt", "amount": "100.00", "vat_code": "31"},
        {"description": "Arkivert", "amount": "100.00", "vat_code": "3", "product": "GAMMEL"},
        {"description": "Feil konto", "amount": "100.00", "vat_code": "3", "account": "3010"},
        {"description": "Feil mva", "amount": "100.00", "vat_code": "5", "product": "ABO"},
        {"description": "Feil mva-beløp", "amount": "200.00", "vat_code": "3", "vat_amount": "10.00"}])
    problems = target(go, products={"3": "ABO", "5": "ABO-FRI"}).preflight([wrong])
    assert {(p.code, p.field) for p in problems} == {
        ("missing-product", "lines[0].product"), ("missing-product", "lines[1].product"),
        ("product-account", "lines[2].account"), ("product-vat-code", "lines[3].vat_code"),
        ("vat-mismatch", "lines[4].vat_amount")}


def test_a_price_go_reads_otherwise_is_caught_before_anything_is_posted(go: Harness) -> None:
    go.sandbox.sales.prices_include_vat = True  # the other reading of ProductUnitPrice: GO's total would differ
    with pytest.raises(DataError, match="not 349.00"):
        target(go, direct_posting=True, products=PRODUCTS).deliver(invoice())
    assert len(go.sandbox.sales.orders) == 1 and not go.sandbox.sales.deliveries
    assert not [i for i in go.sandbox.sales.invoices.values() if i["IsCreatedByCurrentIntegration"]]


def test_the_due_date_follows_the_terms_of_the_payment_method(go: Harness) -> None:
    terms = {"products": PRODUCTS, "due_days": {"invoice": 10, "default": 14}}
    bill = invoice(due_date=None, payment_method="invoice")
    assert target(go, **terms).preflight([bill]) == []
    delivery = target(go, direct_posting=True, **terms).deliver(bill)
    assert delivery.details["due_date"] == "2026-11-14"
    late = invoice("FAKTURA-2", "70002", due_date="2026-12-01", payment_method="invoice")
    assert [p.code for p in target(go, **terms).preflight([late])] == ["due-date-terms"]


def test_a_posted_invoice_is_delivered_once_by_ehf(go: Harness) -> None:
    ehf = {"name": "Fjordkafé Ålesund AS", "organization_number": "987654325", "delivery_method": "ehf"}
    settings = {"products": PRODUCTS, "send_invoices": True, "customer_match": "organization_number",
                "direct_posting": True}
    first = target(go, **settings).deliver(invoice(customer=ehf))
    assert first.draft is False and first.details["sent"] == "auto" and first.details["delivered_as"] == "EHF"
    again = target(go, **settings).deliver(invoice(customer=ehf))
    assert again.remote_id == first.remote_id
    number = int(first.details["invoice_number"])
    assert go.sandbox.sales.deliveries == [(number, "EHF", "987654325")]
    [fjordkafé] = [c for c in go.sandbox.client.customers.values() if c.get("OrganizationNumber") == "987654325"]
    assert fjordkafé["InvoiceDeliveryType"] == "EHF" and fjordkafé["Number"] == 10001  # found, updated, not created


def test_without_sending_the_invoice_is_posted_and_not_delivered(go: Harness) -> None:
    delivery = target(go, products=PRODUCTS, direct_posting=True).deliver(invoice())
    assert delivery.draft is False and delivery.details["sent"].startswith("not delivered")
    assert go.sandbox.sales.deliveries == [] and delivery.details["kid"]


@pytest.mark.parametrize("kind", ["timeout", "commit_then_500"])
def test_a_send_whose_answer_was_lost_is_never_repeated(go: Harness, kind: str) -> None:
    go.sandbox.faults.add(SEND, "POST", kind, commit=True)
    settings = {"products": PRODUCTS, "send_invoices": True, "direct_posting": True}
    with pytest.raises(OutcomeUnknown):
        DESCRIPTOR.connect(_short(go, **settings)).deliver(invoice())
    delivery = target(go, **settings).deliver(invoice())
    assert delivery.draft is False and delivery.details["sent"] == "auto"
    assert len(go.sandbox.sales.deliveries) == 1 and go.invoices_with("FAKTURA-1") == 1
    assert go.sandbox.count("POST", "/v2/SalesOrders/") == 2  # the order, one send, nothing more


def test_a_sales_order_whose_answer_was_lost_is_found_by_its_reference(go: Harness) -> None:
    go.sandbox.faults.add(r"^/SalesOrders/Complete$", "POST", "timeout", commit=True)
    with pytest.raises(OutcomeUnknown):
        DESCRIPTOR.connect(_short(go, products=PRODUCTS)).deliver(invoice())
    delivery = target(go, products=PRODUCTS).deliver(invoice())
    [order] = go.sandbox.sales.orders.values()
    assert delivery.remote_id == order["Id"] and go.held("invoice", "FAKTURA-1") == 1


def test_an_order_found_again_is_held_to_our_total_before_it_is_posted(go: Harness) -> None:
    go.sandbox.sales.prices_include_vat = True
    go.sandbox.faults.add(r"^/SalesOrders/Complete$", "POST", "timeout", commit=True)
    with pytest.raises(OutcomeUnknown):
        DESCRIPTOR.connect(_short(go, products=PRODUCTS, direct_posting=True)).deliver(invoice())
    with pytest.raises(DataError, match="not 349.00"):  # read from GET /SalesOrders/{id}, the answer being lost
        target(go, products=PRODUCTS, direct_posting=True).deliver(invoice())
    assert go.held("invoice", "FAKTURA-1") == 1 and go.invoices_with("FAKTURA-1") == 0


def _short(go: Harness, **settings: Any) -> Any:
    context = go.connect(direct_posting=settings.pop("direct_posting", False))
    context.settings = {**context.settings, **settings}
    return context


def test_a_credit_note_is_linked_to_the_invoice_it_credits(go: Harness) -> None:
    credited = posted(go, products=PRODUCTS)
    note = invoice("KREDIT-1", "K-70001", credits="70001", due_date=None, kid=None, total="-100.00",
                   lines=[{"description": "Porto refundert", "amount": "-100.00", "vat_code": "3"}])
    connection = target(go, products=PRODUCTS, direct_posting=True)
    assert connection.preflight([note]) == []
    delivery = connection.deliver(note)
    assert delivery.details["credits_invoice"] == str(credited["InvoiceNo"])
    [credit] = [i for i in go.sandbox.sales.invoices.values() if i.get("RelatedInvoiceNo") == credited["InvoiceNo"]]
    assert credit["TotalAmount"] == Decimal("-100.00") and credited["Balance"] == Decimal("249.00")
    draft = invoice("FAKTURA-3", "70003")
    target(go, products=PRODUCTS).deliver(draft)  # a sales order only: nothing to link a credit note to yet
    early = invoice("KREDIT-3", "K-70003", credits="70003", due_date=None, kid=None, total="-100.00",
                    lines=[{"description": "Porto refundert", "amount": "-100.00", "vat_code": "3"}])
    assert [p.code for p in connection.preflight([early])] == ["missing-invoice"]


def test_payments_in_part_in_full_with_a_fee_and_over(go: Harness) -> None:
    settings = {"products": PRODUCTS, "payment_tolerance": "1.00", "direct_posting": True}
    billed = posted(go, **settings)
    connection = target(go, **settings)
    part = connection.deliver(payment("BETALING-1", "200.00"))
    assert billed["Balance"] == Decimal("149.00") and part.details["open_before"] == "349.00"
    rest = connection.deliver(payment("BETALING-2", "148.50"))  # 0.50 short: a fee, within the tolerance
    assert billed["Balance"] == Decimal("0.00") and rest.details["fee"] == "0.50"
    [voucher] = [v for v in go.sandbox.client.vouchers.values() if v["Id"] == rest.remote_id]
    fee = [line for line in voucher["VoucherLines"] if go.sandbox.client.accounts.get(line["AccountId"], {})
           .get("AccountNo") == 7770]
    assert [line["CurrencyAmount"] for line in fee] == [Decimal("0.50")]
    over = payment("BETALING-3", "50.00")
    assert [p.code for p in connection.preflight([over])] == ["overpaid"]
    accepting = target(go, **settings, overpayments="accept")
    accepting.deliver(over)
    assert billed["Balance"] == Decimal("-50.00")  # the customer in credit


def test_a_payment_finds_its_invoice_by_kid_and_lands_on_its_methods_account(go: Harness) -> None:
    billed = posted(go, products=PRODUCTS)
    by_kid = payment("BETALING-1", number=None, kid=kid_mod10("70001"), payment_method="vipps")
    connection = target(go, products=PRODUCTS, payment_accounts={"vipps": "1580"}, direct_posting=True)
    assert connection.preflight([by_kid]) == []
    delivery = connection.deliver(by_kid)
    assert billed["Balance"] == Decimal("0.00") and delivery.details["invoice"] == str(billed["InvoiceNo"])
    [voucher] = [v for v in go.sandbox.client.vouchers.values() if v["Id"] == delivery.remote_id]
    assert go.sandbox.client.accounts[voucher["VoucherLines"][0]["AccountId"]]["AccountNo"] == 1580


def test_a_payment_of_an_invoice_still_a_draft_waits(go: Harness) -> None:
    target(go, products=PRODUCTS).deliver(invoice())
    problems = target(go, products=PRODUCTS).preflight([payment()])
    assert [p.code for p in problems] == ["invoice-not-posted"]


def test_concurrent_invoices_for_one_new_customer_create_it_once(go: Harness) -> None:
    done: list[str] = []
    failed: list[BaseException] = []

    def deliver(i: int) -> None:
        connection = target(go, products=PRODUCTS)
        for _ in range(400):
            try:
                done.append(connection.deliver(invoice(f"FAKTURA-{i}", f"7000{i}")).remote_id)
                return
            except ClaimHeld:
                time.sleep(0.05)  # the deliver stage looks again a little later
            except BaseException as exc:  # noqa: BLE001 - reported below
                failed.append(exc)
                return

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == [] and len(set(done)) == 4
    [åse] = [c for c in go.sandbox.client.customers.values() if c.get("EmailAddress") == "ase@bygdebladet.no"]
    assert {o["CustomerId"] for o in go.sandbox.sales.orders.values()} == {åse["Id"]}


def test_a_changed_customer_is_updated_not_duplicated(go: Harness) -> None:
    target(go, products=PRODUCTS).deliver(invoice())
    moved = {**ÅSE, "phone": "+4791234568", "address": {"lines": ["Bergmannsgata 3"], "postal_code": "7374",
                                                         "city": "Røros"}}
    delivery = target(go, products=PRODUCTS, customer_match="email").deliver(
        invoice("FAKTURA-2", "70002", customer=moved))
    assert delivery.details["customer"] == "updated"
    [åse] = [c for c in go.sandbox.client.customers.values() if c.get("EmailAddress") == "ase@bygdebladet.no"]
    assert åse["MailAddress"]["AddressLine1"] == "Bergmannsgata 3" and åse["PhoneNumber"] == "+4791234568"


def test_the_customer_is_found_by_the_tenants_chosen_field(go: Harness) -> None:
    kari = {"number": "55555", "name": "Kari Nordmann", "email": "kari@nordmann.no"}  # GO: 10003, by e-mail
    by_email = target(go, products=PRODUCTS, customer_match="email", update_customers=False)
    assert by_email.deliver(invoice(customer=kari)).details["customer"] == "found"
    by_number = target(go, products=PRODUCTS, customer_match="number", create_customers=False)
    assert [p.code for p in by_number.preflight([invoice("FAKTURA-2", "70002", customer=kari)])] == [
        "missing-customer"]
    b2b = {"name": "Røros Bryggeri AS", "organization_number": "923456783", "email": "post@rorosbryggeri.no"}
    target(go, products=PRODUCTS, customer_match="organization_number").deliver(
        invoice("FAKTURA-3", "70003", customer=b2b))
    [bryggeri] = [c for c in go.sandbox.client.customers.values() if c.get("OrganizationNumber") == "923456783"]
    assert bryggeri["IsPerson"] is False and bryggeri["Name"] == "Røros Bryggeri AS"


def test_a_missing_invoice_role_is_named_in_the_customers_words(go: Harness) -> None:
    go.sandbox.roles.discard("SalesOrders_Full")
    with pytest.raises(ConfigError, match=r"SalesOrders_Full \(to make sales orders"):
        target(go, products=PRODUCTS).check()
    assert target(go, products={}).check()["roles"]["invoices_missing"] == ["SalesOrders_Full"]  # not set up for invoices: said
    with pytest.raises(ConfigError, match="needs the role SalesOrders_Full"):
        target(go, products=PRODUCTS).deliver(invoice())


def test_a_payment_finds_an_invoice_made_in_go_by_gos_own_kid(go: Harness) -> None:
    made_in_go = go.sandbox.sales.seed_invoice(10002, 10050, Decimal("500.00"))
    by_kid = payment("BETALING-1", "500.00", number=None, kid=made_in_go["Cid"])
    connection = target(go, products=PRODUCTS, direct_posting=True)
    assert connection.preflight([by_kid]) == []
    connection.deliver(by_kid)
    assert made_in_go["Balance"] == Decimal("0.00")


def test_an_invoice_posted_from_gos_own_screens_is_paid_against_its_number(go: Harness) -> None:
    draft = target(go, products=PRODUCTS).deliver(invoice())
    go.sandbox.sales.send(draft.remote_id, {"DeliveryType": "PdfPrintForDownload", "VoucherDate": "2026-11-05"})
    billed = go.sandbox.sales.invoices[draft.remote_id]
    delivery = target(go, products=PRODUCTS).deliver(payment())  # our invoice number, GO's invoice
    assert billed["Balance"] == Decimal("0.00") and delivery.details["invoice"] == str(billed["InvoiceNo"])


def test_a_shortfall_without_a_fee_account_is_named_not_booked(go: Harness) -> None:
    posted(go, products=PRODUCTS)
    short = payment("BETALING-1", "348.50")
    missing = target(go, products=PRODUCTS, payment_tolerance="1.00", fee_account="7771").preflight([short])
    assert [(p.code, p.field) for p in missing] == [("missing-account", "amount")]
    none = target(go, products=PRODUCTS, payment_tolerance="1.00", fee_account=None).preflight([short])
    assert [p.code for p in none] == ["payment-difference"]
