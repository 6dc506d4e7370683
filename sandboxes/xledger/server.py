"""The Xledger sandbox: GraphQL over real HTTP on loopback, every query validated against schema.graphql.

Contract (reference/target-apis.md §6; sources in schema.graphql):
- `POST /graphql` with JSON `{query, variables}` and `Authorization: token <API token>` (the literal word `token`).
- Answers in GraphQL's shape: `{"data": …}` and/or `{"errors": [{"message", "locations", "path", "extensions"}]}`;
  Xledger adds a top-level `code` to some errors (`BAD_REQUEST.BURST_RATE_LIMIT_REACHED`,
  `BAD_REQUEST.CONCURRENCY_LIMIT_REACHED`, `BAD_REQUEST.INSUFFICIENT_CREDITS`). A query that breaks the schema is
  refused before anything runs (graphql-core's validation, `extensions.code: GRAPHQL_VALIDATION_FAILED`).
- HTTP status: 200 for GraphQL errors (integrators' clients read rate limits out of a 200's body); 401 for a token
  Xledger does not know or cannot read [unverified]. `X-Request-Id` on every answer [unverified].
- Rate limit: `burst` requests per second per token, then the burst-limit error (nothing runs).
- Faults on the next mutations: "429" (the burst-limit error), "503", "500-after-commit", "timeout-after-commit".
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import graphql

from sandboxes.loopback import Loopback
from sandboxes.xledger.company import Entity, Refused
from sandboxes.xledger.root import Root

SCHEMA = graphql.build_schema((Path(__file__).parent / "schema.graphql").read_text("utf-8"))
FAULTS = ("429", "503", "500-after-commit", "timeout-after-commit")
BURST = "BAD_REQUEST.BURST_RATE_LIMIT_REACHED"


class XledgerSandbox(Loopback):
    """`XledgerSandbox().start()` → `.base_url` (ends in /graphql); `.stop()` when done."""

    def __init__(self, *, token: str = "sandbox-xledger-token", entity: Entity | None = None,
                 host: str = "127.0.0.1", port: int = 0, burst: int = 1000) -> None:
        self.token = token
        self.entity = entity or Entity()
        self.host, self.port, self.burst = host, port, burst
        self.timeout_seconds = 2.0  # how long a "timeout-after-commit" stalls: longer than the client waits
        self.scopes: set[str] | None = None  # root fields the token may use; None: all
        self.requests: list[dict[str, Any]] = []  # every request: {"query", "variables", "fields", "status"}
        self._faults: list[str] = []
        self._draws: Any = None  # (random.Random, rate) for faults drawn per mutation
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def start(self) -> XledgerSandbox:
        sandbox = self

        class Handler(_Handler):
            owner = sandbox

        self._address = (self.host, self.port)
        self._serve(Handler, name="xledger-sandbox")
        self.port = int(self.origin.rsplit(":", 1)[1])  # the one picked when 0 was asked for
        return self

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/graphql"

    def held(self) -> list[tuple[str, bool, str]]:
        """(reference, draft, texts) per voucher, in creation order: a voucher is a draft while it waits in the
        workflow; import items not processed yet (or refused by processing) are not in the ledger: drafts too."""
        entity = self.entity
        rows: dict[Any, tuple[str, bool, list[str]]] = {}
        with entity.lock:
            for header in entity.vouchers:
                lines = header["lines"]
                rows[("v", header["dbId"])] = (str(lines[0]["extIdentifier"]), header["_workflow"],
                                                [str(line.get("text") or "") for line in lines])
            for item in entity.items:
                if item["_state"] in ("pending", "failed"):
                    key = ("i", item["trRegNumber"])
                    ref, _, texts = rows.get(key, (str(item.get("extIdentifier")), True, []))
                    rows[key] = (ref, True, [*texts, str(item.get("text") or "")])
        return [(ref, draft, " ".join(texts)) for ref, draft, texts in rows.values()]

    def invalid(self) -> list[dict[str, Any]]:
        """The requests whose query broke the schema file (a connector's bug)."""
        with self._lock:
            return [r for r in self.requests if r.get("invalid")]

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def fault(self, kind: str, *, times: int = 1) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        with self._lock:
            self._faults += [kind] * times

    def faults_at_rate(self, draws: Any, rate: float) -> None:
        """From now on each mutation fails with a passing fault with probability `rate` (drawn from `draws`)."""
        with self._lock:
            self._draws = (draws, rate)

    def _take_fault(self) -> str | None:
        with self._lock:
            if self._faults:
                return self._faults.pop(0)
            if self._draws is not None:
                draws, rate = self._draws
                roll = draws.random()
                if roll < rate:  # half refused before commit, half committed then 500
                    return ("503" if roll < rate / 4 else "429") if roll < rate / 2 else "500-after-commit"
        return None

    def _limited(self) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] > 1.0:
                self._times.popleft()
            self._times.append(now)
            return len(self._times) > self.burst


def _error(message: str, *, code: str | None = None, extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"message": message, **({"code": code} if code else {}), **({"extensions": extensions} if extensions else {})}


def _formatted(error: graphql.GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    if isinstance(original, Refused):
        if original.code:
            out["code"] = original.code
        if original.clients:
            out.setdefault("extensions", {})["clientIds"] = list(original.clients)
    return dict(out)


class _Handler(BaseHTTPRequestHandler):
    owner: XledgerSandbox
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        sandbox = self.owner
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0] != "/graphql":
            return self._send(404, {"errors": [_error("Not found")]})
        record: dict[str, Any] = {"fields": []}
        with sandbox._lock:
            sandbox.requests.append(record)
        header = self.headers.get("Authorization") or ""
        if not header.startswith("token "):
            return self._send(401, {"errors": [_error("Bad format for API token")]})
        if header.removeprefix("token ") != sandbox.token:
            return self._send(401, {"errors": [_error("Invalid API token")]})
        try:
            body = json.loads(raw.decode("utf-8"))
            query, variables = body["query"], body.get("variables") or {}
            document = graphql.parse(query)
        except (ValueError, KeyError, TypeError, graphql.GraphQLError) as exc:
            return self._send(400, {"errors": [_error(f"Syntax error: {exc}")]})
        record.update(query=query, variables=variables)
        invalid = graphql.validate(SCHEMA, document)
        if invalid:
            record["invalid"] = [e.message for e in invalid]
            return self._send(200, {"errors": [{**e.formatted, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}
                                               for e in invalid]})
        fields = [f.name.value for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)
                  for f in d.selection_set.selections if isinstance(f, graphql.FieldNode)]
        record["fields"] = fields
        if sandbox._limited():
            return self._send(200, {"errors": [_error("Too many requests", code=BURST)]})
        denied = [f for f in fields if sandbox.scopes is not None and f not in sandbox.scopes]
        if denied:
            return self._send(200, {"errors": [_error(f"The API token has no access to '{denied[0]}'.",
                                                      extensions={"code": "FORBIDDEN"})]})
        fault = sandbox._take_fault() if "addGLImportItems" in fields else None
        if fault == "429":
            return self._send(200, {"errors": [_error("Too many requests", code=BURST)]})
        if fault == "503":
            return self._send_text(503, "Service Unavailable")
        root = Root(sandbox.entity)
        result = graphql.execute_sync(SCHEMA, document, root_value=root, variable_values=variables)
        answer: dict[str, Any] = {"data": result.data}
        errors = [_formatted(e) for e in result.errors or ()]
        errors += [{"message": r.message, "path": ["addGLImportItems"], "extensions": {"clientIds": list(r.clients)}}
                   for r in root.partial]
        if errors:
            answer["errors"] = errors
        if fault == "500-after-commit":
            return self._send_text(500, "Internal Server Error")
        if fault == "timeout-after-commit":
            time.sleep(sandbox.timeout_seconds)
        self._send(200, answer)

    def _send(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False, default=lambda o: str(o) if isinstance(o, Decimal) else None)
        self._write(status, body.encode("utf-8"), "application/json; charset=utf-8")

    def _send_text(self, status: int, text: str) -> None:
        self._write(status, text.encode("utf-8"), "text/plain; charset=utf-8")

    def _write(self, status: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Request-Id", uuid.uuid4().hex)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
