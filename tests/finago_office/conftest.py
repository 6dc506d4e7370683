"""Fixtures for Finago Office's own tests: a sandbox on loopback and a tenant wired to it, every request checked
against the official WSDLs (a test fails on any request that breaks them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.finago_office.finago_support import Wired, wire


@pytest.fixture
def wired() -> Iterator[Wired]:
    made = wire()
    try:
        yield made
    finally:
        made.close()
    assert made.transport.violations == [], "requests that break Finago Office's official WSDLs"
