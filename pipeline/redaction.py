"""Secrets never reach a log line: every log record is redacted as it is made, whatever its logger or level.

Two nets, both applied to every record:

- **Names.** The value after a secret's name — a query parameter (`consumerToken=…`), a JSON or dict field
  (`"accessToken": "…"`), a header (`Authorization: Basic …`, httpcore's `(b'set-cookie', b'…')`), a URL's
  password — is replaced. Secret names are any name containing token, secret, password, api key,
  authorization, cookie or credential, plus the exact names connectors declare (`secret_names` and `secrets` in
  each descriptor of `connectors.CONNECTORS`),
  plus credentials after `Basic`/`Bearer`, our own `bb_…` API keys and `whsec_…` webhook secrets.
- **Values.** Every secret this process has read from or written to the secret store, or issued (API keys,
  the session tokens Tripletex and Omnium hand out), is replaced wherever it appears, in plain, URL-encoded
  and JSON-escaped form — also in text no name pattern knows. Values shorter than `MIN_LENGTH` are left to
  the names net (a two-letter "secret" would blank out ordinary words).

`install()` makes this the process's log record factory, so it runs for every record that is made, at any
level and on any logger. A `logging.Filter` on the root logger would not do: records of child loggers
(`httpx`, `httpcore`, `azure`) propagate to the root's *handlers* but never pass the root's *filters*.
Every entry point installs it (function_app.py, the CLI, the local stack); it is idempotent.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
MIN_LENGTH = 8

# Substrings that make a name a secret's name, whatever the connector.
_KEYWORDS = r"token|secret|passw(?:or)?d|pwd|api[-_]?key|authori[sz]ation|cookie|credential"
_declared: set[str] = set()  # exact names from connectors (e.g. Tripletex's `encryptionKey`)
_values: set[str] = set()
_lock = threading.Lock()
_sorted_values: tuple[str, ...] = ()
_patterns: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = ()


def _compile() -> None:
    global _patterns
    declared = "|".join(re.escape(n) for n in sorted(_declared, key=len, reverse=True))
    name = rf"[\w.-]*(?:{_KEYWORDS})[\w.-]*" + (f"|{declared}" if declared else "")
    _patterns = (
        # "name": "value", 'name': 'value', (b'name', b'value') — quoted name, quoted value.
        (re.compile(rf"""(?i)(["'](?:{name})["']\s*[:,]\s*b?)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""),
         lambda m: f"{m.group(1)}{m.group(2)[0]}{REDACTED}{m.group(2)[0]}"),
        # Credentials after an auth scheme (headers in any form).
        (re.compile(r"(?i)\b(basic|bearer|digest)(\s+)(?!\[redacted\])[A-Za-z0-9._~+/=-]{4,}"),
         lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}"),
        # name=value (query strings, forms, key=value logs) and name: value (header lines).
        (re.compile(rf"(?i)(?<![\w.-])((?:{name})\s*[=:]\s*)(?![\s\"']|\[redacted\])([^\s&\"',;<>)\]}}]+)"),
         lambda m: f"{m.group(1)}{REDACTED}"),
        # The password in a URL: scheme://user:password@host
        (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(@)"),
         lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}"),
        # Our own API keys (pipeline.records.tenants.KEY_PREFIX), wherever they turn up.
        (re.compile(r"\bbb_[A-Za-z0-9_-]{16,}"), lambda m: f"bb_{REDACTED}"),
        # Webhook signing secrets (pipeline.webhook_endpoints), likewise.
        (re.compile(r"\bwhsec_[A-Za-z0-9_-]{16,}"), lambda m: f"whsec_{REDACTED}"),
    )


_compile()


def secret_name(name: str) -> bool:
    """Whether a name (query parameter, JSON field, header) holds a secret: by keyword, or declared."""
    return name in _declared or _KEYWORD.search(name) is not None


_KEYWORD = re.compile(_KEYWORDS, re.IGNORECASE)


def declare(names: Iterable[str]) -> None:
    """Names under which a connector sends secrets (query parameters, JSON fields, headers)."""
    with _lock:
        new = {n for n in names if n} - _declared
        if new:
            _declared.update(new)
            _compile()


def remember(value: str | None) -> None:
    """A secret this process holds (read, written or issued): redacted wherever it appears from now on."""
    if not value or len(value) < MIN_LENGTH:
        return
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    global _sorted_values
    with _lock:
        if forms <= _values:
            return
        _values.update(forms)
        _sorted_values = tuple(sorted(_values, key=len, reverse=True))  # longest first: no partial leftovers


def redact(text: str) -> str:
    """The text with every secret it holds, by name or by value, replaced by `[redacted]`."""
    if not text:
        return text
    for value in _sorted_values:
        if value in text:
            text = text.replace(value, REDACTED)
    for pattern, replace in _patterns:
        text = pattern.sub(replace, text)
    return text


def scrub(text: str) -> str:
    """Only the values net: for stored data (trace rows, exchanges) whose field names are not ours to judge."""
    for value in _sorted_values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def scrub_json(value: Any) -> Any:
    """A JSON-able value with every known secret value replaced; the same object when it holds none."""
    if not _sorted_values:
        return value
    text = json.dumps(value, ensure_ascii=False, default=str)
    clean = scrub(text)
    return value if clean == text else json.loads(clean)


# -- the logging layer ------------------------------------------------------------------------------------

def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed call: logging would print msg and args raw in its error report
        message = f"{record.msg!s} {record.args!r}"
    record.msg, record.args = redact(message), ()
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = redact(text)
        if record.exc_text != text:
            # The exception itself holds a secret: handlers that render exc_info themselves (OpenTelemetry's)
            # get only the redacted text above.
            record.exc_info = None
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class _RedactingFactory:
    """Wraps the record factory that was in place: that one makes the record, this one redacts it."""

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self.previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        _redact_record(record)
        return record


def install() -> None:
    """Make every log record in this process pass `redact` as it is made (idempotent)."""
    with _lock:
        current = logging.getLogRecordFactory()
        if not isinstance(current, _RedactingFactory):
            logging.setLogRecordFactory(_RedactingFactory(current))


def installed() -> bool:
    return isinstance(logging.getLogRecordFactory(), _RedactingFactory)
