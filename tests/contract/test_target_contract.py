"""One contract suite, parametrized over every registered target, each run against its sandbox.

A target posts a balanced voucher, as a draft unless the tenant opted in to direct posting; refuses
with the system's own error mapped to our error kinds; rides out 429 and 503; and, through the
idempotency ledger, never posts twice. A new target joins by adding a harness to HARNESSES; a test
fails while a registered target has none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pytest

from connectors import TARGETS
from connectors.targets import tripletex
from pipeline.errors import ConfigError, DataError, Problem, TransientError
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.names import CONTAINER_DELIVERIES
from pipeline.ports import Delivery, Target, TargetContext
from sandboxes.tripletex import TripletexSandbox
from tests.tripletex.tripletex_support import SpecCheckingTransport, harness, load_spec_check

# The registry as the lead wires it, with Tripletex patched in until connectors/__init__.py lists it.
REGISTRY: dict[str, Callable[..., Any]] = {**TARGETS}
REGISTRY.setdefault("tripletex", tripletex.connect)

BALANCED = Voucher(reference="KONTRAKT-1 æøå", date="2026-11-04", description="Kontantsalg på Lillehammer",
                   lines=[{"account": "1920", "amount": "250.00"},
                          {"account": "3000", "amount": "-250.00", "vat_code": "3"}])


class ContractHarness(Protocol):
    name: str
    keeps_a_register: bool  # True when the system has accounts a voucher may miss

    def target(self, *, direct_posting: bool = False) -> Target: ...

    def stored(self) -> list[tuple[str, bool]]:
        """(reference, draft) of everything the system holds."""
        ...

    def refusable(self) -> Voucher:
        """A voucher the *system itself* refuses (not our preflight); skip where the system refuses nothing."""
        ...

    def break_credentials(self) -> None: ...

    def inject(self, status: int, times: int) -> None:
        """Make the system answer `status` to the next `times` deliveries."""
        ...

    def close(self) -> None: ...


class FileHarness:
    name = "file"
    keeps_a_register = False  # a file has no chart of accounts to check against

    def __init__(self) -> None:
        self.blobs = MemoryBlobs()

    def target(self, *, direct_posting: bool = False) -> Target:
        context = TargetContext(tenant="kunde-1", settings={"direct_posting": direct_posting},
                                secrets=MemorySecrets(), blobs=self.blobs, exchanges=MemoryExchanges())
        return REGISTRY["file"](context)

    def stored(self) -> list[tuple[str, bool]]:
        out = []
        for path in self.blobs.list(CONTAINER_DELIVERIES, "kunde-1/"):
            folder = path.split("/")[1]
            document = Voucher.model_validate_json(self.blobs.get(CONTAINER_DELIVERIES, path))
            out.append((document.reference, folder == "drafts"))
        return out

    def refusable(self) -> Voucher:
        pytest.skip("file target writes every valid shared-form document: it has no refusal of its own")

    def break_credentials(self) -> None:
        pytest.skip("file target has no credentials: it writes to the platform's own Blob Storage")

    def inject(self, status: int, times: int) -> None:
        pytest.skip(f"file target has no HTTP: no {status} to retry")

    def close(self) -> None:
        pass


class TripletexHarness:
    name = "tripletex"
    keeps_a_register = True

    def __init__(self) -> None:
        self.sandbox = TripletexSandbox().start()
        self.check = load_spec_check()
        self.wired = harness(self.sandbox, self.check)
        self.sleeps: list[float] = []

    def target(self, *, direct_posting: bool = False) -> Target:
        context = self.wired.context
        context = TargetContext(tenant=context.tenant, settings={**context.settings, "direct_posting": direct_posting},
                                secrets=context.secrets, blobs=context.blobs, exchanges=context.exchanges,
                                cache=context.cache)
        transport: SpecCheckingTransport = self.wired.transport
        return REGISTRY["tripletex"](context, transport=transport, sleep=self.sleeps.append)

    def stored(self) -> list[tuple[str, bool]]:
        return [(v["externalVoucherNumber"], not v["_posted"]) for v in self.sandbox.vouchers]

    def refusable(self) -> Voucher:
        # Our preflight passes (the account was active when cached); Tripletex then refuses it (422).
        self.sandbox.company.add_account(4300, "Innkjøp av varer for videresalg")
        voucher = Voucher(reference="AVVIST-1", date="2026-11-04",
                          lines=[{"account": "4300", "amount": "80.00"}, {"account": "1920", "amount": "-80.00"}])
        assert self.target().preflight([voucher]) == []
        self.sandbox.company.deactivate_account(4300)
        return voucher

    def break_credentials(self) -> None:
        self.wired.context.secrets.set("tripletex-employee", "utløpt")
        self.wired.context.cache.clear()  # a new connection: the old session is gone too
        self.sandbox.expire_sessions()

    def inject(self, status: int, times: int) -> None:
        self.sandbox.faults.add(r"^/ledger/voucher$", "POST", str(status), times=times)

    def close(self) -> None:
        tripletex.close(self.wired.context)
        self.sandbox.stop()
        assert self.wired.transport.violations == []


HARNESSES: dict[str, Callable[[], ContractHarness]] = {
    "file": FileHarness,
    "tripletex": TripletexHarness,
}


def test_every_registered_target_has_a_harness() -> None:
    assert set(TARGETS) <= set(HARNESSES), "add a contract harness for each new target"


@pytest.fixture(params=sorted(HARNESSES))
def system(request: pytest.FixtureRequest) -> Iterator[ContractHarness]:
    made = HARNESSES[request.param]()
    yield made
    made.close()


def test_a_balanced_voucher_posts_as_a_draft_by_default(system: ContractHarness) -> None:
    target = system.target()
    assert target.name == system.name and isinstance(target, Target)
    assert target.preflight([BALANCED]) == []
    delivery = target.deliver(BALANCED)
    assert isinstance(delivery, Delivery) and delivery.remote_id and delivery.draft
    assert system.stored() == [(BALANCED.reference, True)]


def test_direct_posting_when_opted_in(system: ContractHarness) -> None:
    delivery = system.target(direct_posting=True).deliver(BALANCED)
    assert delivery.draft is False
    assert system.stored() == [(BALANCED.reference, False)]


def test_find_knows_what_was_delivered_and_nothing_else(system: ContractHarness) -> None:
    target = system.target()
    assert target.find(BALANCED.reference) is None
    delivery = target.deliver(BALANCED)
    found = target.find(BALANCED.reference)
    assert found is not None and (found.remote_id, found.draft) == (delivery.remote_id, delivery.draft)


def test_render_sends_nothing(system: ContractHarness) -> None:
    assert system.target().render(BALANCED)
    assert system.stored() == []


def test_the_systems_own_refusal_is_a_data_error_with_its_words(system: ContractHarness) -> None:
    voucher = system.refusable()
    with pytest.raises(DataError) as caught:
        system.target().deliver(voucher)
    error = caught.value
    assert error.connector == system.name and error.reference == voucher.reference
    assert error.provider_message and error.status and error.request_id
    assert system.stored() == []


def test_refused_credentials_are_a_config_error(system: ContractHarness) -> None:
    system.break_credentials()
    with pytest.raises(ConfigError) as caught:
        system.target().deliver(BALANCED)
    assert caught.value.connector == system.name
    assert system.stored() == []


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_are_retried(system: ContractHarness, status: int) -> None:
    system.inject(status, times=2)
    tables = MemoryTables()
    if status == 503:
        # A 503 after a POST may hide a commit: the connector says so, the ledger looks it up, then posts.
        for _ in range(3):
            try:
                deliver_once(tables, system.target(), BALANCED, tenant="kunde-1", target_name=system.name,
                             document_id="d", lease=dt.timedelta(0))
                break
            except TransientError:
                continue
    else:
        system.target().deliver(BALANCED)  # 429 means not committed: retried inside the connector
    assert system.stored() == [(BALANCED.reference, True)]


def test_nothing_is_posted_twice(system: ContractHarness) -> None:
    tables = MemoryTables()
    outcomes = [deliver_once(tables, system.target(), BALANCED, tenant="kunde-1", target_name=system.name,
                             document_id=f"d{i}") for i in range(2)]
    assert [o.duplicate for o in outcomes] == [False, True]
    assert outcomes[0].delivery.remote_id == outcomes[1].delivery.remote_id
    assert system.stored() == [(BALANCED.reference, True)]


def test_preflight_answers_with_problems_not_exceptions(system: ContractHarness) -> None:
    odd = Voucher(reference="ODD-1", date="2026-11-04",
                  lines=[{"account": "1999", "amount": "1.00"}, {"account": "1920", "amount": "-1.00"}])
    problems = system.target().preflight([BALANCED, odd])
    assert all(isinstance(p, Problem) and p.reference == "ODD-1" for p in problems)
    if system.keeps_a_register:
        assert [(p.code, p.field) for p in problems] == [("missing-account", "lines[0].account")]
    else:
        assert problems == []
    assert system.stored() == []
