"""One contract suite over every target in the registry, each run against its sandbox through its harness.

A target posts a balanced voucher, as a draft unless the tenant opted in to direct posting (a target without a draft
path — its descriptor says so — is only ever used by a tenant that opted in, so it posts directly); keeps æ, ø and å;
reports what it has no place for as `not_accepted`; answers preflight with every missing account, VAT code,
customer, supplier, department and project at once; turns its own error shape into our errors by remedy;
rides out 429; and — through the idempotency ledger and its `find` — never posts twice, whether the answer was a
500 after the commit, a timeout after the commit, or the same message delivered twice.

The targets come from `connectors.CONNECTORS`; each brings only a harness (tests/contract/harness.py). A case
that does not apply to a target is skipped because its descriptor says so (no HTTP, no secrets, no chart of
accounts to check, takes every document type), and the skip says which.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

import connectors
from pipeline import descriptors
from pipeline.descriptors import CHECKS, Lands, NotAccepted, TargetDescriptor
from pipeline.errors import ConfigError, DataError, OutcomeUnknown, Problem
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryTables
from pipeline.model import DOCUMENT_TYPES, Party, Payment, SalesInvoice, Voucher
from pipeline.norway.kid import kid_mod10
from pipeline.ports import Delivery, Target
from tests.contract.harness import MISSING, Harness, load

TARGETS = descriptors.targets(connectors.CONNECTORS)
TEXT = "Kontantsalg på Lillehammer — Bjørnøya, Ærlig Åpen æøå ÆØÅ"
BALANCED = Voucher(reference="KONTRAKT-1 æøå", date="2026-11-04", description=TEXT,
                   lines=[{"account": "1920", "amount": "250.00", "description": "Kortterminal på Røros"},
                          {"account": "3000", "amount": "-250.00", "vat_code": "3", "description": "Salg av blåbær"}])


class System:
    """A target under test: its descriptor, its harness, and the suite's way to connect through the registry."""

    def __init__(self, name: str, harness: Harness) -> None:
        self.name, self.harness = name, harness
        self.descriptor: TargetDescriptor = TARGETS[name]
        self.tables = MemoryTables()

    @property
    def drafts(self) -> bool:
        """Whether a delivery with the tenant's default settings lands as a draft: where the system has drafts."""
        return self.descriptor.accepts.drafts.available

    def target(self, *, direct_posting: bool | None = None) -> Target:
        """A tenant's target: drafts where the system has them, else opted in to direct posting (the only way such
        a system is connected), unless the case says otherwise."""
        opted_in = not self.drafts if direct_posting is None else direct_posting
        return self.descriptor.connect(self.harness.connect(direct_posting=opted_in))

    def once(self, voucher: Voucher, document_id: str = "d-1") -> Any:
        return deliver_once(self.tables, self.target(), voucher, tenant="kunde-1", target_name=self.name,
                            document_id=document_id, lease=dt.timedelta(0))

    def stored(self) -> list[tuple[str, bool]]:
        return [(s.reference, s.draft) for s in self.harness.stored()]

    # Why a case does not apply, from the descriptor; None when it does.
    def without_http(self) -> str | None:
        return None if self.descriptor.http else (
            f"{self.descriptor.title}: its descriptor says http=False — no HTTP faults, and no system of its own "
            "that could refuse a voucher")

    def without_secrets(self) -> str | None:
        return None if self.descriptor.secrets else f"{self.descriptor.title}: its descriptor names no secrets"


def test_every_registered_target_has_a_harness() -> None:
    missing = [name for name in TARGETS if load(name) is None]
    assert missing == [], "add tests/contract/harnesses/<name>.py with a class Harness for each new target"


def test_the_suite_runs_every_registered_target() -> None:
    assert sorted(TARGETS) == sorted(connectors.TARGETS) and {"file", "tripletex", "fiken"} <= set(TARGETS)


@pytest.fixture(params=sorted(TARGETS))
def system(request: pytest.FixtureRequest) -> Iterator[System]:
    harness_class = load(request.param)
    if harness_class is None:
        pytest.fail(f"{request.param} has no contract harness")
    harness = harness_class()
    try:
        yield System(request.param, harness)
    finally:
        harness.close()


def _skip_unless(reason: str | None) -> None:
    if reason is not None:
        pytest.skip(reason)


# -- delivering ---------------------------------------------------------------------------------------------------


def test_a_balanced_voucher_posts_as_a_draft_by_default(system: System) -> None:
    drafts = system.descriptor.accepts.drafts
    _skip_unless(None if drafts.available else f"{system.descriptor.title} has no draft path: {drafts.meaning}")
    target = system.target()
    assert target.name == system.name and isinstance(target, Target)
    assert target.preflight([BALANCED]) == []
    delivery = target.deliver(BALANCED)
    assert isinstance(delivery, Delivery) and delivery.remote_id and delivery.draft
    assert system.stored() == [(BALANCED.reference, True)]  # the case runs only where the system has drafts


def test_a_system_without_drafts_posts_nothing_until_the_tenant_opts_in(system: System) -> None:
    """Drafts first where there are none: nothing reaches the system's ledger without the tenant's opt-in."""
    drafts = system.descriptor.accepts.drafts
    _skip_unless(f"{system.descriptor.title} has a draft path: {drafts.meaning}" if drafts.available else None)
    target = system.target(direct_posting=False)
    assert [p for p in target.preflight([BALANCED]) if p.reference == BALANCED.reference]
    with pytest.raises(ConfigError):
        target.deliver(BALANCED)
    invoice_drafts = system.descriptor.accepts.invoice_drafts
    if invoice_drafts is not None and invoice_drafts.available:
        # Its invoices have drafts: a tenant that only sends those connects green, told that vouchers wait.
        assert "direct posting" in str(target.check().get("vouchers"))
    else:
        with pytest.raises(ConfigError):
            target.check()
    assert system.stored() == []


def test_direct_posting_when_opted_in(system: System) -> None:
    delivery = system.target(direct_posting=True).deliver(BALANCED)
    assert delivery.draft is False
    assert system.stored() == [(BALANCED.reference, False)]


def test_norwegian_letters_arrive_intact(system: System) -> None:
    system.target().deliver(BALANCED)
    [stored] = system.harness.stored()
    assert stored.reference == BALANCED.reference
    for text in (TEXT, "Kortterminal på Røros", "Salg av blåbær"):
        assert text in stored.text


def test_find_knows_what_was_delivered_and_nothing_else(system: System) -> None:
    target = system.target()
    assert target.find(BALANCED.reference) is None
    delivery = target.deliver(BALANCED)
    found = target.find(BALANCED.reference)
    assert found is not None and (found.remote_id, found.draft) == (delivery.remote_id, delivery.draft)


def test_render_sends_nothing(system: System) -> None:
    assert system.target().render(BALANCED)
    assert system.stored() == []


def test_the_connection_test_says_what_it_is_connected_to(system: System) -> None:
    answer = system.target().check()
    assert isinstance(answer, dict) and answer.get("target") == system.name
    assert system.stored() == []


# -- what it takes ------------------------------------------------------------------------------------------------


def _probe() -> Voucher:
    """A voucher with a KID, a dimension few systems know and a voucher series."""
    return Voucher(reference="UTENFOR-1", date="2026-11-04", description="Innbetaling", voucher_type="kasse",
                   lines=[{"account": "1920", "amount": "125.00", "kid": kid_mod10("1234567")},
                          {"account": "3000", "amount": "-125.00", "vat_code": "3",
                           "dimensions": {"department": "1", "kostnadssted": "K-7"}}])


def _not_accepted(descriptor: TargetDescriptor, voucher: Voucher) -> set[str]:
    """The fields of `voucher` its descriptor says the target has no place for — in a voucher: a field its map leaves
    out of another document type only (a payment's description in Tripletex) is no field a voucher leaves out."""
    voucher_map = descriptor.accepts.fields.get("voucher", {})
    patterns = [p for p in descriptor.accepts.not_accepted if p not in voucher_map
                or isinstance(voucher_map[p], NotAccepted) or isinstance(voucher_map[p], Lands) and voucher_map[p].otherwise]
    accepted = descriptor.accepts.dimensions
    out = {name for name in patterns if "[" not in name and getattr(voucher, name, None)}
    for i, line in enumerate(voucher.lines):
        for pattern in patterns:
            if pattern == "lines[].dimensions.*":
                out.update(f"lines[{i}].dimensions.{d}" for d in line.dimensions if d not in accepted)
            elif pattern.startswith("lines[].") and getattr(line, pattern.removeprefix("lines[]."), None):
                out.add(f"lines[{i}].{pattern.removeprefix('lines[].')}")
    return out


def test_fields_it_has_no_place_for_are_reported_as_not_accepted(system: System) -> None:
    """Exactly what the descriptor declares: nothing invented, nothing silently dropped."""
    voucher = _probe()
    target = system.target()
    assert target.preflight([voucher]) == []
    delivery = target.deliver(voucher)
    assert set(delivery.not_accepted) == _not_accepted(system.descriptor, voucher)
    if system.descriptor.accepts.not_accepted:
        assert delivery.not_accepted  # the probe carries something of every kind a target may lack


def test_documents_and_currencies_it_does_not_take_are_preflight_problems(system: System) -> None:
    accepts = system.descriptor.accepts
    others = [t for t in DOCUMENT_TYPES if t not in accepts.documents]
    _skip_unless(None if others or accepts.currencies else
                 f"{system.descriptor.title}: its descriptor says it takes every document type and currency")
    customer = Party(number="10001", name="Fjordkafé Ålesund AS")
    samples = {
        "sales_invoice": SalesInvoice(reference="F-1", invoice_number="1", date="2026-11-04", customer=customer,
                                      lines=[{"description": "Kaffe", "amount": "125.00", "vat_code": "3"}],
                                      total="125.00"),
        "payment": Payment(reference="B-1", date="2026-11-04", amount="125.00", invoice_number="1",
                           customer=customer),
    }
    problems = system.target().preflight([samples[t] for t in others])
    assert {(p.reference, p.code) for p in problems} >= {(samples[t].reference, "unsupported-document") for t in others}
    if accepts.currencies:
        foreign = next(c for c in ("EUR", "SEK", "USD") if c not in accepts.currencies)
        voucher = BALANCED.model_copy(update={"reference": "VALUTA-1", "currency": foreign})
        assert ("unsupported-currency", "currency") in {(p.code, p.field) for p in system.target().preflight([voucher])}
    assert system.stored() == []


def test_preflight_reports_every_missing_account_vat_code_customer_department_and_project_at_once(
        system: System) -> None:
    checks = system.descriptor.accepts.checks
    _skip_unless(None if checks else
                 f"{system.descriptor.title}: its descriptor lists no checks (no chart of accounts to check against)")
    missing = {**MISSING, **getattr(system.harness, "missing", {})}
    lines: list[dict[str, Any]] = [
        {"account": missing["accounts"] if "accounts" in checks else "1920", "amount": "100.00"},
        {"account": "3000", "amount": "-100.00", "vat_code": missing["vat_codes"] if "vat_codes" in checks else "3"},
        {"account": "1500", "amount": "50.00", "customer": {"number": missing["customers"]}},
        {"account": "3000", "amount": "-50.00", "vat_code": "3",
         "dimensions": {d.removesuffix("s"): missing[f"{d}"] for d in ("departments", "projects") if d in checks}},
        {"account": "2400", "amount": "-25.00", "supplier": {"number": missing["suppliers"]}},
        {"account": "1920", "amount": "25.00"},
    ]
    if "customers" not in checks:
        lines[2].pop("customer")
    if "suppliers" not in checks:
        lines[4].pop("supplier")
    voucher = Voucher(reference="MANGLER-1", date="2026-11-04", description="Alt mangler", lines=lines)
    expected = {(CHECKS["accounts"], "lines[0].account"), (CHECKS["vat_codes"], "lines[1].vat_code"),
                (CHECKS["customers"], "lines[2].customer"), (CHECKS["departments"], "lines[3].dimensions.department"),
                (CHECKS["projects"], "lines[3].dimensions.project"), (CHECKS["suppliers"], "lines[4].supplier")}
    wanted = {(code, field) for code, field in expected if next(k for k, v in CHECKS.items() if v == code) in checks}
    problems = system.target().preflight([BALANCED, voucher])
    assert all(isinstance(p, Problem) and p.reference == "MANGLER-1" for p in problems)
    assert {(p.code, p.field) for p in problems} >= wanted
    assert system.stored() == []


def test_preflight_answers_with_problems_not_exceptions(system: System) -> None:
    odd = Voucher(reference="ODD-1", date="2026-11-04",
                  lines=[{"account": "1999", "amount": "1.00"}, {"account": "1920", "amount": "-1.00"}])
    problems = system.target().preflight([BALANCED, odd])
    assert all(isinstance(p, Problem) and p.reference == "ODD-1" for p in problems)
    if "accounts" in system.descriptor.accepts.checks:
        assert ("missing-account", "lines[0].account") in [(p.code, p.field) for p in problems]
    else:
        assert problems == []
    assert system.stored() == []


# -- the system's own answers -------------------------------------------------------------------------------------


def test_the_systems_own_refusal_is_a_data_error_with_its_words(system: System) -> None:
    _skip_unless(system.without_http())
    voucher = system.harness.refusable()
    with pytest.raises(DataError) as caught:
        system.target().deliver(voucher)
    error = caught.value
    assert error.connector == system.name and error.reference == voucher.reference
    assert error.provider_message and error.status and error.request_id
    assert system.stored() == []


def test_refused_credentials_are_a_config_error_in_delivery_and_in_the_connection_test(system: System) -> None:
    _skip_unless(system.without_secrets())
    system.harness.break_credentials()
    with pytest.raises(ConfigError) as caught:
        system.target().deliver(BALANCED)
    assert caught.value.connector == system.name
    with pytest.raises(ConfigError):
        system.target().check()
    assert system.stored() == []


def test_429_is_retried_inside_the_connector(system: System) -> None:
    _skip_unless(system.without_http())
    system.harness.fault("429", times=2)
    system.target().deliver(BALANCED)  # 429 means not committed: waited out and sent again
    assert system.stored() == [(BALANCED.reference, system.drafts)]


# -- never twice --------------------------------------------------------------------------------------------------


def _until_delivered(system: System, voucher: Voucher) -> list[Any]:
    """What the queue does: deliver again after a retryable error, a few times."""
    outcomes: list[Any] = []
    for _ in range(4):
        try:
            outcomes.append(system.once(voucher))
            return outcomes
        except OutcomeUnknown as exc:
            outcomes.append(exc)
    raise AssertionError(f"not delivered: {outcomes}")


@pytest.mark.parametrize("fault", ["503", "500-after-commit", "timeout-after-commit"])
def test_never_posted_twice_when_the_outcome_is_unknown(system: System, fault: Any) -> None:
    """After a 5xx or a timeout on the POST, the ledger looks the reference up before it posts again."""
    _skip_unless(system.without_http())
    system.harness.fault(fault)
    first, *_, last = _until_delivered(system, BALANCED)
    assert isinstance(first, OutcomeUnknown)
    assert last.looked_up
    assert last.duplicate is (fault != "503")  # committed before the fault: found, not posted again
    assert system.stored() == [(BALANCED.reference, system.drafts)]


def test_never_posted_twice_when_the_same_message_comes_twice(system: System) -> None:
    outcomes = [system.once(BALANCED, document_id=f"d{i}") for i in range(2)]
    assert [o.duplicate for o in outcomes] == [False, True]
    assert outcomes[0].delivery.remote_id == outcomes[1].delivery.remote_id
    assert system.stored() == [(BALANCED.reference, system.drafts)]
