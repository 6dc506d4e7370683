"""The Finago Office (24SevenOffice) sandbox: its SOAP web services over real HTTP on loopback, with sessions, the
rate limit and faults on demand.

Contract (the official WSDLs in `../shared/specs/finago-office/`, reference/target-apis.md §4,
developer.24sevenoffice.com):
- Every service is an ASP.NET .asmx endpoint: `GET <path>?wsdl` serves its WSDL (as published, its soap:address
  pointing here), `POST <path>` takes a SOAP 1.1 envelope (`Content-Type: text/xml`, `SOAPAction`), held against
  the WSDL's schema. ASP.NET's faults: HTTP 500, `soap:Client` ("Server did not recognize the value of HTTP
  Header SOAPAction", "Server was unable to read request") or `soap:Server` ("Server was unable to process
  request. ---> …").
- `Authenticate.Login(credential{ApplicationId, IdentityId, Password, Username})` returns a session id, also set as
  the cookie `ASP.NET_SessionId`, which every service then takes (on both of 24SevenOffice's domains: one server
  here). `HasSession`, `GetIdentity`, `GetIdentities`, `SetIdentityById` choose the client a user works in; each
  client has its own books (books.py).
- Rate limit: 7200 requests an hour (developer.24sevenoffice.com/faq), then "Limit exceeded by N. Request is
  blocked. Quarantine ends at …" until the hour is over.
- Faults on demand (sandboxes/faults.py), matched by SOAP operation (`faults.add("^SaveBundleList$", "POST",
  kind)`): "429" is the quota fault (its quarantine `reset_seconds` ahead), "503" a plain page from in front of the
  service, "401" a session that ended before the call, "commit_then_500" a save answered by a soap:Server fault.
[unverified], each the sandbox's choice where the documentation is silent: the wording of a refused login and
of a call without a session (a soap:Server fault; SaveBundleList answers Type=NotAuthenticated), the quota
fault's HTTP status (500, `quota_status`) and its date format, a refused login as a fault (`empty_login=True`:
an empty LoginResult instead).
"""

from __future__ import annotations

import collections
import datetime as dt
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from sandboxes.faults import Fault, Faults
from sandboxes.finago_office import auth, operations, soap, wsdl
from sandboxes.finago_office.auth import NOT_AUTHENTICATED, Account, Identity, Session
from sandboxes.finago_office.books import Books
from sandboxes.finago_office.soap import SoapFault
from sandboxes.loopback import Loopback

APPLICATION_ID = "5b7e3f2a-9c1d-4e8f-a6b0-24f7b110f1ce"
USERNAME = "regnskap@demobutikk.no"
PASSWORD = "sandbox-passord-æøå"
_ADDRESS = re.compile(rb'location="https://(?:api|webservices)\.24sevenoffice\.com')


class FinagoOfficeSandbox(Loopback):
    """An in-process 24SevenOffice: `FinagoOfficeSandbox().start()` → `.base_url`; `.stop()` when done."""

    def __init__(self, *, books: Books | None = None, application_id: str = APPLICATION_ID,
                 username: str = USERNAME, password: str = PASSWORD, rate_limit: int = 7200,
                 rate_period: float = 3600.0, host: str = "127.0.0.1", port: int = 0,
                 specs: Path = wsdl.SPECS) -> None:
        self.services = wsdl.services(specs)
        self.application_id = application_id
        self.books = books or Books().seed_demo()
        self.user = Account(username, password, [Identity(str(uuid.uuid4()), self.books, default=True)])
        self.rate_limit, self.rate_period = rate_limit, rate_period
        self.quota_status = 500
        self.empty_login = False
        self.faults = Faults()
        self.sessions: dict[str, Session] = {}
        self.issued: list[str] = []  # every session id handed out (tests look for them in logs)
        self.logins = 0
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter()  # (service, operation)
        self.served = 0  # every HTTP request, WSDLs included
        self._window: list[float] = [time.monotonic(), 0.0]
        self._lock = threading.Lock()
        self._schema_lock = threading.Lock()  # an lxml XMLSchema validates one document at a time
        self._address = (host, port)

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> FinagoOfficeSandbox:
        sandbox = self

        class Handler(_Handler):
            box = sandbox

        self._serve(Handler, name="finago-office-sandbox")
        return self

    @property
    def base_url(self) -> str:
        return self.origin

    # -- what tests change and look at --------------------------------------------------------------

    def add_client(self, books: Books) -> Identity:
        """Another client the user may work in (an accounting firm's user has one identity per client)."""
        identity = Identity(str(uuid.uuid4()), books)
        self.user.identities.append(identity)
        return identity

    def expire_sessions(self) -> None:
        with self._lock:
            self.sessions.clear()

    def vouchers(self) -> list[dict[str, Any]]:
        """Every voucher the clients hold (the default client first), in the order saved."""
        return [v for identity in self.user.identities for v in identity.books.vouchers()]

    def service_at(self, path: str) -> wsdl.Service | None:
        """The service whose endpoint is `path` (ASP.NET paths are case-insensitive)."""
        return next((s for s in self.services.values() if s.path.lower() == path.lower()), None)

    def count(self, operation: str | None = None) -> int:
        return sum(n for (_, op), n in self.requests.items() if operation is None or op == operation)

    def _throttled(self) -> str | None:
        with self._lock:
            now = time.monotonic()
            if now - self._window[0] >= self.rate_period:
                self._window = [now, 0.0]
            self._window[1] += 1
            over = int(self._window[1] - self.rate_limit)
            if over <= 0:
                return None
            ends = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.rate_period - (now - self._window[0]))
            return quota_message(over, ends)


def quota_message(over: int, ends: dt.datetime) -> str:
    return f"Limit exceeded by {over}. Request is blocked. Quarantine ends at {ends:%Y-%m-%d %H:%M:%S}"


class _Handler(BaseHTTPRequestHandler):
    box: FinagoOfficeSandbox
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        with self.box._lock:
            self.box.served += 1
        service = self.box.service_at(parts.path)
        if service is None or parts.query.lower() != "wsdl":
            self._send(404, b"<html><body><h2>404 - File or directory not found.</h2></body></html>", "text/html")
            return
        text = _ADDRESS.sub(f'location="{self.box.base_url}'.encode(), service.text)
        self._send(200, text, "text/xml; charset=utf-8")

    def do_POST(self) -> None:
        self.cookies: dict[str, str] = {}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        box = self.box
        with box._lock:
            box.served += 1
        service = box.service_at(urlsplit(self.path).path)
        try:
            if service is None:
                raise SoapFault("Client", "Request format is unrecognized.", 404)
            name, params = self._operation(service, raw)
            with box._lock:
                box.requests[(service.name, name)] += 1
            quota = box._throttled()
            if quota is not None:
                raise SoapFault("Server", quota, box.quota_status)
            fault = box.faults.take("POST", name)  # by operation: every call is a POST to its service
            self._before(fault)
            result = self._dispatch(service, name, params, fault)
            if fault is not None and fault.kind == "commit_then_500":
                raise SoapFault("Server", "Server was unable to process request. ---> Execution Timeout Expired. "
                                          "The timeout period elapsed prior to completion of the operation.")
            if fault is not None and fault.kind == "timeout":
                time.sleep(box.faults.timeout_seconds)
            self._send(200, soap.answer(service, name, result), "text/xml; charset=utf-8")
        except SoapFault as exc:
            self._send(exc.status, soap.fault(exc.code, exc.message), "text/xml; charset=utf-8")
        except _Plain as exc:
            self._send(exc.status, exc.body, "text/html")
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -- plumbing -----------------------------------------------------------------------------------

    def _operation(self, service: wsdl.Service, raw: bytes) -> tuple[str, dict[str, Any]]:
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "text/xml":
            raise SoapFault("Client", f"Unsupported content type {kind!r}: SOAP 1.1 takes text/xml", 415)
        action = (self.headers.get("SOAPAction") or "").strip().strip('"')
        operation = service.actions.get(action)
        if operation is None:
            raise SoapFault("Client", f"System.Web.Services.Protocols.SoapException: Server did not recognize the value "
                                      f"of HTTP Header SOAPAction: {action}.")
        try:
            envelope = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            raise SoapFault("Client", f"Server was unable to read request. ---> There is an error in XML document "
                                      f"{exc.position}. ---> {exc.msg}") from None
        with self.box._schema_lock:
            problems = wsdl.violations(service, action, envelope)
        if problems:
            raise SoapFault("Client", "Server was unable to read request. ---> There is an error in XML document. ---> "
                                      + "; ".join(problems))
        content = wsdl.payload(envelope)
        assert content is not None
        params = soap.read(content)
        return operation.name, params if isinstance(params, dict) else {}

    def _before(self, fault: Fault | None) -> None:
        if fault is None:
            return
        if fault.kind == "slow":
            time.sleep(self.box.faults.slow_seconds)
        elif fault.kind == "429":
            ends = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.box.faults.reset_seconds)
            raise SoapFault("Server", quota_message(1, ends), self.box.quota_status)
        elif fault.kind == "503":
            raise _Plain(503, b"<html><body><h1>Service Unavailable</h1></body></html>")
        elif fault.kind == "401":  # the session ends: the call finds none
            self.box.expire_sessions()

    def _session(self) -> Session | None:
        cookie = self.headers.get("Cookie") or ""
        found = re.search(r"ASP\.NET_SessionId=([A-Za-z0-9]+)", cookie)
        return self.box.sessions.get(found.group(1)) if found else None

    def _dispatch(self, service: wsdl.Service, name: str, params: dict[str, Any], fault: Fault | None) -> Any:
        if service.name == "auth":
            return auth.answer(self.box, name, params, self._session(), self.cookies)
        session = self._session()
        if session is None:
            if name == "SaveBundleList":
                return {"Type": "NotAuthenticated", "Description": NOT_AUTHENTICATED}
            raise SoapFault("Server", f"Server was unable to process request. ---> {NOT_AUTHENTICATED}")
        if fault is not None and fault.kind == "timeout" and not fault.commit:
            time.sleep(self.box.faults.timeout_seconds)
            raise SoapFault("Server", "Server was unable to process request. ---> Request timed out.")
        try:
            return operations.handle(service.name, name, session.identity.books, params)
        except operations.NotImplementedHere as exc:
            raise SoapFault("Server", f"Server was unable to process request. ---> {exc}") from None

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Cache-Control", "private")
            for name, value in getattr(self, "cookies", {}).items():
                self.send_header("Set-Cookie", f"{name}={value}; path=/; HttpOnly; SameSite=Lax")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Plain(Exception):
    """An answer from in front of the web service (IIS, a gateway): not SOAP."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status, self.body = status, body
