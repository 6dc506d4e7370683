"""How one system speaks HTTP where systems differ — its error bodies, its rate-limit headers, its secret names —
as a small value each connector declares; everything else about HTTP is the same for every system.

    DIALECT = Dialect.of(DESCRIPTOR, error_body=my_errors, wait=waits_from("Retry-After", "X-Rate-Limit-Reset"))

Hooks are plain functions of the response. `error_body` reads the provider's own words out of an error answer
(`json_error` knows `message`/`error`, RFC 7807 problem details and OAuth's `error_description`; a system with
another shape — GraphQL `errors`, SOAP faults — passes its own); `wait` says how many seconds the server asked us
to wait (`Retry-After` in seconds or as an HTTP date, by default).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from pipeline.descriptors import Descriptor
from pipeline.errors import BilagsbroError

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-ms-request-id", "x-correlation-id")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def status_429(response: httpx.Response) -> bool:
    """The common way to say "too many requests": HTTP 429."""
    return response.status_code == 429


@dataclass(frozen=True)
class ProviderError:
    """What an error answer says in the provider's own words."""

    message: str | None = None
    details: tuple[str, ...] = ()  # e.g. "postings[0].customer: Kunde mangler."
    request_id: str | None = None  # when the body carries it (the header is read too)
    code: str | None = None  # the provider's own error code, when it has one
    remedy: type[BilagsbroError] | None = None  # overrides the status table (a 400 that is really a config error)


def _text(response: httpx.Response) -> str | None:
    try:
        text = response.text.strip()
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        return None
    return text[:500] or None


def json_error(response: httpx.Response) -> ProviderError:
    """The common shapes: `{"message"}`, `{"error", "error_description"}` (OAuth 2), RFC 7807 problem details
    (`title`, `detail`, `errors`), or the text itself when the body is not JSON."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return ProviderError(_text(response))
    if not isinstance(body, dict):
        return ProviderError(str(body)[:500])
    message = body.get("message") or body.get("detail") or body.get("title") or body.get("error_description") \
        or body.get("error")
    if body.get("title") and body.get("detail") and body["title"] != body["detail"]:
        message = f"{body['title']}: {body['detail']}"
    details: list[str] = []
    errors = body.get("errors")
    if isinstance(errors, dict):  # RFC 7807 as ASP.NET writes it: {"field": ["message", ...]}
        details = [f"{k}: {'; '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in errors.items()]
    elif isinstance(errors, list):
        details = [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors]
    code = body.get("code") if body.get("code") is not None else body.get("type")
    return ProviderError(str(message) if message else None, tuple(details),
                         body.get("requestId") or body.get("traceId"), str(code) if code is not None else None)


def seconds(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """A wait from a header: delay-seconds, or an HTTP date (RFC 9110 §10.2.3), as seconds from now."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def waits_from(*headers: str) -> Callable[[httpx.Response], float | None]:
    """A `wait` hook reading the first of these headers present, each as seconds or an HTTP date."""
    def wait(response: httpx.Response) -> float | None:
        for name in headers:
            found = seconds(response.headers.get(name))
            if found is not None:
                return found
        return None
    return wait


retry_after = waits_from("Retry-After")


def operation(request: httpx.Request) -> str:
    """How a request is named in messages: its method and path (never its query: tokens travel there)."""
    return f"{request.method} {request.url.path}"


@dataclass(frozen=True, kw_only=True)
class Dialect:
    """How one system speaks HTTP, where systems differ."""

    connector: str  # our name for it ("tripletex"): on every error
    title: str  # what its users call it ("Tripletex"): in every message
    secret_names: frozenset[str] = field(default_factory=frozenset)  # query parameters, JSON fields, headers
    error_body: Callable[[httpx.Response], ProviderError] = json_error
    wait: Callable[[httpx.Response], float | None] = retry_after
    retry_statuses: frozenset[int] = RETRY_STATUSES  # retried for idempotent requests; 429 for any method
    # Whether an error answer says "too many requests": refused, nothing done — waited out and retried for any
    # method, like a 429. A system that throttles with another status (a SOAP fault) says so here.
    throttled: Callable[[httpx.Response], bool] = status_429
    request_id_headers: tuple[str, ...] = REQUEST_ID_HEADERS
    operation: Callable[[httpx.Request], str] = operation

    @classmethod
    def of(cls, descriptor: Descriptor, **hooks: Any) -> Dialect:
        """The dialect of a registered system: its name, title and secret names from its descriptor."""
        names = {*descriptor.secret_names, *(s.name for s in descriptor.secrets), *hooks.pop("secret_names", ())}
        return cls(connector=descriptor.name, title=descriptor.title, secret_names=frozenset(names), **hooks)

    @classmethod
    def plain(cls, connector: str, secret_names: Iterable[str] = ()) -> Dialect:
        """A system without quirks (and tests)."""
        return cls(connector=connector, title=connector, secret_names=frozenset(secret_names))
