"""One pooled HTTP client per connection, kept in the connection's cache and recording every exchange.

Connectors never build a client per message: a function host handles many messages for a tenant, and a new
client per message would open a new connection pool — and for systems with sessions or OAuth tokens, a new
login — each time. `kept` makes any such per-connection object (a client, a session) once, under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

import httpx

from connectors.http.dialect import Dialect
from connectors.http.exchanges import RecordingTransport
from pipeline.ports import TargetContext

T = TypeVar("T")
_lock = threading.Lock()
CLIENTS = "http-clients"  # the key in a connection's cache


def kept(context: TargetContext, key: Hashable, make: Callable[[], T]) -> T:
    """The connection's one object under `key` (a session, a token), made the first time it is asked for."""
    with _lock:
        held: dict[Hashable, Any] = context.cache.setdefault("kept", {})
        if key not in held:
            held[key] = make()
        return held[key]  # type: ignore[no-any-return]


def client_for(context: TargetContext, dialect: Dialect, *, base_url: str, auth: httpx.Auth | None = None,
               timeout: float = 30.0, headers: Mapping[str, str] | None = None,
               transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """The connection's HTTP client to `base_url`: made once (per auth and timeout), reused by every message.

    Requests go through `transport` or `context.transport` when one is given (tests check them against the
    system's spec);
    each request names its document's exchange log (`send(..., exchanges=...)`)."""
    with _lock:
        clients: dict[Hashable, httpx.Client] = context.cache.setdefault(CLIENTS, {})
        key = (dialect.connector, base_url, timeout, id(auth))
        client = clients.get(key)
        if client is None or client.is_closed:
            transport = RecordingTransport(None, transport or context.transport or httpx.HTTPTransport(),
                                           secret_names=dialect.secret_names)
            client = clients[key] = httpx.Client(base_url=base_url.rstrip("/") + "/", auth=auth,
                                                 transport=transport, timeout=timeout, headers=dict(headers or {}))
        return client


def close(context: TargetContext) -> None:
    """Close the connection's HTTP clients (at shutdown; the pipeline otherwise keeps them for reuse)."""
    with _lock:
        clients = context.cache.pop(CLIENTS, {})
    for client in clients.values():
        client.close()
