"""The Business NXT sandbox server: Visma Connect's token endpoint and Business NXT's GraphQL service endpoint over
real HTTP on loopback, with the gateway's rate limit and faults on demand.

- `POST /connect/token` (form): client_credentials with the integration's client id and secret and the scope
  `business-graphql-service-api:access-group-based` → `{"access_token", "expires_in", "token_type": "Bearer",
  "scope"}`; OAuth 2 errors otherwise (`invalid_client`, `unsupported_grant_type`, `invalid_scope`, HTTP 400).
- `POST /api/graphql-service` with `Authorization: Bearer <token>`: GraphQL over JSON (`query`, `variables`,
  `operationName`), every document validated against schema.graphql; HTTP 200 with `data`/`errors` whatever
  happened, 401 with nginx's HTML page for a missing or expired token, 429 from the gateway past 600 requests a
  minute per token ([unverified] its headers: `Retry-After` here). Every answer carries `x-request-id`
  ([unverified] Business NXT's name for it).
- Faults on the requests that create a batch (`batch_create`) or update one: "429", "503" (refused, nothing
  done), "commit_then_500" (done, then answered 500), "timeout" (done, then no answer in time).
"""

from __future__ import annotations

import collections
import json
import random
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from sandboxes.business_nxt.company import Company
from sandboxes.business_nxt.graph import Root, load_schema, run
from sandboxes.loopback import Loopback

SCOPE = "business-graphql-service-api:access-group-based"
GRAPHQL_PATH = "/api/graphql-service"
TOKEN_PATH = "/connect/token"
FAULT_KINDS = ("429", "503", "commit_then_500", "timeout")
NGINX_401 = (b"<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 "
             b"Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


def encode(value: Any) -> bytes:
    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            return f"\x00D{obj}"
        raise TypeError(type(obj).__name__)
    text = json.dumps(value, default=default, ensure_ascii=False)
    return re.sub(r'"\\u0000D(-?[0-9.]+)"', r"\1", text).encode("utf-8")


@dataclass
class Faults:
    """Misbehaviour on the next batch-creating requests: `sandbox.faults.add("commit_then_500", times=1)`; with
    `chance` below 1 a fault fires on that share of them (drawn from `seed`)."""

    timeout_seconds: float = 2.0
    retry_after: int = 1
    seed: int = 9
    active: list[list[Any]] = field(default_factory=list)  # [kind, times left, chance, "create" or "update"]
    fired: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _draws: random.Random = field(default_factory=random.Random)

    def add(self, kind: str, *, times: int = 1, chance: float = 1.0, on: str = "create") -> None:
        """`on`: the requests that create a batch ("create") or update one ("update")."""
        if kind not in FAULT_KINDS or on not in ("create", "update"):
            raise ValueError(f"unknown fault {kind!r} on {on!r}; one of {FAULT_KINDS} on create or update")
        with self._lock:
            self.active.append([kind, times, chance, on])

    def clear(self, seed: int | None = None) -> None:
        with self._lock:
            self.active.clear()
            if seed is not None:
                self._draws.seed(seed)

    def take(self, request: str) -> str | None:
        with self._lock:
            for fault in self.active:
                if fault[3] == request and fault[1] > 0 and (fault[2] >= 1.0 or self._draws.random() < fault[2]):
                    fault[1] -= 1
                    self.fired.append(fault[0])
                    return str(fault[0])
        return None


class BusinessNxtSandbox(Loopback):
    """An in-process Business NXT: `BusinessNxtSandbox().start()` → `.base_url` (the GraphQL endpoint), `.token_url`."""

    def __init__(self, *, client_id: str = "bilagsbro-sandbox", client_secret: str = "sandbox-client-secret",
                 host: str = "127.0.0.1", port: int = 0, seed: bool = True, token_seconds: int = 3600,
                 rate_limit: int = 600) -> None:
        self.clients = {client_id: client_secret}
        self.client_id, self.client_secret = client_id, client_secret
        self.companies: dict[int, Company] = {}
        self.reachable: dict[str, set[int]] = {client_id: set()}  # the service user's Connect Application Access
        if seed:
            self.seed_demo()
        self.token_seconds = token_seconds
        self.rate_limit = rate_limit  # requests a minute per token
        self.tokens: dict[str, tuple[str, float]] = {}  # token → (client id, expires at)
        self.issued: list[str] = []
        self.faults = Faults()
        self.requests: collections.Counter[str] = collections.Counter()  # "token", "query", "mutation"
        self.operations: list[str] = []  # operationName of every GraphQL request served
        self.schema = load_schema()
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._address = (host, port)

    def seed_demo(self) -> None:
        """Customer 5000001 (a firm) with two companies the integration reaches and one it does not; customer
        5000002 with one more."""
        for company in (Company(5280001, 5000001, "Fjordkafé Demo AS", "912345688").seed_demo(),
                        Company(5280002, 5000001, "Bjørnøya Bakeri AS", "923456791").seed_demo(),
                        Company(5280003, 5000001, "Ikke Tilgang AS", "934567890").seed_demo(),
                        Company(5290001, 5000002, "Lillehammer Sport AS", "945678909").seed_demo()):
            self.companies[company.no] = company
        self.reachable[self.client_id] = {5280001, 5280002, 5290001}

    @property
    def company(self) -> Company:
        """The demo company (the first)."""
        return self.companies[5280001]

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> BusinessNxtSandbox:
        sandbox = self

        class Handler(_Handler):
            box = sandbox

        self._serve(Handler, name="business-nxt-sandbox")
        return self

    def _origin(self) -> str:
        return self.origin

    @property
    def base_url(self) -> str:
        return self._origin() + GRAPHQL_PATH

    @property
    def token_url(self) -> str:
        return self._origin() + TOKEN_PATH

    def count(self, kind: str | None = None) -> int:
        return sum(n for k, n in self.requests.items() if kind is None or k == kind)

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    # -- auth and limits ----------------------------------------------------------------------------------

    def issue(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        client = form.get("client_id", "")
        given = form.get("client_secret", "").encode("utf-8")
        if client not in self.clients or not secrets.compare_digest(self.clients[client].encode("utf-8"), given):
            return 400, {"error": "invalid_client"}
        if form.get("scope") != SCOPE:
            return 400, {"error": "invalid_scope"}
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = (client, time.monotonic() + self.token_seconds)
            self.issued.append(token)
        return 200, {"access_token": token, "expires_in": self.token_seconds, "token_type": "Bearer", "scope": SCOPE}

    def client_of(self, header: str | None) -> str | None:
        token = (header or "").removeprefix("Bearer ").strip()
        with self._lock:
            found = self.tokens.get(token)
        return found[0] if found and found[1] > time.monotonic() else None

    def allowed(self, header: str) -> bool:
        with self._lock:
            start, used = self._windows.get(header, (time.monotonic(), 0))
            if time.monotonic() - start >= 60:
                start, used = time.monotonic(), 0
            self._windows[header] = (start, used + 1)
            return used < self.rate_limit

    def answer(self, client: str, body: dict[str, Any]) -> dict[str, Any]:
        reachable = self.reachable.get(client, set())
        return run(self.schema, lambda mutation: Root(self.companies, reachable, mutation=mutation),
                   str(body.get("query") or ""), body.get("variables"), body.get("operationName"))


class _Handler(BaseHTTPRequestHandler):
    box: BusinessNxtSandbox
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stalls

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        try:
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up first (the "timeout" fault)
            self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == TOKEN_PATH:
            self.box.requests["token"] += 1
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
            status, answer = self.box.issue(form)
            self._send(status, encode(answer))
            return
        if self.path != GRAPHQL_PATH:
            self._send(404, b"<html><body>404 Not Found</body></html>", "text/html")
            return
        header = self.headers.get("Authorization") or ""
        client = self.box.client_of(header)
        if client is None:
            self.box.requests["unauthorized"] += 1
            self._send(401, NGINX_401, "text/html")
            return
        if not self.box.allowed(header):
            self.box.requests["limited"] += 1
            self._send(429, encode({"message": "Too Many Requests"}), headers={"Retry-After": "60"})
            return
        try:
            body = json.loads(raw, parse_float=Decimal)
        except ValueError:
            self._send(400, encode({"errors": [{"message": "The request body is not JSON"}]}))
            return
        query = str(body.get("query") or "")
        self.box.requests["mutation" if query.lstrip().startswith("mutation") else "query"] += 1
        self.box.operations.append(str(body.get("operationName")))
        request = "create" if "batch_create" in query else "update" if "updateBatch" in query else None
        fault = self.box.faults.take(request) if request else None
        if fault in ("429", "503"):
            headers = {"Retry-After": str(self.box.faults.retry_after)}
            self._send(int(fault), encode({"message": "Too Many Requests" if fault == "429" else "Service "
                                           "Unavailable"}), headers=headers)
            return
        answer = self.box.answer(client, body)
        if fault == "commit_then_500":
            self._send(500, encode({"message": "An error occurred while processing the request"}))
            return
        if fault == "timeout":
            time.sleep(self.box.faults.timeout_seconds)
        self._send(200, encode(answer))
