"""The Omnium REST client: token auth as an `httpx.Auth` flow, Search and Scroll, on the shared HTTP stack.

API: https://docs.omnium.no/docs/GettingStartedWithAPI/api-developer-guide (facts we rely on:
../shared/reference/target-apis.md §9). Sending, retries, `Retry-After` and the status table are
`connectors.http`'s; Omnium's dialect says only what differs: a 500 is a crash in the middle of paging, which
the pull's own resumption (watermark, lease) handles, so only 429 and 503 are retried in the call.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx

from connectors.http import Dialect, error_from_response, send
from connectors.sources.omnium.booking import NAME, order_key
from connectors.sources.omnium.descriptor import DESCRIPTOR
from pipeline import redaction
from pipeline.errors import BilagsbroError, ConfigError, TransientError
from pipeline.ports import NotFound, SecretStore

TAKE = 100  # Search answers 400 above 100 per page
SEARCH_WINDOW = 10_000  # take * page may not exceed this; past it, Scroll
SCROLL_TAKE = 100  # [unverified] the largest page a scroll allows; 100 is always accepted
TOKEN_RENEW_BEFORE = dt.timedelta(minutes=1)

# -- errors ----------------------------------------------------------------------------------------


def _operation(request: httpx.Request) -> str:
    return "token request" if request.url.path.lower().endswith("/api/token") else f"{request.method} {request.url.path}"


DIALECT = Dialect.of(DESCRIPTOR, operation=_operation, retry_statuses=frozenset({429, 503}))


def error_for(response: httpx.Response, *, tenant: str | None = None) -> BilagsbroError:
    """An Omnium answer as an error split by remedy (the shared status table, Omnium's dialect)."""
    return error_from_response(response, dialect=DIALECT, tenant=tenant, may_have_committed=False)


# -- auth ------------------------------------------------------------------------------------------


class OmniumToken(httpx.Auth):
    """Bearer token from `POST /api/Token`, fetched on first use, renewed before expiry and after a 401."""

    requires_response_body = True

    def __init__(self, client_id: str, client_secret: str, *, tenant: str | None = None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._tenant = tenant
        self._clock = clock
        self._token: str | None = None
        self._expires = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._lock = threading.Lock()
        self.renewals = 0

    def _token_request(self, request: httpx.Request) -> httpx.Request:
        url = request.url.copy_with(path="/api/Token", query=None).copy_merge_params(
            {"clientId": self._client_id, "clientSecret": self._client_secret, "returnAsJson": "true"})
        return httpx.Request("POST", url)

    def _store(self, response: httpx.Response) -> None:
        if response.status_code in (400, 401, 403):
            raise ConfigError("Omnium refused the API user's client id or secret", tenant=self._tenant,
                              connector=NAME, status=response.status_code, provider_message=response.text[:300])
        if response.status_code != 200:
            raise error_for(response, tenant=self._tenant)
        body = response.json()
        with self._lock:
            self._token = body["accessToken"]
            redaction.remember(self._token)
            self._expires = self._clock() + dt.timedelta(seconds=int(body.get("expiresIn", 0)))
            self.renewals += 1

    def _current(self) -> str | None:
        with self._lock:
            if self._token is None or self._clock() >= self._expires - TOKEN_RENEW_BEFORE:
                return None
            return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # A token request answered 429 or 5xx ends the flow with that answer: the caller's back-off
        # (`OmniumClient._send`, Retry-After honoured) then waits and tries the whole call again.
        token = self._current()
        if token is None:
            answer = yield self._token_request(request)
            if _passing(answer):
                return
            self._store(answer)
            token = self._current() or self._token
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:  # revoked or expired early: one fresh token, one more try
            answer = yield self._token_request(request)
            if _passing(answer):
                return
            self._store(answer)
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request


def _passing(response: httpx.Response) -> bool:
    """A rate limit or a server fault: worth waiting for, not a verdict on the credentials."""
    return response.status_code == 429 or response.status_code >= 500


# -- the client ------------------------------------------------------------------------------------


class OmniumClient:
    """Reads orders from one Omnium tenant; the change feed `pipeline.pulls.watermark` consumes (`changed`, `key`)."""

    page_size = TAKE

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        tenant: str | None = None,
        stores: Sequence[str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 6,
        max_wait: float = 60.0,
        search_window: int = SEARCH_WINDOW,
        timeout: float = 30.0,
    ) -> None:
        self.tenant = tenant
        self.stores = list(stores) if stores else None
        self.auth = OmniumToken(client_id, client_secret, tenant=tenant)
        self._http = httpx.Client(base_url=base_url.rstrip("/"), auth=self.auth, transport=transport,
                                  timeout=timeout, headers={"Accept": "application/json"})
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._max_wait = max_wait
        self.search_window = search_window
        self.waits: list[float] = []  # every back-off taken, for the trace and for tests

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OmniumClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One call through the shared stack: every Omnium call reads, so each may be tried again."""
        content = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        response = send(self._http, method, path, dialect=DIALECT, tenant=self.tenant, content=content,
                        headers={"Content-Type": "application/json"} if content is not None else None,
                        sleep=self._wait, tries=self._max_attempts, cap=self._max_wait, idempotent=True)
        return dict(json.loads(response.content, parse_float=Decimal))

    def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self._sleep(seconds)

    def search(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /api/Orders/Search`: one page, `{result, totalHits, …}`."""
        return self._send("POST", "/api/Orders/Search", {"disableFacets": True, **request})

    def _window(self, modified_from: dt.datetime | None, modified_to: dt.datetime | None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if modified_from is not None:
            body["modifiedFrom"] = modified_from.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        if modified_to is not None:
            body["modifiedTo"] = modified_to.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        if self.stores:
            body["selectedStores"] = self.stores
        return body

    def changed(self, since: dt.datetime, until: dt.datetime, *, page: int = 0) -> list[dict[str, Any]]:
        """Orders with since ≤ modified ≤ until, oldest change first, one page of `page_size`."""
        body = {**self._window(since, until), "sortOrder": "ModifiedAscending", "take": self.page_size, "page": page}
        return list(self.search(body).get("result") or [])

    @staticmethod
    def key(order: Mapping[str, Any]) -> tuple[dt.datetime, str]:
        return order_key(order)

    def orders(self, *, modified_from: dt.datetime | None = None, modified_to: dt.datetime | None = None,
               **filters: Any) -> Iterator[list[dict[str, Any]]]:
        """Every order in a window, page by page: Search while it can page, Scroll when the window holds more.

        Search stops at take * page ≤ 10,000; a window with more hits is read through a scroll, which is
        also a consistent snapshot.
        """
        body = {**self._window(modified_from, modified_to), "sortOrder": "ModifiedAscending", **filters}
        first = self.search({**body, "take": TAKE, "page": 0})
        if int(first.get("totalHits") or 0) > self.search_window:
            yield from self.scroll(body)
            return
        page, result = 0, list(first.get("result") or [])
        while result:
            yield result
            if len(result) < TAKE:
                return
            page += 1
            if TAKE * page > self.search_window:  # the window grew past Search's reach while we paged
                raise TransientError("Omnium search window grew past 10,000 hits while paging; retry",
                                     tenant=self.tenant, connector=NAME)
            result = list(self.search({**body, "take": TAKE, "page": page}).get("result") or [])

    def scroll(self, request: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """`POST /api/Orders/Scroll`, then `GET /api/Orders/Scroll/{scrollId}` until `result` is empty."""
        answer = self._send("POST", "/api/Orders/Scroll", {**request, "take": SCROLL_TAKE})
        while answer.get("result"):
            yield list(answer["result"])
            scroll_id = answer.get("scrollId")
            if not scroll_id:
                return
            answer = self._send("GET", f"/api/Orders/Scroll/{scroll_id}")


def connect(settings: Mapping[str, Any], secrets: SecretStore, *, tenant: str | None = None,
            **client_options: Any) -> OmniumClient:
    """The client for one tenant from its settings and the secret store.

    settings: `base_url` (e.g. https://api.omnium.no, https://apitest.omnium.no), `client_id`,
    `client_secret_name` (the secret's name in the store; default `omnium-client-secret`), optional `stores`.
    """
    base_url = settings.get("base_url")
    client_id = settings.get("client_id")
    if not base_url or not client_id:
        raise ConfigError("Omnium needs settings base_url and client_id", tenant=tenant, connector=NAME)
    secret_name = str(settings.get("client_secret_name") or "omnium-client-secret")
    try:
        secret = secrets.get(secret_name)
    except NotFound:
        raise ConfigError(f"secret {secret_name!r} (Omnium client secret) is missing", tenant=tenant,
                          connector=NAME) from None
    return OmniumClient(str(base_url), str(client_id), secret, tenant=tenant, stores=settings.get("stores"),
                        **client_options)


