"""Fixtures for the Fiken tests: a sandbox on loopback and the connector wired to it through the spec check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fiken_support import Wiring, spec_check, wiring

from sandboxes.fiken import FikenSandbox
from tests.specs import SpecCheck
from tests.timing import FAULT_STALL


@pytest.fixture(scope="session")
def spec() -> SpecCheck | None:
    """Fiken's official spec as a request checker; None (requests unchecked) only when ../shared/specs is absent."""
    return spec_check()


@pytest.fixture
def sandbox() -> Iterator[FikenSandbox]:
    with FikenSandbox() as running:
        running.faults.timeout_seconds = FAULT_STALL
        yield running


@pytest.fixture
def w(sandbox: FikenSandbox, spec: SpecCheck | None) -> Iterator[Wiring]:
    """The connector against the sandbox (personal API token, opted in to direct posting); afterwards every request
    it sent must have matched Fiken's spec."""
    wired = wiring(sandbox, spec)
    yield wired
    wired.close()
    assert wired.transport.violations == [], "requests that break Fiken's official OpenAPI spec"


@pytest.fixture
def make_wiring(sandbox: FikenSandbox, spec: SpecCheck | None) -> Iterator[Callable[..., Wiring]]:
    """More wirings to the same sandbox (OAuth, another tenant, no opt-in, another timeout)."""
    made: list[Wiring] = []

    def make(**options: Any) -> Wiring:
        made.append(wiring(sandbox, spec, **options))
        return made[-1]
    yield make
    for wired in made:
        wired.close()
    assert [v for wired in made for v in wired.transport.violations] == []
