"""Reading a company's books back from Fortnox: the year's SIE 4 export, the accounts' balances, the archive.

Against the Fortnox sandbox over loopback (OAuth with single-use refresh tokens, scopes, licence, rate limit).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from connectors.ledgers.fortnox import FortnoxLedger
from pipeline.readback import sync
from pipeline.readback.store import LedgerStore
from sandboxes.fortnox import FortnoxSandbox
from sandboxes.fortnox.ledger import FortnoxLedger as Books
from sandboxes.ledger_seed import Row, SeededBooks
from tests.fortnox.conftest import Wiring
from tests.readback.readback_support import NOW, Events, drain, fixed, stores

TENANT = "kunde-1"


WIRED: list[Wiring] = []


@pytest.fixture
def box() -> Iterator[FortnoxSandbox]:
    with FortnoxSandbox(rate_limit=None) as running:  # the limit's own test is below
        running.company.ledger = Books(SeededBooks(seed="fortnox", postings_per_year=1_000, documents_per_year=20,
                                                   years=(2025, 2026)))
        yield running
        while WIRED:
            WIRED.pop().close()


def _backfill(box: FortnoxSandbox, *, waits: bool = False) -> tuple[object, FortnoxLedger, Events]:
    WIRED.append(Wiring(box))
    target = WIRED[-1].target()
    if waits:
        target.context.sleep = time.sleep  # really wait out a 429, as in production
    s, source, events = stores(), FortnoxLedger(target), Events()
    sync.choose(s, TENANT, "main", "fortnox", {}, known={"fortnox": None})
    _, first = sync.start(s, fixed(source), TENANT, "main", now=lambda: NOW)
    drain(s, fixed(source), [first], events)
    return s, source, events


def test_the_backfill_reads_both_fiscal_years_equal_to_fortnox_balances(box: FortnoxSandbox) -> None:
    s, source, events = _backfill(box)
    state = sync.read_state(s, TENANT, "main")  # type: ignore[arg-type]
    assert state is not None and state["status"] == "done", state
    assert state["years"] == ["2025-01-01..2025-12-31", "2026-01-01..2026-12-31"] and state["slices"] == 2
    # 40 attached to vouchers, and the 2 in Fortnox's inbox («Kvitton & utlägg», «Leverantörsfakturor»)
    assert state["postings"] == 2_000 and state["documents"] == 42 and state["mismatch_count"] == 0
    inbox = list(LedgerStore(s.tables, s.blobs, TENANT).inbox())  # type: ignore[attr-defined]
    assert sorted((d.folder, d.voucher, d.content_type) for d in inbox) == [
        ("Kvitton & utlägg", None, "application/pdf"), ("Leverantörsfakturor", None, "application/pdf")]
    assert box.count("GET", "/sie/4") == 2  # a whole year in one request
    yearly = [b for b in LedgerStore(s.tables, s.blobs, TENANT).balances() if ".." in b.period]  # type: ignore[attr-defined]
    assert len(yearly) >= 2 * 12 and all(b.reported is not None and b.matches for b in yearly)
    assert events.raised[0][3]["postings"] == 2_000
    parties = {(p.kind, p.number): (p.name, p.organization_number)
               for p in LedgerStore(s.tables, s.blobs, TENANT).parties()}  # type: ignore[attr-defined]
    assert parties[("customer", "10002")] == ("Blåbærgården Økologiske", "556123-4567")
    assert parties[("customer", "10003")] == ("Kari Nordmann", None)  # a private customer: no organisation number
    assert parties[("supplier", "20002")] == ("Søndre Øyås Bakeri", "556999-2222")
    assert len(parties) == 5 and state["problem_count"] == 0


def test_a_consent_given_before_the_party_scopes_reads_the_books_and_says_what_it_left(box: FortnoxSandbox) -> None:
    """Consented without `customer`, `supplier` and `inbox` (the scopes the read direction added): 403 on those."""
    for scopes in box.refresh_tokens.values():
        scopes -= {"customer", "supplier", "inbox"}
    s, _, _ = _backfill(box)
    state = sync.read_state(s, TENANT, "main")  # type: ignore[arg-type]
    assert state is not None and state["status"] == "done" and state["postings"] == 2_000, state
    assert list(LedgerStore(s.tables, s.blobs, TENANT).parties()) == []  # type: ignore[attr-defined]
    assert [p for p in state["problems"] if "customers were not read" in p and "scope customer" in p]
    assert [p for p in state["problems"] if "suppliers were not read" in p and "scope supplier" in p]
    assert [p for p in state["problems"] if "inbox was not read" in p and "scope inbox" in p]
    assert list(LedgerStore(s.tables, s.blobs, TENANT).inbox()) == []  # type: ignore[attr-defined]


def test_a_new_voucher_appears_after_the_next_timer_run_and_its_pdf_downloads(box: FortnoxSandbox) -> None:
    s, source, _ = _backfill(box)
    added = box.company.ledger.books.add(dt.date(2026, 11, 30), "Kontorstol, Røa",
                                         [Row("6800", Decimal("1999.00")), Row("2710", Decimal("499.75")),
                                          Row("1920", Decimal("-2498.75"))], document=True)
    sie_reads = box.count("GET", "/sie/4")
    report = sync.refresh(s, fixed(source), TENANT, "main", now=lambda: NOW)  # type: ignore[arg-type]
    assert report.periods_read == ["2026-01-01..2026-12-31"] and report.mismatches == []
    assert box.count("GET", "/sie/4") == sie_reads + 1  # 2025 unchanged: not read again
    ledger = LedgerStore(s.tables, s.blobs, TENANT)  # type: ignore[attr-defined]
    rows, _ = ledger.transactions(dt.date(2026, 11, 30), dt.date(2026, 11, 30), voucher=f"A-{added.number}")
    assert [r.amount for r in rows] == [Decimal("1999.00"), Decimal("499.75"), Decimal("-2498.75")]
    assert rows[0].text == "Kontorstol, Røa" and rows[0].currency == "SEK"
    found = ledger.document(rows[0].document or "")
    assert found is not None and found[1].startswith(b"%PDF-")
    assert sync.refresh(s, fixed(source), TENANT, "main", now=lambda: NOW).periods_read == []  # type: ignore[arg-type]


def test_balances_fortnox_reports_otherwise_are_listed(box: FortnoxSandbox) -> None:
    box.company.ledger.misreport[(2025, "1920")] = Decimal("5.00")
    s, _, _ = _backfill(box)
    state = sync.read_state(s, TENANT, "main")  # type: ignore[arg-type]
    assert state is not None and state["mismatch_count"] == 1
    assert state["mismatches"][0]["account"] == "1920" and state["mismatches"][0]["period"].startswith("2025")


def test_a_company_without_the_licence_fails_the_run_saying_why(box: FortnoxSandbox) -> None:
    box.company.licensed = False
    WIRED.append(Wiring(box))
    s, source = stores(), FortnoxLedger(WIRED[-1].target())
    sync.choose(s, TENANT, "main", "fortnox", {}, known={"fortnox": None})
    with pytest.raises(Exception, match="licens"):
        sync.start(s, fixed(source), TENANT, "main", now=lambda: NOW)


def test_fortnox_rate_limit_is_waited_out() -> None:
    """25 requests per 5 seconds: a year's documents take more than that, so the reader backs off and goes on."""
    with FortnoxSandbox() as limited:
        limited.company.ledger = Books(SeededBooks(seed="limit", postings_per_year=200, documents_per_year=16,
                                                   years=(2025, 2026)))
        s, _, _ = _backfill(limited, waits=True)
        while WIRED:
            WIRED.pop().close()
        state = sync.read_state(s, TENANT, "main")  # type: ignore[arg-type]
        assert state is not None and state["status"] == "done" and state["documents"] == 32 + 2  # and the inbox's 2
