"""The Visma.net sandbox server: Visma Connect's token endpoint and the ERP API over real HTTP on loopback.

Contract (official spec `../shared/specs/visma-net/swagger.json`, reference/target-apis.md §7):
- `POST /connect/token` (form: grant_type=client_credentials, client_id, client_secret, scope, tenant_id) →
  `{"access_token", "expires_in", "token_type": "Bearer", "scope"}`; OAuth errors `{"error", "error_description"}`
  (`invalid_client`, `invalid_scope`, and `invalid_tenant` for a tenant that has not approved the integration).
- The API under `/v1`, `/v2` with `Authorization: Bearer`; a token past its lifetime answers 401. A tenant id of the
  customer agreement rather than of a company answers the platform's IPPException 12027, "No license for this
  company." (status [unverified]: 403 here).
- `X-RateLimit-Limit/-Remaining/-Reset/-Policy` on every API answer; 429 with `Retry-After` once the window's
  calls are spent.
- Journal transactions by journal.py's rules; `Location` on the 201 of `POST /v2/journaltransaction`.
- Customers, customer invoices, credit notes and payments by receivables.py (the customer ledger).
- Faults on demand (`sandbox.faults`, sandboxes/faults.py): 429, 503, 401, commit-then-500, a timeout after (or
  before) commit, a slow answer.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
import secrets
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sandboxes.faults import Faults
from sandboxes.loopback import Loopback
from sandboxes.visma_net import journal, receivables
from sandboxes.visma_net.company import Company

SCOPES = ("vismanet_erp_service_api:read", "vismanet_erp_service_api:create", "vismanet_erp_service_api:update")
NOT_AUTHORISED = "Authorization has been denied for this request."  # ASP.NET Web API's words [unverified]


_NUMBER = re.compile(r'"\\u0000D(-?[0-9.]+)"')


def encode(value: Any) -> bytes:
    """JSON with Decimals as exact numbers, æøå as UTF-8."""
    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            return f"\x00D{obj:f}"
        raise TypeError(type(obj).__name__)
    return _NUMBER.sub(r"\1", json.dumps(value, default=default, ensure_ascii=False)).encode("utf-8")


class _Error(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status, self.body, self.headers = status, body, headers or {}


class VismaNetSandbox(Loopback):
    """An in-process Visma.net: `VismaNetSandbox().start()` → `.base_url`, `.token_url`; `.stop()` when done."""

    def __init__(self, *, company: Company | None = None, client_id: str = "isv_bilagsbro",
                 client_secret: str = "sandbox-client-secret", tenant_id: str = "6f1b1c5e-3c4a-4e2b-9a51-3e8d2f0c7a11",
                 customer_tenant_id: str = "0d2a9e77-81f4-4b6c-a0f3-5b7c9d1e2f30", token_lifetime: int = 3600,
                 rate_limit: int = 100_000, rate_period: float = 3600.0, host: str = "127.0.0.1", port: int = 0) -> None:
        self.company = company or Company().seed()
        self.receivables = receivables.Receivables(self.company)  # customers, invoices, credit notes, payments
        self.client_id, self.client_secret = client_id, client_secret
        self.tenant_id, self.customer_tenant_id = tenant_id, customer_tenant_id
        self.granted: set[str] = set(SCOPES)  # the scopes the company approved for the integration
        self.forbidden_paths: set[str] = set()  # routes the integration's user may not reach: 403
        self.location = True  # [unverified] that the 201 names the new transaction in `Location`: False leaves it out
        self.token_lifetime = token_lifetime
        self.rate_limit, self.rate_period = rate_limit, rate_period
        self.faults = Faults()
        self.tokens: dict[str, tuple[str, float]] = {}  # token → (tenant, monotonic end)
        self.issued: list[str] = []
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter()
        self._window = (time.monotonic(), 0)
        self._lock = threading.Lock()
        self._address = (host, port)

    def start(self) -> VismaNetSandbox:
        sandbox = self

        class Handler(_Handler):
            box = sandbox

        self._serve(Handler, name="visma-net-sandbox")
        return self

    @property
    def base_url(self) -> str:
        return self.origin

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/connect/token"

    @property
    def batches(self) -> list[dict[str, Any]]:
        with self.company.lock:
            return [dict(b) for b in self.company.batches.values()]

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """Requests by method and path, the prefix matched by whole segments (`/v1/vat` is not `/v1/vatCategory`;
        `/v2/journaltransaction/` is what lies below it)."""
        return sum(n for (m, p), n in self.requests.items()
                   if (method is None or m == method)
                   and (not path_prefix or p == path_prefix or p.startswith(path_prefix.rstrip("/") + "/")))

    def requests_served(self) -> int:
        return sum(self.requests.values())

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def _rate(self) -> tuple[dict[str, str], bool]:
        with self._lock:
            start, used = self._window
            now = time.monotonic()
            if now - start >= self.rate_period:
                start, used = now, 0
            allowed = used < self.rate_limit
            used += allowed
            self._window = (start, used)
            reset = str(max(1, int(self.rate_period - (now - start))))
        return {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": str(max(0, self.rate_limit - used)),
                "X-RateLimit-Reset": reset, "X-RateLimit-Policy": "4-fixed-window"}, allowed


class _Handler(BaseHTTPRequestHandler):
    box: VismaNetSandbox
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

    def _handle(self, method: str) -> None:
        self.visma_id = str(uuid.uuid4())
        self.headers_out: dict[str, str] = {}
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        box = self.box
        with box._lock:
            box.requests[(method, path)] += 1
        try:
            if path == "/connect/token" and method == "POST":
                self._send(200, self._token(raw))
                return
            tenant = self._authorise()
            rate, allowed = box._rate()
            self.headers_out.update(rate)
            if not allowed:
                raise _Error(429, {"message": "API rate limit exceeded."}, {"Retry-After": rate["X-RateLimit-Reset"]})
            if tenant != box.tenant_id:
                raise _Error(403, {"ExceptionType": "IPPException", "ExceptionMessage": "No license for this company.",
                                   "ExceptionFaultCode": "12027", "ExceptionMessageID": f"12027_{self.visma_id}",
                                   "ExceptionDetails": ""})
            if path in box.forbidden_paths:
                raise _Error(403, self._message("You do not have access rights to this resource."))
            fault = box.faults.take(method, path)
            if fault is not None and fault.kind == "slow":
                time.sleep(box.faults.slow_seconds)
            if fault is not None and fault.kind == "401":
                raise _Error(401, {"message": NOT_AUTHORISED}, {"WWW-Authenticate": "Bearer"})
            if fault is not None and fault.kind == "timeout" and not fault.commit:
                time.sleep(box.faults.timeout_seconds)  # lost before anything was stored
            if fault is not None and fault.kind == "429":
                raise _Error(429, {"message": "API rate limit exceeded."},
                             {"Retry-After": str(box.faults.reset_seconds), "X-RateLimit-Remaining": "0"})
            if fault is not None and fault.kind == "503":
                raise _Error(503, self._message("The service is temporarily unavailable."))
            body = json.loads(raw, parse_float=Decimal) if raw else None
            status, payload = self._route(method, path, query, body)
            if fault is not None and fault.kind == "commit_then_500":
                raise _Error(500, self._message("An error has occurred."))
            if fault is not None and fault.kind == "timeout":
                time.sleep(box.faults.timeout_seconds)
            self._send(status, payload)
        except journal.Refused as exc:
            self._send(exc.status, self._message(" ".join(exc.messages)))
        except _Error as exc:
            self.headers_out.update(exc.headers)
            self._send(exc.status, exc.body)
        except ValueError as exc:  # a body that is no JSON
            self._send(400, self._message(f"The request is invalid. {exc}"))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _message(self, text: str) -> dict[str, str]:
        return {"message": f"VismaId: {self.visma_id}. {text}"}

    def _send(self, status: int, payload: Any) -> None:
        data = encode(payload) if payload is not None else b""
        try:
            self.send_response(status)
            for name, value in self.headers_out.items():
                self.send_header(name, value)
            if payload is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _token(self, raw: bytes) -> dict[str, Any]:
        box = self.box
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()}
        if self.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
            raise _Error(400, {"error": "invalid_request"})
        if form.get("grant_type") != "client_credentials":
            raise _Error(400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != box.client_id or form.get("client_secret") != box.client_secret:
            raise _Error(400, {"error": "invalid_client"})
        asked = set(form.get("scope", "").split())
        if not asked <= box.granted:
            raise _Error(400, {"error": "invalid_scope"})
        tenant = form.get("tenant_id", "")
        if tenant not in (box.tenant_id, box.customer_tenant_id):
            raise _Error(400, {"error": "invalid_tenant",
                               "error_description": "The application is not authorized for the tenant."})
        token = secrets.token_urlsafe(32)
        box.tokens[token] = (tenant, time.monotonic() + box.token_lifetime)
        box.issued.append(token)
        return {"access_token": token, "expires_in": box.token_lifetime, "token_type": "Bearer",
                "scope": " ".join(sorted(asked))}

    def _authorise(self) -> str:
        header = self.headers.get("Authorization") or ""
        held = self.box.tokens.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if held is None or held[1] < time.monotonic():
            raise _Error(401, {"message": NOT_AUTHORISED}, {"WWW-Authenticate": "Bearer"})
        return held[0]

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        company = self.box.company
        routed = receivables.route(self.box.receivables, self.box.base_url, method, path, query, body)
        if routed is not None:
            status, payload, headers = routed
            self.headers_out.update(headers)
            return status, payload
        with company.lock:
            if method == "GET":
                return 200, self._get(company, path, query)
            if method == "POST" and path == "/v2/journaltransaction":
                now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                batch = journal.create(company, body, now=now)
                if self.box.location:
                    self.headers_out["Location"] = f"{self.box.base_url}/v2/journaltransaction/{batch['batchNumber']}"
                return 201, None
            parts = path.split("/")
            if method == "POST" and len(parts) == 6 and parts[1:3] == ["v2", "journaltransaction"] \
                    and parts[4:] == ["action", "release"]:
                journal.release(company, parts[3])
                return 200, {"actionId": str(uuid.uuid4()), "actionResult": "Done", "errorInfo": None}
        raise _Error(404, {"message": f"No HTTP resource was found that matches the request URI '{path}'."})

    def _get(self, company: Company, path: str, query: dict[str, str]) -> Any:
        lists: dict[str, Any] = {
            "/v1/account": lambda: [a for a in company.accounts.values()
                                    if query.get("active") in (None, str(a["active"]).lower())],
            "/v1/vat": lambda: list(company.vats.values()),
            "/v1/vatCategory": lambda: list(company.categories.values()),
            "/v1/branch": lambda: list(company.branches.values()),
            "/v1/financialPeriod": lambda: sorted(company.periods.values(), key=lambda p: p["period"]),
            "/v2/journaltransaction": lambda: journal.listing(company, query),
        }
        if path in lists:
            return lists[path]()
        parts = path.split("/")
        if len(parts) == 5 and parts[1:3] == ["v1", "dimension"] and parts[3] == "SUBACCOUNT" and parts[4].isdigit():
            segment = company.segments.get(int(parts[4]))
            if segment is None:
                raise _Error(404, self._message(f"Segment '{parts[4]}' cannot be found in the system."))
            return segment
        if len(parts) == 4 and parts[1:3] == ["v1", "inventory"]:
            item = company.items.get(parts[3])
            if item is None:
                raise _Error(404, self._message(f"Inventory item '{parts[3]}' cannot be found in the system."))
            return item
        if len(parts) == 4 and parts[1:3] == ["v1", "project"]:
            project = company.projects.get(parts[3])
            if project is None:
                raise _Error(404, self._message(f"Project '{parts[3]}' cannot be found in the system."))
            return project
        if len(parts) == 4 and parts[1:3] == ["v2", "journaltransaction"]:
            batch = company.batches.get(parts[3])
            if batch is None:
                raise _Error(404, self._message(f"Journal transaction '{parts[3]}' cannot be found in the system."))
            return batch
        raise _Error(404, {"message": f"No HTTP resource was found that matches the request URI '{path}'."})
