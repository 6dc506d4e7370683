"""Reading a company's books back from Tripletex: the backfill, its check against /balanceSheet, the timer, documents.

Against the Tripletex sandbox over loopback, every request checked against the official OpenAPI spec
(../shared/specs/tripletex/openapi.json; tests/tripletex/tripletex_support.py).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

import pytest

from connectors.ledgers.tripletex import TripletexLedger
from pipeline.readback import sync
from pipeline.readback.store import LedgerStore
from sandboxes.ledger_seed import Row, SeededBooks
from sandboxes.tripletex import TripletexSandbox
from tests.readback.readback_support import NOW, Events, drain, fixed, stores
from tests.tripletex.tripletex_support import Harness, harness, load_spec_check

TENANT = "kunde-1"


@pytest.fixture
def wired() -> Iterator[Harness]:
    with TripletexSandbox() as box:
        box.ledger.books = SeededBooks(postings_per_year=2_000, documents_per_year=24)
        wired = harness(box, load_spec_check(), tenant=TENANT)
        yield wired
        wired.close()
        assert wired.transport.violations == [], "requests that break the official OpenAPI spec"


def _backfill(wired: Harness, **range_: dt.date) -> tuple[object, TripletexLedger, Events]:
    s, source, events = stores(), TripletexLedger(wired.target()), Events()
    sync.choose(s, TENANT, "main", "tripletex", {}, known={"tripletex": None})
    _, first = sync.start(s, fixed(source), TENANT, "main", now=lambda: NOW, **range_)
    drain(s, fixed(source), [first], events)
    return s, source, events


def test_the_backfill_reads_two_fiscal_years_that_equal_the_systems_own_report(wired: Harness) -> None:
    s, source, events = _backfill(wired, start=dt.date(2025, 1, 1), end=dt.date(2026, 12, 31))
    state = sync.read_state(s, TENANT, "main")  # type: ignore[arg-type]
    books = wired.sandbox.ledger.books
    assert state is not None and state["status"] == "done" and state["slices_done"] == state["slices"] == 24
    assert state["postings"] == books.year(2025).postings + books.year(2026).postings == 4_000
    assert state["mismatch_count"] == 0 and state["documents"] == 48
    ledger = LedgerStore(s.tables, s.blobs, TENANT)  # type: ignore[attr-defined]
    balances = list(ledger.balances("2025-01", "2026-12"))
    expected = {(f"{year}-{month:02d}", account): amount for year in (2025, 2026)
                for (month, account), amount in books.month_sums(year).items()}
    assert {(b.period, b.account): b.change for b in balances} == expected  # summed from the postings we stored
    assert all(b.reported == b.change for b in balances)  # and equal to the sandbox's /balanceSheet
    [(tenant, event, _, data)] = events.raised
    assert (tenant, event, data["postings"], data["mismatch_count"]) == (TENANT, "ledger.synced", 4_000, 0)
    assert wired.sandbox.count("GET", "/v2/ledger/posting") == 24  # a page (≤ 1000) per month of ~170 postings


def test_the_default_backfill_is_the_current_and_two_previous_fiscal_years(wired: Harness) -> None:
    wired.sandbox.ledger.books = SeededBooks(postings_per_year=300, documents_per_year=3)
    s, _, _ = _backfill(wired)
    state = sync.read_state(s, TENANT, "main")  # type: ignore[arg-type]
    assert state is not None and state["years"] == ["2024-01-01..2024-12-31", "2025-01-01..2025-12-31",
                                                    "2026-01-01..2026-12-31"]
    assert state["postings"] == 900 and state["mismatch_count"] == 0 and state["slices"] == 36


def test_a_voucher_added_in_tripletex_appears_after_the_next_timer_run_with_its_pdf(wired: Harness) -> None:
    s, source, _ = _backfill(wired, start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31))
    added = wired.sandbox.ledger.books.add(dt.date(2026, 11, 27), "Kaffe til møterommet, Ålesund",
                                           [Row("6800", Decimal("250.00"), "1"), Row("2710", Decimal("62.50")),
                                            Row("1920", Decimal("-312.50"))], document=True)
    before = wired.sandbox.count("GET", "/v2/ledger/posting")
    report = sync.refresh(s, fixed(source), TENANT, "main", now=lambda: NOW)  # type: ignore[arg-type]
    assert report.periods_read == ["2026-11"]  # the only month whose vouchers changed
    assert wired.sandbox.count("GET", "/v2/ledger/posting") == before + 1
    ledger = LedgerStore(s.tables, s.blobs, TENANT)  # type: ignore[attr-defined]
    rows, _ = ledger.transactions(dt.date(2026, 11, 27), dt.date(2026, 11, 27), voucher=f"2026-{added.number}")
    assert [(r.account, r.amount) for r in rows] == [("6800", Decimal("250.00")), ("2710", Decimal("62.50")),
                                                     ("1920", Decimal("-312.50"))]
    assert rows[0].text == "Kaffe til møterommet, Ålesund" and rows[0].vat_code == "1"
    found = ledger.document(rows[0].document or "")
    assert found is not None and found[1].startswith(b"%PDF-") and found[0].content_type == "application/pdf"
    assert sync.refresh(s, fixed(source), TENANT, "main", now=lambda: NOW).periods_read == []  # type: ignore[arg-type]


def test_a_deleted_voucher_leaves_the_read_model_too(wired: Harness) -> None:
    s, source, _ = _backfill(wired, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31))
    books = wired.sandbox.ledger.books
    gone = next(v for v in books.year(2026).vouchers if v.date.month == 3)
    books.year(2026).vouchers.remove(gone)
    books._sums.clear()
    sync.refresh(s, fixed(source), TENANT, "main", now=lambda: NOW)  # type: ignore[arg-type]
    ledger = LedgerStore(s.tables, s.blobs, TENANT)  # type: ignore[attr-defined]
    assert ledger.transactions(dt.date(2026, 3, 1), dt.date(2026, 3, 31), voucher=f"2026-{gone.number}")[0] == []
    march = {b.account: b for b in ledger.balances("2026-03", "2026-03")}
    assert all(b.matches for b in march.values())


def test_a_balance_report_that_disagrees_is_reported_never_hidden(wired: Harness) -> None:
    wired.sandbox.ledger.misreport[("2025-06", "3000")] = Decimal("-0.01")
    s, _, events = _backfill(wired, start=dt.date(2025, 6, 1), end=dt.date(2025, 6, 30))
    state = sync.read_state(s, TENANT, "main")  # type: ignore[arg-type]
    assert state is not None and state["mismatch_count"] == 1
    [mismatch] = state["mismatches"]
    assert mismatch["account"] == "3000" and mismatch["period"] == "2025-06"
    assert Decimal(mismatch["reported"]) - Decimal(mismatch["ours"]) == Decimal("-0.01")
    assert events.raised[0][3]["mismatch_count"] == 1


def test_sums_per_account_and_period_are_exact_decimals(wired: Harness) -> None:
    s, _, _ = _backfill(wired, start=dt.date(2025, 1, 1), end=dt.date(2025, 1, 31))
    ledger = LedgerStore(s.tables, s.blobs, TENANT)  # type: ignore[attr-defined]
    rows, cursor = ledger.transactions(dt.date(2025, 1, 1), dt.date(2025, 1, 31), limit=1000)
    assert cursor is None
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        sums[row.account] += row.amount
    assert sum(sums.values(), Decimal(0)) == 0  # the month's vouchers balance to the cent
    assert sums == {b.account: b.change for b in ledger.balances("2025-01", "2025-01")}
