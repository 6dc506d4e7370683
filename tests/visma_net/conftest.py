"""Fixtures for the Visma.net tests: a sandbox on loopback and the connector wired to it through the spec check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandboxes.visma_net import VismaNetSandbox
from tests.specs import SpecCheck
from tests.timing import FAULT_STALL
from tests.visma_net.visma_net_support import Wired, spec_check, wire


@pytest.fixture(scope="session")
def check() -> SpecCheck | None:
    """The official spec as a request checker; None (requests unchecked) only where ../shared/specs is absent —
    never in CI, where its absence is a failure."""
    return spec_check()


@pytest.fixture
def sandbox() -> Iterator[VismaNetSandbox]:
    with VismaNetSandbox() as running:
        running.faults.timeout_seconds = FAULT_STALL
        yield running


@pytest.fixture
def w(sandbox: VismaNetSandbox, check: SpecCheck | None) -> Iterator[Wired]:
    """The connector against the sandbox; afterwards, every request it sent must have matched the spec."""
    wired = wire(sandbox, check)
    yield wired
    wired.close()
    assert wired.transport.violations == [], "requests that break Visma.net's official OpenAPI spec"


@pytest.fixture
def make(sandbox: VismaNetSandbox, check: SpecCheck | None) -> Iterator[Callable[..., Wired]]:
    """More wirings to the same sandbox (another timeout, other settings or secrets)."""
    made: list[Wired] = []

    def wired(**options: Any) -> Wired:
        made.append(wire(sandbox, check, **options))
        return made[-1]
    yield wired
    for each in made:
        each.close()
    assert [v for each in made for v in each.transport.violations] == []
