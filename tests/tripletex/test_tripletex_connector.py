"""The Tripletex connector against the sandbox: drafts as Tripletex stores them, lookups, auth, errors, secrecy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tripletex_support import Harness

from connectors.targets import tripletex
from pipeline.errors import ConfigError, DataError, OutcomeUnknown
from pipeline.model import Payment, SalesInvoice, Voucher
from sandboxes.tripletex import TripletexSandbox
from tests.timing import FAULT_CLIENT_TIMEOUT


def sale(reference: str, *, customer: dict[str, Any] | None = None, account: str = "1500",
         revenue: str = "3000", vat_code: str | None = "3", amount: str = "1250.00", **line: Any) -> Voucher:
    return Voucher(
        reference=reference, date="2026-11-02", description=f"Salg {reference} – blåbærsyltetøy",
        lines=[
            {"account": account, "amount": amount, "customer": customer or {"number": "10001"},
             "invoice_number": "F-77", "due_date": "2026-11-16", **line},
            {"account": revenue, "amount": f"-{amount}", "vat_code": vat_code,
             "description": "Blåbær, økologisk", "dimensions": {"department": "1", "project": "100"}},
        ],
    )


def stored(sandbox: TripletexSandbox, remote_id: str) -> dict[str, Any]:
    return sandbox.company.vouchers[int(remote_id)]


def test_demo_vouchers_land_as_drafts_with_ids_vat_customer_dimensions_and_kid_reported(h: Harness) -> None:
    company = h.sandbox.company
    target = h.target()
    cash = Voucher(reference="Z-2026-11-02/Ålesund", date="2026-11-02", description="Dagsoppgjør Ålesund",
                   lines=[{"account": "1900", "amount": "560.00", "dimensions": {"department": "2"}},
                          {"account": "3000", "amount": "-500.00", "vat_code": "3"},
                          {"account": "3000", "amount": "-60.00", "vat_code": "6"}])
    invoice = sale("F-77", kid="000000778")
    by_org = sale("F-78", customer={"organization_number": "912 345 688", "name": "Blåbærgården"})
    by_email = sale("F-79", customer={"email": "Kari@Nordmann.no"})

    deliveries = [target.deliver(v) for v in (cash, invoice, by_org, by_email)]

    assert [d.draft for d in deliveries] == [True] * 4
    assert all(not stored(h.sandbox, d.remote_id)["_posted"] for d in deliveries)
    assert deliveries[1].not_accepted == ("lines[0].kid",)
    assert deliveries[0].not_accepted == ()
    z = stored(h.sandbox, deliveries[0].remote_id)
    assert z["description"] == "Dagsoppgjør Ålesund" and z["externalVoucherNumber"] == "Z-2026-11-02/Ålesund"
    given = [p for p in z["postings"] if not p["systemGenerated"]]
    assert [p["row"] for p in given] == [1, 2, 3]
    assert [p["account"]["id"] for p in given] == [company.account(n)["id"] for n in (1900, 3000, 3000)]
    assert given[0]["department"]["id"] == next(d["id"] for d in company.departments.values()
                                                if d["departmentNumber"] == "2")
    assert given[1]["vatType"]["id"] == company.vat_type("3")["id"]
    assert given[2]["vatType"]["id"] == company.vat_type("6")["id"]
    # Tripletex split the VAT out of the gross amount itself: 500 gross at 25 % is 400 net + 100 VAT.
    assert given[1]["amount"] == Decimal("-400.00")
    vat = [p for p in z["postings"] if p["systemGenerated"]]
    assert [(p["account"]["number"], p["amount"]) for p in vat] == [(2700, Decimal("-100.00"))]

    customers = {c["customerNumber"]: c["id"] for c in company.customers.values()}
    for delivery, number in zip(deliveries[1:], (10001, 10002, 10003), strict=True):
        voucher = stored(h.sandbox, delivery.remote_id)
        receivable, revenue = voucher["postings"][0], voucher["postings"][1]
        assert receivable["account"]["number"] == 1500 and receivable["customer"] == {"id": customers[number]}
        assert receivable["invoiceNumber"] == "F-77" and receivable["termOfPayment"] == "2026-11-16"
        assert revenue["description"] == "Blåbær, økologisk"
        assert revenue["project"]["id"] == next(iter(company.projects))
    assert stored(h.sandbox, deliveries[1].remote_id)["description"] == "Salg F-77 – blåbærsyltetøy"


def test_direct_posting_sends_to_the_ledger(h: Harness) -> None:
    delivery = h.target(direct_posting=True).deliver(sale("F-1"))
    voucher = stored(h.sandbox, delivery.remote_id)
    assert voucher["_posted"] and voucher["number"] >= 1 and delivery.draft is False
    assert h.sandbox.count("POST", "/v2/ledger/voucher") == 1


def test_lookups_are_cached_per_tenant_one_request_per_voucher_after_the_first(h: Harness) -> None:
    target = h.target()
    target.deliver(sale("F-1"))
    before = sum(h.sandbox.requests.values())
    for i in range(2, 12):
        h.target().deliver(sale(f"F-{i}"))  # a new connect() per message, as the pipeline does
    assert sum(h.sandbox.requests.values()) - before == 10
    assert h.sandbox.count("PUT", "/v2/token/session") == 1
    assert h.sandbox.count("GET", "/v2/ledger/account") == 1


def test_bulk_lookup_fetches_all_account_numbers_in_one_request(h: Harness) -> None:
    vouchers = [sale("A", revenue="3100", vat_code="5"), sale("B", revenue="3000"),
                Voucher(reference="C", date="2026-11-02",
                        lines=[{"account": "6300", "amount": "100.00"}, {"account": "1920", "amount": "-100.00"}])]
    assert h.target().preflight(vouchers) == []
    account_calls = [e for e in h.exchanges.exchanges if "/ledger/account?" in e.url]
    assert len(account_calls) == 1
    assert "number=1500,1920,3000,3100,6300" in account_calls[0].url


def test_find_by_reference_and_long_references(h: Harness) -> None:
    target = h.target()
    long_reference = "ordre/" + "æ" * 150
    delivered = target.deliver(sale(long_reference))
    found = target.find(long_reference)
    assert found is not None and found.remote_id == delivered.remote_id and found.draft
    number = stored(h.sandbox, delivered.remote_id)["externalVoucherNumber"]
    assert len(number) == tripletex.EXTERNAL_NUMBER_MAX and number.startswith("ordre/æææ")
    assert target.find("ordre/" + "æ" * 149) is None
    assert target.find("F-does-not-exist") is None


def test_find_reports_doubles_made_outside_the_ledger(h: Harness) -> None:
    target = h.target()
    first = target.deliver(sale("F-1"))
    target.deliver(sale("F-1"))
    found = target.find("F-1")
    assert found is not None and found.remote_id == first.remote_id
    assert len(found.details["duplicates"]) == 2


def test_check_answers_who_we_are(h: Harness) -> None:
    info = h.target().check()
    assert info["company_id"] == h.sandbox.company.id and info["company"] == "Bilagsbro Sandkasse AS"


def test_expired_session_is_renewed_once(h: Harness) -> None:
    target = h.target()
    target.deliver(sale("F-1"))
    h.sandbox.expire_sessions()
    target.deliver(sale("F-2"))
    h.sandbox.faults.add(r"^/ledger/voucher$", "POST", "401")
    target.deliver(sale("F-3"))
    assert h.sandbox.count("PUT", "/v2/token/session/:create") == 3
    assert len(h.sandbox.vouchers) == 3


def test_wrong_tokens_are_a_config_error_that_names_no_token(sandbox: TripletexSandbox, make_harness: Any) -> None:
    wired = make_harness()
    wired.context.secrets.set("tripletex-employee", "feil-token-æøå")
    with pytest.raises(ConfigError) as caught:
        wired.target().deliver(sale("F-1"))
    assert caught.value.status == 403 and caught.value.request_id
    assert "feil-token" not in str(caught.value) and sandbox.consumer_token not in str(caught.value)
    assert sandbox.vouchers == []


def test_missing_secret_is_a_config_error(sandbox: TripletexSandbox, make_harness: Any) -> None:
    wired = make_harness()
    wired.context.secrets.values.pop("tripletex-consumer")
    with pytest.raises(ConfigError, match="tripletex-consumer"):
        wired.target().check()


def test_tokens_never_reach_the_exchange_log(h: Harness) -> None:
    target = h.target()
    target.deliver(sale("F-1"))
    h.sandbox.expire_sessions()
    target.deliver(sale("F-2"))
    session_tokens = list(h.sandbox.sessions)
    assert session_tokens
    secrets = [h.sandbox.consumer_token, h.sandbox.employee_token, *session_tokens]
    assert len(h.exchanges.exchanges) >= 6
    for exchange in h.exchanges.exchanges:
        text = repr(exchange)
        assert not [s for s in secrets if s in text], exchange.url
        assert exchange.request_headers.get("authorization") in (None, "[redacted]")
    creates = [e for e in h.exchanges.exchanges if ":create" in e.url]
    assert len(creates) == 2 and all(b'"token": "[redacted]"' in e.response_body for e in creates)


def test_tripletex_validation_messages_become_a_data_error(h: Harness) -> None:
    h.sandbox.company.add_account(4300, "Innkjøp varer", ledger_type="GENERAL")
    target = h.target()
    voucher = Voucher(reference="X-1", date="2026-11-02",
                      lines=[{"account": "4300", "amount": "80.00"}, {"account": "1920", "amount": "-80.00"}])
    target.resolve([voucher])
    h.sandbox.company.deactivate_account(4300)  # changed in Tripletex after we cached it
    with pytest.raises(DataError) as caught:
        target.deliver(voucher)
    error = caught.value
    assert error.status == 422 and error.reference == "X-1" and error.connector == "tripletex"
    assert "postings.account.id: Konto 4300 er inaktiv." in (error.provider_message or "")
    [problem] = error.problems  # Tripletex's path `postings[0].account.id` names our first line
    assert problem.field == "lines[0].account" and problem.code == "refused-by-tripletex"
    assert problem.message == "Tripletex refused line 1: Konto 4300 er inaktiv."
    assert error.request_id and error.request_id in {e.response_headers.get("x-tlx-request-id")
                                                     for e in h.exchanges.exchanges}


def test_sales_invoices_are_drafts_first_and_a_payment_for_a_draft_is_refused_clearly(h: Harness) -> None:
    """Sales invoices and payments were refused as unsupported-document until issue 16; now an invoice is an order
    (the draft) and a payment for an invoice still a draft is a preflight problem, nothing registered."""
    invoice = SalesInvoice(reference="INV-1", date="2026-11-02", invoice_number="1", customer={"number": "10001"},
                           total="125.00", lines=[{"description": "Kaffe", "amount": "125.00"}])
    payment = Payment(reference="PAY-1", date="2026-11-02", amount="125.00", invoice_number="1")
    target = h.target()
    assert target.preflight([invoice]) == []
    delivery = target.deliver(invoice)
    assert delivery.draft and delivery.remote_id.startswith("order:")
    assert h.sandbox.invoicing.invoices == {} and len(h.sandbox.invoicing.orders) == 1
    problems = target.preflight([payment])
    assert [(p.code, p.reference, p.field) for p in problems] == [("invoice-not-posted", "PAY-1", "invoice_number")]
    with pytest.raises(DataError, match="still a draft"):
        target.deliver(payment)
    assert h.sandbox.invoicing.payments == []


def test_foreign_currency_is_refused_before_posting(h: Harness) -> None:
    voucher = sale("F-EUR").model_copy(update={"currency": "EUR"})
    with pytest.raises(DataError) as caught:
        h.target().deliver(voucher)
    assert [p.code for p in caught.value.problems] == ["unsupported-currency"]
    assert h.sandbox.vouchers == []


def test_timeout_after_a_post_is_outcome_unknown(sandbox: TripletexSandbox, make_harness: Any) -> None:
    wired = make_harness(timeout=FAULT_CLIENT_TIMEOUT)
    target = wired.target()
    target.resolve([sale("F-1")])
    sandbox.faults.add(r"^/ledger/voucher$", "POST", "timeout", commit=True)
    with pytest.raises(OutcomeUnknown):
        target.deliver(sale("F-1"))


def test_render_is_the_exact_body_and_matches_the_spec(h: Harness) -> None:
    target = h.target()
    body = target.render(sale("F-1", kid="000000778"))
    assert body["externalVoucherNumber"] == "F-1"
    assert body["postings"][0]["amountGross"] == Decimal("1250.00")
    assert "kid" not in str(body).lower()
    assert h.sandbox.count("POST") == 0
