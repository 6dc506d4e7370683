"""Never posted twice in Visma.net: our ledger, our note of where a reference was sent, and a search of that period
for our reference — after a 500 that committed, a timeout after the commit, a lost release answer — and 429s
waited out as Visma.net asks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from connectors.targets.visma_net import sent
from pipeline.errors import OutcomeUnknown
from pipeline.ledger import LedgerOutcome, deliver_once
from pipeline.memory import MemoryTables
from pipeline.model import Voucher
from tests.timing import FAULT_CLIENT_TIMEOUT
from tests.visma_net.visma_net_support import Wired

SALE = Voucher(reference="ORDRE-77 æøå", date="2026-11-04", description="Nettordre fra Tromsø",
               lines=[{"account": "1920", "amount": "250.00"}, {"account": "3000", "amount": "-250.00", "vat_code": "3"}])
POST = r"^/v2/journaltransaction$"
RELEASE = r"^/v2/journaltransaction/\d+/action/release$"


def until_delivered(w: Wired, voucher: Voucher, **settings: Any) -> list[Any]:
    """What the queue does: deliver again after a retryable error, the ledger in between."""
    tables = w.context.tables
    assert isinstance(tables, MemoryTables)
    outcomes: list[Any] = []
    for _ in range(4):
        try:
            outcomes.append(deliver_once(tables, w.target(**settings), voucher, tenant=w.context.tenant,
                                         target_name="visma-net", document_id="d-1", lease=dt.timedelta(0)))
            return outcomes
        except OutcomeUnknown as exc:
            outcomes.append(exc)
    raise AssertionError(f"not delivered: {outcomes}")


@pytest.fixture
def slow(make: Callable[..., Wired]) -> Wired:
    return make(timeout=FAULT_CLIENT_TIMEOUT)  # shorter than the sandbox's stall after a commit


@pytest.mark.parametrize("kind", ["commit_then_500", "timeout"])
def test_a_draft_committed_before_the_fault_is_found_not_posted_again(slow: Wired, kind: str) -> None:
    slow.sandbox.faults.add(POST, "POST", kind)
    first, last = until_delivered(slow, SALE)
    assert isinstance(first, OutcomeUnknown)
    assert isinstance(last, LedgerOutcome) and last.looked_up and last.duplicate and last.delivery.draft
    [batch] = slow.sandbox.batches
    assert last.delivery.remote_id == batch["batchNumber"] and batch["status"] == "Hold"
    assert slow.sandbox.count("POST", "/v2/journaltransaction") == 1
    assert slow.sandbox.count("GET", "/v2/journaltransaction") == 1  # found by listing the period, once


def test_a_503_before_the_commit_is_looked_up_then_posted_once(w: Wired) -> None:
    w.sandbox.faults.add(POST, "POST", "503")
    first, last = until_delivered(w, SALE)
    assert isinstance(first, OutcomeUnknown) and last.looked_up and not last.duplicate
    assert len(w.sandbox.batches) == 1


def test_direct_posting_committed_then_500_is_found_and_released_once(slow: Wired) -> None:
    slow.sandbox.faults.add(POST, "POST", "commit_then_500")
    first, last = until_delivered(slow, SALE, direct_posting=True)
    assert isinstance(first, OutcomeUnknown) and last.duplicate and not last.delivery.draft
    [batch] = slow.sandbox.batches
    assert batch["status"] == "Posted"  # the retry finished what the first attempt started
    assert slow.sandbox.count("POST", "/v2/journaltransaction/") == 1  # released once


def test_a_lost_release_answer_is_not_released_twice(slow: Wired) -> None:
    slow.sandbox.faults.add(RELEASE, "POST", "commit_then_500")
    first, last = until_delivered(slow, SALE, direct_posting=True)
    assert isinstance(first, OutcomeUnknown) and last.duplicate and not last.delivery.draft
    [batch] = slow.sandbox.batches
    assert batch["status"] == "Posted"
    assert slow.sandbox.count("POST", "/v2/journaltransaction/") == 1  # found posted: no second release


def test_a_release_refused_for_a_moment_is_done_by_the_retry(w: Wired) -> None:
    w.sandbox.faults.add(RELEASE, "POST", "503")
    first, last = until_delivered(w, SALE, direct_posting=True)
    assert isinstance(first, OutcomeUnknown) and last.duplicate
    assert [b["status"] for b in w.sandbox.batches] == ["Posted"]


def test_429_is_waited_out_as_visma_net_asks(w: Wired) -> None:
    w.sandbox.faults.reset_seconds = 3
    w.sandbox.faults.add(POST, "POST", "429", times=2)
    w.target().deliver(SALE)
    assert w.waits == [3.0, 3.0] and len(w.sandbox.batches) == 1


def test_the_same_message_twice_is_delivered_once(w: Wired) -> None:
    first, second = (until_delivered(w, SALE)[-1] for _ in range(2))
    assert not first.duplicate and second.duplicate and not second.looked_up
    assert first.delivery.remote_id == second.delivery.remote_id and len(w.sandbox.batches) == 1


def test_find_without_a_note_asks_visma_net_nothing(w: Wired) -> None:
    before = w.sandbox.requests_served()
    assert w.target().find("ALDRI-SENDT") is None
    assert w.sandbox.requests_served() == before


def test_the_note_keeps_the_first_attempt_and_the_search_reaches_back_a_day(w: Wired) -> None:
    context = w.context
    sent.remember(context, "R-9", "202611", now=dt.datetime(2026, 11, 4, 23, 59, tzinfo=dt.UTC))
    sent.remember(context, "R-9", "202611", now=dt.datetime(2026, 11, 6, 8, 0, tzinfo=dt.UTC))
    note = sent.recall(context, "R-9")
    assert note is not None and note["Period"] == "202611" and sent.since(note) == dt.date(2026, 11, 3)


def test_a_double_made_outside_our_ledger_is_named_not_hidden(w: Wired) -> None:
    target = w.target()
    target.deliver(SALE)
    target.deliver(SALE)  # as if someone sent it again by hand, past our ledger
    found = target.find(SALE.reference)
    assert found is not None and found.remote_id == "000001"  # the first, with the double named
    assert found.details["duplicates"] == ["000001", "000002"]


def test_a_refused_release_leaves_one_balanced_transaction_and_says_so(w: Wired) -> None:
    """Refused, not raised: a failed voucher would be created a second time by the retry after a fix."""
    take = w.sandbox.faults.take

    def close_the_period_first(method: str, path: str) -> Any:  # closed between the POST and the release
        if path.endswith("/action/release"):
            w.sandbox.company.close_period("202611")
        return take(method, path)

    w.sandbox.faults.take = close_the_period_first  # type: ignore[method-assign]
    outcome = until_delivered(w, SALE, direct_posting=True)[-1]
    assert outcome.delivery.draft and outcome.delivery.details["release"] == "Refused"
    assert "The 11-2026 financial period is closed." in outcome.delivery.details["release_refused"]
    assert [b["status"] for b in w.sandbox.batches] == ["Balanced"]
    again = until_delivered(w, SALE, direct_posting=True)[-1]  # the same message again: nothing new
    assert again.duplicate and len(w.sandbox.batches) == 1
