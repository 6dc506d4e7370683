"""The exchange log: every request to a system and its answer — failed ones too — kept per document, secrets out.

Redacted, for every system alike: every query parameter, JSON field (wherever it nests), XML element (SOAP
bodies: `<Password>…</Password>`) and header whose name holds a secret — by keyword (token, secret, password, api key, authorization, cookie, credential) or named by
the system's descriptor (`secret_names`, its secrets) — and then any secret value this process knows
(`pipeline.redaction`), wherever it appears.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Collection
from typing import Any
from urllib.parse import parse_qsl, quote_plus, unquote_plus, urlencode

import httpx

from pipeline import redaction
from pipeline.ports import Exchange, ExchangeLog

REDACTED = "[redacted]"
EXCHANGE_LOG = "bilagsbro.exchanges"  # request extension naming the log of the document being delivered
_QUOTED_NAME = re.compile(rb'"([^"\\]{1,100})"\s*:')
# <prefix:Name attr="…">text</prefix:Name>: an element holding text only (a SOAP field), by its local name.
_XML_FIELD = re.compile(rb"(<(?:[\w.-]+:)?([\w.-]{1,100})(?:\s[^<>]*)?>)([^<]*)(</(?:[\w.-]+:)?\2\s*>)")


def _secret(name: str, names: Collection[str]) -> bool:
    return name in names or redaction.secret_name(name)


def _redact_json(value: Any, names: Collection[str]) -> Any:
    if isinstance(value, dict):
        return {k: (REDACTED if _secret(k, names) and v is not None else _redact_json(v, names))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(v, names) for v in value]
    return value


def _redact_xml(body: bytes, names: Collection[str]) -> bytes:
    def blank(match: re.Match[bytes]) -> bytes:
        name = match.group(2).decode("utf-8", "replace")
        if not match.group(3) or not _secret(name, names):
            return match.group(0)
        return match.group(1) + REDACTED.encode() + match.group(4)
    return _XML_FIELD.sub(blank, body)


def redact_body(body: bytes, secret_fields: Collection[str] = ()) -> bytes:
    """A JSON body with every secret field replaced, wherever it nests; an XML body (SOAP) with the text of every
    secret element replaced; other bodies unchanged."""
    if body[:64].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _redact_xml(body, secret_fields)
    if not body or not any(_secret(m.decode("utf-8", "replace"), secret_fields) for m in _QUOTED_NAME.findall(body)):
        return body
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    return json.dumps(_redact_json(parsed, secret_fields), ensure_ascii=False).encode("utf-8")


def redact_url(url: httpx.URL, secret_params: Collection[str] = ()) -> str:
    if not url.query:
        return str(url)
    segments = []
    for segment in url.query.decode("ascii").split("&"):
        if "=" not in segment:  # a name without a value stays so (`?wsdl`)
            segments.append(quote_plus(unquote_plus(segment), safe=",>:[]"))
            continue
        pairs = parse_qsl(segment, keep_blank_values=True)
        segments.append(urlencode([(k, REDACTED if _secret(k, secret_params) else v) for k, v in pairs],
                                  safe=",>:[]"))
    return str(url.copy_with(query="&".join(segments).encode("ascii")))


def redact_headers(headers: httpx.Headers, secret_headers: Collection[str] = ()) -> dict[str, str]:
    lowered = {h.lower() for h in secret_headers}
    return {k: (REDACTED if k.lower() in lowered or _secret(k, ()) else v) for k, v in headers.items()}


def _scrub_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: redaction.scrub(v) for k, v in headers.items()}


def _scrub_body(body: bytes) -> bytes:
    """Second net: any secret value this process knows, wherever the names missed it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    clean = redaction.scrub(text)
    return body if clean == text else clean.encode("utf-8")


class RecordingTransport(httpx.BaseTransport):
    """Wraps a transport so that every exchange — including failed ones — lands in the exchange log."""

    def __init__(
        self,
        exchanges: ExchangeLog | None,
        inner: httpx.BaseTransport | None = None,
        *,
        secret_names: Collection[str] = (),
        secret_params: Collection[str] = (),
        secret_fields: Collection[str] = (),
    ) -> None:
        self.exchanges = exchanges
        self.inner = inner or httpx.HTTPTransport()
        self.secret_names = frozenset({*secret_names, *secret_params, *secret_fields})

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
        names = self.secret_names
        log.record(Exchange(
            method=request.method,
            url=redaction.scrub(redact_url(request.url, names)),
            request_headers=_scrub_headers(redact_headers(request.headers, names)),
            request_body=_scrub_body(redact_body(body, names)),
            status=response.status_code if response is not None else None,
            response_headers=_scrub_headers(redact_headers(response.headers, names)) if response is not None else {},
            response_body=_scrub_body(redact_body(content, names)),
            elapsed_ms=(time.perf_counter() - started) * 1000,
            at=at,
            error=error,
        ))

    def close(self) -> None:
        self.inner.close()
