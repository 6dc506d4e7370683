"""Test support for Finago Office: the official WSDLs as a checker of every request, and a tenant wired to a sandbox.

`WsdlCheckingTransport` holds each request the connector sends against `../shared/specs/finago-office/`: a GET
may only fetch a service's WSDL (`?wsdl`); a POST must go to a service's endpoint as SOAP 1.1 (`text/xml;
charset=utf-8`, a quoted SOAPAction of that service's binding) with an envelope whose Body validates against the
WSDL's schema (lxml) and is the element that SOAPAction's operation takes. Where the specs folder is absent the
tests skip, saying so — except under CI (`CI=true`), where its absence fails them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from lxml import etree

from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.ports import TargetContext
from sandboxes.finago_office import FinagoOfficeSandbox
from sandboxes.finago_office import wsdl as official
from tests.contract.harness import HANG, TIMEOUT


def services() -> dict[str, official.Service]:
    """The official WSDLs, or a skip (a failure under CI) saying why they cannot be read."""
    try:
        return official.services()
    except official.SpecsMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc} (CI must have ../shared/specs)")
        pytest.skip(f"{exc}: Finago Office's requests cannot be checked against its WSDLs")


def violations(request: httpx.Request, known: dict[str, official.Service]) -> list[str]:
    """What in one request breaks Finago Office's published WSDLs."""
    path = request.url.path
    service = next((s for s in known.values() if s.path.lower() == path.lower()), None)
    where = f"{request.method} {path}"
    if service is None:
        return [f"{where}: no Finago Office service has this endpoint"]
    if request.method == "GET":
        return [] if request.url.query.decode().lower() == "wsdl" else [f"{where}: only ?wsdl may be read by GET"]
    if request.method != "POST":
        return [f"{where}: SOAP 1.1 over HTTP is POST"]
    problems = []
    if request.headers.get("Content-Type", "").replace(" ", "").lower() != "text/xml;charset=utf-8":
        problems.append(f"{where}: Content-Type {request.headers.get('Content-Type')!r} is not text/xml; charset=utf-8")
    action = request.headers.get("SOAPAction", "")
    if not (action.startswith('"') and action.endswith('"')):
        problems.append(f"{where}: SOAPAction {action!r} is not quoted")
    try:
        envelope = etree.fromstring(request.content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return [*problems, f"{where}: the body is not XML ({exc})"]
    return problems + [f"{where}: {v}" for v in official.violations(service, action.strip('"'), envelope)]


class WsdlCheckingTransport(httpx.BaseTransport):
    """Checks each request against the WSDLs before sending it on; collects what breaks them."""

    def __init__(self, known: dict[str, official.Service], inner: httpx.BaseTransport | None = None) -> None:
        self.known = known
        self.inner = inner or httpx.HTTPTransport()
        self.violations: list[str] = []
        self.checked: list[str] = []  # "Service.Operation" of every POST checked

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.violations.extend(violations(request, self.known))
        if request.method == "POST":
            self.checked.append(request.headers.get("SOAPAction", "").strip('"').rsplit("/", 1)[-1])
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Wired:
    """A tenant connected to a running sandbox, with what a test looks at."""

    sandbox: FinagoOfficeSandbox
    transport: WsdlCheckingTransport
    secrets: MemorySecrets
    tables: MemoryTables = field(default_factory=MemoryTables)
    cache: dict[str, Any] = field(default_factory=dict)
    sleeps: list[float] = field(default_factory=list)
    exchanges: MemoryExchanges = field(default_factory=MemoryExchanges)
    settings: dict[str, Any] = field(default_factory=dict)

    def context(self, **settings: Any) -> TargetContext:
        return TargetContext(
            tenant="kunde-1",
            settings={"base_url": self.sandbox.base_url, "username": self.sandbox.user.username, "timeout": TIMEOUT,
                      "secrets": {"application_id": "finago-app", "password": "finago-password"},
                      **self.settings, **settings},
            secrets=self.secrets, blobs=MemoryBlobs(), exchanges=self.exchanges, cache=self.cache,
            tables=self.tables, transport=self.transport, sleep=self.sleeps.append)

    def target(self, **settings: Any) -> Any:
        from connectors.targets.finago_office.descriptor import DESCRIPTOR

        return DESCRIPTOR.connect(self.context(**settings))

    def close(self) -> None:
        from connectors.http import close

        close(self.context())
        self.sandbox.stop()


def wire(sandbox: FinagoOfficeSandbox | None = None, **settings: Any) -> Wired:
    known = services()
    box = (sandbox or FinagoOfficeSandbox()).start()
    box.faults.timeout_seconds = HANG
    secrets = MemorySecrets({"finago-app": box.application_id, "finago-password": box.user.password})
    return Wired(box, WsdlCheckingTransport(known), secrets, settings=settings)
