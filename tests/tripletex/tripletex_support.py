"""Test support for Tripletex: the official OpenAPI spec as a request checker, and a connector wired to a sandbox.

Every request the connector sends goes through `SpecCheckingTransport` (tests/specs.py, shared by every system
with a published spec), which holds it against the official spec (`../shared/specs/tripletex/openapi.json`):
the path and method exist, every query parameter is declared (required ones present, values of the declared
type), and the JSON body validates against the operation's requestBody schema — with `$ref`s resolved, and,
because Tripletex's schemas do not forbid extra properties, no property the schema does not name and none it
marks read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.targets import tripletex
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.ports import TargetContext
from sandboxes.tripletex import TripletexSandbox
from tests import specs
from tests.specs import SpecCheck, SpecCheckingTransport, urlpath

__all__ = ["SPEC", "Harness", "SpecCheck", "SpecCheckingTransport", "harness", "load_spec_check", "urlpath"]

SPEC = specs.spec_file("tripletex/openapi.json")


def load_spec_check() -> SpecCheck | None:
    """Loaded once per test run (2 MB of JSON); None when ../shared/specs is absent (a failure in CI)."""
    return specs.load_spec_check("tripletex/openapi.json")


@dataclass
class Harness:
    """A Tripletex target wired to a running sandbox, with what a test looks at."""

    sandbox: TripletexSandbox
    context: TargetContext
    transport: SpecCheckingTransport
    waits: list[float] = field(default_factory=list)

    def target(self, **settings: Any) -> tripletex.TripletexTarget:
        context = self.context
        if settings:
            context = TargetContext(tenant=context.tenant, settings={**context.settings, **settings},
                                    secrets=context.secrets, blobs=context.blobs, exchanges=context.exchanges,
                                    cache=context.cache, tables=context.tables)
        return tripletex.TripletexTarget(context, transport=self.transport, sleep=self.waits.append)

    def close(self) -> None:
        tripletex.close(self.context)

    @property
    def exchanges(self) -> MemoryExchanges:
        assert isinstance(self.context.exchanges, MemoryExchanges)
        return self.context.exchanges


def harness(sandbox: TripletexSandbox, check: SpecCheck | None, *, tenant: str = "kunde-1",
            timeout: float = 5.0, **settings: Any) -> Harness:
    secrets = MemorySecrets({"tripletex-consumer": sandbox.consumer_token,
                             "tripletex-employee": sandbox.employee_token})
    context = TargetContext(
        tenant=tenant,
        settings={"base_url": sandbox.base_url, "timeout": timeout,
                  "secrets": {"consumer_token": "tripletex-consumer", "employee_token": "tripletex-employee"},
                  **settings},
        secrets=secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(), tables=MemoryTables(),
    )
    return Harness(sandbox, context, SpecCheckingTransport(check))
