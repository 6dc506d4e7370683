"""The fields a delivery of an invoice, credit note or payment names as `not_accepted` are read from the target's own
field map (connectors/sales/fields.py): what the field-map page says is what a delivery reports, per target."""

from __future__ import annotations

import pytest

from connectors.sales import fields
from connectors.targets.fiken import invoicing as fiken
from connectors.targets.tripletex import invoicing as tripletex
from connectors.targets.visma_net import invoicing as visma_net
from pipeline.descriptors import NotAccepted
from pipeline.model import Payment, SalesInvoice

INVOICE = SalesInvoice(reference="R-1", date="2026-11-04", invoice_number="1", kid="0000000000018",
                       due_date="2026-11-18", customer={"name": "Åse Ødegård"}, total="350.00", lines=[
                           {"description": "Abonnement", "amount": "250.00", "vat_code": "3", "product": "ABO",
                            "account": "3000", "dimensions": {"project": "1", "department": "2", "kostnadssted": "K"}},
                           {"description": "Porto", "amount": "100.00", "vat_code": "3"}])
CREDIT = INVOICE.model_copy(update={"reference": "K-1", "credits": "1", "total": -INVOICE.total, "lines": tuple(
    line.model_copy(update={"amount": -line.amount}) for line in INVOICE.lines)})
PAID = Payment(reference="B-1", date="2026-11-10", amount="350.00", invoice_number="1", description="Vipps")


@pytest.mark.parametrize(("module", "invoice", "credit", "payment"), [
    (tripletex, ("receivable_account", "lines[0].product", "lines[0].account", "lines[0].dimensions.kostnadssted"),
     ("receivable_account", "lines[0].product", "lines[0].account", "lines[0].dimensions.kostnadssted"),
     ("description", "bank_account", "receivable_account")),
    (fiken, ("kid", "receivable_account", "lines[0].product", "lines[0].dimensions.department",
             "lines[0].dimensions.kostnadssted"),
     ("kid", "receivable_account", "lines[0].product", "lines[0].dimensions.department",
      "lines[0].dimensions.kostnadssted"),
     ("description", "bank_account", "receivable_account")),
    (visma_net, ("receivable_account", "lines[0].dimensions.kostnadssted"),
     ("due_date", "kid", "receivable_account", "lines[0].dimensions.kostnadssted"), ("receivable_account",)),
], ids=["tripletex", "fiken", "visma-net"])
def test_each_target_names_what_its_field_map_does_not_accept(module, invoice, credit, payment) -> None:
    assert module.not_accepted(INVOICE) == invoice
    assert module.not_accepted(CREDIT) == credit
    assert module.not_accepted(PAID) == payment


@pytest.mark.parametrize("module", [tripletex, fiken, visma_net], ids=["tripletex", "fiken", "visma-net"])
def test_every_field_named_is_one_the_map_does_not_accept_and_none_it_takes(module) -> None:
    rules = module.FIELD_MAP["sales_invoice"]
    for name in module.not_accepted(INVOICE):
        general = "lines[]." + name.split("].", 1)[1] if name.startswith("lines[") else name
        rule = rules.get(general, rules.get("lines[].dimensions.*") if ".dimensions." in general else None)
        assert isinstance(rule, NotAccepted), (name, rule)


def test_a_field_the_document_leaves_empty_is_not_named() -> None:
    bare = SalesInvoice(reference="R-2", date="2026-11-04", invoice_number="2", customer={"name": "Per"},
                        total="100.00", lines=[{"description": "Porto", "amount": "100.00", "vat_code": "3"}])
    assert fields.not_accepted(bare, fiken.FIELD_MAP) == ("receivable_account",)
