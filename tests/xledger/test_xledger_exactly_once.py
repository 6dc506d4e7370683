"""Exactly once however Xledger processes its GL import — at once or later, keeping processed items or not — and
import errors read back; concurrent deliveries share calls and each voucher still lands once."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest

from connectors.targets.xledger.descriptor import DESCRIPTOR
from pipeline.errors import DataError, OutcomeUnknown
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.ports import TargetContext
from sandboxes.xledger import Entity, XledgerSandbox
from tests.timing import FAULT_CLIENT_TIMEOUT, FAULT_STALL
from tests.xledger.xledger_support import stored

MODES = [("immediate", False), ("immediate", True), ("deferred", False), ("deferred", True)]


def voucher(reference: str, amount: str = "100.00", account: str = "3000") -> Voucher:
    return Voucher(reference=reference, date="2026-11-04", description=f"Dagsoppgjør {reference} på Røros",
                   lines=[{"account": "1920", "amount": amount},
                          {"account": account, "amount": f"-{amount}", "vat_code": "3", "description": "Blåbær"}])


class Connection:
    def __init__(self, entity: Entity) -> None:
        self.sandbox = XledgerSandbox(entity=entity).start()
        self.sandbox.timeout_seconds = FAULT_STALL
        # Our read timeout: generous, so that a busy machine cannot turn a slow answer into an OutcomeUnknown; a test
        # that injects the timeout fault shortens it far below the sandbox's hold, to no less than a busy machine needs
        # for an ordinary answer (tests/timing.py).
        self.read_timeout = 30.0
        self.cache: dict[str, Any] = {}
        self.tables = MemoryTables()
        self.exchanges = MemoryExchanges()

    def target(self) -> Any:
        context = TargetContext(tenant="kunde-1", settings={"base_url": self.sandbox.base_url, "timeout": self.read_timeout,
                                                            "secrets": {"api_token": "t"}},
                                secrets=MemorySecrets({"t": self.sandbox.token}), blobs=MemoryBlobs(),
                                exchanges=self.exchanges, cache=self.cache, tables=self.tables, sleep=lambda s: None)
        return DESCRIPTOR.connect(context)

    def once(self, document: Voucher, document_id: str = "d-1") -> Any:
        return deliver_once(self.tables, self.target(), document, tenant="kunde-1", target_name="xledger",
                            document_id=document_id, lease=dt.timedelta(0))

    def close(self) -> None:
        from connectors.http import close

        close(self.target().context)
        self.sandbox.stop()
        assert self.sandbox.invalid() == []


@pytest.fixture
def make() -> Any:
    made: list[Connection] = []

    def factory(**entity: Any) -> Connection:
        made.append(Connection(Entity(**entity)))
        return made[-1]
    yield factory
    for connection in made:
        connection.close()


@pytest.mark.parametrize(("processing", "keep"), MODES)
@pytest.mark.parametrize("fault", ["500-after-commit", "timeout-after-commit"])
def test_a_committed_import_is_found_before_it_is_sent_again(make: Any, processing: str, keep: bool,
                                                             fault: str) -> None:
    xl = make(processing=processing, keep_processed=keep)
    xl.read_timeout = FAULT_CLIENT_TIMEOUT if fault.startswith("timeout") else xl.read_timeout
    xl.sandbox.fault(fault)
    with pytest.raises(OutcomeUnknown):
        xl.once(voucher("V-1"))
    xl.read_timeout = 30.0
    xl.sandbox.entity.process()  # Xledger's import job may run before the retry: found as a transaction then
    outcome = xl.once(voucher("V-1"))
    assert outcome.looked_up and outcome.duplicate
    xl.sandbox.entity.process()
    assert [(ref, draft) for ref, draft, _ in stored(xl.sandbox)] == [("V-1", True)]
    assert len(xl.sandbox.entity.vouchers) == 1


@pytest.mark.parametrize(("processing", "keep"), MODES)
def test_a_refused_call_is_sent_again_and_lands_once(make: Any, processing: str, keep: bool) -> None:
    xl = make(processing=processing, keep_processed=keep)
    xl.sandbox.fault("503")
    with pytest.raises(OutcomeUnknown):
        xl.once(voucher("V-2"))
    outcome = xl.once(voucher("V-2"))
    assert outcome.looked_up and not outcome.duplicate
    xl.sandbox.entity.process()
    assert [ref for ref, _, _ in stored(xl.sandbox)] == ["V-2"]


def test_an_import_refused_when_xledger_processes_it_is_read_back_in_its_words(make: Any) -> None:
    xl = make(processing="deferred")
    assert xl.target().deliver(voucher("V-3")).draft
    xl.sandbox.entity.closed_through = dt.date(2026, 11, 30)  # the period closed before the import job ran
    xl.sandbox.entity.process()
    with pytest.raises(DataError) as caught:
        xl.target().find("V-3")
    assert "V-3" in caught.value.message and "closed" in (caught.value.provider_message or "")
    assert xl.sandbox.entity.vouchers == []


def test_concurrent_deliveries_share_calls_and_each_voucher_lands_once(make: Any) -> None:
    xl = make(processing="immediate")
    xl.target().preflight([voucher("warm")])  # the register, looked up once
    documents = [voucher(f"P-{i:02d}", amount=f"{10 + i}.50") for i in range(40)]
    before = xl.sandbox.count()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(chunk: list[Voucher]) -> None:
        barrier.wait()
        for document in chunk:
            try:
                xl.once(document, document_id=document.reference)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(documents[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    calls = xl.sandbox.count() - before
    assert calls < len(documents)  # fewer requests than vouchers: calls were shared
    assert sorted(ref for ref, _, _ in stored(xl.sandbox)) == sorted(d.reference for d in documents)
    for document in documents:  # every amount exactly as sent
        line = next(h for h in xl.sandbox.entity.vouchers if h["lines"][0]["extIdentifier"] == document.reference)
        assert sum(abs(Decimal(x["amount"])) for x in line["lines"]) == 2 * document.lines[0].amount


@pytest.mark.parametrize("atomic", [True, False])
def test_a_refused_shared_call_lands_the_good_vouchers_once_and_refuses_the_bad_one(make: Any, atomic: bool) -> None:
    from connectors.targets.xledger.batch import Entry

    xl = make(processing="immediate", atomic=atomic)
    good, bad = voucher("G-1"), voucher("B-1", account="4300")
    target = xl.target()
    assert target.preflight([good, bad, voucher("G-2")]) == []
    xl.sandbox.entity.close_account("4300")  # closed after preflight: Xledger refuses it
    entries = [Entry(v, 2, xl.exchanges) for v in (good, bad, voucher("G-2"))]
    target._send(entries)  # one call for all three, refused
    batcher = target._batcher()
    for entry in entries:
        batcher.submit(entry) if not entry.done else None
    assert [e.done for e in entries] == [True, True, True]
    assert entries[0].error is None and entries[2].error is None
    assert isinstance(entries[1].error, DataError) and entries[1].error.reference == "B-1"
    assert ("lines[1].account", "B-1") in {(p.field, p.reference) for p in entries[1].error.problems}
    assert sorted(ref for ref, _, _ in stored(xl.sandbox)) == ["G-1", "G-2"]
