"""Xledger over HTTP: the token auth, GraphQL's error shape read into our errors, and the one way to run a query.

- Auth: `Authorization: token <API token>` (the literal word `token`; xledger/graphql-samples GraphQLClient.cs).
- Every request is `POST <endpoint>` with `{query, variables}`. GraphQL answers errors in the body, usually with
  HTTP 200, so the HTTP stack (which reads statuses) hands back the response and `GraphQL.run` reads `errors`:
  - Xledger's top-level `code`: `BAD_REQUEST.BURST_RATE_LIMIT_REACHED` and `…CONCURRENCY_LIMIT_REACHED` are
    refusals before anything ran, waited out and sent again (as a 429); `…INSUFFICIENT_CREDITS` is the
    customer's to fix (ConfigError).
  - a query that breaks Xledger's schema (`Cannot query field`, `GRAPHQL_VALIDATION_FAILED`) is ours to fix
    (ConfigError, so it stops instead of retrying); "bad format for api token", a token without access to a
    field: ConfigError in the customer's words.
  - "your query timed out" after a mutation may have run: OutcomeUnknown; otherwise TransientError.
  - anything else is Xledger refusing the data: DataError with its messages (GraphQL-level problems carry
    `inputs[N].node.<field>` where Xledger says so, which `batch.py` maps back to our lines).
- Request ids: `X-Request-Id` [unverified that Xledger sends one] or an error's `extensions.requestId`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping
from decimal import Decimal
from typing import Any

import httpx

from connectors.http import MAX_TRIES, REQUEST_ID_HEADERS, Dialect, ProviderError, backoff, send
from connectors.targets.xledger.descriptor import DESCRIPTOR, NAME
from pipeline.errors import BilagsbroError, ConfigError, DataError, OutcomeUnknown, TransientError
from pipeline.ports import ExchangeLog

LIMITS = frozenset({"BAD_REQUEST.BURST_RATE_LIMIT_REACHED", "BAD_REQUEST.CONCURRENCY_LIMIT_REACHED"})
CREDITS = "BAD_REQUEST.INSUFFICIENT_CREDITS"
ACCESS = frozenset({"FORBIDDEN", "UNAUTHORIZED", "UNAUTHENTICATED", "AUTH_NOT_AUTHORIZED"})


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _extensions(error: Mapping[str, Any]) -> dict[str, Any]:
    found = error.get("extensions")
    return found if isinstance(found, dict) else {}


def _code(error: Mapping[str, Any]) -> str | None:
    extensions = _extensions(error)
    found = error.get("code") or extensions.get("code")
    return str(found) if found else None


def xledger_error(response: httpx.Response) -> ProviderError:
    """GraphQL's `errors` (Xledger's top-level `code` kept) from an HTTP error answer, else its text."""
    errors = _errors(response)
    if not errors:
        text = response.text.strip()[:500] if response.content else ""
        return ProviderError(text or None)
    messages = tuple(str(e.get("message")) for e in errors)
    return ProviderError(messages[0], messages[1:], _extensions(errors[0]).get("requestId"), _code(errors[0]))


DIALECT = Dialect.of(DESCRIPTOR, error_body=xledger_error, request_id_headers=("x-request-id", *REQUEST_ID_HEADERS))


class TokenAuth(httpx.Auth):
    """Xledger's API token on every request."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:  # never the token
        return "TokenAuth()"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"token {self._token}"
        yield request


def encode(value: Any) -> bytes:
    """JSON with Decimals as their exact text (Xledger's amounts are strings: "-250.00"), æøå as UTF-8."""
    return json.dumps(value, ensure_ascii=False, default=lambda o: str(o) if isinstance(o, Decimal) else None
                      ).encode("utf-8")


def refusal(response: httpx.Response, errors: list[dict[str, Any]], *, tenant: str | None, reference: str | None,
            mutation: bool) -> BilagsbroError:
    """Which of our errors a GraphQL `errors` answer is (the module docstring's table)."""
    messages = [str(e.get("message") or "") for e in errors]
    codes = {c for c in map(_code, errors) if c}
    said = "; ".join(m for m in messages if m)[:2000] or None
    context: dict[str, Any] = {"tenant": tenant, "reference": reference, "connector": NAME,
                               "status": response.status_code, "provider_message": said,
                               "request_id": response.headers.get("x-request-id") or xledger_error(response).request_id}
    lowered = said.lower() if said else ""
    if codes & LIMITS:
        return TransientError("Xledger's rate limit: the request was refused before it ran", **context)
    if CREDITS in codes:
        return ConfigError("Xledger has no GraphQL credits left for this entity: the customer must add credits "
                           "(or wait for the next month's allowance)", **context)
    if codes & ACCESS or "no access" in lowered or "not authorized" in lowered:
        return ConfigError("Xledger's API token lacks access to what Bilagsbro uses: give the token read access to "
                           "the registers and read and write access to GL import", **context)
    if "api token" in lowered:
        return ConfigError("Xledger refused the API token: generate a new one (Administration → Access Control → "
                           "GraphQL → API tokens) and connect again", **context)
    if "GRAPHQL_VALIDATION_FAILED" in codes or "cannot query field" in lowered:
        return ConfigError("Xledger refused Bilagsbro's query as not fitting its schema: this is Bilagsbro's to "
                           "fix, not the customer's", **context)
    if "timed out" in lowered:
        if mutation:
            return OutcomeUnknown("Xledger: the import timed out on Xledger's side; it may have taken effect",
                                  **context)
        return TransientError("Xledger: the query timed out on Xledger's side", **context)
    return DataError("Xledger refused it", **context)


class GraphQL:
    """Runs queries and mutations against one connection's endpoint through the shared HTTP stack."""

    def __init__(self, client: httpx.Client, endpoint: str, *, tenant: str, sleep: Callable[[float], None]) -> None:
        self.client, self.endpoint, self.tenant, self.sleep = client, endpoint, tenant, sleep

    def run(self, query: str, variables: Mapping[str, Any] | None = None, *, reference: str | None = None,
            exchanges: ExchangeLog | None = None, mutation: bool = False) -> dict[str, Any]:
        """`data` of the answer; raises our error for `errors`. A query is idempotent (retried on 5xx and
        timeouts by the stack); a mutation is not (OutcomeUnknown after it was sent)."""
        content = encode({"query": query, "variables": dict(variables or {})})
        for attempt in range(MAX_TRIES):
            response = send(self.client, "POST", self.endpoint, dialect=DIALECT, content=content,
                            headers={"Content-Type": "application/json; charset=utf-8"}, tenant=self.tenant,
                            reference=reference, sleep=self.sleep, exchanges=exchanges, idempotent=not mutation)
            body = response.json(parse_float=Decimal)
            errors = _errors(response)
            if not errors:
                data = body.get("data") if isinstance(body, dict) else None
                return dict(data or {})
            error = refusal(response, errors, tenant=self.tenant, reference=reference, mutation=mutation)
            if isinstance(error, TransientError) and not isinstance(error, OutcomeUnknown) \
                    and attempt < MAX_TRIES - 1:
                self.sleep(backoff(attempt, response, dialect=DIALECT))
                continue
            error.graphql_errors = errors  # type: ignore[attr-defined]  # batch.py maps them to our lines
            raise error
        raise AssertionError("unreachable")  # pragma: no cover
