"""Fixtures for the Omnium tests: a sandbox on loopback with a clock the test moves, and a client to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from omnium_support import Clock

from connectors.sources.omnium import OmniumClient
from sandboxes.omnium import OmniumSandbox


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[OmniumSandbox]:
    with OmniumSandbox(clock=clock) as running:
        yield running


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(sandbox: OmniumSandbox, waits: list[float]) -> Iterator[OmniumClient]:
    with OmniumClient(sandbox.base_url, sandbox.client_id, sandbox.client_secret, tenant="kunde-1",
                      sleep=waits.append) as running:
        yield running


@pytest.fixture
def make_client(sandbox: OmniumSandbox) -> Iterator[Callable[..., OmniumClient]]:
    """More clients to the same sandbox (one per concurrent run, as separate timer invocations have)."""
    made: list[OmniumClient] = []

    def make(**options: Any) -> OmniumClient:
        options.setdefault("sleep", lambda seconds: None)
        made.append(OmniumClient(sandbox.base_url, sandbox.client_id, sandbox.client_secret, tenant="kunde-1",
                                 **options))
        return made[-1]

    yield make
    for made_client in made:
        made_client.close()
