"""The Fortnox sandbox server: API v3 under `/3`, and OAuth's consent page and token endpoint under `/oauth-v1`.

Contract (reference/target-apis.md §8; https://www.fortnox.se/developer/authorization):
- `GET /oauth-v1/auth?client_id&redirect_uri&scope&state&access_type=offline&response_type=code` shows the
  consent page ("Aktivering", «Godkänn & aktivera»); approving redirects to `redirect_uri?code=…&state=…`,
  declining to `redirect_uri?error=access_denied&state=…`. An unknown client, a redirect URI the app has not
  registered, or a scope the app lacks is refused on the page itself (`invalid_scope` before login, as
  erp-mafia/accounted#1761 saw). A code lives 10 minutes and is good once.
- `POST /oauth-v1/token` (HTTP Basic client id:secret; `grant_type=authorization_code&code&redirect_uri` or
  `grant_type=refresh_token&refresh_token`) → `{access_token, refresh_token, scope, expires_in: 3600,
  token_type: "bearer"}`. Every refresh token is single use: a refresh answers a new one and spends the old.
- `/3/…` with `Authorization: Bearer`; a scope the token lacks is 403 code 2000663, a company without the licence
  400 code 2001101 "Det finns ingen aktiv licens för önskat scope" (the status as erp-mafia/accounted#1738 saw).
- 25 requests per 5 seconds per token (sliding window) → 429 `{"message": "Too many requests"}` [unverified body;
  Retry-After not documented, none sent]. `rate_limit=None` turns it off (the demo and the bench).
- Errors `{"ErrorInformation": {"error": 1, "message": "…", "code": …}}`; `X-Request-Id` on every answer
  [unverified: the header Fortnox names its request id with].
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import html
import json
import re
import secrets
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from sandboxes.faults import Faults
from sandboxes.fortnox.company import Company, Refused
from sandboxes.fortnox.routes import api

_NUMBER = re.compile(r'"\\u0000D(-?[0-9.]+)"')
SCOPES = {"bookkeeping", "companyinformation", "costcenter", "project", "invoice", "customer", "supplier", "settings",
          "archive", "inbox"}


class FortnoxSandbox:
    """An in-process Fortnox: `FortnoxSandbox().start()` → `.base_url` (ends in /3); `.stop()` when done."""

    def __init__(self, *, company: Company | None = None, client_id: str = "bilagsbro-sandbox-app",
                 client_secret: str = "sandbox-client-secret", redirect_uris: tuple[str, ...] = (),
                 refresh_token: str | None = "sandbox-refresh-token", access_seconds: int = 3600,
                 rate_limit: tuple[int, float] | None = (25, 5.0), host: str = "127.0.0.1", port: int = 0) -> None:
        self.company = company or Company().seed()
        if self.company.ledger is None:
            from sandboxes.fortnox.ledger import FortnoxLedger

            self.company.ledger = FortnoxLedger()
        self.clients = {client_id: client_secret}
        self.redirect_uris = set(redirect_uris)  # registered for the app; empty: any loopback URI (tests)
        self.app_scopes = set(SCOPES)
        self.refresh_tokens: dict[str, set[str]] = {refresh_token: set(SCOPES)} if refresh_token else {}
        self.codes: dict[str, tuple[str, set[str], float]] = {}  # code → (redirect_uri, scopes, expiry)
        self.access: dict[str, tuple[float, set[str]]] = {}  # token → (expiry, scopes)
        self.access_seconds, self.rate_limit = access_seconds, rate_limit
        self.clock = time.monotonic  # the rate limit's clock (a test holds it still: a busy machine is no faster)
        self.issued: list[str] = []  # every token handed out (tests look for them in logs)
        self.spent: list[str] = []  # refresh tokens used up
        self.faults = Faults()
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter()
        self.calls: dict[str, collections.deque[float]] = {}
        self.lock = threading.Lock()
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> FortnoxSandbox:
        sandbox = self

        class Handler(_Handler):
            box = sandbox

        self._server = ThreadingHTTPServer(self._address, Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fortnox-sandbox", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FortnoxSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        assert self._server is not None, "start() the sandbox first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return self.root + "/3"

    @property
    def token_url(self) -> str:
        return self.root + "/oauth-v1/token"

    @property
    def auth_url(self) -> str:
        return self.root + "/oauth-v1/auth"

    @property
    def client_id(self) -> str:
        return next(iter(self.clients))

    def total(self) -> int:
        return sum(self.requests.values())

    def count(self, method: str | None = None, path_suffix: str = "") -> int:
        return sum(n for (m, p), n in self.requests.items()
                   if (method is None or m == method) and p.endswith(path_suffix))

    def revoke(self) -> None:
        """The customer withdraws the permission in Fortnox: every token stops working."""
        with self.lock:
            self.refresh_tokens.clear()
            self.access.clear()

    # -- OAuth -------------------------------------------------------------------------------------------------------

    def consent_error(self, query: dict[str, str]) -> str | None:
        """Why the consent page refuses the request outright (shown on the page: nowhere safe to redirect to)."""
        if query.get("client_id") not in self.clients:
            return "Okänd klient (client_id)"
        uri = query.get("redirect_uri") or ""
        if (self.redirect_uris and uri not in self.redirect_uris) or not uri.startswith(("http://", "https://")):
            return "redirect_uri är inte registrerad för appen"
        if query.get("response_type") != "code":
            return "response_type måste vara code"
        asked = set((query.get("scope") or "").split())
        if not asked or not asked <= self.app_scopes:
            return "invalid_scope: appen har inte alla efterfrågade scopes"
        return None

    def approve(self, query: dict[str, str]) -> str:
        """The customer approved: the redirect back with a fresh code."""
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = (query["redirect_uri"], set(query["scope"].split()), time.monotonic() + 600)
        return _with(query["redirect_uri"], code=code, state=query.get("state", ""))

    def grant(self, header: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            client, _, secret = base64.b64decode(header.removeprefix("Basic ")).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            client = secret = ""
        if not header.startswith("Basic ") or self.clients.get(client) != secret:
            return 401, {"error": "invalid_client", "error_description": "Invalid client credentials"}
        kind = form.get("grant_type")
        with self.lock:
            if kind == "authorization_code":
                held = self.codes.pop(form.get("code") or "", None)
                if held is None or held[2] < time.monotonic() or held[0] != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant", "error_description": "Invalid authorization code"}
                scopes = held[1]
            elif kind == "refresh_token":
                given = form.get("refresh_token") or ""
                if given not in self.refresh_tokens:
                    return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
                scopes = self.refresh_tokens.pop(given)
                self.spent.append(given)
            else:
                return 400, {"error": "unsupported_grant_type", "error_description": str(kind)}
            access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            self.access[access] = (time.monotonic() + self.access_seconds, scopes)
            self.refresh_tokens[refresh] = scopes
            self.issued += [access, refresh]
        return 200, {"access_token": access, "refresh_token": refresh, "scope": " ".join(sorted(scopes)),
                     "expires_in": self.access_seconds, "token_type": "bearer"}

    def scopes_of(self, header: str) -> tuple[str, set[str]]:
        token = header[7:].strip() if header.startswith("Bearer ") else ""
        held = self.access.get(token)
        if held is None or held[0] < time.monotonic():
            raise Refused(401, "Unauthorized request.", 2000311)
        return token, held[1]

    def throttled(self, token: str) -> bool:
        if self.rate_limit is None:
            return False
        most, window = self.rate_limit
        now = self.clock()
        with self.lock:
            calls = self.calls.setdefault(token, collections.deque())
            while calls and calls[0] < now - window:
                calls.popleft()
            if len(calls) >= most:
                return True
            calls.append(now)
        return False


def _with(uri: str, **params: str) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


class _Handler(BaseHTTPRequestHandler):
    box: FortnoxSandbox
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, box = parts.path, self.box
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with box.lock:
            box.requests[(method, path)] += 1
        try:
            if path == "/oauth-v1/auth":
                self._consent(method, query if method == "GET" else
                              {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()})
                return
            if method == "POST" and path == "/oauth-v1/token":
                form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
                self._json(*box.grant(self.headers.get("Authorization") or "", form))
                return
            if not path.startswith("/3/"):
                raise Refused(404, f"No such endpoint: {method} {path}", 2000000)
            token, scopes = box.scopes_of(self.headers.get("Authorization") or "")
            if box.throttled(token):
                self._json(429, {"message": "Too many requests"})
                return
            fault = box.faults.take(method, path[2:])
            if fault is not None and fault.kind in ("429", "503"):
                self._json(int(fault.kind), {"message": "Too many requests" if fault.kind == "429" else
                                             "Service Unavailable"})
                return
            body = json.loads(raw.decode("utf-8"), parse_float=Decimal) if raw else None
            commit = fault is None or fault.kind != "timeout" or fault.commit
            status, payload = api(box.company, method, path[2:], query, body, scopes, commit=commit)
            if fault is not None and fault.kind == "commit_then_500":
                raise Refused(500, "Internal server error", 1000003)
            if fault is not None and fault.kind == "timeout":
                time.sleep(box.faults.timeout_seconds)
            if isinstance(payload, bytes):  # a file: the SIE export, an archived document
                self._send(status, payload, "text/plain; charset=cp437" if path.startswith("/3/sie/")
                           else "application/pdf")
            else:
                self._json(status, payload)
        except Refused as exc:
            self._json(exc.status, {"ErrorInformation": {"error": 1, "message": exc.message, "code": exc.code}})
        except ValueError as exc:
            self._json(400, {"ErrorInformation": {"error": 1, "message": f"Ogiltig JSON: {exc}", "code": 2002115}})
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _consent(self, method: str, query: dict[str, str]) -> None:
        box = self.box
        refused = box.consent_error(query)
        if refused:
            self._page(400, f"<h1>Fel</h1><p id='error'>{html.escape(refused)}</p>")
        elif method == "POST" and query.get("decision") == "approve":
            self._redirect(box.approve(query))
        elif method == "POST":
            self._redirect(_with(query["redirect_uri"], error="access_denied", state=query.get("state", "")))
        else:
            hidden = "".join(f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
                             for k, v in query.items())
            scopes = "".join(f"<li>{html.escape(s)}</li>" for s in sorted(query["scope"].split()))
            self._page(200, f"<h1>Aktivering</h1><p>{html.escape(box.company.name)} "
                            f"({box.company.organization_number})</p><p>Integrationen begär behörighet till:</p>"
                            f"<ul>{scopes}</ul><form method='post' action='/oauth-v1/auth'>{hidden}"
                            "<button name='decision' value='approve'>Godkänn &amp; aktivera</button>"
                            "<button name='decision' value='deny'>Avbryt</button></form>")

    def _page(self, status: int, body: str) -> None:
        self._send(status, f"<!doctype html><html lang='sv'><meta charset='utf-8'><title>Fortnox</title>"
                           f"<body>{body}</body></html>".encode(), "text/html; charset=utf-8")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _json(self, status: int, payload: Any) -> None:
        def default(value: Any) -> Any:
            if isinstance(value, Decimal):
                return f"\x00D{value:f}"  # an exact JSON number, never through float
            if isinstance(value, dt.date):
                return value.isoformat()
            raise TypeError(type(value).__name__)
        text = _NUMBER.sub(r"\1", json.dumps(payload, ensure_ascii=False, default=default))
        self._send(status, text.encode("utf-8"), "application/json; charset=utf-8")

    def _send(self, status: int, data: bytes, kind: str) -> None:
        try:
            self.send_response(status)
            self.send_header("X-Request-Id", str(uuid.uuid4()))
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
