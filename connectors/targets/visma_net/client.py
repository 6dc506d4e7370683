"""Visma.net over HTTP: its dialect for the shared stack (error bodies, rate-limit headers) and Visma Connect auth.

- Errors (reference/target-apis.md §7.1, §7.7): validation as `{"message": "VismaId: <uuid>. Error creating
  document. Error: …"}` (community.visma.com; the VismaId is the request id support asks for), and the platform's
  `{"ExceptionType": "IPPException", "ExceptionMessage", "ExceptionFaultCode", "ExceptionMessageID",
  "ExceptionDetails"}` — fault 12027 "No license for this company." is a tenant id that does not reach a licensed
  company: a settings problem whatever the status says.
- Rate limit (docs.vismasoftware.no/vismanetapi/how-tos/ratelimits): `X-RateLimit-Limit/-Remaining/-Reset`
  (seconds) and `X-RateLimit-Policy` on every answer; 429 with `Retry-After`.
- Auth: Visma Connect client credentials (`POST https://connect.visma.com/connect/token`, form `grant_type`,
  `client_id`, `client_secret`, `scope`, `tenant_id`) → a bearer token that lives `expires_in` seconds (3600 in
  Visma's examples). One per connection, renewed a minute before it expires and once on a 401.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Generator
from typing import Any

import httpx

from connectors.http import Dialect, ProviderError, error_from_response, json_error, waits_from
from connectors.targets.visma_net.descriptor import DESCRIPTOR
from connectors.targets.visma_net.mapping import NAME
from pipeline import redaction
from pipeline.errors import ConfigError

_VISMA_ID = re.compile(r"^\s*VismaId:\s*([0-9a-fA-F-]{8,})\.\s*", re.IGNORECASE)
LICENCE_FAULTS = {"12027"}  # "No license for this company."
RENEW_BEFORE = 60.0  # seconds before a token's end it is renewed


def visma_error(response: httpx.Response) -> ProviderError:
    """Visma.net's error bodies: the IPPException envelope, or `message` with the VismaId in front."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return json_error(response)
    if isinstance(body, dict) and ("ExceptionMessage" in body or "ExceptionType" in body):
        code = str(body.get("ExceptionFaultCode") or "") or None
        details = (str(body["ExceptionDetails"]),) if body.get("ExceptionDetails") else ()
        return ProviderError(str(body.get("ExceptionMessage") or body.get("ExceptionType")), details,
                             body.get("ExceptionMessageID"), code,
                             remedy=ConfigError if code in LICENCE_FAULTS else None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        text = body["message"]
        found = _VISMA_ID.match(text)
        return ProviderError(text[found.end():] if found else text, (), found.group(1) if found else None)
    return json_error(response)


DIALECT = Dialect.of(DESCRIPTOR, error_body=visma_error, wait=waits_from("Retry-After", "X-RateLimit-Reset"))

# What Visma Connect's token errors mean for the customer (OAuth 2.0 error codes, RFC 6749 §5.2; `invalid_tenant`
# as Visma Connect names a tenant that has not approved the application [unverified: seen in a third party's
# report]).
TOKEN_ERRORS = {
    "invalid_client": "Visma Connect refused the client id or client secret: check them in Visma Developer Portal",
    "invalid_scope": "the company has not granted Bilagsbro's integration the Visma.net ERP scopes it asks for "
                     "({scopes}): its administrator approves them in Visma App Store",
    "unauthorized_client": "the integration may not use client credentials for this tenant: it must be a service "
                           "integration the company's administrator has approved in Visma App Store",
}
TENANT = ("Visma Connect refused the tenant id {tenant}: the company's administrator must approve Bilagsbro in Visma "
          "App Store, and the tenant id must be that company's")


class VismaConnectAuth(httpx.Auth):
    """Visma Connect client credentials for one tenant: a bearer token shared by every worker of the connection."""

    requires_response_body = True

    def __init__(self, token_url: str, client_id: str, client_secret: str, tenant_id: str, scopes: tuple[str, ...],
                 *, clock: Any = time.monotonic) -> None:
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._tenant_id = tenant_id
        self.scopes = scopes
        self.granted: tuple[str, ...] = ()  # the scopes the last token carries
        self._clock = clock
        self._token: str | None = None
        self._until = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the secret or the token
        return f"VismaConnectAuth(tenant_id={self._tenant_id!r})"

    def _request(self, cause: httpx.Request) -> httpx.Request:
        form = {"grant_type": "client_credentials", "client_id": self._client_id, "client_secret": self._client_secret,
                "scope": " ".join(self.scopes), "tenant_id": self._tenant_id}
        # Same extensions as the request that needed the token: its exchange log records this one too.
        return httpx.Request("POST", self._token_url, data=form, headers={"Accept": "application/json"},
                             extensions=dict(cause.extensions))

    def _take(self, response: httpx.Response) -> str:
        if response.status_code in (400, 401, 403):
            try:
                said = response.json()
            except (ValueError, UnicodeDecodeError):
                said = {}
            code = str(said.get("error") or "") if isinstance(said, dict) else ""
            words = TOKEN_ERRORS.get(code, TENANT).format(scopes=", ".join(self.scopes), tenant=self._tenant_id)
            error = error_from_response(response, dialect=DIALECT)
            raise ConfigError(words, connector=NAME, status=response.status_code,
                              provider_message=error.provider_message, request_id=error.request_id)
        if response.status_code >= 300:
            raise error_from_response(response, dialect=DIALECT, may_have_committed=False)
        try:
            answer = response.json()
            token = str(answer["access_token"])
            lifetime = float(answer.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise ConfigError("Visma Connect's answer has no access token; is token_url Visma Connect's token "
                              "endpoint?", connector=NAME, status=response.status_code) from None
        redaction.remember(token)  # issued to us: a secret like the one that bought it
        self.granted = tuple(str(answer.get("scope") or " ".join(self.scopes)).split())
        self._until = self._clock() + max(0.0, lifetime - RENEW_BEFORE)
        return token

    def _valid(self) -> str | None:
        return self._token if self._token is not None and self._clock() < self._until else None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._valid()
        if token is None:
            with self._lock:  # one token for every worker that needs one now
                token = self._valid()
                if token is None:
                    token = self._token = self._take((yield self._request(request)))
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and not _licence(response):
            # The token ended early (revoked, or clocks apart): one new token — unless another worker made it.
            with self._lock:
                if self._token in (None, token):
                    self._token = self._take((yield self._request(request)))
                token = self._token
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


def _licence(response: httpx.Response) -> bool:
    """A 401 that is about the company, not the token: a new token would not help."""
    return visma_error(response).remedy is ConfigError
