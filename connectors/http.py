"""HTTP plumbing every HTTP target shares: one status table for errors, bounded retries, the exchange log.

- `error_from_response` is the one place an HTTP answer becomes a Bilagsbro error (the status table below).
- `send` retries what is safe to retry: 429 for every method (the request was refused, nothing
  committed); 5xx, timeouts and connect errors for idempotent methods only. A 5xx or timeout after a
  POST was sent raises `OutcomeUnknown`, so the idempotency ledger looks the reference up before
  posting again.
- `RecordingTransport` puts every request and response in the tenant's `ExchangeLog`, with the
  Authorization header, token query parameters and token fields in JSON bodies redacted, and any other
  secret value this process knows (`pipeline.redaction`) blanked out wherever it appears.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx

from pipeline import redaction
from pipeline.errors import BilagsbroError, ConfigError, DataError, OutcomeUnknown, TransientError
from pipeline.ports import Exchange, ExchangeLog

REDACTED = "[redacted]"
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
REQUEST_ID_HEADERS = ("x-tlx-request-id", "x-request-id", "request-id", "x-ms-request-id")
MAX_TRIES = 4
MAX_SLEEP = 30.0  # seconds: a longer wait belongs to the queue's own retry, not a blocked worker

Sleep = Callable[[float], None]


# -- the status table -------------------------------------------------------------------------------

def _provider_message(response: httpx.Response) -> tuple[str | None, list[str], str | None]:
    """(message, validation messages as 'field: message', request id from the body) of an error body."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        text = response.text.strip()
        return (text[:500] or None), [], None
    if not isinstance(body, dict):
        return str(body)[:500], [], None
    message = body.get("message") or body.get("title") or body.get("detail") or body.get("error")
    validations = []
    for item in body.get("validationMessages") or ():
        if isinstance(item, dict):
            where = item.get("field") or item.get("path")
            validations.append(f"{where}: {item.get('message')}" if where else str(item.get("message")))
    developer = body.get("developerMessage")
    if developer and developer != message and not validations:
        message = f"{message} ({developer})" if message else developer
    return (str(message) if message else None), validations, body.get("requestId")


def request_id(response: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        if name in response.headers:
            return response.headers[name]
    return None


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait, from `Retry-After` or Tripletex's `X-Rate-Limit-Reset` (seconds left in the period)."""
    for name in ("retry-after", "x-rate-limit-reset"):
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            continue  # an HTTP date in Retry-After: fall back to our own backoff
    return None


def error_from_response(
    response: httpx.Response,
    *,
    connector: str,
    tenant: str | None = None,
    reference: str | None = None,
    may_have_committed: bool | None = None,
) -> BilagsbroError:
    """The status table: which of our errors an HTTP error answer is, with the provider's own words.

    | status        | error                                                             |
    |---------------|-------------------------------------------------------------------|
    | 400, 409, 422 | DataError (the provider's validation messages kept)               |
    | 401, 403      | ConfigError (credentials, permissions, company access)            |
    | 404           | DataError for a missing object; ConfigError when the path is wrong |
    | 429           | TransientError with retry_after                                   |
    | 5xx           | TransientError; OutcomeUnknown when a POST may have committed      |
    | other 4xx     | DataError                                                         |
    """
    status = response.status_code
    message, validations, body_request_id = _provider_message(response)
    provider = "; ".join([m for m in [message, *validations] if m]) or None
    try:
        method, path = response.request.method, response.request.url.path
    except RuntimeError:  # a response built without its request (tests)
        method, path = "?", "?"
    context: dict[str, Any] = {
        "tenant": tenant,
        "reference": reference,
        "connector": connector,
        "status": status,
        "provider_message": provider,
        "request_id": request_id(response) or body_request_id,
    }
    what = f"{connector} answered {status} to {method} {path}"
    if status in (401, 403):
        return ConfigError(f"{what}: credentials or permissions refused", **context)
    if status == 404:
        # A missing object (a voucher id) is about the data; a missing route means a wrong base URL.
        if provider:
            return DataError(f"{what}: not found", **context)
        return ConfigError(f"{what}: no such endpoint; check the base URL", **context)
    if status == 429:
        return TransientError(f"{what}: rate limited", retry_after=retry_after(response), **context)
    if status >= 500:
        if may_have_committed if may_have_committed is not None else method == "POST":
            return OutcomeUnknown(f"{what}: the request may have taken effect", **context)
        return TransientError(f"{what}: server error", retry_after=retry_after(response), **context)
    return DataError(f"{what}: refused", **context)


# -- retries ----------------------------------------------------------------------------------------

def backoff(attempt: int, response: httpx.Response | None = None, *, cap: float = MAX_SLEEP) -> float:
    """Seconds before try `attempt + 1`: the server's own hint when it gives one, else jittered doubling."""
    hinted = retry_after(response) if response is not None else None
    if hinted is not None:
        return min(cap, hinted)
    return min(cap, 0.5 * float(2**attempt) * (0.5 + random.random() / 2))


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    connector: str,
    tenant: str | None = None,
    reference: str | None = None,
    params: Mapping[str, Any] | None = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    sleep: Sleep = time.sleep,
    tries: int = MAX_TRIES,
    cap: float = MAX_SLEEP,
    exchanges: ExchangeLog | None = None,
) -> httpx.Response:
    """Send with bounded retries; a 2xx/3xx response comes back, everything else raises our error."""
    idempotent = method.upper() in IDEMPOTENT
    where: dict[str, Any] = {"connector": connector, "tenant": tenant, "reference": reference}
    for attempt in range(tries):
        last = attempt == tries - 1
        try:
            # The exchange log travels with the request: one pooled client serves many documents at once.
            response = client.request(method, url, params=params, content=content, headers=headers,
                                      extensions={EXCHANGE_LOG: exchanges} if exchanges is not None else None)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Nothing reached the server: safe to retry for any method.
            if last:
                raise TransientError(f"{connector}: cannot connect ({type(exc).__name__})", **where) from None
            sleep(backoff(attempt, cap=cap))
            continue
        except httpx.TimeoutException as exc:
            if not idempotent:
                raise OutcomeUnknown(
                    f"{connector}: {method} timed out after it was sent ({type(exc).__name__}); "
                    "it may have taken effect", **where) from None
            if last:
                raise TransientError(f"{connector}: {method} timed out ({type(exc).__name__})", **where) from None
            sleep(backoff(attempt, cap=cap))
            continue
        except httpx.TransportError as exc:
            if not idempotent:
                raise OutcomeUnknown(
                    f"{connector}: {method} failed in transit ({type(exc).__name__}); it may have taken effect",
                    **where) from None
            if last:
                raise TransientError(f"{connector}: {method} failed ({type(exc).__name__})", **where) from None
            sleep(backoff(attempt, cap=cap))
            continue
        status = response.status_code
        if status < 400:
            return response
        retryable = status == 429 or (status >= 500 and idempotent)
        if retryable and not last:
            sleep(backoff(attempt, response, cap=cap))
            continue
        raise error_from_response(response, **where)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


# -- the exchange log -------------------------------------------------------------------------------

def _redact_json(value: Any, secret_fields: Collection[str]) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if k in secret_fields and v is not None else _redact_json(v, secret_fields))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(v, secret_fields) for v in value]
    return value


def redact_body(body: bytes, secret_fields: Collection[str]) -> bytes:
    """A JSON body with the named fields replaced, wherever they nest; other bodies unchanged."""
    if not body or not any(f'"{name}"'.encode() in body for name in secret_fields):
        return body
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    return json.dumps(_redact_json(parsed, secret_fields), ensure_ascii=False).encode("utf-8")


def redact_url(url: httpx.URL, secret_params: Collection[str]) -> str:
    if not url.query:
        return str(url)
    pairs = parse_qsl(url.query.decode("ascii"), keep_blank_values=True)
    query = urlencode([(k, REDACTED if k in secret_params else v) for k, v in pairs], safe=",>:[]")
    return str(url.copy_with(query=query.encode("ascii")))


def redact_headers(headers: httpx.Headers) -> dict[str, str]:
    hidden = {"authorization", "proxy-authorization", "cookie", "set-cookie"}
    return {k: (REDACTED if k.lower() in hidden else v) for k, v in headers.items()}


def _scrub_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: redaction.scrub(v) for k, v in headers.items()}


def _scrub_body(body: bytes) -> bytes:
    """Second net: any secret value this process knows, wherever the connector's field list missed it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    clean = redaction.scrub(text)
    return body if clean == text else clean.encode("utf-8")


EXCHANGE_LOG = "bilagsbro.exchanges"  # request extension naming the log of the document being delivered


class RecordingTransport(httpx.BaseTransport):
    """Wraps a transport so that every exchange — including failed ones — lands in the exchange log."""

    def __init__(
        self,
        exchanges: ExchangeLog | None,
        inner: httpx.BaseTransport | None = None,
        *,
        secret_params: Collection[str] = (),
        secret_fields: Collection[str] = (),
    ) -> None:
        self.exchanges = exchanges
        self.inner = inner or httpx.HTTPTransport()
        self.secret_params = frozenset(secret_params)
        self.secret_fields = frozenset(secret_fields)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        at = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        body = request.read()
        try:
            response = self.inner.handle_request(request)
            content = response.read()
        except httpx.HTTPError as exc:
            self._record(request, body, None, b"", at, started, error=type(exc).__name__)
            raise
        self._record(request, body, response, content, at, started)
        return response  # already read: the client takes the decoded content as it is

    def _record(self, request: httpx.Request, body: bytes, response: httpx.Response | None, content: bytes,
                at: dt.datetime, started: float, *, error: str | None = None) -> None:
        log = request.extensions.get(EXCHANGE_LOG, self.exchanges)
        if log is None:
            return
        log.record(Exchange(
            method=request.method,
            url=redaction.scrub(redact_url(request.url, self.secret_params)),
            request_headers=_scrub_headers(redact_headers(request.headers)),
            request_body=_scrub_body(redact_body(body, self.secret_fields)),
            status=response.status_code if response is not None else None,
            response_headers=_scrub_headers(redact_headers(response.headers)) if response is not None else {},
            response_body=_scrub_body(redact_body(content, self.secret_fields)),
            elapsed_ms=(time.perf_counter() - started) * 1000,
            at=at,
            error=error,
        ))

    def close(self) -> None:
        self.inner.close()
