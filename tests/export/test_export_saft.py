"""The SAF-T Financial export: valid against Skatteetaten's 1.30 XSD, consistent where the XSD cannot look (master
files, balances, totals), and read back by our own SAF-T reader as the very vouchers the documents book — over every
sample file we have."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from pipeline.export import Company, Delivered, Entry
from pipeline.export.bookings import as_voucher, revenue_account
from pipeline.export.saft import SaftFile
from pipeline.model import Payment, SalesInvoice, Voucher
from tests.export.saft_support import (
    AT,
    NS,
    PERIOD,
    SPECS,
    booked,
    check,
    comparable,
    dimensions_of,
    entry,
    export,
    reference_back,
    reimport,
    samples,
    specs_needed,
    validate,
)

SAMPLES = samples()


def test_the_samples_are_every_sample_file_we_have():
    assert {"bilagsbro/samples/documents.json", "bilagsbro/samples/invoices.json",
            "tests/sources/shared_form/dagsoppgjor_aeoeaa.json"} <= set(SAMPLES)
    assert len([name for name in SAMPLES if name.endswith(".expected.json")]) >= 30
    formats = {d.origin.format for documents in SAMPLES.values() for d in documents if d.origin}
    assert {"sie4", "gbat10", "visma-business", "visma-global", "saft-cash-register", "saft-financial"} <= formats
    if SPECS.exists():
        assert len(SAMPLES["../shared/specs/saf-t/examples/financial-example-888888888.xml"]) == 53
    types = {d.type for documents in SAMPLES.values() for d in documents}
    assert types == {"voucher", "sales_invoice", "payment"}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_exports_to_valid_saft_that_reads_back_as_the_same_vouchers(name):
    specs_needed("the SAF-T Financial 1.30 XSD")
    by_currency = defaultdict(list)
    for document in SAMPLES[name]:
        by_currency[document.currency].append(document)
    for currency, documents in sorted(by_currency.items()):
        data, saft = export(documents, currency=currency)
        validate(data)
        assert check(data) == []
        vouchers, problems = reimport(data, dimensions_of(documents))
        assert problems == []
        expected = booked(documents)
        assert [comparable(v) for v in vouchers] == expected
        assert [v.reference for v in vouchers] == [reference_back(d.reference) for d in documents
                                                   if as_voucher(d) is not None]
        assert saft.summary.transactions == len(expected) and saft.summary.shortened == 0


def _root(data: bytes):
    return etree.fromstring(data)


def test_the_header_names_the_company_the_period_and_what_was_left_out():
    documents = SAMPLES["bilagsbro/samples/documents.json"]
    entries = [entry(documents[0], 0), entry(documents[1], 1, delivered=False),
               entry(documents[2].model_copy(update={"currency": "EUR"}), 2)]
    saft = SaftFile(entries, company=Company(name="Bakeriet på Røa AS", organization_number="999999999"),
                    period=PERIOD, created=dt.date(2026, 12, 1))
    data = b"".join(saft.chunks())
    validate(data)
    header = _root(data).find("s:Header", NS)
    assert header.findtext("s:AuditFileVersion", namespaces=NS) == "1.30"
    assert header.findtext("s:Company/s:RegistrationNumber", namespaces=NS) == "999999999"
    assert header.findtext("s:Company/s:Name", namespaces=NS) == "Bakeriet på Røa AS"
    assert header.findtext("s:SelectionCriteria/s:SelectionStartDate", namespaces=NS) == "2026-11-01"
    assert header.findtext("s:SelectionCriteria/s:SelectionEndDate", namespaces=NS) == "2026-11-30"
    assert "mottatt i Bilagsbro" in header.findtext("s:SelectionCriteria/s:OtherCriteria", namespaces=NS)
    comment = header.findtext("s:HeaderComment", namespaces=NS)
    assert "1 bilag" in comment and "1 ikke levert" in comment and "1 i annen valuta" in comment
    assert (saft.summary.transactions, saft.summary.not_delivered, saft.summary.other_currency) == (1, 1, 1)


def test_master_files_hold_exactly_the_accounts_parties_vat_codes_and_dimensions_in_use():
    documents = SAMPLES["bilagsbro/samples/documents.json"] + SAMPLES["bilagsbro/samples/invoices.json"]
    data, _ = export(documents)
    root = _root(data)
    used = {line.account for d in documents for line in as_voucher(d).lines}
    vat = {line.vat_code for d in documents for line in as_voucher(d).lines if line.vat_code}
    accounts = {a.findtext("s:AccountID", namespaces=NS): a for a in root.iterfind(".//s:Account", NS)}
    assert set(accounts) == used | _vat_accounts(documents) and {"2700", "2701"} <= set(accounts)
    assert {t.findtext("s:TaxCode", namespaces=NS) for t in root.iterfind(".//s:TaxCodeDetails", NS)} == vat
    assert {t.findtext("s:StandardTaxCode", namespaces=NS) for t in root.iterfind(".//s:TaxCodeDetails", NS)} == vat
    assert accounts["1920"].findtext("s:GroupingCode", namespaces=NS) == "1920"
    assert accounts["2700"].findtext("s:GroupingCode", namespaces=NS) == "2740"
    customers = {c.findtext("s:CustomerID", namespaces=NS): c for c in root.iterfind(".//s:Customer", NS)}
    assert customers["10001"].findtext("s:Name", namespaces=NS) == "Fjordkafé Ålesund AS"
    assert customers["10001"].findtext("s:RegistrationNumber", namespaces=NS) == "987654325"
    assert customers["20002"].findtext("s:Contact/s:Email", namespaces=NS) == "bjorn@example.no"
    types = {(a.findtext("s:AnalysisType", namespaces=NS), a.findtext("s:AnalysisID", namespaces=NS))
             for a in root.iterfind(".//s:AnalysisTypeTableEntry", NS)}
    assert {("A", "1"), ("P", "100")} <= types
    assert check(data) == []


def _vat_accounts(documents):
    from pipeline.export.saft import vat_account, vat_of

    return {vat_account(line.vat_code) for d in documents for line in as_voucher(d).lines
            if line.vat_code and vat_of(line)}


def test_vat_is_written_net_with_its_tax_information_and_posted_on_the_vat_account():
    voucher = Voucher(reference="mva-1", date="2026-11-20", description="Salg",
                      lines=[{"account": "1920", "amount": "1250.00"},
                             {"account": "3000", "amount": "-1250.00", "vat_code": "3"}])
    data, _ = export([voucher])
    validate(data)
    lines = list(_root(data).iterfind(".//s:Transaction/s:Line", NS))
    sale = lines[1]
    assert sale.findtext("s:CreditAmount/s:Amount", namespaces=NS) == "1000.00"
    assert sale.findtext("s:TaxInformation/s:TaxCode", namespaces=NS) == "3"
    assert sale.findtext("s:TaxInformation/s:TaxPercentage", namespaces=NS) == "25"
    assert sale.findtext("s:TaxInformation/s:TaxBase", namespaces=NS) == "1000.00"
    assert sale.findtext("s:TaxInformation/s:CreditTaxAmount/s:Amount", namespaces=NS) == "250.00"
    assert (lines[2].findtext("s:AccountID", namespaces=NS), lines[2].findtext("s:CreditAmount/s:Amount",
                                                                              namespaces=NS)) == ("2700", "250.00")
    totals = _root(data).find("s:GeneralLedgerEntries", NS)
    assert [totals.findtext(f"s:{n}", namespaces=NS) for n in ("NumberOfEntries", "TotalDebit", "TotalCredit")] == [
        "1", "1250.00", "1250.00"]


def test_sales_invoices_and_payments_book_as_the_vouchers_they_make():
    [invoice, payment] = SAMPLES["bilagsbro/samples/invoices.json"]
    assert isinstance(invoice, SalesInvoice) and isinstance(payment, Payment)
    booked_invoice = as_voucher(invoice)
    assert [(line.account, line.amount) for line in booked_invoice.lines] == [("1500", Decimal("499.00")),
                                                                              ("3000", Decimal("-499.00"))]
    assert booked_invoice.lines[0].customer == invoice.customer and booked_invoice.lines[0].kid == invoice.kid
    assert booked_invoice.voucher_type == "sales_invoice"
    booked_payment = as_voucher(payment)
    assert [(line.account, line.amount) for line in booked_payment.lines] == [("1920", Decimal("499.00")),
                                                                              ("1500", Decimal("-499.00"))]
    assert booked_payment.lines[1].invoice_number == "5531" and booked_payment.lines[0].description == "vipps"
    credit_note = SalesInvoice(reference="K-1", invoice_number="K1", date="2026-11-21", credits="5531",
                               customer=invoice.customer, total="-100.00",
                               lines=[{"description": "Retur", "amount": "-100.00", "vat_code": "5"}])
    assert [(line.account, line.amount) for line in as_voucher(credit_note).lines] == [
        ("1500", Decimal("-100.00")), (revenue_account("5"), Decimal("100.00"))]
    assert (revenue_account("3"), revenue_account("33"), revenue_account("52"), revenue_account("6")) == (
        "3000", "3000", "3100", "3200")


def test_texts_longer_than_saft_holds_are_shortened_counted_and_still_valid():
    long = "Å" * 300
    voucher = Voucher(reference="R" * 120, date="2026-11-20", description=long,
                      lines=[{"account": "1920", "amount": "10.00", "description": long,
                              "customer": {"number": "K" * 50, "name": long}},
                             {"account": "3000", "amount": "-10.00", "dimensions": {"project": "P" * 300}}])
    data, saft = export([voucher])
    validate(data)
    assert check(data) == []
    assert saft.summary.shortened >= 4 and "forkortet" in _root(data).findtext(".//s:HeaderComment", namespaces=NS)
    [back], problems = reimport(data)
    assert problems == [] and back.lines[0].amount == Decimal("10.00")


def test_a_journal_per_accounting_system_and_a_transaction_per_delivered_document():
    documents = SAMPLES["bilagsbro/samples/documents.json"]
    entries = [Entry(id=f"d-{i}", document=d, received_at=AT, status="delivered",
                     delivered=Delivered(target=("tripletex", "file")[i % 2], at=AT + dt.timedelta(days=1)))
               for i, d in enumerate(documents)]
    saft = SaftFile(entries, company=Company(name="Bakeriet på Røa AS", organization_number="999999999"),
                    period=PERIOD, titles={"tripletex": "Tripletex", "file": "Fil"})
    data = b"".join(saft.chunks())
    validate(data)
    journals = {j.findtext("s:JournalID", namespaces=NS): j for j in _root(data).iterfind(".//s:Journal", NS)}
    assert sorted(journals) == ["file", "tripletex"]
    assert journals["tripletex"].findtext("s:Description", namespaces=NS) == "Bilag levert til Tripletex"
    first = journals["file"].find("s:Transaction", NS)
    assert first.findtext("s:SystemEntryDate", namespaces=NS) == "2026-11-25"
    assert first.findtext("s:GLPostingDate", namespaces=NS) == "2026-11-26"
    assert sum(len(j.findall("s:Transaction", NS)) for j in journals.values()) == len(documents)


def test_a_copy_that_was_a_duplicate_is_not_booked_twice():
    voucher = SAMPLES["bilagsbro/samples/documents.json"][0]
    entries = [entry(voucher, 0),
               Entry(id="d-2", document=voucher, received_at=AT, status="delivered",
                     delivered=Delivered(target="file", at=AT, duplicate=True))]
    saft = SaftFile(entries, company=Company(name="X AS", organization_number="999999999"), period=PERIOD)
    data = b"".join(saft.chunks())
    assert check(data) == [] and saft.summary.transactions == 1


def test_an_empty_period_is_a_valid_file():
    data, saft = export([])
    validate(data)
    assert saft.summary.transactions == 0 and _root(data).find("s:MasterFiles", NS) is None


# -- any voucher the shared form allows -------------------------------------------------------------------------

_CODES = ("1", "11", "13", "3", "31", "33", "5", "52", "6", "7", "81", "86")
_TEXT = st.text(st.sampled_from("abcæøåÆØÅ -/.&<>\"'0123456789"), min_size=1, max_size=35).map(str.strip).filter(bool)
_PARTY = st.fixed_dictionaries({"number": _TEXT}, optional={"name": _TEXT, "email": st.just("post@bakeri.no")})


@st.composite
def _vouchers(draw):
    count = draw(st.integers(1, 5))
    lines = []
    total = Decimal("0.00")
    for _ in range(count):
        amount = Decimal(draw(st.integers(-10_000_000, 10_000_000))) / 100
        line = {"account": draw(st.sampled_from(("1500", "1920", "2400", "3000", "4300", "6300", "7790"))),
                "amount": f"{amount:.2f}"}
        if draw(st.booleans()):
            line["vat_code"] = draw(st.sampled_from(_CODES))
        if draw(st.booleans()):
            line["description"] = draw(_TEXT)
        if draw(st.booleans()):
            line["dimensions"] = draw(st.dictionaries(st.sampled_from(("department", "project", "butikk")), _TEXT,
                                                      max_size=2))
        role = draw(st.sampled_from((None, "customer", "supplier")))
        if role:
            line[role] = draw(_PARTY)
        lines.append(line)
        total += amount
    lines.append({"account": "1920", "amount": f"{-total:.2f}" if total else "1.00"})
    if not total:
        lines.append({"account": "1900", "amount": "-1.00"})
    return Voucher(reference=draw(_TEXT), date=dt.date(2026, 11, 1) + dt.timedelta(days=draw(st.integers(0, 60))),
                   description=draw(st.none() | _TEXT), voucher_type=draw(st.none() | _TEXT), lines=lines)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_vouchers(), min_size=1, max_size=4, unique_by=lambda v: v.reference))
def test_any_voucher_exports_valid_and_reads_back_the_same(vouchers):
    specs_needed("the SAF-T Financial 1.30 XSD")
    data, _ = export(vouchers)
    validate(data)
    assert check(data) == []
    back, problems = reimport(data, dimensions_of(vouchers))
    assert problems == []
    assert [comparable(v) for v in back] == booked(vouchers)


def test_a_voucher_dated_where_saft_has_no_period_year_is_left_out_and_said_so():
    old = Voucher(reference="gammel-1", date="1969-12-31",
                  lines=[{"account": "1920", "amount": "1.00"}, {"account": "3000", "amount": "-1.00"}])
    data, saft = export([old, old.model_copy(update={"reference": "ny-1", "date": dt.date(2026, 11, 1)})])
    validate(data)
    assert (saft.summary.transactions, saft.summary.out_of_range, saft.summary.left_out) == (1, 1, 1)
    assert "1 datert før 1970 eller etter 2100" in _root(data).findtext(".//s:HeaderComment", namespaces=NS)
