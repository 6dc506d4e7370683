"""Preflight against a Visma.net company reports every problem at once — chart, VAT, VAT categories, departments,
projects and financial periods — and what it passes, Visma.net takes; what it cannot know in time (a period closed
meanwhile), Visma.net refuses, and the refusal lands on the voucher's field."""

from __future__ import annotations

import pytest

from pipeline.errors import DataError
from pipeline.model import Voucher
from tests.visma_net.visma_net_support import Wired


def codes(problems: list) -> set[tuple[str, str | None]]:  # type: ignore[type-arg]
    return {(p.code, p.field) for p in problems}


def test_every_problem_of_every_voucher_at_once(w: Wired) -> None:
    w.sandbox.company.deactivate_account("6300")
    w.sandbox.company.accounts["1500"]["allowManualEntry"] = False
    w.sandbox.company.close_period("202610")
    bad = Voucher(reference="MANGLER-2", date="2026-10-15", currency="NOK", lines=[
        {"account": "2999", "amount": "100.00"},
        {"account": "3000", "amount": "-100.00", "vat_code": "1"},  # input VAT on a sales account
        {"account": "3000", "amount": "-50.00", "vat_code": "86"},
        {"account": "6300", "amount": "30.00"},
        {"account": "1500", "amount": "20.00"},  # the customer ledger's control account
        {"account": "3100", "amount": "-10.00", "dimensions": {"department": "9", "project": "200"}},
        {"account": "3100", "amount": "10.00", "dimensions": {"project": "404"}}])
    euro = Voucher(reference="VALUTA-2", date="2026-11-04", currency="EUR",
                   lines=[{"account": "1920", "amount": "5.00"}, {"account": "3100", "amount": "-5.00"}])
    good = Voucher(reference="OK-1", date="2026-11-04",
                   lines=[{"account": "1920", "amount": "5.00"}, {"account": "3100", "amount": "-5.00"}])
    problems = w.target().preflight([good, bad, euro])
    assert {p.reference for p in problems} == {"MANGLER-2", "VALUTA-2"}
    assert codes([p for p in problems if p.reference == "MANGLER-2"]) == {
        ("closed-period", "date"), ("missing-account", "lines[0].account"), ("vat-code-not-allowed", "lines[1].vat_code"),
        ("unknown-vat-code", "lines[2].vat_code"), ("inactive-account", "lines[3].account"),
        ("control-account", "lines[4].account"), ("missing-department", "lines[5].dimensions.department"),
        ("missing-project", "lines[5].dimensions.project"), ("missing-project", "lines[6].dimensions.project")}
    assert codes([p for p in problems if p.reference == "VALUTA-2"]) == {("unsupported-currency", "currency")}
    said = {p.field: p.message for p in problems if p.reference == "MANGLER-2"}
    assert "the account's VAT category SALG allows 3, 31, 33, 5, 6" in said["lines[1].vat_code"]
    assert "project 200 is completed" in said["lines[5].dimensions.project"]
    assert "closed in Visma.net's general ledger" in said["date"]
    assert w.sandbox.batches == []


def test_what_preflight_passes_visma_net_takes(w: Wired) -> None:
    voucher = Voucher(reference="OK-2", date="2026-11-04", lines=[
        {"account": "1920", "amount": "1120.00"},
        {"account": "3000", "amount": "-500.00", "vat_code": "3", "dimensions": {"department": "1"}},
        {"account": "3010", "amount": "-300.00", "vat_code": "31", "dimensions": {"project": "100"}},
        {"account": "3020", "amount": "-200.00", "vat_code": "33"},
        {"account": "4300", "amount": "100.00", "vat_code": "1"},
        {"account": "3100", "amount": "-220.00"}])
    assert w.target().preflight([voucher]) == []
    w.target().deliver(voucher)
    [batch] = w.sandbox.batches
    assert len(batch["journalTransactionLines"]) == 10  # six lines, four of them with a VAT line


@pytest.mark.parametrize(("day", "words"), [("2031-06-01", "no financial period in Visma.net covers 2031-06-01"),
                                            ("2026-09-10", "is inactive in Visma.net")])
def test_missing_and_inactive_periods(w: Wired, day: str, words: str) -> None:
    w.sandbox.company.periods["202609"]["active"] = False
    voucher = Voucher(reference="P-1", date=day, lines=[{"account": "1920", "amount": "5.00"},
                                                         {"account": "3100", "amount": "-5.00"}])
    [problem] = w.target().preflight([voucher])
    assert (problem.code, problem.field) == ("closed-period", "date") and words in problem.message


def test_a_period_closed_after_preflight_is_refused_by_visma_net_and_put_on_the_date(w: Wired) -> None:
    voucher = Voucher(reference="SEN-1", date="2026-11-04", lines=[{"account": "1920", "amount": "5.00"},
                                                                  {"account": "3100", "amount": "-5.00"}])
    target = w.target()
    assert target.preflight([voucher]) == []  # the periods are kept for ten minutes per connection
    w.sandbox.company.close_period("202611")
    with pytest.raises(DataError) as caught:
        target.deliver(voucher)
    error = caught.value
    assert error.status == 400 and error.request_id and "The 11-2026 financial period is closed." in error.provider_message
    assert [(p.code, p.field) for p in error.problems] == [("refused-by-visma-net", "date")]
    assert w.sandbox.batches == []


def test_an_account_deactivated_after_preflight_is_refused_on_its_line(w: Wired) -> None:
    voucher = Voucher(reference="SEN-2", date="2026-11-04", lines=[{"account": "6300", "amount": "5.00"},
                                                                  {"account": "1920", "amount": "-5.00"}])
    target = w.target()
    assert target.preflight([voucher]) == []
    w.sandbox.company.deactivate_account("6300")
    with pytest.raises(DataError) as caught:
        target.deliver(voucher)
    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("lines[0].account", "Visma.net refused line 1: Error: Account 6300: Account is inactive.")]


def test_deliver_checks_again_and_sends_nothing_for_a_voucher_with_problems(w: Wired) -> None:
    voucher = Voucher(reference="MANGLER-3", date="2026-11-04", lines=[{"account": "2999", "amount": "5.00"},
                                                                      {"account": "1920", "amount": "-5.00"}])
    with pytest.raises(DataError) as caught:
        w.target().deliver(voucher)
    assert [(p.code, p.field) for p in caught.value.problems] == [("missing-account", "lines[0].account")]
    assert w.sandbox.count("POST", "/v2/journaltransaction") == 0


def test_accounts_missing_for_a_source_that_names_accounts(w: Wired) -> None:
    w.sandbox.company.deactivate_account("6300")
    assert w.target().accounts_missing(["1920", "6300", "2999", "3000"]) == {
        "2999": "does not exist in Visma.net", "6300": "is inactive in Visma.net"}
