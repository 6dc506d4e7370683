"""Never posted twice in PowerOffice GO: drafts found again by the sent record and the description marker, direct
vouchers by their ExternalImportReference — through our ledger, after a 500 after commit, a timeout after commit, a
draft someone posted meanwhile, a lost record, a lost ledger, and a burst of workers."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from connectors.targets.poweroffice_go.descriptor import DESCRIPTOR
from pipeline.errors import OutcomeUnknown
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryTables
from pipeline.model import Voucher
from tests.contract.harnesses.poweroffice_go import Harness

SALE = Voucher(reference="EN-GANG-1", date="2026-11-20", description="Dagsoppgjør Bodø – æøå",
               lines=[{"account": "1920", "amount": "300.00"}, {"account": "3000", "amount": "-300.00", "vat_code": "3"}])


def once(go: Harness, voucher: Voucher, *, direct: bool = False, tables: MemoryTables | None = None) -> Any:
    return deliver_once(tables or go.tables, DESCRIPTOR.connect(go.connect(direct_posting=direct)), voucher,
                        tenant="kunde-1", target_name="poweroffice-go", document_id="d-1", lease=dt.timedelta(0))


def until_delivered(go: Harness, voucher: Voucher, **options: Any) -> list[Any]:
    outcomes: list[Any] = []
    for _ in range(4):
        try:
            outcomes.append(once(go, voucher, **options))
            return outcomes
        except OutcomeUnknown as exc:
            outcomes.append(exc)
    raise AssertionError(outcomes)


@pytest.mark.parametrize("direct", [False, True], ids=["draft", "direct"])
@pytest.mark.parametrize("fault", ["500-after-commit", "timeout-after-commit"])
def test_committed_then_no_answer_is_found_not_posted_again(go: Harness, fault: Any, direct: bool) -> None:
    go.fault(fault)
    first, last = until_delivered(go, SALE, direct=direct)
    assert isinstance(first, OutcomeUnknown) and last.looked_up and last.duplicate
    assert [(s.reference, s.draft) for s in go.stored()] == [("EN-GANG-1", not direct)]
    holds = go.sandbox.client.drafts if not direct else go.sandbox.client.vouchers
    assert last.delivery.remote_id in holds
    # Looking up took a handful of requests, bounded by what was sent since the first attempt, not the whole year.
    looked = go.sandbox.count("GET", "/v2/JournalEntryVouchers") + go.sandbox.count("GET", "/v2/AccountTransactions")
    assert 1 <= looked <= 3


def test_a_draft_someone_posted_meanwhile_is_found_in_the_ledger(go: Harness) -> None:
    go.fault("500-after-commit")
    with pytest.raises(OutcomeUnknown):
        once(go, SALE)
    [draft_id] = go.sandbox.client.drafts
    go.sandbox.client.post_draft(draft_id)  # the accountant posts it in GO before our retry
    go.sandbox.client.drafts.pop(draft_id)  # [unverified] whether a posted draft stays readable as a draft: say not
    outcome = once(go, SALE)
    assert outcome.duplicate and outcome.delivery.remote_id == draft_id and outcome.delivery.draft is False
    assert len(go.sandbox.client.vouchers) == 1


def test_a_lost_sent_record_costs_requests_never_a_double(go: Harness) -> None:
    go.fault("500-after-commit")
    with pytest.raises(OutcomeUnknown):
        once(go, SALE)
    sent = [k for k in go.tables.rows if k[0] == "ledger" and k[1].endswith("|sent")]
    assert len(sent) == 1
    for key in sent:
        del go.tables.rows[key]
    outcome = once(go, SALE)
    assert outcome.duplicate and len(go.stored()) == 1


def test_gos_own_duplicate_check_catches_a_direct_voucher_our_ledger_lost(go: Harness) -> None:
    first = once(go, SALE, direct=True)
    again = once(go, SALE, direct=True, tables=MemoryTables())  # a ledger that never saw it
    assert again.delivery.remote_id == first.delivery.remote_id and not again.duplicate
    assert len(go.sandbox.client.vouchers) == 1


def test_find_knows_nothing_of_a_reference_never_sent(go: Harness, target: Any) -> None:
    assert target.find("ALDRI-SENDT") is None


def test_a_burst_of_workers_makes_one_token_one_lookup_per_kind_and_one_voucher_per_reference(go: Harness) -> None:
    vouchers = [SALE.model_copy(update={"reference": f"SKUR-{i % 12}"}) for i in range(24)]  # every one twice
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda v: _retrying(go, v), vouchers))
    assert sorted(s.reference for s in go.stored()) == sorted(f"SKUR-{i}" for i in range(12))
    assert sum(o.duplicate for o in outcomes) == 12
    assert len(go.sandbox.issued) == 1
    for path in ("GeneralLedgerAccounts", "VatCodes", "SubLedgerNumberSeries", "LockDateSettings"):
        assert go.sandbox.count("GET", f"/v2/{path}") == 1, path


def _retrying(go: Harness, voucher: Voucher) -> Any:
    from pipeline.errors import ClaimHeld

    for _ in range(200):
        try:
            return deliver_once(go.tables, DESCRIPTOR.connect(go.connect()), voucher, tenant="kunde-1",
                                target_name="poweroffice-go", document_id="d", lease=dt.timedelta(seconds=30))
        except ClaimHeld:
            import time

            time.sleep(0.01)
    raise AssertionError("never delivered")


@pytest.mark.parametrize("fault", ["503", "500-after-commit"])
def test_a_find_among_many_recent_drafts_reads_only_the_unknown_ones_from_go(go: Harness, fault: Any) -> None:
    """Drafts recorded as other references' are skipped by a table read, not a GO read: at GO's ten requests a
    second, reading every draft of a burst would take minutes."""
    for i in range(30):
        once(go, SALE.model_copy(update={"reference": f"FØR-{i}"}))
    go.cache.clear()  # another process: what this one remembered is gone; the ledger table's records are not
    go.fault(fault)
    first, last = until_delivered(go, SALE)
    assert isinstance(first, OutcomeUnknown) and last.looked_up
    assert go.sandbox.count("GET", "/v2/JournalEntryVouchers/ManualJournals/") <= 1
    assert sorted(s.reference for s in go.stored()) == sorted([f"FØR-{i}" for i in range(30)] + ["EN-GANG-1"])
