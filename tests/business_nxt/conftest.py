"""Fixtures for the Business NXT tests: its sandbox on loopback and the connector wired to it (the contract
harness), every GraphQL document held against our schema file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.harnesses.business_nxt import Harness


@pytest.fixture
def nxt() -> Iterator[Harness]:
    """The connector against a fresh sandbox; afterwards, every document it sent must have fitted the schema."""
    wired = Harness()
    yield wired
    wired.close()
