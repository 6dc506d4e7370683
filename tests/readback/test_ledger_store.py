"""The read model's store: range reads without a scan, pages that never skip or repeat, a re-read that equals the source."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pipeline.readback.model import GlPosting
from pipeline.readback.store import LedgerStore
from tests.readback.readback_support import stores


def _posting(n: int, day: dt.date, account: str, amount: str, voucher: str = "") -> GlPosting:
    return GlPosting(id=str(n), voucher=voucher or f"2025-{n // 2}", date=day, account=account, amount=Decimal(amount),
                     text="Blåbær fra Ørsta")


def _write(ledger: LedgerStore, start: dt.date, end: dt.date, postings: list[GlPosting]) -> None:
    writer = ledger.writer(start, end)
    for p in postings:
        writer.add(p)
    writer.finish()


def test_pages_cover_every_posting_once_in_date_order_across_months() -> None:
    s = stores()
    ledger = LedgerStore(s.tables, s.blobs, "t1")
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=d) for d in range(0, 90, 3)]
    postings = [_posting(i, day, "1920" if i % 2 else "3000", "10.00" if i % 2 else "-10.00")
                for i, day in enumerate(days, start=100)]
    _write(ledger, dt.date(2025, 1, 1), dt.date(2025, 3, 31), postings)
    seen, cursor = [], ""
    while True:
        page, following = ledger.transactions(dt.date(2025, 1, 1), dt.date(2025, 3, 31), after=cursor, limit=7)
        seen += page
        if following is None:
            break
        cursor = following
    assert [p.id for p in seen] == [p.id for p in postings]
    assert seen[0].text == "Blåbær fra Ørsta" and isinstance(seen[0].amount, Decimal)


def test_a_date_range_and_an_account_are_range_reads() -> None:
    s = stores()
    ledger = LedgerStore(s.tables, s.blobs, "t1")
    postings = [_posting(1, dt.date(2025, 1, 5), "1920", "125.00"), _posting(2, dt.date(2025, 1, 5), "3000", "-125.00"),
                _posting(3, dt.date(2025, 2, 7), "1920", "80.00"), _posting(4, dt.date(2025, 2, 7), "6800", "-80.00")]
    _write(ledger, dt.date(2025, 1, 1), dt.date(2025, 2, 28), postings)
    bank, _ = ledger.transactions(dt.date(2025, 1, 1), dt.date(2025, 12, 31), account="1920")
    assert [p.id for p in bank] == ["1", "3"]
    february, _ = ledger.transactions(dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    assert [p.id for p in february] == ["3", "4"]
    one, _ = ledger.transactions(dt.date(2025, 1, 1), dt.date(2025, 12, 31), voucher=postings[0].voucher)
    assert {p.id for p in one} == {"1"}


def test_reading_a_slice_again_removes_what_the_source_no_longer_has() -> None:
    s = stores()
    ledger = LedgerStore(s.tables, s.blobs, "t1")
    first = [_posting(1, dt.date(2025, 1, 5), "1920", "50.00"), _posting(2, dt.date(2025, 1, 5), "3000", "-50.00"),
             _posting(3, dt.date(2025, 1, 9), "1920", "20.00"), _posting(4, dt.date(2025, 1, 9), "3000", "-20.00")]
    _write(ledger, dt.date(2025, 1, 1), dt.date(2025, 1, 31), first)
    _write(ledger, dt.date(2025, 1, 1), dt.date(2025, 1, 31), first[:2])  # the voucher of the 9th was deleted
    january, _ = ledger.transactions(dt.date(2025, 1, 1), dt.date(2025, 1, 31))
    assert [p.id for p in january] == ["1", "2"]
    bank, _ = ledger.transactions(dt.date(2025, 1, 1), dt.date(2025, 1, 31), account="1920")
    assert [p.id for p in bank] == ["1"]


def test_tenants_and_companies_never_share_rows() -> None:
    s = stores()
    _write(LedgerStore(s.tables, s.blobs, "t1"), dt.date(2025, 1, 1), dt.date(2025, 1, 31),
           [_posting(1, dt.date(2025, 1, 5), "1920", "5.00"), _posting(2, dt.date(2025, 1, 5), "3000", "-5.00")])
    for other in (LedgerStore(s.tables, s.blobs, "t2"), LedgerStore(s.tables, s.blobs, "t1", "another")):
        assert other.transactions(dt.date(2025, 1, 1), dt.date(2025, 12, 31))[0] == []
        assert other.transactions(dt.date(2025, 1, 1), dt.date(2025, 12, 31), account="1920")[0] == []


def test_balances_beside_the_report_name_every_disagreement() -> None:
    s = stores()
    ledger = LedgerStore(s.tables, s.blobs, "t1")
    sums = {("2025-01", "1920"): Decimal("100.00"), ("2025-01", "3000"): Decimal("-100.00")}
    wrong = ledger.put_balances(dt.date(2025, 1, 1), dt.date(2025, 1, 31), sums,
                                {("2025-01", "1920"): Decimal("100.00"), ("2025-01", "3000"): Decimal("-99.00"),
                                 ("2025-01", "2400"): Decimal("7.00")})
    assert {(m.account, m.change, m.reported) for m in wrong} == {("3000", Decimal("-100.00"), Decimal("-99.00")),
                                                                  ("2400", Decimal("0"), Decimal("7.00"))}
    assert {b.account: b.matches for b in ledger.balances("2025-01", "2025-01")} == {
        "1920": True, "2400": False, "3000": False}
