"""Webhooks, the parts every delivery leans on: how a delivery is signed and verified, which targets are safe to
call, and when a failed delivery is tried again.

Endpoints are kept by pipeline/webhook_endpoints.py; events are raised and sent by pipeline/webhook_events.py.

Signing follows the scheme receivers know from Stripe and Svix: HMAC-SHA256, keyed by the endpoint's secret, over
"<unix timestamp>.<raw body>", sent as `Bilagsbro-Signature: t=<timestamp>,v1=<hex>`. While a secret is being
rotated, a delivery carries one v1 per live secret, so a receiver holding either one verifies it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

EVENTS = ("document.delivered", "document.blocked", "document.failed", "file.processed", "connection.unhealthy",
          "ledger.synced")
SIGNATURE_HEADER = "Bilagsbro-Signature"
EVENT_ID_HEADER = "Bilagsbro-Event-Id"  # the same on every attempt: receivers deduplicate by it
TOLERANCE = dt.timedelta(minutes=5)  # how old a signed timestamp a receiver should accept

# Seconds to wait after the n-th failed attempt; the last one repeats until RETRY_FOR has passed since the event.
BACKOFF = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600)
RETRY_FOR = dt.timedelta(hours=24)
URL = re.compile(r"^https?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[!-~]*)?$")
ALLOW_PRIVATE_SETTING = "BILAGSBRO_WEBHOOKS_ALLOW_PRIVATE"
BACKOFF_SETTING = "BILAGSBRO_WEBHOOKS_BACKOFF"

Resolve = Callable[[str], Iterable[str]]


def sign(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The signature header's value for a delivery: one v1 per live secret (two while rotating)."""
    signed = f"{timestamp}.".encode("ascii") + body
    parts = [f"t={timestamp}"]
    parts += [f"v1={hmac.new(s.encode('utf-8'), signed, hashlib.sha256).hexdigest()}" for s in secrets]
    return ",".join(parts)


def verify(secret: str, header: str, body: bytes, *, now: dt.datetime | None = None,
           tolerance: dt.timedelta = TOLERANCE) -> bool:
    """What a receiver does (docs/webhooks.md has it to copy): the timestamp is recent and one v1 matches."""
    fields = [part.partition("=") for part in header.split(",")]
    stamps = [value for name, _, value in fields if name.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    moment = now or dt.datetime.now(dt.UTC)
    if abs(moment.timestamp() - timestamp) > tolerance.total_seconds():
        return False  # a replayed delivery, or a clock far off
    expected = sign([secret], timestamp, body).split(",")[1][3:]
    return any(hmac.compare_digest(expected, value.strip()) for name, _, value in fields if name.strip() == "v1")


def next_attempt(failed_attempts: int, first_tried: dt.datetime, now: dt.datetime,
                 backoff: Sequence[int] = BACKOFF) -> dt.datetime | None:
    """When to try again after `failed_attempts` failures, or None once the 24 hours are over (the event is then
    kept as failed, visible in the API, and can be sent again by hand)."""
    delay = backoff[min(failed_attempts, len(backoff)) - 1] if failed_attempts > 0 else 0
    due = now + dt.timedelta(seconds=delay)
    end = first_tried + RETRY_FOR
    if now >= end:
        return None
    return min(due, end)


def _system_resolve(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]


def target_problem(url: str, *, allow_private: bool, resolve: Resolve = _system_resolve) -> str | None:
    """Why Bilagsbro will not call this URL, or None. In production only https to public addresses: a webhook
    must not become a way to reach our own network (SSRF). `allow_private` (a development setting) lets a local
    receiver on loopback in. Checked when an endpoint is registered and again before every attempt, since a
    name may be pointed elsewhere later."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 literal
        return "a webhook URL is an absolute https:// URL (host, optional port and path; no spaces)"
    if parts.username or parts.password:
        return "a webhook URL may not carry a user name or password; the signature authenticates us"
    if parts.scheme not in ("https", "http") or not parts.hostname or not URL.match(url):
        return "a webhook URL is an absolute https:// URL (host, optional port and path; no spaces)"
    if allow_private:
        return None
    if parts.scheme != "https":
        return "a webhook URL must use https"
    try:
        addresses = list(resolve(parts.hostname))
    except OSError as exc:
        return f"the webhook host {parts.hostname} cannot be resolved ({exc.strerror or exc})"
    if not addresses:
        return f"the webhook host {parts.hostname} has no address"
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast:
            return (f"the webhook host {parts.hostname} resolves to {ip}, a private, loopback or reserved "
                    "address; webhooks go to public addresses only")
    return None


def private_targets_allowed(environ: Mapping[str, str]) -> bool:
    """The development setting that lets a webhook call a receiver on loopback or a private network. Never set it
    in Azure: there it would let a tenant make Bilagsbro call into its own network."""
    return environ.get(ALLOW_PRIVATE_SETTING, "").strip().lower() == "true"


def backoff_from(environ: Mapping[str, str]) -> tuple[int, ...]:
    """The waits between attempts: BACKOFF, or (for tests and demos) the setting's comma-separated seconds."""
    text = environ.get(BACKOFF_SETTING, "").strip()
    return tuple(max(1, int(part)) for part in text.split(",")) if text else BACKOFF
