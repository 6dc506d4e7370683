"""Fixtures for the Tripletex tests: a sandbox on loopback and the connector wired to it through the spec check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tripletex_support import Harness, SpecCheck, harness, load_spec_check

from sandboxes.tripletex import TripletexSandbox
from tests.timing import FAULT_STALL


@pytest.fixture(scope="session")
def spec_check() -> SpecCheck | None:
    """The official spec as a request checker; None (requests unchecked) only when ../shared/specs is absent."""
    return load_spec_check()


@pytest.fixture
def sandbox() -> Iterator[TripletexSandbox]:
    with TripletexSandbox() as running:
        running.faults.timeout_seconds = FAULT_STALL
        yield running


@pytest.fixture
def h(sandbox: TripletexSandbox, spec_check: SpecCheck | None) -> Iterator[Harness]:
    """The connector against the sandbox; afterwards, every request it sent must have matched the spec."""
    wired = harness(sandbox, spec_check)
    yield wired
    wired.close()
    assert wired.transport.violations == [], "requests that break the official OpenAPI spec"


@pytest.fixture
def make_harness(sandbox: TripletexSandbox, spec_check: SpecCheck | None) -> Iterator[Callable[..., Harness]]:
    """More wirings to the same sandbox (another tenant, another timeout, other secrets)."""
    made: list[Harness] = []

    def make(**options: Any) -> Harness:
        made.append(harness(sandbox, spec_check, **options))
        return made[-1]
    yield make
    for wired in made:
        wired.close()
    assert [v for wired in made for v in wired.transport.violations] == []
