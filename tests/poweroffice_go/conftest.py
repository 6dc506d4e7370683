"""Fixtures for the PowerOffice GO tests: the contract harness (sandbox, tenant, contract check) and the target."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.contract.harnesses.poweroffice_go import Harness


@pytest.fixture
def go() -> Iterator[Harness]:
    """The sandbox and a tenant connected to it; afterwards every request must have kept GO's published contract."""
    harness = Harness()
    yield harness
    harness.close()


@pytest.fixture
def target(go: Harness) -> Any:
    from connectors.targets.poweroffice_go.descriptor import DESCRIPTOR

    return DESCRIPTOR.connect(go.connect())
