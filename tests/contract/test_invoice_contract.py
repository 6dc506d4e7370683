"""The contract suite's invoice cases, over every registered target whose descriptor says it takes sales invoices
and payments (today Tripletex, Fiken and the file target); a target that takes neither refuses them in preflight
(test_target_contract's `unsupported-document` case).

A sales invoice lands as a draft where the system has drafts, posted on opt-in; a credit note credits the invoice
it names; a payment settles it; each, delivered again through the idempotency ledger — or retried after a timeout
once the system committed — is there once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

import connectors
from pipeline import descriptors
from pipeline.errors import OutcomeUnknown, TransientError
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryTables
from pipeline.model import Document, Payment, SalesInvoice
from pipeline.norway.kid import kid_mod10
from tests.contract.harness import load

TARGETS = descriptors.targets(connectors.CONNECTORS)
INVOICING = sorted(name for name, d in TARGETS.items() if {"sales_invoice", "payment"} <= set(d.accepts.documents))
CUSTOMER = {"number": "10001", "name": "Fjordkafé Ålesund AS"}


def invoice(reference: str = "FAKTURA-1", number: str = "70001") -> SalesInvoice:
    return SalesInvoice(reference=reference, date="2026-11-04", invoice_number=number, customer=CUSTOMER,
                        due_date="2026-11-18", kid=kid_mod10("70001"), description="Abonnement på Røros-posten",
                        total="1250.00", lines=[
                            {"description": "Årsabonnement – Røros-posten", "amount": "1000.00", "vat_code": "3"},
                            {"description": "Frakt til Ålesund", "amount": "250.00", "vat_code": "3"}])


def credit_note(reference: str = "KREDIT-1", credits: str = "70001") -> SalesInvoice:
    return SalesInvoice(reference=reference, date="2026-11-10", invoice_number="K-70001", credits=credits,
                        customer=CUSTOMER, total="-250.00",
                        lines=[{"description": "Frakt refundert", "amount": "-250.00", "vat_code": "3"}])


def payment(reference: str = "BETALING-1", amount: str = "1000.00") -> Payment:
    return Payment(reference=reference, date="2026-11-12", amount=amount, invoice_number="70001",
                   kid=kid_mod10("70001"), payment_method="bank", customer=CUSTOMER)


class Invoicing:
    def __init__(self, name: str) -> None:
        harness_class = load(name)
        assert harness_class is not None, f"{name} has no contract harness"
        self.name, self.harness, self.descriptor = name, harness_class(), TARGETS[name]
        self.tables = MemoryTables()

    def target(self, *, direct_posting: bool = False) -> Any:
        return self.descriptor.connect(self.harness.connect(direct_posting=direct_posting))

    def once(self, document: Document, document_id: str, *, direct_posting: bool = False) -> Any:
        return deliver_once(self.tables, self.target(direct_posting=direct_posting), document, tenant="kunde-1",
                            target_name=self.name, document_id=document_id, lease=dt.timedelta(0))


@pytest.fixture(params=INVOICING)
def system(request: pytest.FixtureRequest) -> Iterator[Invoicing]:
    made = Invoicing(request.param)
    try:
        yield made
    finally:
        made.harness.close()


def test_the_targets_that_take_invoices_are_tripletex_and_the_file() -> None:
    assert {"tripletex", "file"} <= set(INVOICING)


def test_an_invoice_is_a_draft_by_default_where_the_system_has_drafts(system: Invoicing) -> None:
    target = system.target()
    assert target.preflight([invoice()]) == []
    delivery = target.deliver(invoice())
    accepts = system.descriptor.accepts
    assert delivery.draft is (accepts.invoice_drafts or accepts.drafts).available
    assert delivery.remote_id


def test_an_invoice_credit_note_and_payment_posted_once_each(system: Invoicing) -> None:
    documents = [invoice(), credit_note(), payment()]
    first = []
    for i, document in enumerate(documents):
        target = system.target(direct_posting=True)
        assert target.preflight([document]) == [], document.reference
        outcome = system.once(document, f"d-{i}", direct_posting=True)
        assert not outcome.duplicate and not outcome.delivery.draft, document.reference
        first.append(outcome.delivery.remote_id)
    for i, document in enumerate(documents):  # the same messages again: the ledger answers
        again = system.once(document, f"d-again-{i}", direct_posting=True)
        assert again.duplicate and again.delivery.remote_id == first[i]
    for document, remote in zip(documents, first, strict=True):  # and the system itself holds each once
        found = system.target(direct_posting=True).find(document.reference)
        assert found is not None and found.remote_id == remote


def test_a_timeout_after_the_system_committed_the_invoice_does_not_make_a_second(system: Invoicing) -> None:
    fault = getattr(system.harness, "invoice_fault", None)
    if not system.descriptor.http or fault is None:
        pytest.skip(f"{system.descriptor.title}: its descriptor says http=False — no system that could time out")
    fault("timeout-after-commit")
    with pytest.raises(OutcomeUnknown):
        system.once(invoice(), "d-1", direct_posting=True)
    outcome = system.once(invoice(), "d-2", direct_posting=True)
    assert outcome.looked_up
    assert system.harness.invoices_with(invoice().reference) == 1


@pytest.mark.parametrize("kind", ["429", "500-after-commit", "timeout-after-commit"])
def test_an_invoice_is_made_once_whatever_the_system_answers(system: Invoicing, kind: str) -> None:
    fault = getattr(system.harness, "invoice_fault", None)
    if not system.descriptor.http or fault is None:
        pytest.skip(f"{system.descriptor.title}: its descriptor says http=False — no system that could misbehave")
    fault(kind)
    try:
        outcome = system.once(invoice(), "d-1", direct_posting=True)
    except OutcomeUnknown:  # committed, answer lost: the next attempt looks before it makes another
        outcome = system.once(invoice(), "d-2", direct_posting=True)
        assert outcome.looked_up
    assert not outcome.delivery.draft
    assert system.harness.invoices_with(invoice().reference) == 1


@pytest.mark.parametrize("kind", ["429", "500-after-commit", "timeout-after-commit"])
@pytest.mark.parametrize("step", ["invoice", "credit", "payment"])
def test_each_document_is_there_once_whatever_the_system_answered(system: Invoicing, step: str, kind: str) -> None:
    """A 429 is waited out; a 500 or a timeout after the system committed is looked up, never posted again."""
    fault = getattr(system.harness, f"{step}_fault", None)
    if not system.descriptor.http or fault is None or not hasattr(system.harness, "held"):
        pytest.skip(f"{system.descriptor.title}: no HTTP system, or its harness cannot fault the {step} step")
    documents = {"invoice": [invoice()], "credit": [invoice(), credit_note()], "payment": [invoice(), payment()]}[step]
    for i, document in enumerate(documents[:-1]):
        system.once(document, f"before-{i}", direct_posting=True)
    last = documents[-1]
    fault(kind)
    try:
        outcome = system.once(last, "d-1", direct_posting=True)
    except (OutcomeUnknown, TransientError):
        outcome = system.once(last, "d-2", direct_posting=True)
        assert outcome.looked_up or not outcome.duplicate
    again = system.once(last, "d-3", direct_posting=True)
    assert again.duplicate and again.delivery.remote_id == outcome.delivery.remote_id
    assert system.harness.held(step, last.reference) == 1
    assert len(system.harness.sandbox.faults.fired) == 1, "the fault never fired"
