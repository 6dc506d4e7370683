"""`bilagsbro demo --subscriptions fiken`: the demo shop stays on Tripletex (what `make demo` shows) while the demo
subscription business's signed events — renewal, Vipps payment, cancellation — go to Fiken's sandbox, started beside
it; `make demo` itself is unchanged (tests/e2e/test_no_secret_leaks.py runs it)."""

from __future__ import annotations

import pytest

import sandboxes.fiken
from bilagsbro import cli
from tests.e2e.test_no_secret_leaks import own_azurite  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e


def test_the_demo_runs_its_subscription_flow_into_fiken_beside_a_tripletex_shop(
        own_azurite, capsys, monkeypatch):  # noqa: F811 - the fixture
    boxes: list[sandboxes.fiken.FikenSandbox] = []

    class Recorded(sandboxes.fiken.FikenSandbox):
        def stop(self) -> None:  # kept for the assertions below; stopped then
            boxes.append(self)

    monkeypatch.setattr(sandboxes.fiken, "FikenSandbox", Recorded)
    assert cli.main(["demo", "--subscriptions", "fiken"]) == 0
    out = capsys.readouterr().out
    assert "(Demo Butikk Ærø AS) → tripletex" in out and "(Demo Abonnement Øst AS) → fiken" in out
    assert "Fiken sandbox on http://127.0.0.1:" in out and "for the subscriptions" in out
    [fiken] = boxes
    try:
        books = fiken.company.invoicing
        [invoice] = books.invoices.values()
        [credit] = books.credit_notes.values()
        assert credit["associatedInvoiceId"] == invoice["invoiceId"]
        assert invoice["sale"]["salePayments"] and invoice["customer"]["name"] == "Åse Ødegård"
        assert [kind for kind, _, _ in books.sent] == ["invoice", "creditNote"]
    finally:
        sandboxes.fiken.FikenSandbox.stop(fiken)


def test_the_demo_says_which_systems_take_subscriptions(own_azurite, capsys):  # noqa: F811 - the fixture
    assert cli.main(["demo", "--subscriptions", "xledger"]) == 2
    said = capsys.readouterr().out
    assert "'xledger' takes no invoices; subscriptions can go to:" in said and "fiken" in said
