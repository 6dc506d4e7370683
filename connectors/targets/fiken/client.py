"""Fiken over HTTP: its dialect for the shared stack, and its auth — a bearer token, one request at a time.

- Auth (spec, "Personal API tokens" and "Authorization with OAuth2"): `Authorization: Bearer <token>`, the token
  either a personal API token (never expires) or an OAuth access token. An access token is bought with the
  refresh token at `POST https://fiken.no/oauth/token` (HTTP Basic client id:secret,
  `grant_type=refresh_token&refresh_token=…`) → `{access_token, refresh_token, token_type, expires_in}`; the answer
  may carry a *new* refresh token ("a possibly updated refresh token"), which replaces the stored one at once;
  a refused one answers `{"error": "invalid_grant", "error_description": …}`. An access token is renewed before
  it expires and once on a 401.
- "You are only allowed to make a single concurrent API-request. Sending multiple requests concurrently may result
  in a 429 error response. If you break this rule you might be banned." So every request of one key waits for
  the one before it (`Gate`), within this process; a second process (another function host) can still collide,
  and its 429 is waited out and sent again like any 429.
- "We recommend sending the X-Request-ID header with all requests": each request gets a UUID, which is what an
  error names as its request id. [unverified] that Fiken echoes it in its answer; our own id is known anyway.
- Errors: the spec documents no error body for the API. [unverified] its shape: the common ones are read
  (`message`, `error`/`error_description` as its token endpoint documents, RFC 7807); a refused refresh token is a
  ConfigError, whatever its status.
- Rate limit: no rate-limit headers are documented; a 429 is waited out by `Retry-After` when given [unverified],
  else by backoff.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Generator

import httpx

from connectors.http import Dialect, ProviderError, error_from_response, json_error
from connectors.targets.fiken.descriptor import DESCRIPTOR
from connectors.targets.fiken.mapping import NAME
from pipeline import redaction
from pipeline.errors import ConfigError

REFUSED_GRANTS = ("invalid_grant", "invalid_client", "unauthorized_client", "invalid_request")
RENEW_BEFORE = 0.1  # renew an access token when a tenth of its life is left


def fiken_error(response: httpx.Response) -> ProviderError:
    """The common error shapes; OAuth's refusals of a grant or client are configuration, whatever the status."""
    said = json_error(response)
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return said
    code = body.get("error") if isinstance(body, dict) else None
    if code in REFUSED_GRANTS:
        return ProviderError(said.message, said.details, said.request_id, str(code), remedy=ConfigError)
    return ProviderError(said.message, said.details, said.request_id, said.code or (str(code) if code else None))


DIALECT = Dialect.of(DESCRIPTOR, error_body=fiken_error)  # request id: X-Request-ID, which we send (and Fiken echoes)

_gates: dict[str, threading.Lock] = {}
_gates_lock = threading.Lock()


def gate(key: str) -> threading.Lock:
    """The one lock of a key (by its digest): two tenants sharing an accountant's token share its gate too."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    with _gates_lock:
        return _gates.setdefault(digest, threading.Lock())


class OAuth:
    """A refresh token and the app it belongs to; keeps the current access token and saves a rotated refresh token."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, refresh_token: str,
                 save: Callable[[str], None]) -> None:
        self.token_url, self.client_id, self.refresh_token = token_url, client_id, refresh_token
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        redaction.remember(self._basic)
        self._save = save
        self.access: str | None = None
        self.renew_at = 0.0

    def request(self, cause: httpx.Request) -> httpx.Request:
        # Same extensions as the request that needed it: its exchange log records this one too.
        return httpx.Request("POST", self.token_url, headers={"Authorization": f"Basic {self._basic}",
                                                              "Accept": "application/json"},
                             data={"grant_type": "refresh_token", "refresh_token": self.refresh_token},
                             extensions=dict(cause.extensions))

    def take(self, response: httpx.Response) -> str:
        response.read()
        if response.status_code >= 400:
            error = error_from_response(response, dialect=DIALECT)
            if response.status_code in (400, 401, 403) or isinstance(error, ConfigError):
                raise ConfigError("Fiken refused the OAuth refresh token: the customer must approve Bilagsbro's "
                                  "Fiken app again (the consent was withdrawn or the token is spent), or the app's "
                                  "client id or secret is wrong", connector=NAME, status=error.status,
                                  provider_message=error.provider_message, request_id=error.request_id)
            raise error
        try:
            answer = response.json()
            access = str(answer["access_token"])
            lifetime = float(answer.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise ConfigError("Fiken's token endpoint gave no access token; is token_url Fiken's "
                              "(https://fiken.no/oauth/token)?", connector=NAME, status=response.status_code) from None
        redaction.remember(access)
        rotated = answer.get("refresh_token")
        if rotated and rotated != self.refresh_token:
            redaction.remember(str(rotated))
            self._save(str(rotated))  # the old one may be spent now: keep the new one before anything else
            self.refresh_token = str(rotated)
        self.access = access
        self.renew_at = time.monotonic() + lifetime * (1 - RENEW_BEFORE)
        return access


class FikenAuth(httpx.Auth):
    """Bearer auth for one Fiken key, one request at a time; with `oauth`, the access token is bought and renewed."""

    requires_response_body = True

    def __init__(self, *, token: str | None = None, oauth: OAuth | None = None) -> None:
        if (token is None) == (oauth is None):
            raise ValueError("a personal API token or OAuth, one of them")
        self._token, self._oauth = token, oauth
        if token is not None:
            redaction.remember(token)
        self._gate = gate(token if token is not None else f"oauth:{oauth.client_id}:{oauth.refresh_token}")  # type: ignore[union-attr]

    def __repr__(self) -> str:  # never the token
        return f"FikenAuth({'oauth' if self._oauth else 'personal token'})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Request-ID"] = str(uuid.uuid4())
        with self._gate:  # Fiken: "a single concurrent API-request"
            oauth = self._oauth
            if oauth is not None and (oauth.access is None or time.monotonic() >= oauth.renew_at):
                oauth.take((yield oauth.request(request)))
            request.headers["Authorization"] = f"Bearer {self._bearer()}"
            response = yield request
            if response.status_code == 401 and oauth is not None:
                oauth.take((yield oauth.request(request)))  # revoked or expired early: one new access token
                request.headers["Authorization"] = f"Bearer {self._bearer()}"
                request.headers["X-Request-ID"] = str(uuid.uuid4())
                yield request

    def _bearer(self) -> str:
        if self._oauth is not None:
            assert self._oauth.access is not None
            return self._oauth.access
        assert self._token is not None
        return self._token
