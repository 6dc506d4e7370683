"""The PowerOffice GO sandbox server: OAuth token, API v2 under `/v2`, the API gateway's key and rate limit, faults.

Contract (reference/target-apis.md §2; docs/fidelity.md lists every rule, its source and what is unverified):
- `POST /OAuth/Token` (form `grant_type=client_credentials`, Basic `applicationKey:clientKey`) → `{"access_token",
  "token_type": "bearer", "expires_in"}`; wrong keys → 400 `{"error": "invalid_client", "error_description": …}`.
- Every request, the token request too, needs the subscription key (`Ocp-Apim-Subscription-Key` header or
  `subscription-key` query), else 401 `{"statusCode": 401, "message": "Access denied due to … subscription key. …"}`.
- API calls need `Authorization: Bearer <token>`; an unknown or expired token → 401 (empty body).
- 10 requests per second per subscription key → 429 `{"statusCode": "429", "message": "Rate limit is exceeded. Try
  again in 1 seconds."}` with `Retry-After`.
- Lists are bare JSON arrays (paged by `PageNumber`/`PageSize`, `Fields` selects properties); an empty list is 204.
- Refusals are ProblemDetails `{"type","title","status","detail","instance","traceId"}`; a missing role is 403.
- The sales side (routes.py, sales.py): products, customers (POST, JSON Patch), sales orders, createAndSendInvoice
  (202) and sentState, outgoing invoices with open amounts, bank vouchers that settle them.
"""

from __future__ import annotations

import base64
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
from sandboxes.poweroffice_go import routes, sales
from sandboxes.poweroffice_go.company import ROLES, GoClient, Invalid

_NUMBER = re.compile(r'"\\u0000D(-?[0-9.]+)"')
SUBSCRIPTION_INVALID = ("Access denied due to invalid subscription key. Make sure to provide a valid key for an "
                        "active subscription.")
SUBSCRIPTION_MISSING = ("Access denied due to missing subscription key. Make sure to include subscription key when "
                        "making requests to an API.")
INVALID_CLIENT = "Client integration not found. Please ensure the provided keys are matching the desired environment."


def encode(value: Any) -> bytes:
    """JSON with Decimals as exact numbers, private `_` keys dropped, æøå as UTF-8."""
    def clean(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items() if not k.startswith("_")}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return obj

    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            return f"\x00D{obj}"
        raise TypeError(type(obj).__name__)
    return _NUMBER.sub(r"\1", json.dumps(clean(value), default=default, ensure_ascii=False)).encode("utf-8")


class _Answer(Exception):
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class PowerOfficeSandbox(Loopback):
    """An in-process PowerOffice GO: `PowerOfficeSandbox().start()` → `.base_url` (ends in /v2); `.stop()`."""

    def __init__(self, *, application_key: str = "sandbox-application-key", client_key: str = "sandbox-client-key",
                 subscription_key: str = "sandbox-subscription-key", client: GoClient | None = None,
                 seed: str | None = "demo", rate_limit: int = 10, token_lifetime: int = 1200,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.application_key, self.client_key, self.subscription_key = application_key, client_key, subscription_key
        self.client = client or GoClient()
        if client is None:
            self.client.seed_standard()
            if seed == "demo":
                self.client.seed_demo()
        self.rate_limit = rate_limit  # requests per second per subscription key
        self.token_lifetime = token_lifetime
        self.roles: set[str] = set(ROLES)  # what the integration may do on this client
        self.faults = Faults()
        self.sales = sales.GoSales(self.client)  # products, customers, sales orders, invoices, payments (sales.py)
        if client is None and seed == "demo":
            self.sales.seed_demo()
        self.tokens: dict[str, float] = {}  # token → monotonic expiry
        self.issued: list[str] = []
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter()
        self._window: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self._address = (host, port)

    def start(self) -> PowerOfficeSandbox:
        sandbox = self

        class Handler(_Handler):
            box = sandbox

        self._serve(Handler, name="poweroffice-sandbox")
        return self

    @property
    def root(self) -> str:
        return self.origin

    @property
    def base_url(self) -> str:
        return f"{self.root}/v2"

    def count(self, method: str | None = None, path: str = "") -> int:
        return sum(n for (m, p), n in self.requests.items() if (method is None or m == method) and p.startswith(path))

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def _throttled(self) -> bool:
        with self._lock:
            now = time.monotonic()
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= self.rate_limit:
                return True
            self._window.append(now)
            return False


class _Handler(BaseHTTPRequestHandler):
    box: PowerOfficeSandbox
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        self.trace = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        box = self.box
        with box._lock:
            box.requests[(method, path)] += 1
        try:
            key = self.headers.get("Ocp-Apim-Subscription-Key") or query.get("subscription-key")
            if not key:
                raise _Answer(401, {"statusCode": 401, "message": SUBSCRIPTION_MISSING})
            if key != box.subscription_key:
                raise _Answer(401, {"statusCode": 401, "message": SUBSCRIPTION_INVALID})
            if box._throttled():
                raise _Answer(429, {"statusCode": "429", "message": "Rate limit is exceeded. Try again in 1 seconds."},
                              {"Retry-After": "1"})
            if method == "POST" and path.lower() in ("/oauth/token", "/demo/oauth/token"):
                raise _Answer(200, self._token(raw))
            if not path.startswith("/v2/"):
                raise _Answer(404, self._problem(404, "Not found", f"No resource at {path}."))
            self._authorise()
            route = path[len("/v2"):]
            fault = box.faults.take(method, route)
            if fault is not None and fault.kind in ("429", "503"):
                if fault.kind == "429":
                    raise _Answer(429, {"statusCode": "429", "message": "Rate limit is exceeded. Try again in 1 "
                                                                        "seconds."}, {"Retry-After": "1"})
                raise _Answer(503, {"statusCode": 503, "message": "Service Unavailable"})
            body = json.loads(raw.decode("utf-8"), parse_float=Decimal) if raw else None
            commit = fault is None or fault.kind != "timeout" or fault.commit
            status, payload = self._route(method, route, query, body) if commit else (201, None)
            if fault is not None and fault.kind == "commit_then_500":
                raise _Answer(500, self._problem(500, "An error occurred while processing your request.", None))
            if fault is not None and fault.kind == "timeout":
                time.sleep(box.faults.timeout_seconds)
            self._send(status, payload)
        except _Answer as answer:
            self._send(answer.status, answer.body, answer.headers)
        except (ValueError, UnicodeDecodeError) as exc:
            self._send(400, self._problem(400, "Invalid request body", str(exc)))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _problem(self, status: int, title: str, detail: str | None) -> dict[str, Any]:
        kinds = {400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                 404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
                 500: "https://tools.ietf.org/html/rfc9110#section-15.6.1"}
        return {"type": kinds.get(status), "title": title, "status": status, "detail": detail,
                "instance": urlsplit(self.path).path, "traceId": self.trace}

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = encode(payload) if payload is not None else b""
        try:
            self.send_response(status)
            self.send_header("Request-Id", self.trace)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if payload is not None:
                kind = "application/problem+json" if status >= 400 and isinstance(payload, dict) and "title" in payload \
                    else "application/json"
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _token(self, raw: bytes) -> dict[str, Any]:
        box = self.box
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()}
        if form.get("grant_type") != "client_credentials":
            raise _Answer(400, {"error": "unsupported_grant_type",
                                "error_description": "Only the client_credentials grant is supported."})
        header = self.headers.get("Authorization") or ""
        try:
            app, _, client = base64.b64decode(header.removeprefix("Basic ")).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            app = client = ""
        if not header.startswith("Basic ") or (app, client) != (box.application_key, box.client_key):
            raise _Answer(400, {"error": "invalid_client", "error_description": INVALID_CLIENT})
        token = secrets.token_urlsafe(32)
        box.tokens[token] = time.monotonic() + box.token_lifetime
        box.issued.append(token)
        return {"access_token": token, "token_type": "bearer", "expires_in": box.token_lifetime}

    def _authorise(self) -> None:
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        expiry = self.box.tokens.get(token)
        if expiry is None or time.monotonic() >= expiry:
            raise _Answer(401, None, {"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def _require(self, role: str) -> None:
        if role not in self.box.roles:
            raise _Answer(403)

    # -- routes -----------------------------------------------------------------------------------------------------

    def _route(self, method: str, route: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        client = self.box.client
        try:
            handled = routes.route(self.box.sales, method, route, query, body, self._require,
                                  lambda detail: _Answer(404, self._problem(404, "Object(s) not found", detail)), _moment)
        except Invalid as exc:
            raise _Answer(400, self._problem(400, exc.title, " ".join(exc.details))) from None
        if handled is not None:
            return self._page(handled[1], query) if method == "GET" and isinstance(handled[1], list) else handled
        if method == "POST" and route == "/JournalEntryVouchers/ManualJournals":
            self._require("JournalEntryVoucher_Full")
            return 201, self._created(client.create_draft, body)
        if method == "POST" and route == "/Vouchers/ManualJournals":
            self._require("ManualVoucher_Full")
            return 201, self._created(client.create_voucher, body)
        if method != "GET":
            raise _Answer(404, self._problem(404, "Not found", f"No resource {method} {route}."))
        if route == "/ClientIntegrationInformation":
            return 200, {"ClientId": client.id, "ClientName": client.name, "ActiveClientSubscriptions": ["Accounting"],
                         "ValidPrivileges": sorted(self.box.roles), "InvalidPrivileges": sorted(set(ROLES) - self.box.roles)}
        if route == "/OrganizationSettings":
            self._require("CommonServices")
            return 200, {"Id": client.id, "Name": client.name, "LegalName": client.name,
                         "OrganizationNumber": client.organization_number}
        if route == "/LockDateSettings":
            return 200, {"LockDate": client.lock_date}
        match = re.fullmatch(r"/(JournalEntryVouchers/ManualJournals|Vouchers/ManualJournals)/([0-9a-f-]{36})", route)
        if match:
            found = (client.drafts if match.group(1).startswith("Journal") else client.vouchers).get(match.group(2))
            if found is None:
                raise _Answer(404, self._problem(404, "Object(s) not found", f"Voucher with id = {match.group(2)} "
                                                                             "not found."))
            return 200, found
        with client.lock:
            rows = self._list(route, query)
        return self._page(rows, query)

    def _created(self, create: Any, body: Any) -> Any:
        if not isinstance(body, dict):
            raise _Answer(400, self._problem(400, "Voucher validation error(s)", "The request body is missing."))
        try:
            return create(body)
        except Invalid as exc:
            raise _Answer(400, self._problem(400, exc.title, " ".join(exc.details))) from None

    def _list(self, route: str, query: dict[str, str]) -> list[dict[str, Any]]:
        client = self.box.client

        def numbers(param: str) -> set[str] | None:
            return {p.strip() for p in query[param].split(",")} if query.get(param, "").strip() else None

        simple = {"/GeneralLedgerAccounts": (client.accounts, "accountNos", "AccountNo"),
                  "/Customers": (client.customers, "customerNos", "Number"),
                  "/Suppliers": (client.suppliers, "supplierNos", "Number"),
                  "/Departments": (client.departments, "codes", "Code"),
                  "/Projects": (client.projects, "projectCodes", "Code")}
        if route in simple:
            table, param, key = simple[route]
            wanted = numbers(param)
            return [r for r in table.values() if wanted is None or str(r[key]) in wanted]
        if route == "/VatCodes":
            return list(client.vat_codes.values())
        if route == "/SubLedgerNumberSeries":
            return list(client.series)
        if route == "/JournalEntryVouchers":
            after = _moment(query.get("createdDateTimeOffsetGreaterThan"))
            return [{"Id": d["Id"], "CreatedDateTimeOffset": d["_created"].isoformat(), "IsPosted": d["_posted"],
                     "InApprovalWorkflow": False, "IsCreatedByCurrentIntegration": True, "OriginatedFromEhf": False,
                     "VoucherType": "ManualVoucher"} for d in client.drafts.values()
                    if (after is None or d["_created"] > after)
                    and ("isPosted" not in query or str(d["_posted"]).lower() == query["isPosted"].lower())]
        if route == "/AccountTransactions":
            if not query.get("fromDate") or not query.get("toDate"):
                raise _Answer(400, self._problem(400, "Invalid request", "fromDate and toDate are required."))
            after = _moment(query.get("createdDateTimeOffsetGreaterThan"))
            return [t for t in client.transactions if query["fromDate"] <= t["PostingDate"] <= query["toDate"]
                    and (after is None or t["_created"] > after)]
        raise _Answer(404, self._problem(404, "Not found", f"No resource GET {route}."))

    def _page(self, rows: list[dict[str, Any]], query: dict[str, str]) -> tuple[int, Any]:
        try:
            size, number = int(query.get("PageSize") or 5000), int(query.get("PageNumber") or 1)
        except ValueError:
            raise _Answer(400, self._problem(400, "Invalid resourceParameter", "PageSize and PageNumber are "
                                                                               "integers.")) from None
        if size > 20000 or size < 1 or number < 1:
            raise _Answer(400, self._problem(400, "Invalid resourceParameter", "PageSize must be 1–20000."))
        page = rows[(number - 1) * size: number * size]
        if query.get("Fields"):
            names = {f.strip() for f in query["Fields"].split(",")}
            page = [{k: v for k, v in r.items() if k in names} for r in page]
        return (200, page) if page else (204, None)


def _moment(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise _Answer(400, {"title": "Invalid request", "status": 400, "detail": f"{value!r} is no timestamp."}) \
            from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
