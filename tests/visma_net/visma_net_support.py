"""Test support for Visma.net: the official OpenAPI spec as a request checker, and a connector wired to a sandbox."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from connectors.targets.visma_net.target import VismaNetTarget
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.ports import TargetContext
from sandboxes.visma_net import VismaNetSandbox
from tests.openapi_check import SpecCheck, SpecCheckingTransport, load

SPEC = "visma-net/swagger.json"
DRAFTS = ("Hold", "Balanced")


def spec_check() -> SpecCheck | None:
    """The official spec (4 MB, loaded once per run); None only when ../shared/specs is absent — never in CI
    (`CI=true`), where its absence fails the test that asks."""
    found = load(SPEC, "urn:visma-net:openapi")
    if found is None and os.environ.get("CI") == "true":
        raise AssertionError(f"../shared/specs/{SPEC} is missing: CI checks every request against it")
    return found


def settings_for(sandbox: VismaNetSandbox, **settings: Any) -> dict[str, Any]:
    return {"base_url": sandbox.base_url, "token_url": sandbox.token_url, "tenant_id": sandbox.tenant_id,
            "client_id": sandbox.client_id, "secrets": {"client_secret": "visma-net-secret"}, **settings}


def stored(sandbox: VismaNetSandbox) -> list[tuple[str, bool, str]]:
    """What the sandbox holds per journal transaction: our reference, whether it is a draft, its texts."""
    out = []
    for batch in sandbox.batches:
        lines = batch["journalTransactionLines"]
        references = {line["referenceNumber"] for line in lines}
        assert len(references) == 1, f"batch {batch['batchNumber']} carries references {references}"
        texts = [batch["description"], *(line["transactionDescription"] or "" for line in lines)]
        out.append((references.pop(), batch["status"] in DRAFTS, " ".join(texts)))
    return out


@dataclass
class Wired:
    """A Visma.net target wired to a running sandbox through the spec check, with what a test looks at."""

    sandbox: VismaNetSandbox
    context: TargetContext
    transport: SpecCheckingTransport
    waits: list[float] = field(default_factory=list)

    def target(self, **settings: Any) -> VismaNetTarget:
        context = self.context
        if settings:
            context = TargetContext(tenant=context.tenant, settings={**context.settings, **settings},
                                    secrets=context.secrets, blobs=context.blobs, exchanges=context.exchanges,
                                    cache=context.cache, tables=context.tables)
        return VismaNetTarget(context, transport=self.transport, sleep=self.waits.append)

    @property
    def exchanges(self) -> MemoryExchanges:
        assert isinstance(self.context.exchanges, MemoryExchanges)
        return self.context.exchanges

    def close(self) -> None:
        from connectors.http import close

        close(self.context)


def wire(sandbox: VismaNetSandbox, check: SpecCheck | None, *, tenant: str = "kunde-1", timeout: float = 5.0,
         **settings: Any) -> Wired:
    context = TargetContext(tenant=tenant, settings=settings_for(sandbox, timeout=timeout, **settings),
                            secrets=MemorySecrets({"visma-net-secret": sandbox.client_secret}), blobs=MemoryBlobs(),
                            exchanges=MemoryExchanges(), tables=MemoryTables())
    return Wired(sandbox, context, SpecCheckingTransport(check))
