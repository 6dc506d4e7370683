"""Business NXT over HTTP: Visma Connect's client-credentials token (an httpx.Auth), the dialect for the shared
stack, and GraphQL's own error shape turned into our errors by remedy.

- Auth (docs.vismasoftware.no/businessnxtapi/authentication/service): `POST https://connect.visma.com/connect/token`
  with grant_type=client_credentials, client_id, client_secret and scope `business-graphql-service-api:access-group-
  based` → `{"access_token", "expires_in", "token_type": "Bearer"}`; refused credentials are OAuth 2 errors
  (`{"error": "invalid_client"}`). An expired or missing token is HTTP 401 with nginx's HTML page.
- GraphQL answers HTTP 200 whether or not it succeeded: `{"data": ..., "errors": [{"message", "locations",
  "path", "extensions": {"code", ...}}]}` (features/errors). Validation errors carry GraphQL.NET's codes
  (`FIELDS_ON_CORRECT_TYPE`, ...); access to a company is refused as "Could not get authorize user using
  VismaNetCompanyId: N ...".
- Rate limits (apireference/ratelimits): 600 requests a minute per token (HTTP 429 from the gateway) and 60
  requests in progress per company. [unverified] which headers the 429 carries: `Retry-After` is honoured.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Mapping
from typing import Any

import httpx

from connectors.http import Dialect, ProviderError, error_from_response, json_error
from connectors.targets.business_nxt.descriptor import DESCRIPTOR
from connectors.targets.business_nxt.mapping import NAME, SCOPE, TITLE
from pipeline import redaction
from pipeline.errors import BilagsbroError, ConfigError, DataError

RENEW_BEFORE = 60.0  # seconds before a token's expiry a new one is fetched
# GraphQL.NET's validation codes: the query itself is not what the schema takes (an API change, or our bug).
VALIDATION_CODES = frozenset({
    "FIELDS_ON_CORRECT_TYPE", "ARGUMENTS_OF_CORRECT_TYPE", "KNOWN_ARGUMENT_NAMES", "KNOWN_TYPE_NAMES",
    "PROVIDED_REQUIRED_ARGUMENTS", "VARIABLES_IN_ALLOWED_POSITION", "VARIABLES_ARE_INPUT_TYPES",
    "SCALAR_LEAFS", "NO_UNDEFINED_VARIABLES", "NO_UNUSED_VARIABLES", "VALUES_OF_CORRECT_TYPE", "SYNTAX_ERROR",
    "GRAPHQL_VALIDATION_FAILED", "INVALID_VALUE"})
ACCESS_WORDS = ("authorize", "access denied", "not authorized", "no access")


def nxt_error(response: httpx.Response) -> ProviderError:
    """An error answer that is not GraphQL's (401's HTML, the gateway's 429, a 5xx): its words, OAuth's too."""
    if response.status_code == 401:
        return ProviderError("401 Authorization Required (the access token was refused)")
    return json_error(response)


DIALECT = Dialect.of(DESCRIPTOR, error_body=nxt_error)


def graphql_errors(body: Mapping[str, Any], response: httpx.Response, *, tenant: str | None,
                   reference: str | None, operation: str) -> BilagsbroError | None:
    """GraphQL's `errors` as one of our errors (None when there are none), by remedy: access to the company →
    ConfigError; a query the schema does not take → ConfigError (nothing the data can fix); the rest → DataError,
    Business NXT's own words kept."""
    errors = [e for e in body.get("errors") or () if isinstance(e, Mapping)]
    if not errors:
        return None
    messages = [str(e.get("message") or "") for e in errors]
    codes = {str((e.get("extensions") or {}).get("code") or "") for e in errors}
    where = [".".join(str(p) for p in e.get("path") or ()) for e in errors]
    said = "; ".join(f"{m} (at {w})" if w else m for m, w in zip(messages, where, strict=True))
    context: dict[str, Any] = {"tenant": tenant, "reference": reference, "connector": NAME,
                               "status": response.status_code, "provider_message": said[:2000],
                               "request_id": response.headers.get("x-request-id")}
    what = f"{TITLE} {operation}"
    if any(word in m.lower() for m in messages for word in ACCESS_WORDS):
        return ConfigError(f"{what}: Business NXT refused access to the company: the integration's user needs a "
                           "«Connect Application Access» row for it", **context)
    if codes & VALIDATION_CODES or any(m.startswith("GraphQL.Validation") for m in messages):
        return ConfigError(f"{what}: Business NXT does not take Bilagsbro's query (its schema differs from the one "
                           "Bilagsbro was built against)", **context)
    return DataError(f"{what} was refused", **context)


class ConnectToken(httpx.Auth):
    """Visma Connect client credentials: one token per connection, shared by every worker, fetched again shortly
    before it expires and once on a 401."""

    requires_response_body = True

    def __init__(self, token_url: str, client_id: str, client_secret: str) -> None:
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()
        self.fetched = 0  # tokens fetched (tests and the bench count them)

    def __repr__(self) -> str:  # never the secret
        return f"ConnectToken(client_id={self._client_id!r})"

    def _request(self, cause: httpx.Request) -> httpx.Request:
        form = {"grant_type": "client_credentials", "client_id": self._client_id,
                "client_secret": self._client_secret, "scope": SCOPE}
        return httpx.Request("POST", self._token_url, data=form, extensions=dict(cause.extensions),
                             headers={"Accept": "application/json"})

    def _read(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            error = error_from_response(response, dialect=DIALECT, may_have_committed=False)
            if response.status_code in (400, 401, 403):
                raise ConfigError("Visma Connect refused the client id and secret: check both (and that the "
                                  "integration with «Business NXT GraphQL Service API» is approved)",
                                  connector=NAME, status=error.status, provider_message=error.provider_message,
                                  request_id=error.request_id)
            raise error
        try:
            answer = response.json()
            token = str(answer["access_token"])
            lifetime = float(answer.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise ConfigError("Visma Connect's answer has no access token: is token_url the token endpoint?",
                              connector=NAME, status=response.status_code) from None
        redaction.remember(token)
        self._token, self._expires = token, time.monotonic() + lifetime
        self.fetched += 1

    def _sign(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self._token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None or time.monotonic() > self._expires - RENEW_BEFORE:
            with self._lock:  # one token for every worker that needs one now
                if self._token is None or time.monotonic() > self._expires - RENEW_BEFORE:
                    self._read((yield self._request(request)))
        used = self._token
        self._sign(request)
        response = yield request
        if response.status_code == 401:  # revoked or expired early: one new token, unless another worker got one
            with self._lock:
                if self._token == used:
                    self._read((yield self._request(request)))
            self._sign(request)
            yield request
