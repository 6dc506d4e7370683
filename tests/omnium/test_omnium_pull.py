"""The timer's pull against the Omnium sandbox over HTTP: every order exactly once, whatever goes wrong."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from decimal import Decimal

import pytest
from omnium_support import NOW, START, Inbox

from connectors.sources import omnium
from pipeline.errors import TransientError
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryTables
from pipeline.model import Voucher
from pipeline.ports import Delivery
from pipeline.pulls.watermark import pull, read_watermark


def run(client, tables, inbox, *, now=NOW, **options):
    return pull(client, tables=tables, tenant="kunde-1", source="omnium", receive=inbox, now=now, start=START,
                **options)


def assert_exactly_once(inbox: Inbox, sandbox) -> None:
    counts = Counter(o["id"] for o in inbox.orders)
    assert set(counts) == set(sandbox.orders), "orders missing or invented"
    assert [i for i, n in counts.items() if n > 1] == []


def _by_rate(voucher: Voucher, prefix: str) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for line in voucher.lines:
        if line.vat_code is not None and (line.description or "").startswith(prefix):
            sums[line.vat_code] = sums.get(line.vat_code, Decimal("0")) + line.amount
    return sums


CODES = {Decimal("25"): "3", Decimal("15"): "31", Decimal("12"): "33", Decimal("0"): "5"}


def test_5000_orders_arrive_once_and_the_daily_summaries_add_up_to_the_sandbox(sandbox, client):
    sandbox.seed_orders(5000, days=6, seed=7)
    tables, inbox = MemoryTables(), Inbox()

    result = run(client, tables, inbox)

    assert_exactly_once(inbox, sandbox)
    assert result.received == 5000 and result.batches >= 50
    assert read_watermark(tables, tenant="kunde-1", source="omnium") == result.watermark
    # A second run finds nothing new: the overlap it re-reads is recognised as taken.
    again = run(client, tables, Inbox(), now=NOW + dt.timedelta(minutes=5))
    assert again.received == 0 and again.dropped > 0

    per_order = omnium.documents(inbox.orders, {"mode": "order"})
    assert all(isinstance(d, Voucher) for d in per_order)
    references = [d.reference for d in per_order]
    assert len(references) == len(set(references))

    summaries = omnium.documents(inbox.orders, {"mode": "daily"})
    assert all(isinstance(d, Voucher) for d in summaries)
    totals = sandbox.totals()
    by_reference = {d.reference: d for d in summaries}
    assert set(by_reference) == {f"omnium-{store}-{day.isoformat()}" for store, day in totals}
    for (store, day), expected in totals.items():
        voucher = by_reference[f"omnium-{store}-{day.isoformat()}"]
        assert voucher.date == day
        net_sales = _by_rate(voucher, "Salg ")
        for prefix in ("Rabatt ", "Frakt ", "Fraktrabatt "):
            for code, amount in _by_rate(voucher, prefix).items():
                net_sales[code] = net_sales.get(code, Decimal("0")) + amount
        assert {c: -a for c, a in net_sales.items() if a} == {
            CODES[r]: a for r, a in expected.sales_by_rate.items() if a}
        assert {c: a for c, a in _by_rate(voucher, "Retur ").items()} == {
            CODES[r]: a for r, a in expected.returns_by_rate.items() if a}
        vat = {}
        for line in voucher.lines:
            if line.vat_code and not (line.description or "").startswith("Retur"):
                vat[line.vat_code] = vat.get(line.vat_code, Decimal("0")) - line.vat_amount
        assert {c: v for c, v in vat.items() if v} == {CODES[r]: v for r, v in expected.vat_by_rate.items() if v}
        paid = {line.description.removeprefix("Betaling "): line.amount for line in voucher.lines
                if (line.description or "").startswith("Betaling ")}
        assert paid == {m: a for m, a in expected.payments.items() if a}
        assert sum(paid.values()) == expected.sales - expected.returns
        gift = sum((line.amount for line in voucher.lines if line.description == "Gavekort solgt"), Decimal("0"))
        assert -gift == expected.gift_cards_sold
        rounding = sum((line.amount for line in voucher.lines if line.account == "7790"), Decimal("0"))
        assert -rounding == expected.rounding
        assert not [line for line in voucher.lines if line.account == "1500"]  # every order is paid in full


@pytest.mark.parametrize("crash", ["source answers 500 half way", "receive crashes half way"])
def test_a_pull_killed_half_way_resumes_without_losing_or_repeating_an_order(sandbox, client, crash):
    sandbox.seed_orders(2000, days=4, seed=3)
    tables, inbox = MemoryTables(), Inbox()
    if crash.startswith("source"):
        sandbox.faults.fail_after_pages = 9
    else:
        inbox.crash_on = 9

    with pytest.raises((TransientError, RuntimeError)):
        run(client, tables, inbox)
    halfway = read_watermark(tables, tenant="kunde-1", source="omnium")
    assert halfway is not None and 0 < len(inbox.orders) < 2000
    assert max(omnium.order_key(o) for o in inbox.orders) == halfway

    result = run(client, tables, inbox)  # the next timer tick; the lease was released by the crashed run
    assert result.skipped is None
    assert_exactly_once(inbox, sandbox)


def test_two_overlapping_runs_in_threads_take_every_order_once(sandbox, make_client):
    sandbox.seed_orders(3000, days=4, seed=11)
    tables, inbox = MemoryTables(), Inbox()
    start = threading.Barrier(2)
    results = []

    def timer_tick():
        client = make_client()
        start.wait()
        results.append(run(client, tables, inbox))

    threads = [threading.Thread(target=timer_tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    results.append(run(make_client(), tables, inbox, now=NOW + dt.timedelta(minutes=1)))

    assert_exactly_once(inbox, sandbox)
    # One tick took everything; the other found the lease held, or (if it came after) nothing new.
    assert sorted(r.received for r in results[:2]) == [0, 3000] and results[2].received == 0


def test_a_run_whose_lease_expired_stops_at_its_next_batch_and_only_that_batch_is_taken_twice(sandbox, make_client):
    sandbox.seed_orders(1500, days=3, seed=5)
    tables = MemoryTables()
    second = Inbox()
    first_results = []

    class SlowFirstRun(Inbox):
        def __call__(self, batch):
            super().__call__(batch)
            if len(self.batches) == 1:
                # While the first run holds its first batch, its lease (0 s) has run out and the next
                # timer tick takes over and finishes the whole window.
                first_results.append(run(make_client(), tables, second))

    first = SlowFirstRun()
    result = run(make_client(), tables, first, lease=dt.timedelta(0))

    assert result.lease_lost and result.received == 0 and len(first.batches) == 1
    assert first_results[0].received == 1500
    everything = first.orders + second.orders
    counts = Counter(o["id"] for o in everything)
    assert set(counts) == set(sandbox.orders)
    twice = {i for i, n in counts.items() if n > 1}
    assert twice == {o["id"] for o in first.batches[0]}  # the batch received before the takeover, no more
    assert read_watermark(tables, tenant="kunde-1", source="omnium") == first_results[0].watermark


def test_429_bursts_and_a_token_expiring_mid_pull_slow_it_down_but_lose_nothing(sandbox, client, waits):
    sandbox.seed_orders(1200, days=3, seed=9)
    sandbox.faults.burst_429 = 4
    sandbox.faults.retry_after = "3"
    sandbox.faults.expire_tokens_after = 5  # the token dies after five pages
    inbox = Inbox()

    run(client, MemoryTables(), inbox)

    assert_exactly_once(inbox, sandbox)
    assert waits == [3.0, 3.0, 3.0, 3.0]  # Retry-After honoured, through the injectable sleep
    assert client.auth.renewals == 2  # the first token, and one after the 401
    statuses = Counter(status for _, _, status in sandbox.requests)
    assert statuses[429] == 4 and statuses[401] == 1


def test_an_order_committed_late_with_a_time_inside_the_overlap_is_taken_by_the_next_run(sandbox, client):
    sandbox.seed_orders(500, days=2, seed=2)
    tables, inbox = MemoryTables(), Inbox()
    first = run(client, tables, inbox)
    watermark_time = first.watermark[0]

    # Skewed clock / late commit: shows up after the run, stamped 40 s before the watermark.
    late = sandbox.add_order(store="bergen-bryggen", modified=watermark_time - dt.timedelta(seconds=40))
    # Stamped inside the first run's safety margin: that window did not reach it yet.
    margin = sandbox.add_order(store="tromsø", modified=NOW - dt.timedelta(seconds=30))
    # Stamped before the overlap: out of reach by design (the overlap must exceed the worst skew).
    lost = sandbox.add_order(store="tromsø", modified=watermark_time - dt.timedelta(minutes=11))
    result = run(client, tables, inbox, now=NOW + dt.timedelta(minutes=5))

    assert result.received == 2 and result.late == 1
    assert {o["id"] for o in inbox.batches[-1]} == {late["id"], margin["id"]}
    counts = Counter(o["id"] for o in inbox.orders)
    assert set(counts) == set(sandbox.orders) - {lost["id"]} and max(counts.values()) == 1


def test_a_small_seen_memory_still_takes_each_order_once_through_bursts_of_equal_times(sandbox, client):
    sandbox.seed_orders(1500, days=2, seed=4)  # includes 150 orders sharing one modified time
    tables, inbox = MemoryTables(), Inbox()
    run(client, tables, inbox, max_seen=20)
    run(client, tables, inbox, now=NOW + dt.timedelta(minutes=3), max_seen=20)
    assert_exactly_once(inbox, sandbox)


class RecordingTarget:
    """An accounting system that books whatever it gets, so the ledger's dedupe is what is tested."""

    name = "opptak"

    def __init__(self) -> None:
        self.posted: list[str] = []

    def preflight(self, documents):
        return []

    def render(self, document):
        return document.model_dump(mode="json")

    def deliver(self, document):
        self.posted.append(document.reference)
        return Delivery(remote_id=str(len(self.posted)), draft=True)

    def find(self, reference):
        return None


def test_a_changed_order_is_taken_again_but_not_posted_again_and_its_return_is_posted_once(sandbox, client, clock):
    sandbox.seed_orders(600, days=2, seed=8)
    tables, inbox, target = MemoryTables(), Inbox(), RecordingTarget()

    def deliver(documents):
        outcomes = {}
        for document in documents:
            assert isinstance(document, Voucher), document
            outcomes[document.reference] = deliver_once(
                tables, target, document, tenant="kunde-1", target_name="opptak", document_id=document.reference)
        return outcomes

    run(client, tables, inbox)
    deliver(omnium.documents(inbox.orders, {"mode": "order"}))
    posted_before = len(target.posted)
    edited, returned = [o for o in sorted(sandbox.orders) if not sandbox.orders[o]["returnOrderForms"]
                        and sandbox.orders[o]["status"] == "Completed"][:2]

    clock.advance(hours=3)
    sandbox.modify_order(edited)  # e.g. a note or a status change: a new version, the same sale
    sandbox.modify_order(returned, add_return=True)
    result = run(client, tables, inbox, now=clock.now + dt.timedelta(minutes=5))

    assert result.received == 2
    assert {o["id"] for o in inbox.batches[-1]} == {edited, returned}
    outcomes = deliver(omnium.documents(inbox.batches[-1], {"mode": "order"}))
    assert outcomes[f"omnium-{edited}"].duplicate and outcomes[f"omnium-{returned}"].duplicate
    [return_reference] = [r for r in outcomes if "-retur-" in r]
    assert not outcomes[return_reference].duplicate
    assert target.posted[posted_before:] == [return_reference]

    # In daily mode the return lands in the summary of the day it was made, at its store.
    [summary] = omnium.documents(inbox.batches[-1], {"mode": "daily"},
                                 days=[(sandbox.orders[returned]["storeId"], omnium.business_day(clock.now))])
    day_totals = sandbox.totals()[(sandbox.orders[returned]["storeId"], omnium.business_day(clock.now))]
    assert sum(line.amount for line in summary.lines if (line.description or "").startswith("Retur ")) == day_totals.returns


def test_an_order_changed_while_the_pull_pages_does_not_shift_another_order_out_of_the_run(sandbox, client):
    sandbox.seed_orders(800, days=2, seed=6)
    first = min(sandbox.orders, key=lambda i: (sandbox.orders[i]["modified"], i))

    def change_an_order_already_read(pages: int) -> None:
        if pages == 3:  # it leaves the window (its new time is past the window end): page numbers would shift
            sandbox.modify_order(first)

    sandbox.faults.page_hook = change_an_order_already_read
    tables, inbox = MemoryTables(), Inbox()
    run(client, tables, inbox)

    assert {o["id"] for o in inbox.orders} == set(sandbox.orders)
    assert max(Counter(o["id"] for o in inbox.orders).values()) == 1
    run(client, tables, inbox, now=NOW + dt.timedelta(minutes=5))  # the changed version, taken next time
    assert [o["id"] for o in inbox.batches[-1]] == [first]


def test_a_pull_that_meets_429_on_the_token_request_backs_off_and_takes_every_order(sandbox, client, waits):
    sandbox.seed_orders(300, days=2, seed=13)
    sandbox.faults.token_429 = 3
    sandbox.faults.retry_after = "5"
    inbox = Inbox()

    result = run(client, MemoryTables(), inbox)

    assert result.received == 300
    assert_exactly_once(inbox, sandbox)
    assert waits == [5.0, 5.0, 5.0]
