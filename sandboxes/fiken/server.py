"""The Fiken sandbox server: API v2 under `/api/v2` and the OAuth token endpoint, over real HTTP on loopback.

Contract (official spec `../shared/specs/fiken/fiken-api-v2.yaml`, reference/target-apis.md §5):
- `Authorization: Bearer <token>`: a personal API token (never expires) or an OAuth access token bought at
  `POST /oauth/token` (HTTP Basic client id:secret; `grant_type=refresh_token` or `authorization_code`) →
  `{access_token, refresh_token, token_type: "bearer", expires_in}`, its errors `{"error", "error_description"}`.
  Access tokens expire after `access_seconds`; with `rotate_refresh` a refresh token is spent when used and a new
  one comes back ("a possibly updated refresh token").
- Companies by slug: `GET /companies` (the ones the token's user reaches, with `hasApiAccess`),
  `GET /companies/{slug}`; a slug the user does not reach is 403, one that does not exist 404, a company without
  the API add-on 403 on its routes [unverified: the statuses Fiken uses for these].
- "Only allowed to make a single concurrent API-request": a request arriving while another of the same user is in
  flight is answered 429 [unverified: with `Retry-After: 1`; Fiken documents no rate-limit headers]. "API calls
  may be slowed if you execute more than 4 requests per second": not modelled.
- Lists are paged (`page` from 0, `pageSize` ≤ 100, default 25) with `Fiken-Api-Page`, `-Page-Size`,
  `-Page-Count`, `-Result-Count`; `GET /accounts` is not paged ("Pagination? No").
- `POST /generalJournalEntries` → 201, empty body, `Location` of the transaction [unverified: a public client
  found the transaction's id there]; the rules of entries.py; `GET /journalEntries` filters date, createdDate and
  lastModified with `Le/Lt/Ge/Gt`.
- `X-Request-ID` from the request is echoed [unverified]; errors are `{"timestamp","status","error","message",
  "path"}` [unverified: the spec documents no error body].
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import json
import math
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sandboxes.faults import Faults
from sandboxes.fiken.company import Company
from sandboxes.fiken.entries import Refused, check
from sandboxes.fiken.routes import route
from sandboxes.loopback import Loopback

API = "/api/v2"


class Problem(Exception):
    def __init__(self, status: int, message: str, *, body: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.body, self.headers = status, message, body, headers or {}


class FikenSandbox(Loopback):
    """An in-process Fiken: `FikenSandbox().start()` → `.base_url` (ends in /api/v2); `.stop()` when done."""

    def __init__(self, *, companies: list[Company] | None = None, personal_token: str = "sandbox-personal-token",
                 client_id: str = "bilagsbro-sandbox-app", client_secret: str = "sandbox-client-secret",
                 refresh_token: str = "sandbox-refresh-token", access_seconds: float = 86_157,
                 rotate_refresh: bool = True, host: str = "127.0.0.1", port: int = 0) -> None:
        self.companies = {c.slug: c for c in (companies or [Company().seed(), Company(
            slug="annen-bedrift-as", name="Annen Bedrift AS", organization_number="987123451").seed()])}
        self.reach: set[str] = set(self.companies)  # the slugs the sandbox's one user may use
        self.personal_tokens = {personal_token}
        self.clients = {client_id: client_secret}
        self.refresh_tokens = {refresh_token}
        self.access: dict[str, float] = {}  # access token → expiry (monotonic)
        self.access_seconds, self.rotate_refresh = access_seconds, rotate_refresh
        self.issued: list[str] = []  # every token handed out (tests look for them in logs)
        self.faults = Faults()
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter()
        self.concurrent_refusals = 0
        self._inflight = 0
        self._lock = threading.Lock()
        self._address = (host, port)

    @property
    def company(self) -> Company:
        """The first company: the one tests and the demo connect to."""
        return next(iter(self.companies.values()))

    def start(self) -> FikenSandbox:
        sandbox = self

        class Handler(_Handler):
            box = sandbox

        self._serve(Handler, name="fiken-sandbox")
        return self

    @property
    def root(self) -> str:
        return self.origin

    @property
    def base_url(self) -> str:
        return self.root + API

    @property
    def token_url(self) -> str:
        return self.root + "/oauth/token"

    @property
    def entries(self) -> list[dict[str, Any]]:
        """Every journal entry of the first company, in the order booked."""
        with self.company.lock:
            return list(self.company.entries.values())

    def count(self, method: str | None = None, path_suffix: str = "") -> int:
        return sum(n for (m, p), n in self.requests.items()
                   if (method is None or m == method) and p.endswith(path_suffix))

    def total(self) -> int:
        return sum(self.requests.values())

    def revoke(self) -> None:
        """Every token stops working: personal tokens revoked, OAuth consent withdrawn."""
        self.personal_tokens.clear()
        self.refresh_tokens.clear()
        self.access.clear()

    def expire_access(self) -> None:
        self.access = {token: 0.0 for token in self.access}

    # -- auth -------------------------------------------------------------------------------------------------------

    def user_of(self, header: str) -> str:
        token = header[7:].strip() if header.startswith("Bearer ") else ""
        if token in self.personal_tokens:
            return "user"
        if token in self.access:
            if time.monotonic() < self.access[token]:
                return "user"
            raise Problem(401, "Access token expired", body={"error": "invalid_token",
                                                             "error_description": "The access token has expired"})
        raise Problem(401, "Unauthorized", body={"error": "invalid_token",
                                                 "error_description": "Missing or invalid access token"})

    def grant(self, header: str, form: dict[str, str]) -> dict[str, Any]:
        """`POST /oauth/token` with HTTP Basic client authentication."""
        try:
            client, _, secret = base64.b64decode(header.removeprefix("Basic ")).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            client = secret = ""
        if not header.startswith("Basic ") or self.clients.get(client) != secret:
            raise Problem(401, "invalid_client", body={"error": "invalid_client",
                                                       "error_description": "Client authentication failed"})
        grant_type = form.get("grant_type")
        if grant_type not in ("refresh_token", "authorization_code"):
            raise Problem(400, "unsupported_grant_type", body={"error": "unsupported_grant_type",
                                                               "error_description": f"{grant_type!r}"})
        with self._lock:
            given = form.get("refresh_token") if grant_type == "refresh_token" else form.get("code")
            if given not in self.refresh_tokens:
                raise Problem(400, "invalid_grant", body={"error": "invalid_grant", "error_description":
                                                          "The refresh token is invalid or expired."})
            refresh = given
            if self.rotate_refresh or grant_type == "authorization_code":
                self.refresh_tokens.discard(given)
                refresh = secrets.token_urlsafe(32)
                self.refresh_tokens.add(refresh)
            access = secrets.token_urlsafe(32)
            self.access[access] = time.monotonic() + self.access_seconds
            self.issued += [access, refresh]
        return {"access_token": access, "refresh_token": refresh, "token_type": "bearer",
                "expires_in": int(self.access_seconds)}

    def company_for(self, slug: str) -> Company:
        company = self.companies.get(slug)
        if company is None:
            raise Problem(404, f"Fant ikke foretaket «{slug}»")
        if slug not in self.reach:
            raise Problem(403, f"Brukeren har ikke tilgang til foretaket «{slug}»")
        if not company.has_api_access:
            raise Problem(403, f"Foretaket «{slug}» har ikke API-modulen (Tilleggstjenester → API)")
        return company

    def post_entry(self, company: Company, body: Any, *, commit: bool = True) -> str:
        try:
            booked = check(company, body)
        except Refused as exc:
            raise Problem(400, str(exc)) from None
        if not commit:
            return ""
        transaction = company.book(body, booked, open_entry=bool(body.get("open", False)))
        return f"{self.base_url}/companies/{company.slug}/transactions/{transaction}"


class _Handler(BaseHTTPRequestHandler):
    box: FikenSandbox
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        self.request_id = self.headers.get("X-Request-ID") or str(uuid.uuid4())
        self.extra: dict[str, str] = {}
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        box = self.box
        with box._lock:
            box.requests[(method, path)] += 1
        self.entered = False
        try:
            if method == "POST" and path == "/oauth/token":
                form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
                self._send(200, box.grant(self.headers.get("Authorization") or "", form))
                return
            if not path.startswith(API + "/"):
                raise Problem(404, f"No such endpoint: {method} {path}")
            box.user_of(self.headers.get("Authorization") or "")
            with box._lock:
                if box._inflight:
                    box.concurrent_refusals += 1
                    raise Problem(429, "Too many concurrent requests: only one request at a time is allowed",
                                  headers={"Retry-After": "1"})
                box._inflight += 1
                self.entered = True
            fault = box.faults.take(method, path[len(API):])
            self._answer(method, path[len(API):], query, raw, fault)
        except Problem as exc:
            self.extra.update(exc.headers)
            self._send(exc.status, exc.body or {
                "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "status": exc.status,
                "error": _REASONS.get(exc.status, "Error"), "message": exc.message, "path": path})
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self._leave()

    def _answer(self, method: str, route_path: str, query: dict[str, str], raw: bytes, fault: Any) -> None:
        box = self.box
        if fault is not None and fault.kind == "slow":
            time.sleep(box.faults.slow_seconds)
        if fault is not None and fault.kind == "429":
            raise Problem(429, "Too Many Requests", headers={"Retry-After": str(box.faults.reset_seconds)})
        if fault is not None and fault.kind == "503":
            raise Problem(503, "Service Unavailable")
        if fault is not None and fault.kind == "401":
            raise Problem(401, "Unauthorized", body={"error": "invalid_token", "error_description": "expired"})
        body = None
        if raw:
            if "json" not in (self.headers.get("Content-Type") or ""):
                raise Problem(415, "Unsupported Media Type: application/json only")
            try:
                body = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise Problem(400, f"Ugyldig JSON: {exc}") from None
        commit = fault is None or fault.kind != "timeout" or fault.commit
        status, payload, headers = route(box, method, route_path, query, body, commit=commit)
        self.extra.update(headers)
        if fault is not None and fault.kind == "commit_then_500":
            raise Problem(500, "Internal Server Error")
        if fault is not None and fault.kind == "timeout":
            self._leave()  # the work is done, only the answer is late: the next request is not a concurrent one
            time.sleep(box.faults.timeout_seconds)
        self._send(status, payload)

    def _leave(self) -> None:
        if self.entered:
            with self.box._lock:
                self.box._inflight -= 1
            self.entered = False

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8") if payload is not None else b""
        try:
            self.send_response(status)
            self.send_header("X-Request-ID", self.request_id)
            for name, value in self.extra.items():
                self.send_header(name, value)
            if payload is not None:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            415: "Unsupported Media Type", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}


def paged(items: list[dict[str, Any]], query: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One page of a list and Fiken's paging headers; `page`/`pageSize` checked as the spec bounds them."""
    try:
        page, size = int(query.get("page", 0)), int(query.get("pageSize", 25))
    except ValueError:
        raise Problem(400, "page og pageSize må være heltall") from None
    if page < 0 or not 1 <= size <= 100:
        raise Problem(400, "page må være 0 eller mer, pageSize mellom 1 og 100")
    pages = max(1, math.ceil(len(items) / size))
    headers = {"Fiken-Api-Page": str(page), "Fiken-Api-Page-Size": str(size), "Fiken-Api-Page-Count": str(pages),
               "Fiken-Api-Result-Count": str(len(items))}
    return items[page * size:(page + 1) * size], headers


