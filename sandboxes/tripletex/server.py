"""The Tripletex sandbox server: API v2 under `/v2` over real HTTP on loopback, with rate limits and faults.

Contract (official spec `../shared/specs/tripletex/openapi.json`, reference/target-apis.md §1):
- `PUT /v2/token/session/:create?consumerToken&employeeToken&expirationDate` (no auth) →
  `{"value": {"token": ...}}`; then `Authorization: Basic base64("<0 or company id>:<token>")`.
- Single envelope `{"value": {...}}`; list envelope `{"fullResultSize","from","count","versionDigest","values"}`.
- Errors `{"status","code","message","link","developerMessage","validationMessages","requestId"}` and an
  `x-tlx-request-id` header on every response; `X-Rate-Limit-Limit/-Remaining/-Reset` on every
  authorised response, and 429 for the rest of the period once the limit is hit.
- 201 from creating POSTs (`POST /ledger/voucher`, `POST /customer`).
- `GET /customer` filters: customerAccountNumber (a list), organizationNumber, email, invoiceEmail,
  phoneNumberMobile, isInactive — those the spec declares that the connector uses. `/customer` and
  `/supplier` hide inactive records unless asked (`isInactive` defaults to false in the spec).
- `GET /ledger/accountingPeriod`, `GET /vatTermSizeSettings` (periods.py), `GET /employee/entitlement`
  (what the employee token may do; `entitlements` below), and the voucher rules of vouchers.py.
- Switches for what is not verified, so tests hold the connector to either answer:
  `external_number_finds_drafts` (does `>externalVoucherNumber` list non-posted vouchers?) and
  `entitlements_readable` (may a limited token read its own entitlements?); `forbidden_paths` for a token
  whose entitlements do not reach a route (403).
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
from sandboxes.tripletex import customers
from sandboxes.tripletex.company import CUSTOMER_FIELDS, Company, Invalid
from sandboxes.tripletex.invoices import Invoicing, Refused
from sandboxes.tripletex.ledger import Ledger
from sandboxes.tripletex.vouchers import message

_NUMBER = re.compile(r'"\\u0000D(-?[0-9.]+)"')
# The permissions an employee token can hold (EmployeeRoleModelDTO.role in the spec, 2.72.00), those the
# connector needs; a sandbox token holds them all unless a test takes some away. [unverified] that
# `GET /employee/entitlement` names them so in `Entitlement.name` ("Descriptive name for the privilege").
ENTITLEMENTS = ("ROLE_ADMINISTRATOR", "AUTH_ALL_VOUCHERS", "AUTH_ADVANCED_VOUCHER", "AUTH_CUSTOMER_ADMIN",
                "AUTH_CREATE_CUSTOMER", "AUTH_ACCOUNTING_SETTINGS", "AUTH_COMPANY_ACCOUNTING_REPORTS")
DENIED = "Du har ikke tilgang til denne funksjonen."  # [unverified] wording of a 403 for a missing permission


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


class _Error(Exception):
    def __init__(self, status: int, code: int, message: str, *, validation: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.validation = validation or []
        self.headers = headers or {}
        # Real 422s of validation (code 18000) say "VALIDATION_ERROR" here (tripletex-api2 issues 51 and 88).
        self.developer = "VALIDATION_ERROR" if code == 18000 else None


class TripletexSandbox(Loopback):
    """An in-process Tripletex: `TripletexSandbox().start()` → `.base_url` (ends in /v2); `.stop()` when done."""

    def __init__(
        self,
        *,
        consumer_token: str = "sandbox-consumer-token",
        employee_token: str = "sandbox-employee-token",
        company: Company | None = None,
        seed: str | None = "demo",
        rate_limit: int = 100_000,
        rate_period: float = 3600.0,
        host: str = "127.0.0.1",
        port: int = 0,
        external_number_finds_drafts: bool = False,
    ) -> None:
        self.consumer_token = consumer_token
        self.employee_token = employee_token
        self.company = company or Company()
        if company is None:
            self.company.seed_standard()
            if seed == "demo":
                self.company.seed_demo()
        self.rate_limit = rate_limit
        self.rate_period = rate_period
        # [unverified] whether `GET /ledger/voucher/>externalVoucherNumber` lists non-posted vouchers; the
        # stricter answer by default, so exactly-once is tested where it is hardest.
        self.external_number_finds_drafts = external_number_finds_drafts
        self.entitlements: set[str] = set(ENTITLEMENTS)  # what the employee token may do
        self.entitlements_readable = True  # False: `GET /employee/entitlement` answers 403 to this token
        self.forbidden_paths: set[str] = set()  # routes (after /v2) this token's entitlements do not reach: 403
        self.invoicing = Invoicing(self.company)  # orders, invoices, payments, sending (invoices.py)
        self.ledger = Ledger()  # the seeded books read back (ledger.py): /ledger/posting, /balanceSheet, ...
        self.faults = Faults()
        self.sessions: set[str] = set()
        self.issued: list[str] = []  # every session token ever handed out (tests look for them in logs)
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter()  # (method, path) → count
        self._window_start = time.monotonic()
        self._window_used = 0
        self._lock = threading.Lock()
        self._address = (host, port)

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> TripletexSandbox:
        sandbox = self

        class Handler(_Handler):
            box = sandbox

        self._serve(Handler, name="tripletex-sandbox")
        return self

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v2"

    # -- what tests look at -------------------------------------------------------------------------

    @property
    def vouchers(self) -> list[dict[str, Any]]:
        with self.company.lock:
            return list(self.company.vouchers.values())

    def vouchers_with(self, external_number: str) -> list[dict[str, Any]]:
        return [v for v in self.vouchers if v["externalVoucherNumber"] == external_number]

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """Requests by method and path, the prefix matched by whole segments (`/v2/ledger/account` is not
        `/v2/ledger/accountingPeriod`)."""
        return sum(n for (m, p), n in self.requests.items()
                   if (method is None or m == method)
                   and (not path_prefix or p == path_prefix or p.startswith(path_prefix.rstrip("/") + "/")))

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def exhaust_rate_limit(self) -> None:
        with self._lock:
            self._window_used = self.rate_limit

    # -- rate limit ---------------------------------------------------------------------------------

    def _rate(self) -> tuple[dict[str, str], bool]:
        with self._lock:
            now = time.monotonic()
            if now - self._window_start >= self.rate_period:
                self._window_start, self._window_used = now, 0
            allowed = self._window_used < self.rate_limit
            if allowed:
                self._window_used += 1
            reset = max(1, int(self.rate_period - (now - self._window_start)))
            headers = {"X-Rate-Limit-Limit": str(self.rate_limit),
                       "X-Rate-Limit-Remaining": str(max(0, self.rate_limit - self._window_used)),
                       "X-Rate-Limit-Reset": str(reset)}
            return headers, allowed


class _Handler(BaseHTTPRequestHandler):
    box: TripletexSandbox
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read counters, not logs
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- plumbing -----------------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        self.request_id = str(uuid.uuid4())
        self.extra_headers: dict[str, str] = {}
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        box = self.box
        with box._lock:
            box.requests[(method, path)] += 1
        try:
            if not path.startswith("/v2/"):
                raise _Error(404, 6000, "Object not found")
            route = path[len("/v2"):]
            if method == "PUT" and route == "/token/session/:create":
                self._send(200, {"value": self._create_session(query)})
                return
            self._authorise()
            rate_headers, allowed = box._rate()
            self.extra_headers.update(rate_headers)
            if not allowed:
                raise _Error(429, 0, "Too Many Requests", headers={"Retry-After": rate_headers["X-Rate-Limit-Reset"]})
            if route in box.forbidden_paths:
                raise _Error(403, 9000, DENIED)
            fault = box.faults.take(method, route)
            if fault is not None and fault.kind == "slow":
                time.sleep(box.faults.slow_seconds)
            if fault is not None and fault.kind in ("429", "503", "401"):
                self._inject(fault)
            body = self._parse(raw) if raw else None
            status, payload = self._route(method, route, query, body, fault)
            if method == "GET" and query.get("fields"):
                payload = _select(payload, query["fields"])
            if fault is not None and fault.kind == "commit_then_500":
                raise _Error(500, 1000, "Internal error")
            if fault is not None and fault.kind == "timeout":
                time.sleep(box.faults.timeout_seconds)
            self._send(status, payload)
        except Refused as exc:  # invoices.py and customers.py answer in the same envelope
            self._send(exc.status, {
                "status": exc.status, "code": exc.code, "message": exc.text, "link": "https://tripletex.no/v2-docs/",
                "developerMessage": "VALIDATION_ERROR" if exc.code == 18000 else None,
                "validationMessages": exc.messages or None, "requestId": self.request_id})
        except _Error as exc:
            self.extra_headers.update(exc.headers)
            self._send(exc.status, {
                "status": exc.status, "code": exc.code, "message": exc.message,
                "link": "https://tripletex.no/v2-docs/", "developerMessage": exc.developer,
                "validationMessages": exc.validation or None, "requestId": self.request_id,
            })
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def _inject(self, fault: Any) -> None:
        if fault.kind == "429":
            reset = str(self.box.faults.reset_seconds)
            self.extra_headers.update({"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": reset})
            raise _Error(429, 0, "Too Many Requests", headers={"Retry-After": reset})
        if fault.kind == "503":
            raise _Error(503, 0, "Service Unavailable")
        raise _Error(401, 3000, "Unauthorized: the session token has expired")

    def _parse(self, raw: bytes) -> Any:
        try:
            return json.loads(raw.decode("utf-8"), parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Error(422, 22000, f"Invalid JSON: {exc}") from None

    def _send(self, status: int, payload: Any) -> None:
        raw = isinstance(payload, bytes)  # a file (GET /document/{id}/content)
        data = payload if raw else encode(payload) if payload is not None else b""
        try:
            self.send_response(status)
            self.send_header("x-tlx-request-id", self.request_id)
            for name, value in self.extra_headers.items():
                self.send_header(name, value)
            if payload is not None:
                self.send_header("Content-Type", "application/octet-stream" if raw else "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _create_session(self, query: dict[str, str]) -> dict[str, Any]:
        missing = [p for p in ("consumerToken", "employeeToken", "expirationDate") if not query.get(p)]
        if missing:
            raise _Error(422, 21000, "Validation failed",
                         validation=[message(p, "Kan ikke være null.", p) for p in missing])
        if query["consumerToken"] != self.box.consumer_token or query["employeeToken"] != self.box.employee_token:
            raise _Error(403, 9000, "Invalid or expired token")
        token = secrets.token_urlsafe(24)
        self.box.sessions.add(token)
        self.box.issued.append(token)
        return {"id": len(self.box.sessions), "version": 1, "expirationDate": query["expirationDate"],
                "token": token, "consumerToken": {"id": 1}, "employeeToken": {"id": 1}}

    def _authorise(self) -> None:
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            raise _Error(401, 3000, "Unauthorized")
        try:
            user, _, token = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise _Error(401, 3000, "Unauthorized") from None
        if token not in self.box.sessions:
            raise _Error(401, 3000, "Unauthorized")
        if user not in ("0", str(self.box.company.id)):
            raise _Error(403, 9000, f"No access to company {user}")

    # -- routes -------------------------------------------------------------------------------------

    def _route(self, method: str, route: str, query: dict[str, str], body: Any, fault: Any
               ) -> tuple[int, Any]:
        company = self.box.company
        if method == "GET":
            if route == "/token/session/>whoAmI":
                return 200, {"value": {"employeeId": 1, "actualEmployeeId": 1, "companyId": company.id,
                                       "company": {"id": company.id, "name": company.name},
                                       "language": "no", "loggedInWithConnect": False, "employeeIsProxy": False}}
            if route in ("/employee/entitlement", "/employee/entitlement/client"):
                return 200, self._list(self._entitlements(), {}, query)
            if route == "/ledger/accountingPeriod":
                periods = {p["id"]: p for p in company.periods.search(query)}
                return 200, self._list(periods, {}, {k: v for k, v in query.items() if k in ("from", "count")})
            if route == "/vatTermSizeSettings":
                return 200, self._list({s["id"]: s for s in company.periods.term_settings()}, {}, query)
            drafts_too = self.box.external_number_finds_drafts
            lists = {
                "/ledger/account": (company.accounts, {"number": ("number", "in"), "isInactive": ("isInactive", "bool"),
                                                       "ledgerType": ("ledgerType", "eq")}),
                "/ledger/vatType": (company.vat_types, {"number": ("number", "in"), "id": ("id", "in")}),
                # [unverified] phoneNumberMobile's match ("Phone number mobile" in the spec): exact here,
                # the stricter reading; the connector works with a containing match too.
                "/customer": (company.customers, {"customerAccountNumber": ("customerNumber", "in"),
                                                  "organizationNumber": ("organizationNumber", "eq"),
                                                  "email": ("email", "eq"), "invoiceEmail": ("invoiceEmail", "eq"),
                                                  "phoneNumberMobile": ("phoneNumberMobile", "eq"),
                                                  "isInactive": ("isInactive", "bool")}),
                "/supplier": (company.suppliers, {"supplierNumber": ("supplierNumber", "in"),
                                                  "organizationNumber": ("organizationNumber", "eq"),
                                                  "email": ("email", "eq"), "isInactive": ("isInactive", "bool")}),
                "/department": (company.departments, {"departmentNumber": ("departmentNumber", "contains"),
                                                      "isInactive": ("isInactive", "bool")}),
                "/project": (company.projects, {"number": ("number", "eq"), "isClosed": ("isClosed", "bool")}),
                "/ledger/voucher/>externalVoucherNumber": (
                    {k: v for k, v in company.vouchers.items() if drafts_too or v["_posted"]},
                    {"externalVoucherNumber": ("externalVoucherNumber", "eq")}),
            }
            if route in lists:
                register, filters = lists[route]
                if route in ("/customer", "/supplier") and "isInactive" not in query:
                    query = {**query, "isInactive": "false"}  # the spec's default: inactive ones stay hidden
                return 200, self._list(register, filters, query)
            if route == "/ledger/voucher/>nonPosted":
                if "includeNonApproved" not in query:
                    raise _Error(422, 21000, "Validation failed",
                                 validation=[message("includeNonApproved", "Kan ikke være null.", "includeNonApproved")])
                drafts = {k: v for k, v in company.vouchers.items() if not v["_posted"]
                          and query.get("dateFrom", "") <= v["date"] and v["date"] < query.get("dateTo", "9999")}
                return 200, self._list(drafts, {}, query)
            match = re.fullmatch(r"/ledger/voucher/(\d+)", route)
            if match:
                voucher = company.vouchers.get(int(match.group(1)))
                if voucher is None:
                    raise _Error(404, 6000, f"Voucher {match.group(1)} finnes ikke.")
                return 200, {"value": voucher}
            found = self.box.ledger.route(route, query)
            if found is not None:
                return found
        if method == "POST" and route == "/customer":
            self._require("AUTH_CREATE_CUSTOMER")  # [unverified] which permission POST /customer checks
            try:
                with company.lock:
                    customer = company.create_customer(body)
            except Invalid as exc:
                raise _Error(422, exc.code, exc.message, validation=exc.messages) from None
            return 201, {"value": customer}
        if method == "POST" and route == "/ledger/voucher":
            send = query.get("sendToLedger", "true").lower()
            if send not in ("true", "false"):
                raise _Error(422, 21000, "Validation failed",
                             validation=[message("sendToLedger", "Ugyldig verdi.", "sendToLedger")])
            if "sendToLedger" in query:
                # The spec on sendToLedger: "Requires the 'Advanced Voucher' permission" [unverified: for which
                # value; the sandbox asks it whenever the choice is made, as the connector always makes it].
                self._require("AUTH_ADVANCED_VOUCHER")
            commit = fault is None or fault.kind != "timeout" or fault.commit
            try:
                if not commit:
                    return 201, None
                voucher = company.create_voucher(body, send_to_ledger=send == "true")
            except Invalid as exc:
                raise _Error(422, exc.code, exc.message, validation=exc.messages) from None
            return 201, {"value": voucher}
        answered = self.box.invoicing.route(method, route, query, body, self._list) \
            or customers.route(company, method, route, body, CUSTOMER_FIELDS)
        if answered is not None:
            return answered
        raise _Error(404, 6000, f"No such endpoint: {method} /v2{route}")

    def _entitlements(self) -> dict[int, dict[str, Any]]:
        """`Entitlement{id, name, entitlementId, employee, customer}` per permission the token holds."""
        box = self.box
        if not box.entitlements_readable:
            raise _Error(403, 9000, DENIED)
        known = list(ENTITLEMENTS) + sorted(set(box.entitlements) - set(ENTITLEMENTS))
        return {i: {"id": i, "version": 0, "name": name, "entitlementId": i, "employee": {"id": 1},
                    "customer": {"id": box.company.id}}
                for i, name in enumerate(known, 1) if name in box.entitlements}

    def _require(self, permission: str) -> None:
        if permission not in self.box.entitlements:
            raise _Error(403, 9000, DENIED)

    def _list(self, register: dict[int, dict[str, Any]], filters: dict[str, tuple[str, str]],
              query: dict[str, str]) -> dict[str, Any]:
        values = list(register.values())
        for param, (key, how) in filters.items():
            if param not in query or query[param] == "":
                continue
            wanted = query[param]
            if how == "in":
                options = {w.strip() for w in wanted.split(",")}
                values = [v for v in values if str(v.get(key)) in options]
            elif how == "bool":
                values = [v for v in values if bool(v.get(key)) == (wanted.lower() == "true")]
            elif how == "contains":
                values = [v for v in values if wanted.lower() in str(v.get(key, "")).lower()]
            else:
                values = [v for v in values if str(v.get(key)) == wanted]
        try:
            start, count = int(query.get("from", 0)), int(query.get("count", 1000))
        except ValueError:
            raise _Error(422, 21000, "from/count must be integers") from None
        page = values[start:start + count]
        return {"fullResultSize": len(values), "from": start, "count": len(page),
                "versionDigest": f"{len(values)}:{dt.date.today().isoformat()}", "values": page}


def _top_level_fields(pattern: str) -> set[str] | None:
    """`id,number,company(id,name)` → {"id", "number", "company"}; None for `*` (every field)."""
    names, depth, current = set(), 0, ""
    for char in pattern + ",":
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            names.add(current.strip())
            current = ""
        elif depth == 0:
            current += char
    return None if "*" in names else names


def _select(payload: Any, pattern: str) -> Any:
    """Tripletex's `fields` filter, at the top level of each object: a client gets only what it asked for."""
    names = _top_level_fields(pattern)
    if names is None or not isinstance(payload, dict):
        return payload

    def pick(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if k in names or k.startswith("_")}
    if "values" in payload:
        return {**payload, "values": [pick(v) for v in payload["values"]]}
    if "value" in payload:
        return {**payload, "value": pick(payload["value"])}
    return payload
