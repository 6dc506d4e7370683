"""Big input keeps memory flat: exporting ten times the documents takes no more memory (Python's own allocations,
traced), while the output grows tenfold — parties, transactions and balances wait on disk, not in memory."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from collections.abc import Iterator

import pytest

from pipeline.export import Company, Delivered, Entry, Period, jsonl
from pipeline.export.saft import SaftFile
from pipeline.model import Voucher

AT = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def _entries(count: int) -> Iterator[Entry]:
    """Web-shop orders: every one with a customer of its own (the case where master data grows with the period)."""
    for i in range(count):
        voucher = Voucher(reference=f"ordre-{i}", date="2026-11-20", description=f"Ordre {i} fra nettbutikken",
                          lines=[{"account": "1500", "amount": "1250.00", "customer": {
                                      "number": f"K{i}", "name": f"Kunde {i} på Ås", "email": f"k{i}@example.no"}},
                                 {"account": "3000", "amount": "-1250.00", "vat_code": "3",
                                  "dimensions": {"department": str(i % 7)}}])
        yield Entry(id=f"d-{i:020d}", document=voucher, received_at=AT, status="delivered",
                    delivered=Delivered(target="file", at=AT))


def _peak(format: str, count: int) -> tuple[int, int]:
    tracemalloc.start()
    try:
        if format == "saft":
            chunks = SaftFile(_entries(count), company=Company(name="Nettbutikken AS", organization_number="999999999"),
                              period=Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))).chunks()
        else:
            chunks = jsonl.chunks(_entries(count))
        written = sum(len(chunk) for chunk in chunks)
        return tracemalloc.get_traced_memory()[1], written
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("format", ["saft", "jsonl"])
def test_ten_times_the_documents_take_no_more_memory(format, monkeypatch):
    # Output leaves in pieces of CHUNK bytes: smaller pieces, so that a few hundred documents already fill them.
    from pipeline.export import masterfiles, saft

    for module in (saft, masterfiles):
        monkeypatch.setattr(module, "CHUNK", 16 * 1024)
    small_peak, small_size = _peak(format, 300)
    big_peak, big_size = _peak(format, 3000)
    assert big_size > 9 * small_size
    assert big_peak < small_peak * 1.2 + 64 * 1024, (small_peak, big_peak)
