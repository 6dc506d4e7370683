"""Visma.net, the rest of issue 16: a payment dated in a financial period closed in the customer ledger is refused in
preflight with everything else it lacks (the periods read once per connection), and invoice lines with a product
code are matched to Visma.net's inventory items by number (looked up once), unknown or unsellable ones refused in
one report — over HTTP against the sandbox, every request held against the official spec."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from test_visma_net_invoices import POSTING, paid, renewal

from pipeline.errors import DataError
from tests.visma_net.visma_net_support import Wired


def test_a_payment_in_a_period_closed_in_the_customer_ledger_is_refused_in_preflight_with_the_rest(
        make: Callable[..., Wired]) -> None:
    wired = make(**POSTING)
    wired.sandbox.company.close_period("202612")  # closed before the connection reads its periods (kept 600 s)
    wired.target().deliver(renewal())
    late = paid("1250.00", date="2026-12-03", payment_method="kontant")
    target = wired.target()
    problems = {(p.code, p.field) for p in target.preflight([late])}
    assert problems == {("closed-period", "date"), ("unknown-payment-method", "payment_method")}, problems
    [closed] = [p for p in target.preflight([late]) if p.code == "closed-period"]
    assert "closed in the customer ledger for the payment date 2026-12-03" in closed.message
    with pytest.raises(DataError):
        wired.target().deliver(late)
    assert wired.sandbox.count("POST", "/v1/customerPayment") == 0
    assert wired.sandbox.count("GET", "/v1/financialPeriod") == 1  # read once for the connection, then kept
    assert wired.target().preflight([paid("1250.00")]) == []  # November is open


def test_the_sandbox_refuses_a_payment_in_a_closed_customer_ledger_period_as_visma_net_does(
        make: Callable[..., Wired]) -> None:
    wired = make(**POSTING)
    wired.target().deliver(renewal())
    wired.sandbox.company.close_period("202612")
    number = next(iter(wired.sandbox.receivables.documents["invoice"]))
    answer = wired.target().client.post("v1/customerPayment", json={
        "type": {"value": "Payment"}, "customer": {"value": "20001"}, "paymentMethod": {"value": "BANK"},
        "cashAccount": {"value": "1920"}, "paymentAmount": {"value": 100}, "paymentRef": {"value": "X"},
        "applicationDate": {"value": "2026-12-03T00:00:00"},
        "paymentLines": [{"operation": "Insert", "documentType": {"value": "Invoice"}, "refNbr": {"value": number},
                          "amountPaid": {"value": 100}}]})
    assert answer.status_code == 400 and "not in an open financial period" in answer.json()["message"]


def test_invoice_lines_with_a_product_code_are_matched_to_inventory_items_by_number(
        make: Callable[..., Wired]) -> None:
    wired = make(**POSTING)
    lines = [{"description": "Årsabonnement – Bygdebladet", "amount": "1000.00", "vat_code": "3",
              "product": "ABO-PAPIR"},
             {"description": "Porto", "amount": "250.00", "vat_code": "3", "product": "PORTO"}]
    target = wired.target()
    assert target.preflight([renewal(lines=lines)]) == []
    delivery = target.deliver(renewal(lines=lines))
    assert not [f for f in delivery.not_accepted if f.endswith(".product")]
    [made] = wired.sandbox.receivables.documents["invoice"].values()
    assert [line["inventory"]["number"] for line in made["invoiceLines"]] == ["ABO-PAPIR", "PORTO"]
    wired.target().deliver(renewal("FORNY-2", number="S-2", lines=lines))
    assert wired.sandbox.count("GET", "/v1/inventory/ABO-PAPIR") == 1  # looked up once, then kept


def test_unknown_and_unsellable_items_are_refused_in_preflight_in_one_report(make: Callable[..., Wired]) -> None:
    wired = make(**POSTING)
    wired.sandbox.company.add_item("UTGÅTT", "Gammelt abonnement", status="NoSales")
    bad = renewal(lines=[
        {"description": "Ukjent vare", "amount": "1000.00", "vat_code": "3", "product": "FINNES-IKKE"},
        {"description": "Utgått vare", "amount": "250.00", "vat_code": "3", "product": "UTGÅTT", "account": "3999"}])
    problems = {(p.code, p.field): p.message for p in wired.target().preflight([bad])}
    assert set(problems) == {("missing-item", "lines[0].product"), ("missing-item", "lines[1].product"),
                             ("missing-account", "lines[1].account")}, problems
    assert "FINNES-IKKE is not in Visma.net" in problems[("missing-item", "lines[0].product")]
    assert "UTGÅTT is NoSales in Visma.net" in problems[("missing-item", "lines[1].product")]
    with pytest.raises(DataError):
        wired.target().deliver(bad)
    assert wired.sandbox.receivables.documents["invoice"] == {}
