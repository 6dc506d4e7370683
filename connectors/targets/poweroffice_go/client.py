"""PowerOffice GO over HTTP: its dialect for the shared stack (error bodies, rate-limit wait) and its OAuth token.

- Auth (reference/target-apis.md §2.1; pacely-ai/poweroffice-node `scripts/auth-endpoint.json`): `POST …/OAuth/Token`
  with `Authorization: Basic base64(applicationKey:clientKey)`, the header `Ocp-Apim-Subscription-Key` and the form
  body `grant_type=client_credentials` → `{"access_token", "token_type": "bearer", "expires_in"}`; then every call
  carries `Authorization: Bearer …` **and** the subscription key. Tokens live 20 minutes (1200 s observed; the
  spec's example says 600): the lifetime is read from `expires_in`, and PowerOffice recommends renewing before it
  runs out rather than after a 401, so a token is renewed when less than a minute (a quarter of its life) is left —
  and once more on a 401 all the same.
- Errors: the token endpoint answers RFC 6749 (`{"error": "invalid_client", "error_description": "Client
  integration not found. Please ensure the provided keys are matching the desired environment."}`, 400); the API
  answers ProblemDetails (`{"type","title","status","detail","instance"}`, plus ASP.NET's `traceId` and `errors`
  [unverified: the generated clients show only the five RFC 7807 fields]); the API gateway answers a wrong or
  missing subscription key with 401 `{"statusCode": 401, "message": "Access denied due to invalid subscription
  key. …"}` [unverified for PowerOffice: Azure API Management's standard answer, which GO runs behind].
- Rate limit: 10 requests per second per subscription key, across every client ("wait at least one second and
  then retry"); a 429 says `{"statusCode": "429", "message": "Rate limit is exceeded. Try again in 1 seconds."}`.
  The wait is `Retry-After` when present [3p: clients read it], else the seconds the message names, else 1.
  Better not to be refused at all: every connection of this process that shares a subscription key paces its
  requests (`Pace`, the connection setting `requests_per_second`, GO's 10 by default), so a burst of workers waits
  its turn instead of collecting 429s. Other processes with the same key still meet 429s, and ride them out.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Generator

import httpx

from connectors.http import Dialect, ProviderError, error_from_response, json_error, seconds
from connectors.targets.poweroffice_go.descriptor import DESCRIPTOR
from connectors.targets.poweroffice_go.mapping import NAME, SUBSCRIPTION_HEADER, TITLE
from pipeline import redaction
from pipeline.errors import ConfigError

_TRY_AGAIN = re.compile(r"[Tt]ry again in (\d+) seconds?")
SUBSCRIPTION_REFUSED = "subscription key"  # "Access denied due to invalid (missing) subscription key. …"


def go_error(response: httpx.Response) -> ProviderError:
    """ProblemDetails, OAuth errors and the gateway's `{"statusCode", "message"}` in the provider's words."""
    said = json_error(response)
    if response.status_code == 401 and SUBSCRIPTION_REFUSED in (said.message or "").lower():
        return ProviderError(said.message, said.details, said.request_id, said.code, remedy=ConfigError)
    return said


def go_wait(response: httpx.Response) -> float | None:
    """Seconds to wait after a 429: Retry-After, else "Try again in N seconds", else PowerOffice's one second."""
    hinted = seconds(response.headers.get("Retry-After"))
    if hinted is not None:
        return hinted
    if response.status_code != 429:
        return None
    found = _TRY_AGAIN.search(response.text or "")
    return float(found.group(1)) if found else 1.0


DIALECT = Dialect.of(DESCRIPTOR, error_body=go_error, wait=go_wait,
                     request_id_headers=("request-id", "x-request-id", "x-ms-request-id", "apim-request-id"))


class Pace:
    """At most `rate` requests in any rolling second (and a little): shared by every connection of this process that
    uses one subscription key, since GO counts them together."""

    WINDOW = 1.1  # seconds: a little more than GO's second, so arrivals bunched on the way still fit

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate, self._clock, self._sleep = max(1, int(rate)), clock, sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.WINDOW:
                    self._sent.popleft()
                if len(self._sent) < self.rate:
                    self._sent.append(now)
                    return
                delay = self.WINDOW - (now - self._sent[0])
            self._sleep(max(delay, 0.001))


_paces: dict[tuple[str, int], Pace] = {}
_paces_lock = threading.Lock()


def pace_for(subscription_key: str, rate: float) -> Pace:
    """The process's pace for one subscription key (by a digest: the key itself is never kept as a name)."""
    key = (hashlib.sha256(subscription_key.encode()).hexdigest()[:16], int(rate))
    with _paces_lock:
        return _paces.setdefault(key, Pace(rate))


class GoToken(httpx.Auth):
    """OAuth 2 client credentials for PowerOffice GO: one token per connection, shared by every worker, renewed
    before it expires and once on a 401; the subscription key on every request, the token request included."""

    requires_response_body = True

    def __init__(self, token_url: str, application_key: str, client_key: str, subscription_key: str, *,
                 clock: Callable[[], float] = time.monotonic, pace: Pace | None = None) -> None:
        self._pace = pace
        self._token_url = token_url
        self._basic = base64.b64encode(f"{application_key}:{client_key}".encode()).decode("ascii")
        self._subscription = subscription_key
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()
        redaction.remember(self._basic)

    def __repr__(self) -> str:  # never the keys
        return f"GoToken(token_url={self._token_url!r})"

    def _token_request(self, cause: httpx.Request) -> httpx.Request:
        # The cause's extensions carry its document's exchange log: the token request is recorded there too.
        return httpx.Request("POST", self._token_url, content=b"grant_type=client_credentials", headers={
            "Authorization": f"Basic {self._basic}", SUBSCRIPTION_HEADER: self._subscription,
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Accept": "application/json"},
            extensions=dict(cause.extensions))

    def _issued(self, response: httpx.Response) -> str:
        if response.status_code >= 400:
            error = error_from_response(response, dialect=DIALECT)
            said = (error.provider_message or "").lower()
            if SUBSCRIPTION_REFUSED in said:
                raise ConfigError(f"{TITLE} refused the subscription key (Ocp-Apim-Subscription-Key): Bilagsbro's "
                                  "operator must check it", connector=NAME, status=error.status,
                                  provider_message=error.provider_message, request_id=error.request_id)
            if response.status_code in (400, 401, 403):
                raise ConfigError(f"{TITLE} does not know this client key with Bilagsbro's application key: check the "
                                  "client key copied from GO (Innstillinger → Utvidelser) and that base_url is the "
                                  "environment it belongs to (production or demo)", connector=NAME,
                                  status=error.status, provider_message=error.provider_message,
                                  request_id=error.request_id)
            raise error
        try:
            body = response.json()
            token, lifetime = str(body["access_token"]), float(body.get("expires_in") or 600)
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{TITLE}'s token answer has no access_token; is the token URL right "
                              f"({self._token_url})?", connector=NAME, status=response.status_code) from None
        redaction.remember(token)
        self._renew_at = self._clock() + lifetime - min(60.0, lifetime / 4)
        return token

    def _paced(self, request: httpx.Request) -> httpx.Request:
        if self._pace is not None:
            self._pace.wait()
        return request

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[SUBSCRIPTION_HEADER] = self._subscription
        token = self._token
        if token is None or self._clock() >= self._renew_at:
            with self._lock:  # one token for every worker that needs one now
                if self._token is None or self._clock() >= self._renew_at:
                    self._token = self._issued((yield self._paced(self._token_request(request))))
                token = self._token
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield self._paced(request)
        if response.status_code == 401 and SUBSCRIPTION_REFUSED not in response.text.lower():
            with self._lock:  # revoked or expired early: one new token, unless another worker made it meanwhile
                if self._token in (None, token):
                    self._token = self._issued((yield self._paced(self._token_request(request))))
                token = self._token
            request.headers["Authorization"] = f"Bearer {token}"
            yield self._paced(request)
