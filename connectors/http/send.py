"""Sending with bounded retries by remedy: what may be tried again is, with the wait the server asked for.

- 429 (or what the dialect calls throttling, `Dialect.throttled`) is retried for every method: the request was
  refused, nothing committed.
- The dialect's retry statuses (5xx), timeouts and broken connections are retried for idempotent requests only
  (GET, PUT, DELETE, … or a read sent as POST, `idempotent=True`). After a POST was sent, a 5xx or a timeout
  raises `OutcomeUnknown`: the idempotency ledger looks the reference up before posting again.
- A connection that was never made is retried for any method: nothing reached the server.
- Before each try of a non-idempotent request, a delivery that has lost its ledger lease stops
  (`pipeline.ledger.before_post`): waiting out 429s must not let a second worker post the same voucher.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from connectors.http.dialect import Dialect
from connectors.http.errors import IDEMPOTENT, error_from_response
from connectors.http.exchanges import EXCHANGE_LOG
from pipeline.errors import ConfigError, OutcomeUnknown, TransientError
from pipeline.ledger import before_post
from pipeline.ports import ExchangeLog

MAX_TRIES = 4
MAX_SLEEP = 30.0  # seconds: a longer wait belongs to the queue's own retry, not a blocked worker

Sleep = Callable[[float], None]


def backoff(attempt: int, response: httpx.Response | None = None, *, cap: float = MAX_SLEEP,
            dialect: Dialect | None = None) -> float:
    """Seconds before try `attempt + 1`: the server's own hint when it gives one, else jittered doubling."""
    hinted = (dialect or Dialect.plain("http")).wait(response) if response is not None else None
    if hinted is not None:
        return min(cap, hinted)
    return min(cap, 0.5 * float(2**attempt) * (0.5 + random.random() / 2))


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    dialect: Dialect | None = None,
    connector: str | None = None,
    tenant: str | None = None,
    reference: str | None = None,
    params: Mapping[str, Any] | None = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    sleep: Sleep = time.sleep,
    tries: int = MAX_TRIES,
    cap: float = MAX_SLEEP,
    exchanges: ExchangeLog | None = None,
    idempotent: bool | None = None,
) -> httpx.Response:
    """Send with bounded retries; a 2xx/3xx response comes back, everything else raises our error.

    `dialect` is the system's (`connector=<name>` for one without quirks); `exchanges` is the log of the
    document this request is for (one pooled client serves many documents at once).
    """
    dialect = dialect or Dialect.plain(connector or "http")
    safe = method.upper() in IDEMPOTENT if idempotent is None else idempotent
    where: dict[str, Any] = {"connector": dialect.connector, "tenant": tenant, "reference": reference}
    name = dialect.title
    for attempt in range(tries):
        last = attempt == tries - 1
        if not safe:
            before_post()
        try:
            response = client.request(method, url, params=params, content=content, headers=headers,
                                      extensions={EXCHANGE_LOG: exchanges} if exchanges is not None else None)
        except httpx.InvalidURL as exc:  # a setting no model caught: the customer's remedy, not a retry
            raise ConfigError(f"{name}: the address in the connection's settings is not a valid URL ({exc})",
                              **where) from None
        except UnicodeEncodeError:  # a credential or setting an HTTP header cannot carry (outside ASCII)
            raise ConfigError(f"{name}: a credential or setting holds characters an HTTP header cannot carry "
                              "(only ASCII): check the keys for a stray letter such as æ, ø or å", **where) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if last:  # nothing reached the server: safe to retry for any method
                raise TransientError(f"{name}: cannot connect ({type(exc).__name__})", **where) from None
            sleep(backoff(attempt, cap=cap))
            continue
        except httpx.TimeoutException as exc:
            if not safe:
                raise OutcomeUnknown(f"{name}: {method} timed out after it was sent ({type(exc).__name__}); "
                                     "it may have taken effect", **where) from None
            if last:
                raise TransientError(f"{name}: {method} timed out ({type(exc).__name__})", **where) from None
            sleep(backoff(attempt, cap=cap))
            continue
        except httpx.TransportError as exc:
            if not safe:
                raise OutcomeUnknown(f"{name}: {method} failed in transit ({type(exc).__name__}); it may have "
                                     "taken effect", **where) from None
            if last:
                raise TransientError(f"{name}: {method} failed ({type(exc).__name__})", **where) from None
            sleep(backoff(attempt, cap=cap))
            continue
        status = response.status_code
        if status < 400:
            return response
        retryable = dialect.throttled(response) or (safe and status in dialect.retry_statuses)
        if retryable and not last:
            sleep(backoff(attempt, response, cap=cap, dialect=dialect))
            continue
        raise error_from_response(response, dialect=dialect, may_have_committed=not safe, **where)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
