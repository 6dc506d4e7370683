"""The Finago Office connector against its sandbox: what lands where, preflight, the connection test in the
customer's words, sessions, throttling, and secrets kept out of the exchange log."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from pipeline.errors import ConfigError, DataError, TransientError
from pipeline.model import Voucher
from sandboxes.finago_office import Books

INVOICE = Voucher(reference="faktura-7001", date="2026-11-20", description="Faktura 7001 til Fjordkafé Ålesund",
                  voucher_type="utgående",
                  lines=[{"account": "1500", "amount": "1250.00", "invoice_number": "7001", "kid": "0000070011",
                          "due_date": "2026-12-04", "customer": {"number": "10001"}, "description": "Kundefordring"},
                         {"account": "3000", "amount": "-1000.00", "vat_code": "3", "description": "Blåbær",
                          "dimensions": {"department": "1", "kostnadssted": "K-9"}},
                         {"account": "3010", "amount": "-250.00", "vat_code": "31", "vat_amount": "-32.61",
                          "description": "Syltetøy", "dimensions": {"project": "100"}}])


def rows(box, reference):
    [voucher] = [v for v in box.vouchers() if v["reference"] == reference]
    return voucher, voucher["entries"]


def test_a_draft_is_a_journal_bundle_with_gross_amounts_vat_codes_party_dimensions_kid_and_æøå(wired):
    delivery = wired.target().deliver(INVOICE)
    assert delivery.draft and delivery.details["bundle"] == "Bilagsbro faktura-7001"
    assert set(delivery.not_accepted) == {"lines[1].dimensions.kostnadssted", "voucher_type"}
    [bundle] = wired.sandbox.books.journal
    assert bundle["Name"] == "Bilagsbro faktura-7001" and bundle["BundleDirectAccounting"] is False
    voucher, entries = rows(wired.sandbox, "faktura-7001")
    assert voucher["draft"] and [(e["AccountNo"], e["Amount"], str(e["VatCode"])) for e in entries] == [
        (1500, Decimal("1250.00"), "0"), (3000, Decimal("-1000.00"), "3"), (3010, Decimal("-250.00"), "31")]
    assert [e["InvoiceNo"] for e in entries] == ["7001", "faktura-7001", "faktura-7001"]  # the invoice keeps its own
    assert (entries[0]["_customer"], entries[0]["OCR"], entries[1]["_department"], entries[2]["_project"]) == (
        10001, "0000070011", 1, 100)
    assert entries[1]["Comment"] == "Faktura 7001 til Fjordkafé Ålesund: Blåbær"


def test_a_direct_posting_books_the_vat_on_its_own_entries_exactly(wired):
    delivery = wired.target(direct_posting=True).deliver(INVOICE)
    assert delivery.draft is False and "bundle" not in delivery.details
    voucher, entries = rows(wired.sandbox, "faktura-7001")
    assert not voucher["draft"]
    amounts = [(e["AccountNo"], e["Amount"]) for e in entries]
    # 1000 gross at 25 %: 800 + 200; 250 gross at 15 % with the source's VAT of 32.61: 217.39 + 32.61.
    assert amounts == [(1500, Decimal("1250.00")), (3000, Decimal("-800.00")), (2700, Decimal("-200.00")),
                       (3010, Decimal("-217.39")), (2700, Decimal("-32.61"))]
    assert sum(a for _, a in amounts) == 0
    assert [e["_vat_amount"] for e in entries if e["AccountNo"] in (3000, 3010)] == [Decimal("-200.00"),
                                                                                      Decimal("-32.61")]


def test_preflight_reports_every_problem_at_once_with_the_line_and_field(wired):
    wired.sandbox.books.projects[200] = {"Id": 200, "Name": "Avsluttet", "Enabled": False}
    wired.sandbox.books.tax_codes["7"] = {"TaxId": 170, "TaxNo": "7", "TaxName": "Uten konto", "TaxRate": Decimal("25"),
                                          "AccountNo": None}
    wired.sandbox.books.add_company(10002, "Dobbel AS", organization_number="911111128")
    wired.sandbox.books.add_company(10003, "Dobbel AS avd. Ørsta", organization_number="911111128")
    voucher = Voucher(reference="MANGLER", date="2025-06-01", currency="NOK", lines=[
        {"account": "40000", "amount": "10.00"},
        {"account": "1500", "amount": "10.00", "customer": {"organization_number": "911111128"}},
        {"account": "3000", "amount": "-10.00", "vat_code": "7", "dimensions": {"project": "200", "department": "9"}},
        {"account": "2400", "amount": "-10.00", "supplier": {"number": "77777", "name": "Ukjent"}}])
    found = {(p.code, p.field) for p in wired.target(direct_posting=True).preflight([voucher])}
    assert found == {("closed-period", "date"), ("missing-account", "lines[0].account"),
                     ("missing-customer", "lines[1].customer"), ("unknown-vat-code", "lines[2].vat_code"),
                     ("missing-project", "lines[2].dimensions.project"),
                     ("missing-department", "lines[2].dimensions.department"),
                     ("missing-supplier", "lines[3].supplier")}
    later = voucher.model_copy(update={"date": voucher.date.replace(year=2030)})
    assert "not set up" in next(p.message for p in wired.target().preflight([later]) if p.code == "closed-period")
    # As a draft, 24SevenOffice calculates the VAT itself: a code without an account is no problem there.
    assert ("unknown-vat-code", "lines[2].vat_code") not in {(p.code, p.field) for p in wired.target().preflight([later])}
    assert wired.sandbox.vouchers() == []


def test_finago_offices_own_refusal_is_a_data_error_with_its_words_and_our_request_id(wired):
    voucher = Voucher(reference="AVVIST", date="2026-11-20", lines=[
        {"account": "1920", "amount": "10.00", "vat_code": "3"}, {"account": "3000", "amount": "-10.00"}])
    with pytest.raises(DataError) as caught:
        wired.target().deliver(voucher)
    error = caught.value
    assert error.provider_message == "VAT code 3 is not allowed on account 1920" and error.request_id
    assert [p.code for p in error.problems] == ["refused-by-finago-office"]
    [save] = [x for x in wired.exchanges.exchanges if b"SaveBundleList" in x.request_body]
    assert save.request_headers["x-request-id"] == error.request_id


@pytest.mark.parametrize(("change", "words"), [
    ({"password": "feil"}, "refused the login of regnskap@demobutikk.no: check the username and password"),
    ({"application_id": "00000000-0000-0000-0000-000000000001"}, "ApplicationId is not valid"),
])
def test_a_refused_login_is_a_config_error_in_the_customers_words(wired, change, words):
    for name, value in change.items():
        wired.secrets.set({"password": "finago-password", "application_id": "finago-app"}[name], value)
    with pytest.raises(ConfigError) as caught:
        wired.target().check()
    assert words in str(caught.value) and caught.value.connector == "finago-office"


def test_an_empty_login_answer_is_a_refused_login_too(wired):
    wired.sandbox.empty_login = True
    wired.secrets.set("finago-password", "feil")
    with pytest.raises(ConfigError, match="wrong username or password"):
        wired.target().check()


def test_a_user_of_several_clients_must_say_which_and_gets_that_clients_books(wired):
    other = Books(client_id=2002, name="Regnskapsklient Ørsta AS").seed_demo()
    wired.sandbox.add_client(other)
    with pytest.raises(ConfigError) as caught:
        wired.target().check()
    assert "reaches 2 Finago Office clients (1001 Demo Butikk Ærø AS, 2002 Regnskapsklient Ørsta AS)" in str(caught.value)
    wired.cache.clear()
    with pytest.raises(ConfigError, match="has no access to Finago Office client 3003; it reaches: 1001"):
        wired.target(client_id="3003").check()
    wired.cache.clear()
    answer = wired.target(client_id=2002).check()
    assert (answer["client_id"], answer["company"]) == ("2002", "Regnskapsklient Ørsta AS")
    wired.target(client_id="2002").deliver(INVOICE)
    assert [v["reference"] for v in other.vouchers()] == ["faktura-7001"] and wired.sandbox.books.vouchers() == []


def test_the_voucher_type_is_diverse_or_the_one_chosen_and_a_wrong_one_is_named(wired):
    assert wired.target().check()["voucher_type"] == "5 Diverse"
    assert wired.target(transaction_type=3).check()["voucher_type"] == "3 Kasse"
    with pytest.raises(ConfigError, match=r"no voucher type 42; choose one with transaction_type \(its types: 1 "):
        wired.target(transaction_type=42).deliver(INVOICE)
    wired.target(transaction_type=3).deliver(INVOICE)
    assert {e["TransactionTypeId"] for e in wired.sandbox.books.journal[0]["_transactions"]} == {3}


def test_a_burst_of_workers_logs_in_once_and_numbers_every_voucher_apart(wired):
    data = INVOICE.model_dump(mode="json")
    vouchers = [Voucher.model_validate({**data, "reference": f"burst-{i}", "lines": [  # each its own invoice number
        {**data["lines"][0], "invoice_number": f"7{i:03d}"}, *data["lines"][1:]]}) for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda v: wired.target(direct_posting=True).deliver(v), vouchers))
    assert wired.sandbox.logins == 1 and wired.sandbox.count("GetAccountList") == 1
    numbers = [v["number"] for v in wired.sandbox.vouchers()]
    assert sorted(numbers) == list(range(1, 17))


def test_an_ended_session_is_renewed_once_and_the_voucher_saved_once(wired):
    target = wired.target()
    target.check()
    wired.sandbox.faults.add("^SaveBundleList$", "POST", "401")
    target.deliver(INVOICE)
    assert wired.sandbox.logins == 2 and len(wired.sandbox.vouchers()) == 1
    assert wired.sandbox.count("SaveBundleList") == 2  # NotAuthenticated, then saved


@pytest.mark.parametrize("status", [500, 429])
def test_the_quota_is_waited_out_until_its_quarantine_ends(wired, status):
    wired.sandbox.quota_status = status
    wired.sandbox.faults.reset_seconds = 20  # far beyond any backoff of our own (at most 2 s here)
    wired.sandbox.faults.add("^SaveBundleList$", "POST", "429", times=2)
    wired.target().deliver(INVOICE)
    # The waits the connector asked for (recorded, not slept): until "Quarantine ends at", to the second.
    assert len(wired.sleeps) == 2 and all(10 < s <= 20 for s in wired.sleeps)
    assert len(wired.sandbox.vouchers()) == 1


def test_secrets_never_reach_the_exchange_log(wired):
    wired.target().deliver(INVOICE)
    logged = json.dumps([[x.url, x.request_headers, x.request_body.decode(), x.response_headers,
                          x.response_body.decode("utf-8", "replace")] for x in wired.exchanges.exchanges],
                        ensure_ascii=False)
    assert wired.sandbox.user.password not in logged and wired.sandbox.application_id not in logged
    assert all(session not in logged for session in wired.sandbox.issued)
    assert "<ns0:Password>[redacted]</ns0:Password>" in logged and "faktura-7001" in logged


def test_each_wsdl_is_fetched_once_per_process(wired):
    wired.target().deliver(INVOICE)
    wired.cache.clear()  # another connection: a new session, the same WSDLs
    wired.target(direct_posting=True).find(INVOICE.reference)
    fetched = [x.url for x in wired.exchanges.exchanges if x.method == "GET"]
    assert len(fetched) == len(set(fetched)) and all(url.endswith("?wsdl") for url in fetched)


def test_accounts_missing_names_what_the_chart_cannot_take(wired):
    assert wired.target().accounts_missing(["1920", "2999", "kasse", "99999"]) == {
        "2999": "does not exist in Finago Office",
        "99999": "is no account number Finago Office can have (whole numbers up to 32767)",
        "kasse": "is no account number Finago Office can have (whole numbers up to 32767)"}


def test_render_shows_a_voucher_with_problems_as_far_as_it_resolves_and_sends_nothing(wired):
    voucher = Voucher(reference="TØRRKJØRING", date="2030-06-01", lines=[
        {"account": "kasse", "amount": "10.00"}, {"account": "3000", "amount": "-10.00", "vat_code": "3",
                                                 "customer": {"number": "55555"}}])
    rendered = wired.target().render(voucher)
    [bundle] = rendered["Bundles"]["Bundle"]
    entries = bundle["Vouchers"]["Voucher"][0]["Entries"]["Entry"]
    assert bundle["YearId"] == 2030 and [e["AccountNo"] for e in entries] == ["kasse", 3000]
    assert "CustomerId" not in entries[1] and wired.sandbox.count("SaveBundleList") == 0


def test_a_login_throttled_by_the_quota_is_passing_not_a_refused_login(wired):
    wired.sandbox.faults.add("^Login$", "POST", "429", times=4)
    with pytest.raises(TransientError) as caught:
        wired.target().check()
    assert not isinstance(caught.value, ConfigError) and "Request is blocked" in (caught.value.provider_message or "")
