"""GET /api/v1/ledger/...: what a tenant's key reaches, pages and filters, documents, and the SAF-T export.

The ledger comes from the Tripletex sandbox through POST /api/v1/ledger/sync and the queue chain; every request
the connector sends is checked against the official OpenAPI spec.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

import connectors
from api import ledger as api
from connectors.ledgers.tripletex import TripletexLedger
from pipeline.readback.store import LedgerStore
from pipeline.registry import Connectors
from sandboxes.ledger_seed import SeededBooks
from sandboxes.tripletex import TripletexSandbox
from tests.export.saft_support import check, validate
from tests.readback.readback_support import body, drain, fixed, messages_of, request, stores, tenant
from tests.tripletex.tripletex_support import harness, load_spec_check


@pytest.fixture(scope="module")
def synced() -> Iterator[dict[str, Any]]:
    """One tenant whose 2026 books were read from Tripletex through the API, and a second tenant with none."""
    with TripletexSandbox() as box:
        box.ledger.books = SeededBooks(postings_per_year=1_200, documents_per_year=12)
        wired = harness(box, load_spec_check())
        s = stores()
        (owner, key), (_, other) = tenant(s), tenant(s, "Blåbærgården AS", "912345688")
        source = TripletexLedger(wired.target())
        base = connectors.registry()
        registry = Connectors(targets=base.targets, descriptors=base.descriptors, ledgers=base.ledgers,
                              ledger_files=base.ledger_files, ledger_opener=lambda st, reg: fixed(source))
        assert api.put_ledger_source(s, registry, request(key, body=b'{"source":"tripletex"}', method="PUT")).status == 200
        started = api.post_ledger_sync(s, registry, request(key, query={"from": "2026-01-01", "to": "2026-12-31"},
                                                            method="POST"))
        assert started.status == 202 and body(started)["status"] == "running" and body(started)["slices"] == 12
        drain(s, fixed(source), messages_of(started))
        yield {"stores": s, "registry": registry, "key": key, "other": other, "owner": owner, "books": box.ledger.books}
        wired.close()
        assert wired.transport.violations == []


def test_every_route_wants_a_key(synced: dict[str, Any]) -> None:
    s, registry = synced["stores"], synced["registry"]
    for handler in (api.ledger_accounts, api.ledger_transactions, api.ledger_balances, api.ledger_sync,
                    api.ledger_source, api.ledger_export):
        assert handler(s, registry, request(None)).status == 401
    assert api.ledger_document(s, registry, request(None, path={"id": "1"})).status == 401


def test_another_tenant_sees_nothing_of_this_ledger(synced: dict[str, Any]) -> None:
    s, registry, other = synced["stores"], synced["registry"], synced["other"]
    found = body(api.ledger_transactions(s, registry, request(other, query={"from": "2026-01-01", "to": "2026-12-31"})))
    assert found["transactions"] == []
    assert body(api.ledger_accounts(s, registry, request(other)))["accounts"] == []
    assert body(api.ledger_balances(s, registry, request(other)))["balances"] == []
    document = next(iter(LedgerStore(s.tables, s.blobs, synced["owner"])._master("documents")))
    ident = document.split('"id":"')[1].split('"')[0]
    assert api.ledger_document(s, registry, request(synced["key"], path={"id": ident})).status == 200
    assert api.ledger_document(s, registry, request(other, path={"id": ident})).status == 404


def test_transactions_page_by_cursor_and_filter(synced: dict[str, Any]) -> None:
    s, registry, key = synced["stores"], synced["registry"], synced["key"]
    query = {"from": "2026-02-01", "to": "2026-03-31", "limit": "50"}
    seen: list[dict[str, Any]] = []
    answer = api.ledger_transactions(s, registry, request(key, query=query))
    while True:
        page = body(answer)
        seen += page["transactions"]
        if page["next_cursor"] is None:
            assert "Link" not in answer.headers
            break
        assert answer.headers["Link"].endswith('; rel="next"')
        answer = api.ledger_transactions(s, registry, request(key, query={**query, "cursor": page["next_cursor"]}))
    books = synced["books"]
    expected = [v for v in books.vouchers(dt.date(2026, 2, 1), dt.date(2026, 3, 31))]
    assert len(seen) == sum(len(v.rows) for v in expected) == len({t["id"] for t in seen})
    assert [t["date"] for t in seen] == sorted(t["date"] for t in seen)
    bank = body(api.ledger_transactions(s, registry, request(key, query={**query, "account": "1920", "limit": "1000"})))
    assert bank["transactions"] and {t["account"] for t in bank["transactions"]} == {"1920"}
    first = seen[0]
    one = body(api.ledger_transactions(s, registry, request(key, query={**query, "voucher": first["voucher"]})))
    assert {t["voucher"] for t in one["transactions"]} == {first["voucher"]}
    assert sum(float(t["amount"]) for t in one["transactions"]) == pytest.approx(0)


def test_bad_parameters_are_named_all_at_once(synced: dict[str, Any]) -> None:
    s, registry, key = synced["stores"], synced["registry"], synced["key"]
    answer = api.ledger_transactions(s, registry, request(key, query={"from": "2026-13-01", "limit": "0",
                                                                      "company": "a/b"}))
    assert answer.status == 400
    assert {p["field"] for p in body(answer)["problems"]} == {"from", "to", "limit", "company"}
    assert api.ledger_balances(s, registry, request(key, query={"from": "2026"})).status == 400
    years = api.ledger_transactions(s, registry, request(key, query={"from": "0001-01-01", "to": "9999-12-31"}))
    assert years.status == 400 and "ten years" in body(years)["problems"][0]["message"]  # no 120,000 month queries


def test_balances_show_ours_beside_the_systems_report(synced: dict[str, Any]) -> None:
    s, registry, key = synced["stores"], synced["registry"], synced["key"]
    rows = body(api.ledger_balances(s, registry, request(key, query={"from": "2026-05", "to": "2026-05"})))
    assert rows["mismatches"] == 0 and rows["balances"]
    assert all(r["period"] == "2026-05" and r["matches"] is True and r["change"] == r["reported"]
               for r in rows["balances"])


def test_a_document_downloads_as_the_file_it_is(synced: dict[str, Any]) -> None:
    s, registry, key = synced["stores"], synced["registry"], synced["key"]
    ledger = LedgerStore(s.tables, s.blobs, synced["owner"])
    rows, _ = ledger.transactions(dt.date(2026, 1, 1), dt.date(2026, 12, 31), limit=1000)
    with_document = next(r for r in rows if r.document)
    answer = api.ledger_document(s, registry, request(key, path={"id": with_document.document or ""}))
    assert answer.status == 200 and answer.content_type == "application/pdf"
    assert isinstance(answer.body, bytes) and answer.body.startswith(b"%PDF-") and answer.body.rstrip().endswith(b"%%EOF")
    assert answer.headers["X-Bilagsbro-Voucher"] == with_document.voucher
    assert "attachment; filename=" in answer.headers["Content-Disposition"]


def test_the_saft_export_of_what_was_read_is_valid_and_balances(synced: dict[str, Any]) -> None:
    s, registry, key = synced["stores"], synced["registry"], synced["key"]
    answer = api.ledger_export(s, registry, request(key, query={"from": "2026-01-01", "to": "2026-03-31"}))
    assert answer.status == 200, answer.body
    assert isinstance(answer.body, bytes)
    validate(answer.body)
    vouchers = synced["books"].vouchers(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert int(answer.headers["X-Bilagsbro-Transactions"]) == len(vouchers)
    assert answer.headers["X-Bilagsbro-Left-Out"] == "0"
    paged = api.ledger_export(s, registry, request(key, query={"from": "2026-01-01", "to": "2026-03-31", "limit": "10"}))
    assert "from=2026-01-" in paged.headers["Link"] and int(paged.headers["X-Bilagsbro-Transactions"]) >= 10


def test_the_saft_export_describes_each_net_line_with_its_standard_vat_code_and_adds_no_vat_line(
        synced: dict[str, Any]) -> None:
    """Tripletex's VAT types are the standard codes: each net line read back carries TaxInformation (its base, and
    the VAT at its code's rate), the VAT lines stay as the books have them, and nothing is added."""
    from lxml import etree

    s, registry, key = synced["stores"], synced["registry"], synced["key"]
    answer = api.ledger_export(s, registry, request(key, query={"from": "2026-01-01", "to": "2026-01-31"}))
    assert isinstance(answer.body, bytes)
    ns = {"n": "urn:StandardAuditFile-Taxation-Financial:NO"}
    root = etree.fromstring(answer.body)
    books = synced["books"].vouchers(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    written = root.findall(".//n:Transaction", ns)
    assert len(written) == len(books)
    taxed = 0  # no VAT line added: the books have their own
    assert sum(len(t.findall("n:Line", ns)) for t in written) == sum(len(v.rows) for v in books)
    for line in root.iter(f"{{{ns['n']}}}Line"):
        account = line.findtext("n:AccountID", namespaces=ns)
        info = line.find("n:TaxInformation", ns)
        if account in ("2700", "2701", "2710"):
            assert info is None  # the VAT itself
            continue
        if info is None:
            continue
        taxed += 1
        base = Decimal(info.findtext("n:TaxBase", namespaces=ns))
        rate = Decimal(info.findtext("n:TaxPercentage", namespaces=ns))
        side = "Credit" if line.find("n:CreditAmount", ns) is not None else "Debit"
        tax = Decimal(info.findtext(f"n:{side}TaxAmount/n:Amount", namespaces=ns))  # on the line's own side
        assert info.findtext("n:TaxCode", namespaces=ns) in ("1", "3", "31")
        assert tax == (base * rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert taxed > 10
    codes = {c.findtext("n:TaxCode", namespaces=ns) for c in root.iter(f"{{{ns['n']}}}TaxCodeDetails")}
    assert codes >= {"1", "3"}
    assert check(answer.body) == []  # every code used is in the TaxTable; balances, movements and totals add up


def test_the_saft_export_reads_back_as_a_saft_source_with_the_same_postings(synced: dict[str, Any]) -> None:
    """Round trip: Tripletex → read → SAF-T Financial → uploaded for a company without API access → the same books."""
    s, registry, key, other = synced["stores"], synced["registry"], synced["key"], synced["other"]
    saft = api.ledger_export(s, registry, request(key, query={"from": "2026-01-01", "to": "2026-02-28"}))
    assert isinstance(saft.body, bytes)
    files = Connectors(targets=registry.targets, descriptors=registry.descriptors, ledgers=registry.ledgers,
                       ledger_files=registry.ledger_files, ledger_opener=connectors.registry().ledger_opener)
    uploaded = api.post_ledger_file(s, files, request(other, query={"format": "saft", "name": "eksport.xml"},
                                                      body=saft.body, method="POST"))
    assert uploaded.status == 202, uploaded.body
    drain(s, files.ledger_opener(s, files), messages_of(uploaded))  # type: ignore[misc]
    progress = body(api.ledger_sync(s, files, request(other)))
    assert progress["status"] == "done" and progress["problem_count"] == 0, progress
    # read over the file's selection and checked against its chart's closing balances: they agree
    assert progress["years"] == ["2026-01-01..2026-02-28"] and progress["mismatch_count"] == 0, progress
    query = {"from": "2026-01-01", "to": "2026-02-28", "limit": "1000"}
    theirs = body(api.ledger_transactions(s, files, request(other, query=query)))["transactions"]
    ours = body(api.ledger_transactions(s, registry, request(key, query=query)))["transactions"]
    def key_of(t: dict[str, Any]) -> tuple[str, str, str]:
        return (t["date"], t["account"], t["amount"])
    assert sorted(map(key_of, theirs)) == sorted(map(key_of, ours)) and len(ours) > 100



def test_a_parameter_given_empty_is_named_not_taken_for_the_default():
    held = stores()
    _, key = tenant(held)
    for handler, query in ((api.ledger_accounts, {"company": ""}), (api.ledger_balances, {"to": ""}),
                           (api.ledger_source, {"company": ""}), (api.ledger_sync, {"company": ""})):
        answer = handler(held, connectors.registry(), request(key, query=query))
        assert answer.status == 400, (handler.__name__, answer.body)
        assert [p["field"] for p in answer.body["problems"]] == list(query), answer.body


@pytest.mark.parametrize("source", [{}, [], 7, None, "bokføringsbyrået"])
def test_a_source_that_is_no_known_name_is_refused_not_a_crash(source):
    held = stores()
    _, key = tenant(held)
    answer = api.put_ledger_source(held, connectors.registry(), request(
        key, method="PUT", body=json.dumps({"source": source}).encode()))
    assert answer.status == 400 and answer.body["problems"][0]["field"] == "source", answer.body
