"""Test support for Fiken: its official OpenAPI spec as a request checker, and the connector wired to a sandbox.

Every request the connector sends goes through `SpecCheckingTransport` (tests/specs.py) against
`../shared/specs/fiken/fiken-api-v2.yaml`. The OAuth token endpoint is described only in the spec's prose
("Token Endpoint", "Refresh Tokens"): `token_request` checks it as written there — `POST .../oauth/token`,
`Content-Type: application/x-www-form-urlencoded`, HTTP Basic with the client id and secret, and the parameters
each grant type requires.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

from connectors.targets.fiken.target import FikenTarget
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.ports import TargetContext
from sandboxes.fiken import FikenSandbox
from tests import specs
from tests.specs import SpecCheck, SpecCheckingTransport

SPEC = "fiken/fiken-api-v2.yaml"
GRANTS = {"refresh_token": ("refresh_token",), "authorization_code": ("code", "redirect_uri")}


def token_request(request: httpx.Request) -> list[str]:
    """The token endpoint as the spec's prose describes it."""
    where = f"{request.method} {request.url.path}"
    problems = []
    if request.headers.get("content-type", "").split(";")[0] != "application/x-www-form-urlencoded":
        problems.append(f"{where}: not sent as application/x-www-form-urlencoded")
    auth = request.headers.get("authorization", "")
    try:
        client = base64.b64decode(auth.removeprefix("Basic ")).decode("utf-8") if auth.startswith("Basic ") else ""
    except (ValueError, UnicodeDecodeError):
        client = ""
    if ":" not in client:
        problems.append(f"{where}: no HTTP Basic authentication with the client id and secret")
    form = {k: v[-1] for k, v in parse_qs(request.content.decode("utf-8")).items()}
    grant = form.get("grant_type", "")
    if grant not in GRANTS:
        problems.append(f"{where}: grant_type {grant!r} is not one the spec describes ({', '.join(GRANTS)})")
    else:
        problems.extend(f"{where}: {name} missing for grant_type {grant}" for name in GRANTS[grant] if not form.get(name))
    return problems


def spec_check() -> SpecCheck | None:
    """Fiken's spec as a request checker (parsed once per run); None when ../shared/specs is absent (CI: failure)."""
    return specs.load_spec_check(SPEC, prose={"POST /oauth/token": token_request})


@dataclass
class Wiring:
    """The Fiken target wired to a running sandbox, with what a test looks at."""

    sandbox: FikenSandbox
    context: TargetContext
    transport: SpecCheckingTransport
    waits: list[float] = field(default_factory=list)

    def target(self, **settings: Any) -> FikenTarget:
        context = self.context
        if settings:
            context = TargetContext(tenant=context.tenant, settings={**context.settings, **settings},
                                    secrets=context.secrets, blobs=context.blobs, exchanges=context.exchanges,
                                    cache=context.cache, tables=context.tables, transport=context.transport,
                                    sleep=context.sleep)
        return FikenTarget(context)

    @property
    def exchanges(self) -> MemoryExchanges:
        assert isinstance(self.context.exchanges, MemoryExchanges)
        return self.context.exchanges

    @property
    def secrets(self) -> MemorySecrets:
        assert isinstance(self.context.secrets, MemorySecrets)
        return self.context.secrets

    def close(self) -> None:
        from connectors.http import close

        close(self.context)


def wiring(sandbox: FikenSandbox, check: SpecCheck | None, *, tenant: str = "kunde-1", timeout: float = 30.0,
           oauth: bool = False, direct_posting: bool = True, secrets_from: MemorySecrets | None = None,
           **settings: Any) -> Wiring:
    """A tenant connected to the sandbox: by personal API token, or by OAuth (refresh token and client secret);
    `secrets_from` another wiring's store (what a second host reads); `settings` override (e.g. `secrets={}`)."""
    if oauth:
        secrets = secrets_from or MemorySecrets({"fiken-refresh": "sandbox-refresh-token",
                                                 "fiken-client": "sandbox-client-secret"})
        keys: dict[str, Any] = {"secrets": {"refresh_token": "fiken-refresh", "client_secret": "fiken-client"},
                                "client_id": "bilagsbro-sandbox-app", "token_url": sandbox.token_url}
    else:
        secrets = secrets_from or MemorySecrets({"fiken-token": "sandbox-personal-token"})
        keys = {"secrets": {"api_token": "fiken-token"}}
    waits: list[float] = []
    transport = SpecCheckingTransport(check)
    context = TargetContext(
        tenant=tenant,
        settings={"base_url": sandbox.base_url, "company_slug": sandbox.company.slug, "timeout": timeout,
                  "direct_posting": direct_posting, **keys, **settings},
        secrets=secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(), tables=MemoryTables(),
        transport=transport, sleep=waits.append)
    return Wiring(sandbox, context, transport, waits)
