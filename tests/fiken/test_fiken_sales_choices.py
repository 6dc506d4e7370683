"""Fiken's sales side, the tenant's choices (issue 16, the rest): a connection that only sends invoice drafts tests
green, «Annet salg» for invoices the source made and sent itself, projects on invoices, credit-note drafts that say
they are not linked, and an overpayment within the tolerance booked by the rule — every request held against
Fiken's official spec, against the sandbox over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from fiken_support import Wiring
from test_fiken_invoices import INVOICING, ÅSE, invoice, payment

from pipeline.errors import DataError, OutcomeUnknown, TransientError
from pipeline.model import Payment, SalesInvoice
from pipeline.norway.kid import kid_mod10
from sandboxes.fiken import FikenSandbox
from sandboxes.fiken.external import add_project

EXTERNAL = {**INVOICING, "invoice_flow": "external_sale"}
OURS = kid_mod10("00700012")


def credit_note(reference: str = "KREDIT-1", amount: str = "-100.00") -> SalesInvoice:
    return SalesInvoice(reference=reference, date="2026-11-10", invoice_number="K-70001", credits="70001",
                        customer=ÅSE, total=amount, lines=[{"description": "Porto", "amount": amount,
                                                            "vat_code": "3"}])


def test_a_tenant_that_only_sends_invoice_drafts_gets_a_green_test_saying_what_it_can_and_cannot_do(
        make_wiring: Any) -> None:
    answer = make_wiring(direct_posting=False).target().check()
    assert answer["direct_posting"] is False and answer["company"] == "Fjordbakst AS"
    assert answer["vouchers"].startswith("not sent: Fiken has no draft for a general journal entry")
    assert answer["invoices"].startswith("invoice drafts (fakturautkast)")
    assert "not linked to the invoice by Fiken's API" in answer["invoices"]
    sale = make_wiring(direct_posting=False, invoice_flow="external_sale").target().check()
    assert sale["invoices"].startswith("«Annet salg» with the source's invoice number and KID: sale drafts")


def test_annet_salg_books_the_sources_invoice_with_its_number_and_kid_and_takes_its_payment(
        w: Wiring, sandbox: FikenSandbox) -> None:
    books = sandbox.company.invoicing
    target = w.target(**EXTERNAL)
    assert target.preflight([invoice(kid=OURS)]) == []
    delivery = target.deliver(invoice(kid=OURS))
    assert delivery.draft is False and delivery.remote_id.startswith("sale:")
    assert delivery.details["sent"] == "not by Fiken: the source sent the invoice"
    [sale] = books.sales.values()
    assert (sale["saleNumber"], sale["kid"], sale["kind"]) == ("70001", OURS, "external_invoice")
    assert sale["outstandingBalance"] == 34900 and sale["customer"]["name"] == "Åse Ødegård"
    assert [(line["netPrice"], line["vat"], line["vatType"]) for line in sale["lines"]] == [
        (22232, 2668, "LOW"), (8000, 2000, "HIGH")]
    assert not books.invoices and not books.drafts and books.sent == []  # no Fiken invoice, nothing sent
    by_kid = Payment(reference="BETALING-KID", date="2026-11-10", amount="349.00", kid=OURS, payment_method="vipps")
    assert w.target(**EXTERNAL).preflight([by_kid]) == []
    w.target(**EXTERNAL).deliver(by_kid)
    assert sale["outstandingBalance"] == 0 and sale["settled"] is True
    credited = w.target(**EXTERNAL).deliver(credit_note())
    assert credited.details["credits"] == "70001" and "links no «Annet salg»" in credited.details["credit_link"]
    [note] = [s for s in books.sales.values() if s["saleNumber"] == "K-70001"]
    assert [(line["netPrice"], line["vat"]) for line in note["lines"]] == [(-8000, -2000)]
    assert w.target(**EXTERNAL).deliver(invoice(kid=OURS)).remote_id == delivery.remote_id  # never twice
    assert len(books.sales) == 2


def test_annet_salg_after_a_timeout_once_fiken_committed_is_booked_once(w: Wiring, sandbox: FikenSandbox) -> None:
    sandbox.faults.add(r"/sales$", "POST", "timeout", commit=True)
    with pytest.raises((OutcomeUnknown, TransientError)):
        w.target(timeout=0.5, **EXTERNAL).deliver(invoice())
    again = w.target(**EXTERNAL).deliver(invoice())
    [sale] = sandbox.company.invoicing.sales.values()
    assert again.remote_id == f"sale:{sale['saleId']}"


def test_annet_salg_without_the_opt_in_is_a_sale_draft_and_cannot_be_paid_yet(
        make_wiring: Any, sandbox: FikenSandbox) -> None:
    wired = make_wiring(direct_posting=False, **EXTERNAL)
    delivery = wired.target().deliver(invoice(kid=OURS))
    assert delivery.draft is True and delivery.remote_id.startswith("saledraft:")
    [draft] = sandbox.company.invoicing.sale_drafts.values()
    assert (draft["invoiceNumber"], draft["kid"], draft["cash"]) == ("70001", OURS, False)
    assert [(line["net"], line["gross"]) for line in draft["lines"]] == [(22232, 24900), (8000, 10000)]
    assert not sandbox.company.invoicing.sales
    [problem] = wired.target().preflight([payment("349.00")])
    assert problem.code == "invoice-not-posted"


def test_annet_salg_with_fiken_sending_is_refused_in_preflight(w: Wiring) -> None:
    problems = w.target(send_invoices=True, **EXTERNAL).preflight([invoice()])
    assert [(p.code, p.field) for p in problems] == [("send-unsupported", "settings.send_invoices")]


def test_projects_on_invoice_lines_are_fikens_projects_found_by_number(w: Wiring, sandbox: FikenSandbox) -> None:
    books = sandbox.company.invoicing
    abonnement = add_project(books, "200", "Abonnement 2026")
    add_project(books, "300", "Avsluttet", completed=True)
    lines = [{"description": "Bygdebladet, papir og digitalt", "amount": "249.00", "vat_code": "33",
              "dimensions": {"project": "200"}},
             {"description": "Porto", "amount": "100.00", "vat_code": "3", "dimensions": {"project": "200"}}]
    on_project = invoice().model_copy(update={"lines": tuple(invoice().lines[i].model_copy(update={
        "dimensions": lines[i]["dimensions"]}) for i in range(2))})
    target = w.target(**INVOICING)
    assert target.preflight([on_project]) == []
    delivery = target.deliver(on_project)
    [made] = books.invoices.values()
    assert made["project"]["projectId"] == abonnement["projectId"] == delivery.details["project_id"]
    assert "lines[0].dimensions.project" not in delivery.not_accepted
    mixed = on_project.model_copy(update={"reference": "FAKTURA-2", "lines": (
        on_project.lines[0], on_project.lines[1].model_copy(update={"dimensions": {"project": "300"}}))})
    missing = on_project.model_copy(update={"reference": "FAKTURA-3", "lines": tuple(
        line.model_copy(update={"dimensions": {"project": "999"}}) for line in on_project.lines)})
    completed = on_project.model_copy(update={"reference": "FAKTURA-4", "lines": tuple(
        line.model_copy(update={"dimensions": {"project": "300"}}) for line in on_project.lines)})
    found = [(p.reference, p.code, p.message) for p in w.target(**INVOICING).preflight([mixed, missing, completed])]
    assert ("FAKTURA-2", "mixed-dimensions", "a Fiken invoice or sale has one project; the lines name 200, 300") in found
    assert ("FAKTURA-3", "missing-project", "project 999 is not in Fiken") in found
    assert ("FAKTURA-4", "missing-project", "project 300 is completed in Fiken") in found
    sale = w.target(**EXTERNAL).deliver(on_project.model_copy(update={"reference": "SALG-1",
                                                                      "invoice_number": "80001"}))
    assert books.sales[int(sale.remote_id.split(":")[1])]["project"]["number"] == "200"


def test_a_credit_note_draft_names_what_it_credits_and_says_fiken_cannot_link_it(
        make_wiring: Any, sandbox: FikenSandbox) -> None:
    make_wiring(**INVOICING).target().deliver(invoice())  # posted: Fiken's invoice 10001
    drafts = make_wiring(direct_posting=False, **INVOICING).target()
    rendered = drafts.render(credit_note())
    assert "cannot name the invoice it credits" in rendered["link"]
    delivery = drafts.deliver(credit_note())
    assert delivery.draft is True and "linked when it is posted" in delivery.details["credit_link"]
    [draft] = sandbox.company.invoicing.credit_drafts.values()
    assert draft["invoiceText"] == "Kreditnota K-70001 for faktura 70001 (Fiken 10001)"
    posted = make_wiring(**INVOICING).target().deliver(credit_note("KREDIT-2"))  # posting links it
    [note] = sandbox.company.invoicing.credit_notes.values()
    assert note["associatedInvoiceId"] == posted.details["credits_invoice_id"] and "credit_link" not in posted.details


def test_an_overpayment_within_the_tolerance_is_booked_to_the_tenants_difference_account(
        w: Wiring, sandbox: FikenSandbox) -> None:
    rules = {**INVOICING, "payment_accounts": {"vipps": "1920:10001"}, "payment_tolerance": "0.50"}
    w.target(**rules).deliver(invoice())
    [posted] = sandbox.company.invoicing.invoices.values()
    [refused] = w.target(**rules).preflight([payment("349.40")])
    assert refused.code == "payment-difference" and "settings.payment_difference_account" in refused.message
    with pytest.raises(DataError):
        w.target(**rules).deliver(payment("349.40"))
    rules["payment_difference_account"] = "7790"
    assert w.target(**rules).preflight([payment("349.40")]) == []
    sandbox.faults.add(r"/generalJournalEntries$", "POST", "timeout", commit=True)
    with pytest.raises((OutcomeUnknown, TransientError)):
        w.target(timeout=0.5, **rules).deliver(payment("349.40"))
    delivery = w.target(**rules).deliver(payment("349.40"))
    assert posted["sale"]["outstandingBalance"] == 0 and posted["sale"]["settled"] is True
    assert [p["amount"] for p in posted["sale"]["salePayments"]] == [34900]
    [entry] = sandbox.entries
    assert entry["lines"] == [{"amount": 40, "account": "1920:10001"}, {"amount": -40, "account": "7790"}]
    assert entry["description"] == "[BETALING-1#overpaid] Overbetaling 70001"
    assert delivery.details["overpaid_øre"] == 40 and delivery.details["overpaid_entry"]
    assert w.target(**rules).deliver(payment("349.40")).details == delivery.details  # never twice
    assert len(sandbox.entries) == 1
    too_much = w.target(**rules).preflight([payment("1.00", "BETALING-2")])
    assert [p.code for p in too_much] == ["overpaid"]
