"""Tripletex over HTTP: its dialect for the shared stack (error body, rate-limit headers) and its session auth.

- Errors: `{"status","code","message","developerMessage","validationMessages":[{"field","message",…}],
  "requestId"}` and an `x-tlx-request-id` header on every answer (reference/target-apis.md §1.7).
- Rate limit: `X-Rate-Limit-Reset` (seconds left in the period) beside `Retry-After`.
- Auth: a session token from consumer + employee token (`PUT /token/session/:create`), then HTTP Basic with
  user `0` (the employee's own company) or an accountant client's company id, password the token.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections.abc import Generator

import httpx

from connectors.http import REQUEST_ID_HEADERS, Dialect, ProviderError, error_from_response, waits_from
from connectors.targets.tripletex.descriptor import DESCRIPTOR
from connectors.targets.tripletex.mapping import NAME, SESSION_DAYS
from pipeline import redaction
from pipeline.errors import ConfigError


def tripletex_error(response: httpx.Response) -> ProviderError:
    """Tripletex's error envelope: the message, each validation message as 'field: message', the request id."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return ProviderError(response.text.strip()[:500] or None)
    if not isinstance(body, dict):
        return ProviderError(str(body)[:500])
    message = body.get("message")
    validations = []
    for item in body.get("validationMessages") or ():
        if isinstance(item, dict):
            where = item.get("field") or item.get("path")
            validations.append(f"{where}: {item.get('message')}" if where else str(item.get("message")))
    developer = body.get("developerMessage")
    if developer and developer != message and not validations:
        message = f"{message} ({developer})" if message else developer
    code = body.get("code")
    return ProviderError(str(message) if message else None, tuple(validations), body.get("requestId"),
                         str(code) if code is not None else None)


DIALECT = Dialect.of(DESCRIPTOR, error_body=tripletex_error, wait=waits_from("Retry-After", "X-Rate-Limit-Reset"),
                     request_id_headers=("x-tlx-request-id", *REQUEST_ID_HEADERS))


class SessionAuth(httpx.Auth):
    """Tripletex session auth: create a session token, send Basic `<company>:<token>`, renew once on 401.

    One per connection, shared by every worker: the first request opens the session while the others wait,
    so a burst of workers opens one session, not one each."""

    requires_response_body = True

    def __init__(self, base_url: str, consumer_token: str, employee_token: str, company_id: str = "0") -> None:
        self._base_url = base_url
        self._consumer_token = consumer_token
        self._employee_token = employee_token
        self._company_id = company_id
        self._token: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the tokens
        return f"SessionAuth(company_id={self._company_id!r})"

    def _create_request(self, cause: httpx.Request) -> httpx.Request:
        expires = dt.date.today() + dt.timedelta(days=SESSION_DAYS)
        # Same extensions as the request that needed the session: its exchange log records this one too.
        return httpx.Request("PUT", f"{self._base_url}/token/session/:create", params={
            "consumerToken": self._consumer_token, "employeeToken": self._employee_token,
            "expirationDate": expires.isoformat()}, extensions=dict(cause.extensions))

    def _session(self, response: httpx.Response) -> str:
        if response.status_code >= 400:
            error = error_from_response(response, dialect=DIALECT)
            if response.status_code in (401, 403, 404, 422):
                raise ConfigError("Tripletex refused the consumer/employee tokens: check them and the base URL",
                                  connector=NAME, status=error.status, provider_message=error.provider_message,
                                  request_id=error.request_id)
            raise error
        try:
            token = str(response.json()["value"]["token"])
        except (ValueError, KeyError, TypeError):
            raise ConfigError("Tripletex session answer has no token; is base_url the API (…/v2)?",
                              connector=NAME, status=response.status_code) from None
        redaction.remember(token)  # issued to us: a secret like the tokens that bought it
        return token

    def _sign(self, request: httpx.Request, token: str) -> None:
        basic = base64.b64encode(f"{self._company_id}:{token}".encode()).decode("ascii")
        redaction.remember(basic)
        request.headers["Authorization"] = f"Basic {basic}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._token
        if token is None:
            with self._lock:  # one session for every worker that needs one now
                token = self._token
                if token is None:
                    token = self._token = self._session((yield self._create_request(request)))
        self._sign(request, token)
        response = yield request
        if response.status_code == 401:
            # The session expired (or was revoked): one new session — unless another worker made it meanwhile.
            with self._lock:
                if self._token in (None, token):
                    self._token = self._session((yield self._create_request(request)))
                token = self._token
            self._sign(request, token)
            yield request
