"""Fixtures for the Fortnox tests: a sandbox on loopback and the connector wired to it with a refresh token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.targets.fortnox.target import FortnoxTarget
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.ports import TargetContext
from sandboxes.fortnox import FortnoxSandbox
from tests.timing import FAULT_STALL


@pytest.fixture
def sandbox() -> Iterator[FortnoxSandbox]:
    with FortnoxSandbox(rate_limit=None) as running:
        running.faults.timeout_seconds = FAULT_STALL
        yield running


class Wiring:
    """The connector for one tenant against the sandbox: its secrets, cache and recorded waits."""

    def __init__(self, sandbox: FortnoxSandbox, **settings: Any) -> None:
        self.sandbox = sandbox
        self.secrets = MemorySecrets({"refresh": next(iter(sandbox.refresh_tokens)),
                                      "client": sandbox.clients[sandbox.client_id]})
        self.cache: dict[str, Any] = {}
        self.tables = MemoryTables()
        self.sleeps: list[float] = []
        self.settings = {"base_url": sandbox.base_url, "token_url": sandbox.token_url, "auth_url": sandbox.auth_url,
                         "client_id": sandbox.client_id, "timeout": 10.0, "direct_posting": True,
                         "secrets": {"refresh_token": "refresh", "client_secret": "client"}, **settings}

    def target(self, **settings: Any) -> FortnoxTarget:
        return FortnoxTarget(TargetContext(tenant="kunde-1", settings={**self.settings, **settings},
                                           secrets=self.secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(),
                                           cache=self.cache, tables=self.tables, sleep=self.sleeps.append))

    def close(self) -> None:
        from connectors.http import close

        close(self.target().context)


@pytest.fixture
def wire(sandbox: FortnoxSandbox) -> Iterator[Callable[..., Wiring]]:
    made: list[Wiring] = []

    def make(**settings: Any) -> Wiring:
        made.append(Wiring(sandbox, **settings))
        return made[-1]
    yield make
    for wired in made:
        wired.close()
