"""The Fiken connector against its sandbox: exact amounts in Fiken's ledger, every problem in one preflight, nothing
without the opt-in, and exactly once through our ledger and `find` — after a 500 or a timeout after commit, a 503, a
429, the same message twice, and a burst of workers sharing one key that Fiken allows one request at a time."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fiken_support import Wiring

from connectors.targets.fiken.target import FikenTarget
from pipeline.errors import ConfigError, DataError, OutcomeUnknown, TransientError
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryTables
from pipeline.model import Voucher
from sandboxes.fiken import FikenSandbox
from tests.timing import FAULT_CLIENT_TIMEOUT

TILL = Voucher(reference="KASSE-2026-11-04 æøå", date="2026-11-04", description="Dagsoppgjør Bryggen — Ærlig Øl",
               lines=[{"account": "1920", "amount": "365.02", "description": "Kort på Røros"},
                      {"account": "3000", "amount": "-250.02", "vat_code": "3", "description": "Blåbærsyltetøy"},
                      {"account": "3010", "amount": "-115.00", "vat_code": "31", "vat_amount": "-15.00"}])


def booked(sandbox: FikenSandbox) -> list[tuple[str, int]]:
    return [(line["account"], line["amount"]) for entry in sandbox.entries for line in entry["lines"]]


def once(target: FikenTarget, voucher: Voucher, tables: MemoryTables, document: str = "d-1") -> Any:
    return deliver_once(tables, target, voucher, tenant="kunde-1", target_name="fiken", document_id=document,
                        lease=dt.timedelta(0))


def test_a_till_voucher_lands_in_fikens_ledger_exactly(w: Wiring, sandbox: FikenSandbox) -> None:
    target = w.target()
    assert target.preflight([TILL]) == []
    delivery = target.deliver(TILL)
    assert delivery.draft is False and delivery.remote_id and delivery.details["open"] is True
    assert delivery.url and delivery.url.endswith(f"/transactions/{delivery.remote_id}")
    assert delivery.details["lines_split_for_vat_rounding"] == [1]  # 250.02 at 25 %: Fiken's VAT of 200.02 is 50.005
    lines = booked(sandbox)
    assert sum(amount for _, amount in lines) == 0
    assert sum(a for account, a in lines if account == "2700") == -5000  # VAT of 250.02, rounded half up
    assert sum(a for account, a in lines if account == "3000") == -20002
    assert [a for account, a in lines if account in ("3010", "2701")] == [-10000, -1500]
    [entry] = sandbox.entries
    assert entry["_open"] and entry["description"] == (
        "[KASSE-2026-11-04 æøå] Dagsoppgjør Bryggen — Ærlig Øl: Kort på Røros; Blåbærsyltetøy")


def test_closed_entries_when_the_tenant_asks(w: Wiring, sandbox: FikenSandbox) -> None:
    delivery = w.target(open_entries=False).deliver(TILL)
    assert delivery.details["open"] is False and sandbox.entries[0]["_open"] is False


def test_nothing_is_sent_without_the_opt_in_to_direct_posting(make_wiring: Any, sandbox: FikenSandbox) -> None:
    target = make_wiring(direct_posting=False).target()
    problems = target.preflight([TILL])
    assert [(p.code, p.field) for p in problems] == [("direct-posting-required", "settings.direct_posting")]
    assert "opt in to direct posting" in problems[0].message
    with pytest.raises(ConfigError, match="opt in to direct posting"):
        target.deliver(TILL)
    assert sandbox.count("POST") == 0 and sandbox.entries == []


def test_preflight_reports_every_problem_at_once_and_posts_nothing(w: Wiring, sandbox: FikenSandbox) -> None:
    bad = Voucher(reference="MANGLER-1", date="2023-06-30", description="Alt mangler", voucher_type="kasse", lines=[
        {"account": "2999", "amount": "100.00"},
        {"account": "3000", "amount": "-100.00", "vat_code": "81"},
        {"account": "1500", "amount": "50.00", "customer": {"number": "99999"}},
        {"account": "1500", "amount": "10.00", "customer": {"email": "felles@tvilling.example"}},
        {"account": "1500", "amount": "10.00", "customer": {"organization_number": "911111128"}},
        {"account": "2400", "amount": "-25.00", "supplier": {"number": "20001"}},
        {"account": "1920", "amount": "-25.00", "vat_code": "1"},
        {"account": "1500", "amount": "-20.00"}])
    problems = w.target().preflight([TILL, bad])
    assert {(p.code, p.field) for p in problems} == {
        ("before-accounting-start", "date"), ("missing-account", "lines[0].account"),
        ("unknown-vat-code", "lines[1].vat_code"), ("missing-customer", "lines[2].customer"),
        ("ambiguous-customer", "lines[3].customer"), ("missing-customer", "lines[4].customer"),
        ("vat-code-not-allowed", "lines[6].vat_code"), ("customer-required", "lines[7].customer")}
    assert all(p.reference == "MANGLER-1" for p in problems)
    assert "inactive" in next(p.message for p in problems if p.field == "lines[4].customer")
    assert sandbox.count("POST") == 0


def test_customers_and_suppliers_are_posted_on_their_own_ledger_accounts(w: Wiring, sandbox: FikenSandbox) -> None:
    invoice = Voucher(reference="F-10", date="2026-11-04", lines=[
        {"account": "1500", "amount": "125.00", "customer": {"organization_number": "987654325"}},
        {"account": "3000", "amount": "-125.00", "vat_code": "3"},
        {"account": "6800", "amount": "80.00", "vat_code": "1"},
        {"account": "2400", "amount": "-80.00", "supplier": {"number": "20001", "name": "Bergen Grossist AS"}}])
    w.target().deliver(invoice)
    assert ("1500:10001", 12500) in booked(sandbox) and ("2400:20001", -8000) in booked(sandbox)
    assert ("2710", 1600) in booked(sandbox)  # input VAT on 64.00 net


def test_fikens_own_refusal_is_a_data_error_with_its_words_on_the_field(w: Wiring, sandbox: FikenSandbox) -> None:
    sandbox.company.locked_through = dt.date(2026, 12, 31)
    with pytest.raises(DataError) as caught:
        w.target().deliver(TILL)
    error = caught.value
    assert error.status == 400 and "Perioden er låst" in (error.provider_message or "")
    assert [(p.field, p.code) for p in error.problems] == [("date", "refused-by-fiken")]
    sent = [e for e in w.exchanges.exchanges if e.method == "POST"][-1]
    assert error.request_id == sent.request_headers["x-request-id"]


def test_find_reads_the_dates_noted_before_posting(w: Wiring, sandbox: FikenSandbox) -> None:
    target = w.target()
    assert target.find(TILL.reference) is None and sandbox.total() == 0  # never posted: no need to ask Fiken
    other = TILL.model_copy(update={"reference": "KASSE-2026-11-04 æøå-2"})  # same date, a reference it starts with
    target.deliver(other)
    assert target.find(TILL.reference) is None
    delivery = target.deliver(TILL)
    found = target.find(TILL.reference)
    assert found is not None and (found.remote_id, found.draft) == (delivery.remote_id, False)
    assert found.details["transactionId"] == int(delivery.remote_id)


def test_find_reads_a_busy_date_newest_page_first(w: Wiring, sandbox: FikenSandbox) -> None:
    """Fiken lists a date's entries oldest first, 100 a page; what `find` looks for was posted lately."""
    target = w.target()
    day = [TILL.model_copy(update={"reference": f"ORDRE-{i:03d}"}) for i in range(250)]
    for voucher in day:
        target.deliver(voucher)
    before = sandbox.total()
    assert target.find("ORDRE-249") is not None and sandbox.total() - before == 2  # page 0, then the last
    before = sandbox.total()
    found = target.find("ORDRE-007")  # on the first page: found there
    assert found is not None and found.details["journalEntryNumber"] == 8 and sandbox.total() - before == 1
    before = sandbox.total()
    assert target.find("ORDRE-150") is not None and sandbox.total() - before == 3  # page 0, 2, then 1
    before = sandbox.total()
    from connectors.targets.fiken import notes

    notes.remember(w.context, "ORDRE-999", TILL.date)  # noted, never posted (refused before commit)
    assert target.find("ORDRE-999") is None and sandbox.total() - before == 3  # every page read


def test_a_double_made_outside_our_ledger_is_named(w: Wiring) -> None:
    target = w.target()
    first, second = target.deliver(TILL), target.deliver(TILL)
    found = target.find(TILL.reference)
    assert found is not None and found.remote_id == first.remote_id and len(found.details["duplicates"]) == 2
    assert second.remote_id != first.remote_id


@pytest.mark.parametrize(("kind", "posted_again"), [("commit_then_500", False), ("timeout", False), ("503", True)])
def test_never_posted_twice_when_the_outcome_is_unknown(w: Wiring, sandbox: FikenSandbox, kind: str,
                                                        posted_again: bool) -> None:
    sandbox.faults.add(r"/generalJournalEntries$", "POST", kind)
    target, tables = w.target(timeout=FAULT_CLIENT_TIMEOUT), MemoryTables()
    with pytest.raises(OutcomeUnknown):
        once(target, TILL, tables)
    outcome = once(target, TILL, tables, "d-2")
    assert outcome.looked_up and outcome.duplicate is not posted_again
    assert len(sandbox.entries) == 1 and sandbox.count("POST", "/generalJournalEntries") == 1 + posted_again


def test_the_same_message_twice_is_posted_once(w: Wiring, sandbox: FikenSandbox) -> None:
    tables = MemoryTables()
    outcomes = [once(w.target(), TILL, tables, f"d-{i}") for i in range(2)]
    assert [o.duplicate for o in outcomes] == [False, True] and len(sandbox.entries) == 1


def test_429_is_waited_out_by_retry_after(w: Wiring, sandbox: FikenSandbox) -> None:
    sandbox.faults.reset_seconds = 2
    sandbox.faults.add(r"/generalJournalEntries$", "POST", "429", times=2)
    w.target().deliver(TILL)
    assert w.waits == [2.0, 2.0] and len(sandbox.entries) == 1


def test_a_burst_of_workers_makes_one_request_at_a_time_and_one_lookup_each(w: Wiring, sandbox: FikenSandbox) -> None:
    vouchers = [TILL.model_copy(update={"reference": f"KASSE-{i:03d}"}) for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        deliveries = list(pool.map(w.target().deliver, vouchers))
    assert len({d.remote_id for d in deliveries}) == 40 and len(sandbox.entries) == 40
    assert sandbox.concurrent_refusals == 0  # Fiken: "only allowed to make a single concurrent API-request"
    assert sandbox.count("GET", "/accounts/1920") == 1 and sandbox.count("GET", "/companies/fjordbakst-as") == 1
    assert sandbox.total() == 40 + 4  # the posts, the company and three accounts


def test_render_builds_the_body_and_sends_nothing(w: Wiring, sandbox: FikenSandbox) -> None:
    body = w.target().render(TILL)
    assert body["journalEntries"][0]["lines"][0] == {"amount": 36502, "debitAccount": "1920"}
    assert sandbox.count("POST") == 0


def test_accounts_missing_for_a_source_that_names_accounts(w: Wiring) -> None:
    assert w.target().accounts_missing(["3000", "1920:10001", "2999", "19x0"]) == {
        "19x0": "is no account code Fiken can have (four digits, or four digits, a colon and five)",
        "2999": "does not exist in Fiken"}


def test_fields_fiken_has_no_place_for_are_reported(w: Wiring) -> None:
    probe = TILL.model_copy(update={"voucher_type": "kasse", "lines": (
        TILL.lines[0].model_copy(update={"kid": "12344", "dimensions": {"project": "P-1"}}), *TILL.lines[1:])})
    delivery = w.target().deliver(probe)
    assert set(delivery.not_accepted) == {"voucher_type", "lines[0].kid", "lines[0].dimensions.project"}


def test_the_dates_note_is_one_write_and_keeps_every_date_a_reference_was_posted_with(w: Wiring) -> None:
    from connectors.targets.fiken import notes

    notes.remember(w.context, "R-1", dt.date(2026, 11, 4))
    notes.remember(w.context, "R-1", dt.date(2026, 11, 4))
    notes.remember(w.context, "R-1", dt.date(2026, 11, 2))  # the source corrected the date, same reference
    note = notes.recall(w.context, "R-1")
    assert note is not None and note.dates == (dt.date(2026, 11, 2), dt.date(2026, 11, 4))
    assert note.since == dt.datetime.now(dt.UTC).date() and notes.recall(w.context, "R-2") is None


def test_no_post_goes_out_unnoted(w: Wiring, sandbox: FikenSandbox) -> None:
    """Without the note a retry after an unknown outcome would not know where to look: so the POST waits for it."""
    class Down(MemoryTables):
        def insert(self, table: str, entity: dict[str, Any]) -> str:
            raise OSError("storage unavailable")

    broken = w.target()
    broken.context.tables = Down()
    with pytest.raises(TransientError, match="could not note the date"):
        broken.deliver(TILL)
    assert sandbox.count("POST") == 0
