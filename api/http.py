"""The HTTP API's primitives: a request and a response as plain values, errors as JSON, keys and bodies read once.

Every handler module of api/ takes a `Request` and gives a `Response`; function_app.py translates them to and from
the Functions host's types (and the local host and the tests call the handlers directly).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import ConfigError, Problem
from pipeline.ports import Stores
from pipeline.records.tenants import TenantRegistry

MAX_DOCUMENTS_BODY = 10 * 1024 * 1024
# Below the Functions host's own limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: 104,857,600 bytes by default, and
# 209,715,200 in our app settings), so that every body we refuse is refused by us, with a JSON answer;
# see docs/decisions/0002.
MAX_FILE_BODY = 100_000_000
MAX_ADMIN_BODY = 1024 * 1024


@dataclass
class Request:
    method: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    base_url: str = ""


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    messages: dict[str, list[str]] = field(default_factory=dict)  # queue name → messages to send

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, ensure_ascii=False, indent=1).encode("utf-8")


def download_disposition(name: str) -> str:
    """Content-Disposition of a download: an ASCII stand-in in `filename` for old clients, the name itself (æøå) in
    `filename*` (RFC 6266, RFC 5987)."""
    from urllib.parse import quote

    plain = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in name) or "file"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def error(status: int, message: str, problems: list[Problem] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"error": message, **extra}
    if problems is not None:
        body["problems"] = [p.as_dict() for p in problems]
    headers = {"WWW-Authenticate": 'Bearer realm="bilagsbro"'} if status == 401 else {}
    return Response(status, body, headers)


def authenticate(stores: Stores, request: Request, role: str = "tenant") -> tuple[str | None, Response | None]:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None, error(401, "missing API key: send 'Authorization: Bearer <API key>'")
    found = TenantRegistry(stores.tables).authenticate(key.strip())
    if found is None:
        return None, error(401, "the API key is not valid (wrong, revoked or for another environment)")
    if found[0] != role:
        return None, error(403, f"this key cannot do that: it needs a {role} key")
    return found[1], None


def admin_tenant(stores: Stores, request: Request) -> tuple[Any, Response | None]:
    _, denied = authenticate(stores, request, role="admin")
    if denied:
        return None, denied
    try:
        return TenantRegistry(stores.tables).get(request.path_params.get("id", "")), None
    except ConfigError as exc:
        return None, error(404, exc.message)


def json_body(request: Request, *, required: bool = False) -> tuple[dict[str, Any] | None, Response | None]:
    """The admin API's JSON object: 413 when too big, 415 when not JSON, 400 when malformed, or when
    missing and `required` (an optional body left out reads as {})."""
    if len(request.body) > MAX_ADMIN_BODY:
        return None, error(413, f"body of {len(request.body)} bytes exceeds {MAX_ADMIN_BODY}")
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type:
        return None, error(415, f"send application/json, not {content_type}")
    if not request.body.strip():
        if not required:
            return {}, None
        return None, error(400, "the body is empty: send a JSON object", [Problem("the body is empty", code="empty")])
    try:
        body = json.loads(request.body)
    except UnicodeDecodeError as exc:
        return None, error(400, f"the body is not UTF-8 (byte {exc.start})",
                           [Problem("the body is not UTF-8", code="encoding")])
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return None, error(400, f"malformed JSON: {exc.msg} ({where})",
                           [Problem(f"malformed JSON: {exc.msg} ({where})", line=exc.lineno, code="malformed-json")])
    if not isinstance(body, dict):
        return None, error(400, "send a JSON object", [Problem("the body must be a JSON object", code="not-an-object")])
    return body, None


def validation_problems(exc: Exception) -> list[Problem]:
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return [Problem(str(exc))]
    return [Problem(str(e["msg"]).removeprefix("Value error, "), field=".".join(str(p) for p in e["loc"]) or None)
            for e in exc.errors(include_url=False)]


def admin_body(request: Request, model: Any) -> tuple[Any, Response | None]:
    """The body as `model`: unknown fields and wrong types are a 422 naming each field."""
    from pydantic import ValidationError

    body, bad = json_body(request, required=True)
    if bad:
        return None, bad
    try:
        return model.model_validate(body), None
    except ValidationError as exc:
        return None, error(422, "the request is not valid", validation_problems(exc))
