"""Test support for Visma.net: the official OpenAPI spec as a request checker, and a connector wired to a sandbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

from connectors.targets.visma_net.target import VismaNetTarget
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.ports import TargetContext
from sandboxes.visma_net import VismaNetSandbox
from tests import specs
from tests.specs import SpecCheck, SpecCheckingTransport

SPEC = "visma-net/swagger.json"
DRAFTS = ("Hold", "Balanced")


def client_credentials(request: httpx.Request) -> list[str]:
    """Visma Connect's token endpoint, which the spec names only as its `clientCredentials` flow's tokenUrl: held
    to OAuth 2.0's client-credentials grant (RFC 6749 §4.4.2) as Visma documents it (a form POST with grant_type,
    client_id, client_secret, scope and tenant_id — docs.vismasoftware.no, "Service Integrations")."""
    where = f"{request.method} {request.url.path}"
    problems = [] if request.method == "POST" else [f"{where}: a token request is a POST"]
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        problems.append(f"{where}: a token request is form-encoded")
    form = dict(parse_qsl(request.content.decode("utf-8"), keep_blank_values=True))
    if form.get("grant_type") != "client_credentials":
        problems.append(f"{where}: grant_type must be client_credentials")
    problems.extend(f"{where}: {name} missing" for name in ("client_id", "client_secret", "scope", "tenant_id")
                    if not form.get(name))
    return problems


def spec_check() -> SpecCheck | None:
    """The official spec (4 MB, loaded once per run); None only when ../shared/specs is absent — a failure in CI
    (`CI=true`), where the specs must be present (tests/specs.py)."""
    return specs.load_spec_check(SPEC, prose={"POST /connect/token": client_credentials})


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


def wire(sandbox: VismaNetSandbox, check: SpecCheck | None, *, tenant: str = "kunde-1", timeout: float = 30.0,
         **settings: Any) -> Wired:
    context = TargetContext(tenant=tenant, settings=settings_for(sandbox, timeout=timeout, **settings),
                            secrets=MemorySecrets({"visma-net-secret": sandbox.client_secret}), blobs=MemoryBlobs(),
                            exchanges=MemoryExchanges(), tables=MemoryTables())
    return Wired(sandbox, context, SpecCheckingTransport(check))
