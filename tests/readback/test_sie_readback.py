"""A company without API access: its SIE 4 file uploaded through the API, read back, checked against #RES/#UB−#IB
per year and #PSALDO per month.

Through the HTTP handlers (api/ledger.py) with in-memory ports; the file is the SIE 4E export the
sandboxes write (sandboxes/sie_export.py) in code page 865 under `#FORMAT PC8`, as Fortnox and others write it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

import connectors
from api import ledger as api
from pipeline.readback.store import LedgerStore
from pipeline.records.names import CONTAINER_GL
from sandboxes.ledger_seed import SeededBooks
from sandboxes.sie_export import export
from tests.readback.readback_support import NOW, Events, body, drain, messages_of, request, stores, tenant

BOOKS = SeededBooks(seed="sie", postings_per_year=1_500, documents_per_year=0, years=(2025, 2026))


def _upload(data: bytes, **query: str) -> tuple[object, str, str, object]:
    s = stores()
    tenant_id, key = tenant(s)
    registry = connectors.registry()
    answer = api.post_ledger_file(s, registry, request(key, query={"format": "sie4", "name": "bokslut.se", **query},
                                                       body=data, method="POST"))
    assert answer.status == 202, answer.body
    events = Events()
    drain(s, registry.ledger_opener(s, registry), messages_of(answer), events)  # type: ignore[misc]
    return s, tenant_id, key, events


def test_an_uploaded_sie_file_is_read_whole_and_equals_its_own_balances() -> None:
    data = export(BOOKS, [2025, 2026], currency="NOK")
    s, tenant_id, key, events = _upload(data)
    registry = connectors.registry()
    progress = body(api.ledger_sync(s, registry, request(key)))
    assert progress["status"] == "done" and progress["source"] == "sie4"
    assert progress["postings"] == 3_000 and progress["mismatch_count"] == 0 and progress["problem_count"] == 0
    assert progress["years"] == ["2025-01-01..2025-12-31", "2026-01-01..2026-12-31"]
    stored = list(s.blobs.list(CONTAINER_GL, f"{tenant_id}/main/files/"))  # type: ignore[attr-defined]
    assert len(stored) == 1 and s.blobs.get(CONTAINER_GL, stored[0]) == data  # type: ignore[attr-defined]
    yearly = [b for b in LedgerStore(s.tables, s.blobs, tenant_id).balances() if ".." in b.period]  # type: ignore[attr-defined]
    assert yearly and all(b.matches for b in yearly)
    changes = {a: Decimal(0) for (_, a) in BOOKS.month_sums(2026)}
    for (_, account), amount in BOOKS.month_sums(2026).items():
        changes[account] += amount
    assert {b.account: b.change for b in yearly if b.period.startswith("2026")} == changes
    chart = body(api.ledger_accounts(s, registry, request(key)))
    assert {"number": "2400", "name": "Leverandørgjeld", "kind": "LIABILITY", "vat_code": None,
            "active": True} in chart["accounts"]
    assert {"kind": "department", "code": "1", "name": "Butikk Trondheim"} in chart["dimensions"]
    assert events.raised[0][1] == "ledger.synced"


def test_the_file_disagreeing_with_itself_is_reported() -> None:
    data = export(BOOKS, [2025, 2026], currency="NOK", tamper={(2025, "3000"): Decimal("10.00")})
    s, _, key, _ = _upload(data)
    progress = body(api.ledger_sync(s, connectors.registry(), request(key)))
    assert progress["mismatch_count"] == 1
    [wrong] = progress["mismatches"]
    assert (wrong["account"], wrong["period"]) == ("3000", "2025-01-01..2025-12-31")
    assert Decimal(wrong["reported"]) - Decimal(wrong["ours"]) == Decimal("10.00")


@pytest.mark.parametrize("reading", ["change", "balance"])
def test_each_month_equals_the_files_own_period_balances_whichever_way_psaldo_is_written(reading: str) -> None:
    """#PSALDO as the month's change or as the balance at its end: the file's #IB/#UB/#RES tell which."""
    data = export(BOOKS, [2025, 2026], currency="NOK", psaldo=reading)  # type: ignore[arg-type]
    assert b"#PSALDO -1 202503 1920 {} " in data
    s, tenant_id, key, _ = _upload(data)
    progress = body(api.ledger_sync(s, connectors.registry(), request(key)))
    assert progress["status"] == "done" and progress["mismatch_count"] == 0, progress["mismatches"]
    monthly = [b for b in LedgerStore(s.tables, s.blobs, tenant_id).balances() if ".." not in b.period]  # type: ignore[attr-defined]
    compared = [b for b in monthly if b.reported is not None]
    assert {b.period for b in compared} == {f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)}
    assert all(b.matches for b in compared)
    sums = BOOKS.month_sums(2025)
    assert {(b.account, b.change) for b in compared if b.period == "2025-03"} >= {
        (a, amount) for (m, a), amount in sums.items() if m == 3}


@pytest.mark.parametrize("reading", ["change", "balance"])
def test_a_month_disagreeing_with_the_file_is_reported_by_account_and_month(reading: str) -> None:
    data = export(BOOKS, [2025, 2026], currency="NOK", psaldo=reading,  # type: ignore[arg-type]
                  tamper_month={(2026, 5, "3000"): Decimal("-7.50")})
    s, _, key, _ = _upload(data)
    progress = body(api.ledger_sync(s, connectors.registry(), request(key)))
    wrong = [(m["account"], m["period"], Decimal(m["reported"]) - Decimal(m["ours"])) for m in progress["mismatches"]]
    expected = [("3000", "2026-05", Decimal("-7.50"))]
    if reading == "balance":  # the balance at May's end is off, so June's change (June minus May) is off the other way
        expected.append(("3000", "2026-06", Decimal("7.50")))
    assert sorted(wrong) == sorted(expected)


def test_a_bad_row_is_a_problem_naming_file_line_and_voucher_and_the_rest_is_read() -> None:
    text = export(BOOKS, [2026], currency="NOK").decode("cp865")
    at = text.index("#TRANS 1920", text.index("#VER A 7 "))
    number = text[text.rindex("#VER A ", 0, at):].split()[2]  # the voucher holding that row
    line = text.count("\n", 0, at) + 1
    broken = text[:at] + "#TRANS 1920 {} tolv" + text[text.index("\r\n", at):]
    s, _, key, _ = _upload(broken.encode("cp865"))
    progress = body(api.ledger_sync(s, connectors.registry(), request(key)))
    assert progress["status"] == "done" and progress["problem_count"] >= 1
    assert any(f"bokslut.se:{line}, voucher A-{number}-" in p and "'tolv' is not a number" in p
               for p in progress["problems"]), progress["problems"]
    assert progress["postings"] > 1_400


def test_a_range_reads_only_the_years_it_touches_and_the_choice_is_recorded() -> None:
    s, tenant_id, key, _ = _upload(export(BOOKS, [2025, 2026], currency="NOK"), **{"from": "2026-01-01"})
    registry = connectors.registry()
    progress = body(api.ledger_sync(s, registry, request(key)))
    assert progress["years"] == ["2026-01-01..2026-12-31"] and progress["postings"] == 1_500
    source = body(api.ledger_source(s, registry, request(key)))
    assert source["source"] == "sie4" and [h["source"] for h in source["history"]] == ["sie4"]
    switched = api.put_ledger_source(s, registry, request(key, body=b'{"source": "tripletex"}', method="PUT"))
    assert switched.status == 200
    history = body(api.ledger_source(s, registry, request(key)))["history"]
    assert [(h["source"], h["previous"]) for h in history] == [("sie4", ""), ("tripletex", "sie4")]
    assert api.put_ledger_source(s, registry, request(key, body=b'{"source": "sie4"}', method="PUT")).status == 400
    assert NOW.year == 2026
    assert dt.date(2026, 1, 1) in {y.start for y in LedgerStore(s.tables, s.blobs, tenant_id).years()}  # type: ignore[attr-defined]


def test_a_file_with_no_fiscal_year_is_kept_but_changes_nothing() -> None:
    s = stores()
    _, key = tenant(s)
    registry = connectors.registry()
    answer = api.post_ledger_file(s, registry, request(key, query={"format": "sie4"}, body=b"not a SIE file \xf8",
                                                       method="POST"))
    assert answer.status == 422 and "no fiscal year" in body(answer)["error"]
    assert s.blobs.get(CONTAINER_GL, body(answer)["file"]) == b"not a SIE file \xf8"  # type: ignore[attr-defined]
    assert body(api.ledger_source(s, registry, request(key)))["source"] is None
