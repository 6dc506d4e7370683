"""Finago Office over SOAP: its dialect for the shared HTTP stack, and calls built and read with zeep over the WSDL
each service serves.

- **The WSDLs** are read from the service itself (`GET <endpoint>?wsdl`, as ASP.NET web services serve them),
  once per process and endpoint, through the connection's HTTP client — the product never reads
  `../shared/specs` (the sandbox serves the official copies from there). zeep builds each request envelope from the
  WSDL and reads each answer by it; the HTTP goes through `connectors.http.send` like every other system's
  (retries by remedy, the exchange log, redaction).
- **Faults**: ASP.NET answers every SOAP fault with HTTP 500. `soap:Client` (the request could not be read) is a
  `DataError`; throttling ("Limit exceeded by N. Request is blocked. Quarantine ends at …",
  developer.24sevenoffice.com/faq; 7200 requests an hour) is waited out and retried like a 429, whatever its
  status; any other `soap:Server` fault takes the status table's row (after a SaveBundleList: outcome unknown).
- **Request id**: the answers carry none we know of [unverified]; every request gets our own `X-Request-Id`, kept
  in the exchange log, and errors name it.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from typing import Any

import httpx
import zeep
import zeep.helpers
from lxml import etree

from connectors.http import Dialect, ProviderError, client_for, seconds, send
from connectors.targets.finago_office.descriptor import DESCRIPTOR
from connectors.targets.finago_office.mapping import NAME, SERVICES, WEBSERVICES_URL
from pipeline.errors import BilagsbroError, DataError, OutcomeUnknown, TransientError
from pipeline.ports import ExchangeLog, TargetContext

ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
_QUARANTINE = re.compile(r"Quarantine ends at ([0-9T:. /-]+)")
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
SESSION_ENDED = re.compile(r"not\s+authenticated|session (?:has )?expired|no valid session", re.IGNORECASE)


def fault(content: bytes) -> tuple[str, str] | None:
    """(faultcode, faultstring) of a SOAP 1.1 fault, or None when the body is not one."""
    try:
        root = etree.fromstring(content, _SAFE)
    except (etree.XMLSyntaxError, ValueError):
        return None
    node = root.find(f"{{{ENVELOPE}}}Body/{{{ENVELOPE}}}Fault")
    if node is None:
        return None
    return (node.findtext("faultcode") or "").strip(), (node.findtext("faultstring") or "").strip()


def _text(response: httpx.Response) -> str:
    try:
        return response.text
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        return ""


def throttled(response: httpx.Response) -> bool:
    """24SevenOffice's quota: "Limit exceeded by N. Request is blocked." — as a fault [unverified status], or 429."""
    return response.status_code == 429 or (response.status_code >= 400 and "Request is blocked" in _text(response))


def quarantine(response: httpx.Response) -> float | None:
    """Seconds until "Quarantine ends at <UTC time>" [unverified format: ISO or "yyyy-mm-dd hh:mm:ss"], else
    Retry-After."""
    found = _QUARANTINE.search(_text(response))
    if found:
        text = found.group(1).strip().rstrip(".")
        for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d.%m.%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S"):
            try:
                ends = dt.datetime.strptime(text, pattern).replace(tzinfo=dt.UTC)
            except ValueError:
                continue
            return max(0.0, (ends - dt.datetime.now(dt.UTC)).total_seconds())
    return seconds(response.headers.get("Retry-After"))


def finago_error(response: httpx.Response) -> ProviderError:
    """A SOAP fault in Finago Office's words, its remedy by fault code; a page from in front of the service as text."""
    ours = response.request.headers.get("X-Request-Id") if _has_request(response) else None
    found = fault(response.content)
    if found is None:
        text = _text(response).strip()
        plain = re.sub(r"<[^>]+>", " ", text)
        return ProviderError(" ".join(plain.split())[:500] or None, request_id=ours)
    code, message = found
    remedy: type[BilagsbroError] | None = None
    if throttled(response):
        remedy = TransientError
    elif code.endswith("Client"):
        remedy = DataError
    return ProviderError(message[:1000] or None, request_id=ours, code=code or None, remedy=remedy)


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018 - a response built without its request raises
    except RuntimeError:
        return False
    return True


def _operation(request: httpx.Request) -> str:
    action = request.headers.get("SOAPAction", "").strip('"').rsplit("/", 1)[-1]
    return f"{action or request.method} ({request.url.path})"


DIALECT = Dialect.of(DESCRIPTOR, error_body=finago_error, wait=quarantine, throttled=throttled,
                     retry_statuses=frozenset({502, 503, 504}), operation=_operation,
                     request_id_headers=("x-request-id",))

_wsdls: dict[str, zeep.Client] = {}
_wsdls_lock = threading.Lock()


class _Fetched(zeep.Transport):
    """zeep's loader given the WSDL we fetched: zeep itself never touches the network."""

    def __init__(self, documents: dict[str, bytes]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.documents = documents

    def load(self, url: str) -> bytes:
        if url not in self.documents:
            raise TransientError(f"Finago Office's WSDL refers to {url}, which is not fetched", connector=NAME)
        return self.documents[url]


class Soap:
    """SOAP calls for one connection: envelopes from the WSDLs, sent through the connection's HTTP client."""

    def __init__(self, context: TargetContext, *, base_url: str, webservices_url: str | None, timeout: float,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.context = context
        self.hosts = {"api": base_url.rstrip("/"),
                      "webservices": (webservices_url or (WEBSERVICES_URL if "24sevenoffice.com" in base_url
                                                          else base_url)).rstrip("/")}
        self.timeout, self.transport = timeout, transport

    @property
    def http(self) -> httpx.Client:
        """The connection's pooled HTTP client (connectors.http), made on first use."""
        return client_for(self.context, DIALECT, base_url=self.hosts["api"], timeout=self.timeout,
                          transport=self.transport, headers={"User-Agent": "Bilagsbro (finago-office)"})

    def url(self, service: str) -> str:
        path, host = SERVICES[service]
        return self.hosts[host] + path

    def wsdl(self, service: str) -> zeep.Client:
        """The service's WSDL, fetched from `<endpoint>?wsdl` once per process and endpoint."""
        url = self.url(service) + "?wsdl"
        with _wsdls_lock:
            known = _wsdls.get(url)
        if known is not None:
            return known
        response = send(self.http, "GET", url, dialect=DIALECT, tenant=self.context.tenant,
                        exchanges=self.context.exchanges, sleep=self.context.sleep)
        settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        try:
            made = zeep.Client(url, transport=_Fetched({url: response.content}),  # type: ignore[no-untyped-call]
                               settings=settings)
        except Exception as exc:  # zeep's own errors: the answer was no WSDL
            raise TransientError(f"Finago Office's {service} service answered no readable WSDL at {url} "
                                 f"({type(exc).__name__}: {exc}); is base_url right?", connector=NAME) from None
        with _wsdls_lock:
            return _wsdls.setdefault(url, made)

    def envelope(self, service: str, operation: str, **params: Any) -> tuple[bytes, str]:
        """The request envelope (UTF-8) and its SOAPAction, built from the WSDL."""
        client = self.wsdl(service)
        action = client.service._binding.get(operation).soapaction
        built = client.create_message(client.service, operation, **params)  # type: ignore[no-untyped-call]
        return etree.tostring(built, xml_declaration=True, encoding="utf-8"), action

    def call(self, service: str, operation: str, *, session: str | None, write: bool = False,
             reference: str | None = None, exchanges: ExchangeLog | None = None, request_id: str | None = None,
             **params: Any) -> Any:
        """Call `operation` and return its result as plain values (zeep's reading, as dicts and lists)."""
        body, action = self.envelope(service, operation, **params)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"',
                   "X-Request-Id": request_id or str(uuid.uuid4())}
        if session is not None:
            headers["Cookie"] = f"ASP.NET_SessionId={session}"
        response = send(self.http, "POST", self.url(service), content=body, headers=headers, dialect=DIALECT,
                        tenant=self.context.tenant, reference=reference, sleep=self.context.sleep,
                        exchanges=exchanges or self.context.exchanges, idempotent=not write)
        client = self.wsdl(service)
        try:
            document = etree.fromstring(response.content, _SAFE)
            result = client.service._binding.get(operation).process_reply(document)
        except Exception as exc:  # an answer that is not the operation's: unreadable, whatever took effect
            error = OutcomeUnknown if write else TransientError
            raise error(f"Finago Office {operation} answered what its WSDL does not describe "
                        f"({type(exc).__name__})", tenant=self.context.tenant, reference=reference, connector=NAME,
                        status=response.status_code, request_id=headers["X-Request-Id"]) from None
        return zeep.helpers.serialize_object(result, dict)  # type: ignore[no-untyped-call]
