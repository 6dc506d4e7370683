"""Fiken's sales side against its sandbox over HTTP, every request held against Fiken's official spec: customers in
sync (created once under concurrent invoices, updated when changed), drafts first, sending once, credit notes linked,
payments by the payment method's account with fees, part payments and overpayments by rule."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fiken_support import Wiring

from pipeline.errors import ClaimHeld, DataError, OutcomeUnknown, TransientError
from pipeline.model import Payment, SalesInvoice
from pipeline.norway.kid import kid_mod10
from sandboxes.fiken import FikenSandbox
from tests.timing import FAULT_CLIENT_TIMEOUT

ÅSE = {"name": "Åse Ødegård", "email": "ase@bygdebladet.no", "number": "5501",
       "address": {"lines": ["Kjerkgata 12"], "postal_code": "7374", "city": "Røros"}}
INVOICING = {"create_customers": True, "customer_match": "email"}


def invoice(reference: str = "FAKTURA-1", number: str = "70001", customer: dict[str, Any] | None = None,
            **extra: Any) -> SalesInvoice:
    return SalesInvoice(reference=reference, date="2026-11-04", invoice_number=number, customer=customer or ÅSE,
                        due_date="2026-11-18", description="Bygdebladet – desember", total="349.00", lines=[
                            {"description": "Bygdebladet, papir og digitalt", "amount": "249.00", "vat_code": "33"},
                            {"description": "Porto", "amount": "100.00", "vat_code": "3"}], **extra)


def payment(amount: str, reference: str = "BETALING-1", method: str = "vipps") -> Payment:
    return Payment(reference=reference, date="2026-11-10", amount=amount, invoice_number="70001",
                   payment_method=method, customer=ÅSE)


def contacts(sandbox: FikenSandbox, email: str) -> list[dict[str, Any]]:
    return [c for c in sandbox.company.contacts.values() if c.get("email") == email]


def test_an_invoice_is_a_draft_until_the_tenant_opts_in(w: Wiring, sandbox: FikenSandbox) -> None:
    target = w.target(direct_posting=False, **INVOICING)
    assert target.preflight([invoice()]) == []
    delivery = target.deliver(invoice())
    assert delivery.draft is True and delivery.details["customer"] == "created"
    [draft] = sandbox.company.invoicing.drafts.values()
    assert draft["orderReference"] == "70001" and draft["gross"] == 34900 and not sandbox.company.invoicing.invoices
    assert [line["vatType"] for line in draft["lines"]] == ["LOW", "HIGH"]
    [åse] = contacts(sandbox, "ase@bygdebladet.no")
    assert åse["name"] == "Åse Ødegård" and åse["address"]["city"] == "Røros" and åse["memberNumber"] == 5501


def test_concurrent_invoices_for_one_new_customer_create_it_once(w: Wiring, sandbox: FikenSandbox) -> None:
    done: list[str] = []
    failed: list[BaseException] = []

    def deliver(i: int) -> None:
        target = w.target(**INVOICING)
        for _ in range(200):
            try:
                done.append(target.deliver(invoice(f"FAKTURA-{i}", f"7000{i}")).remote_id)
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
    [åse] = contacts(sandbox, "ase@bygdebladet.no")
    assert {i["customer"]["contactId"] for i in sandbox.company.invoicing.invoices.values()} == {åse["contactId"]}


def test_a_changed_customer_is_updated_not_duplicated(w: Wiring, sandbox: FikenSandbox) -> None:
    w.target(**INVOICING).deliver(invoice())
    moved = {**ÅSE, "name": "Åse Ødegård Berg", "address": {"lines": ["Bergmannsgata 3"], "postal_code": "7374",
                                                             "city": "Røros"}}
    delivery = w.target(**INVOICING).deliver(invoice("FAKTURA-2", "70002", customer=moved))
    assert delivery.details["customer"] == "updated"
    [åse] = contacts(sandbox, "ase@bygdebladet.no")
    assert åse["name"] == "Åse Ødegård Berg" and åse["address"]["streetAddress"] == "Bergmannsgata 3"


def test_posted_invoice_is_sent_once_by_the_customers_delivery_method(w: Wiring, sandbox: FikenSandbox) -> None:
    ehf = {"name": "Fjordkafé Ålesund AS", "organization_number": "987654325", "delivery_method": "ehf"}
    target = w.target(send_invoices=True, customer_match="organization_number")
    first = target.deliver(invoice(customer=ehf))
    assert first.draft is False and first.details["sent"] == "ehf,email"
    again = w.target(send_invoices=True, customer_match="organization_number").deliver(invoice(customer=ehf))
    assert again.remote_id == first.remote_id
    [(kind, ident, methods)] = sandbox.company.invoicing.sent
    assert (kind, f"invoice:{ident}", methods) == ("invoice", first.remote_id, ("ehf", "email"))


def test_a_send_whose_outcome_is_unknown_is_never_repeated(w: Wiring, sandbox: FikenSandbox) -> None:
    sandbox.faults.add(r"/invoices/send$", "POST", "timeout", commit=True)
    with pytest.raises((OutcomeUnknown, TransientError)):
        w.target(send_invoices=True, timeout=FAULT_CLIENT_TIMEOUT, **INVOICING).deliver(invoice())
    delivery = w.target(send_invoices=True, **INVOICING).deliver(invoice())
    assert delivery.details["sent"] == "unknown"
    assert len(sandbox.company.invoicing.sent) == 1 and len(sandbox.company.invoicing.invoices) == 1


def test_a_credit_note_credits_the_invoice_it_names(w: Wiring, sandbox: FikenSandbox) -> None:
    w.target(**INVOICING).deliver(invoice())
    whole = SalesInvoice(reference="KREDIT-1", date="2026-11-10", invoice_number="K-70001", credits="70001",
                         customer=ÅSE, total="-349.00", lines=[
                             {"description": "Bygdebladet, papir og digitalt", "amount": "-249.00", "vat_code": "33"},
                             {"description": "Porto", "amount": "-100.00", "vat_code": "3"}])
    part = SalesInvoice(reference="KREDIT-2", date="2026-11-10", invoice_number="K-70002", credits="70001",
                        customer=ÅSE, total="-100.00", lines=[{"description": "Porto", "amount": "-100.00",
                                                               "vat_code": "3"}])
    target = w.target(**INVOICING)
    assert target.preflight([part]) == []
    noted = target.deliver(part)
    [posted] = sandbox.company.invoicing.invoices.values()
    [note] = sandbox.company.invoicing.credit_notes.values()
    assert note["associatedInvoiceId"] == posted["invoiceId"] == noted.details["credits_invoice_id"]
    assert note["gross"] == 10000 and posted["sale"]["outstandingBalance"] == 24900
    # The rest is not the whole invoice any more: still a partial credit note, linked.
    assert w.target(**INVOICING).preflight([whole]) == []


def test_payments_land_on_the_methods_account_with_fees_part_and_over_payments_by_rule(
        w: Wiring, sandbox: FikenSandbox) -> None:
    rules = {**INVOICING, "payment_accounts": {"vipps": "1920:10001"}, "payment_tolerance": "0.50"}
    w.target(**rules).deliver(invoice())
    [posted] = sandbox.company.invoicing.invoices.values()
    part = w.target(**rules).deliver(payment("200.00", "BETALING-1"))
    assert posted["sale"]["outstandingBalance"] == 14900 and part.details["fee_øre"] == 0
    over = payment("200.00", "BETALING-2")
    [problem] = w.target(**rules).preflight([over])
    assert problem.code == "overpaid" and problem.field == "amount"
    with pytest.raises(DataError):
        w.target(**rules).deliver(over)
    short = w.target(**rules).deliver(payment("148.60", "BETALING-3"))  # 0.40 short: the fee, by the rule
    assert short.details["fee_øre"] == 40 and posted["sale"]["outstandingBalance"] == 0 and posted["sale"]["settled"]
    accounts = [p["account"] for p in posted["sale"]["salePayments"]]
    assert accounts == ["1920:10001", "1920:10001"]
    unknown = payment("1.00", "BETALING-4", method="kontant")
    assert {p.code for p in w.target(**rules).preflight([unknown])} >= {"unknown-payment-method"}


def test_a_payment_after_a_timeout_once_fiken_committed_is_registered_once(w: Wiring, sandbox: FikenSandbox) -> None:
    w.target(**INVOICING).deliver(invoice())
    sandbox.faults.add(r"/payments$", "POST", "timeout", commit=True)
    with pytest.raises((OutcomeUnknown, TransientError)):
        w.target(timeout=FAULT_CLIENT_TIMEOUT, **INVOICING).deliver(payment("349.00"))
    delivery = w.target(**INVOICING).deliver(payment("349.00"))
    [posted] = sandbox.company.invoicing.invoices.values()
    assert [p["paymentId"] for p in posted["sale"]["salePayments"]] == [int(delivery.remote_id.split(":")[1])]


def test_every_invoice_problem_in_one_report(w: Wiring) -> None:
    bad = SalesInvoice(reference="FEIL-1", date="2026-11-04", invoice_number="1", total="100.01",
                       customer={"name": "Ukjent Kunde AS", "organization_number": "923456783"}, lines=[
                           {"description": "Skjev MVA", "amount": "100.01", "vat_code": "3", "vat_amount": "20.01",
                            "account": "3999"}])
    codes = {p.code for p in w.target().preflight([bad])}
    assert {"missing-customer", "missing-account", "vat-rounding"} <= codes, codes


def test_without_opt_in_a_credit_note_is_a_credit_note_draft(w: Wiring, sandbox: FikenSandbox) -> None:
    w.target(direct_posting=False, **INVOICING).deliver(invoice())
    note = SalesInvoice(reference="KREDIT-1", date="2026-11-10", invoice_number="K-70001", credits="70001",
                        customer=ÅSE, total="-100.00", lines=[{"description": "Porto", "amount": "-100.00",
                                                               "vat_code": "3"}])
    delivery = w.target(direct_posting=False, **INVOICING).deliver(note)
    assert delivery.draft is True and delivery.remote_id.startswith("draft:")
    [draft] = sandbox.company.invoicing.credit_drafts.values()
    assert draft["type"] == "credit_note" and draft["invoiceText"].startswith("Kreditnota K-70001")
    assert not sandbox.company.invoicing.credit_notes  # nothing in the books until someone makes it in Fiken


def test_our_customer_number_is_fikens_member_number_and_finds_the_customer_again(
        w: Wiring, sandbox: FikenSandbox) -> None:
    rules = {"create_customers": True, "customer_match": "number"}
    first = w.target(**rules).deliver(invoice())
    again = w.target(**rules).deliver(invoice("FAKTURA-2", "70002", customer={**ÅSE, "email": "ny@bygdebladet.no"}))
    assert first.details["customer"] == "created" and again.details["customer"] == "updated"
    assert again.details["customer_id"] == first.details["customer_id"]
    assert [c["memberNumber"] for c in sandbox.company.contacts.values() if c.get("memberNumber")] == [5501]


def test_a_payment_naming_only_our_kid_finds_the_invoice(w: Wiring, sandbox: FikenSandbox) -> None:
    ours = kid_mod10("00700012")
    w.target(**INVOICING).deliver(invoice(kid=ours))
    by_kid = Payment(reference="BETALING-KID", date="2026-11-10", amount="349.00", kid=ours,
                     payment_method="bank")
    assert w.target(**INVOICING).preflight([by_kid]) == []
    w.target(**INVOICING).deliver(by_kid)
    [posted] = sandbox.company.invoicing.invoices.values()
    assert posted["sale"]["settled"] is True and posted["kid"] != ours  # Fiken's own KID on the invoice
