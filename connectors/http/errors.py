"""The one place an HTTP answer becomes a Bilagsbro error, split by remedy, for every system (the status table).

| status        | error                                                                 |
|---------------|-----------------------------------------------------------------------|
| 400, 409, 422 | DataError: the provider refused the data; its validation messages kept |
| 401, 403      | ConfigError: credentials, permissions or company access               |
| 404           | DataError for a missing object; ConfigError when the path is wrong    |
| 429           | TransientError with the wait the server asked for                     |
| 5xx           | TransientError; OutcomeUnknown when the request may have committed    |
| other 4xx     | DataError                                                             |

A system's `error_body` hook may override the row (`ProviderError.remedy`) where its statuses lie.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.http.dialect import Dialect
from pipeline.errors import BilagsbroError, ConfigError, DataError, OutcomeUnknown, TransientError

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def request_id(response: httpx.Response, dialect: Dialect) -> str | None:
    for name in dialect.request_id_headers:
        if name in response.headers:
            return response.headers[name]
    return None


def error_from_response(
    response: httpx.Response,
    *,
    dialect: Dialect | None = None,
    connector: str | None = None,
    tenant: str | None = None,
    reference: str | None = None,
    may_have_committed: bool | None = None,
) -> BilagsbroError:
    """Which of our errors an HTTP error answer is, with the provider's own words and request id.

    `dialect` is the system's (or `connector=<name>` for one without quirks); `may_have_committed` defaults to
    "the method is not idempotent" and decides whether a 5xx is an OutcomeUnknown.
    """
    dialect = dialect or Dialect.plain(connector or "http")
    status = response.status_code
    said = dialect.error_body(response)
    provider = "; ".join(m for m in (said.message, *said.details) if m) or None
    try:
        request: httpx.Request | None = response.request
    except RuntimeError:  # a response built without its request (tests)
        request = None
    method = request.method if request is not None else "?"
    what = f"{dialect.title} {dialect.operation(request) if request is not None else '?'} failed with HTTP {status}"
    context: dict[str, Any] = {
        "tenant": tenant, "reference": reference, "connector": dialect.connector, "status": status,
        "provider_message": provider, "request_id": request_id(response, dialect) or said.request_id,
    }
    if said.remedy is not None:
        if issubclass(said.remedy, TransientError):  # e.g. a throttling fault: the wait the server asked for
            context["retry_after"] = dialect.wait(response)
        return said.remedy(what, **context)
    if status in (401, 403):
        return ConfigError(f"{what}: credentials or permissions refused", **context)
    if status == 404:
        # A missing object (a voucher id) is about the data; a missing route means a wrong base URL.
        if provider:
            return DataError(what, **context)
        return ConfigError(f"{what}: no such endpoint; check the base URL", **context)
    if status == 429:
        return TransientError(what, retry_after=dialect.wait(response), **context)
    if status >= 500:
        if may_have_committed if may_have_committed is not None else method not in IDEMPOTENT:
            return OutcomeUnknown(f"{what}: it may have taken effect", **context)
        return TransientError(what, retry_after=dialect.wait(response), **context)
    return DataError(what, **context)
