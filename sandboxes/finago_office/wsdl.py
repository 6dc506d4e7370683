"""Finago Office's official WSDLs, read from `../shared/specs/finago-office/`: what the sandbox serves and holds
every SOAP request against, and what the tests check our envelopes with.

Each service is a `.asmx` endpoint with its WSDL. `Service.schema` is the WSDL's XML Schema compiled with lxml (the
types section imports Microsoft's `guid` type from a second schema in the same file, resolved in memory);
`Service.actions` maps each SOAPAction of the SOAP 1.1 binding to its operation and the element its input is.
Nothing here is copied into the project: a missing specs folder is `SpecsMissing`, and the caller says why it
cannot go on (tests skip, saying so, except under CI).
"""

from __future__ import annotations

import copy
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

NS = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "s": "http://www.w3.org/2001/XMLSchema",
      "soap": "http://schemas.xmlsoap.org/wsdl/soap/"}
ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
SPECS = Path(os.environ.get("BILAGSBRO_SHARED_SPECS") or Path(__file__).resolve().parents[2].parent / "shared" / "specs"
             ) / "finago-office"

# The services Bilagsbro uses: name → (WSDL file, path of the endpoint, host). 24SevenOffice runs its services on
# two domains (developer.24sevenoffice.com/faq: "Our APIs are on two separate domains"): "api" and "webservices".
SERVICES: dict[str, tuple[str, str, str]] = {
    "auth": ("authService.wsdl", "/authenticate/v001/authenticate.asmx", "api"),
    "account": ("accountService.wsdl", "/Economy/Account/V004/Accountservice.asmx", "api"),
    "transaction": ("transactionService.wsdl", "/Economy/Accounting/V001/TransactionService.asmx", "api"),
    "client": ("clientService.wsdl", "/Client/V001/ClientService.asmx", "api"),
    "company": ("companyService.wsdl", "/CRM/Company/V001/CompanyService.asmx", "api"),
    "project": ("projectService.wsdl", "/Project/V001/ProjectService.asmx", "webservices"),
}


class SpecsMissing(FileNotFoundError):
    """../shared/specs/finago-office is not there: nothing can be checked against the official WSDLs."""


@dataclass(frozen=True)
class Child:
    """An element in a complexType's sequence."""

    name: str
    type: str  # as written: "s:int", "tns:ArrayOfEntry", "s1:guid"
    required: bool  # minOccurs="1"
    nillable: bool
    repeated: bool  # maxOccurs="unbounded"


@dataclass(frozen=True)
class Operation:
    name: str
    action: str  # the SOAPAction of the SOAP 1.1 binding
    input: str  # Clark name of the input element, e.g. {http://24sevenOffice.com/webservices}SaveBundleList
    output: str  # Clark name of the output element


@dataclass
class Service:
    name: str
    path: str  # the endpoint's path, as the WSDL's soap:address names it
    text: bytes  # the WSDL as published
    namespace: str
    schema: etree.XMLSchema
    actions: dict[str, Operation] = field(default_factory=dict)  # SOAPAction → operation
    types: dict[str, etree._Element] = field(default_factory=dict)  # complexType name → definition
    elements: dict[str, etree._Element] = field(default_factory=dict)  # global element name → definition

    def operation(self, name: str) -> Operation:
        return next(op for op in self.actions.values() if op.name == name)

    def sequence(self, type_name: str) -> list[Child]:
        """The children of a complexType (or of a global element's inline type), in schema order."""
        node = self.types.get(type_name)
        if node is None:
            node = self.elements[type_name].find("s:complexType", NS)
        found: list[Child] = []
        base = node.find("s:complexContent/s:extension", NS) if node is not None else None
        if base is not None:
            found.extend(self.sequence(base.get("base", "").split(":")[-1]))
            node = base
        for child in node.iterfind("s:sequence/s:element", NS) if node is not None else ():
            found.append(Child(child.get("name", ""), child.get("type", ""), child.get("minOccurs", "1") != "0",
                               child.get("nillable") == "true", child.get("maxOccurs") == "unbounded"))
        return found


class _Memory(etree.Resolver):  # type: ignore[misc]  # lxml ships no types here
    def __init__(self, documents: dict[str, bytes]) -> None:
        super().__init__()
        self.documents = documents

    def resolve(self, url: str, pubid: str, context: Any) -> Any:
        if url in self.documents:
            return self.resolve_string(self.documents[url], context)
        return None


def _standalone(schema: etree._Element, root: etree._Element) -> etree._Element:
    """A schema element of the WSDL as a document of its own: with the namespaces the WSDL root declares (its
    `type="tns:…"` values need them) and its imports pointing to their in-memory copies."""
    nsmap = {k: v for k, v in {**root.nsmap, **schema.nsmap}.items() if k}
    alone = etree.Element(schema.tag, attrib=dict(schema.attrib), nsmap=nsmap)
    for child in schema:
        alone.append(copy.deepcopy(child))
    for imported in alone.iterfind("s:import", NS):
        imported.set("schemaLocation", "mem:" + imported.get("namespace", ""))
    return alone


def _parse(name: str, path: str, text: bytes) -> Service:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(text, parser)
    schemas = root.findall("wsdl:types/s:schema", NS)
    documents = {"mem:" + s.get("targetNamespace", ""): etree.tostring(_standalone(s, root)) for s in schemas}
    resolving = etree.XMLParser(resolve_entities=False, no_network=True)
    resolving.resolvers.add(_Memory(documents))
    namespace = root.get("targetNamespace", "")
    schema = etree.XMLSchema(etree.fromstring(documents["mem:" + namespace], resolving))
    main = next(s for s in schemas if s.get("targetNamespace") == namespace)
    service = Service(name=name, path=path, text=text, namespace=namespace, schema=schema,
                      types={t.get("name", ""): t for t in main.iterfind("s:complexType", NS)},
                      elements={e.get("name", ""): e for e in main.iterfind("s:element", NS)})
    messages = {m.get("name"): m.find("wsdl:part", NS).get("element", "").split(":")[-1]
                for m in root.iterfind("wsdl:message", NS)}
    port_type = root.find("wsdl:portType", NS)
    io = {op.get("name"): (op.find("wsdl:input", NS).get("message", "").split(":")[-1],
                           op.find("wsdl:output", NS).get("message", "").split(":")[-1])
          for op in port_type.iterfind("wsdl:operation", NS)} if port_type is not None else {}
    binding = next(b for b in root.iterfind("wsdl:binding", NS) if b.find("soap:binding", NS) is not None)
    for op in binding.iterfind("wsdl:operation", NS):
        soap_op = op.find("soap:operation", NS)
        action = soap_op.get("soapAction", "") if soap_op is not None else ""
        message_in, message_out = io[op.get("name")]
        service.actions[action] = Operation(op.get("name", ""), action, f"{{{namespace}}}{messages[message_in]}",
                                            f"{{{namespace}}}{messages[message_out]}")
    return service


@functools.cache
def services(folder: Path = SPECS) -> dict[str, Service]:
    """Every service Bilagsbro uses, read and compiled once; SpecsMissing when the folder is absent."""
    if not folder.is_dir():
        raise SpecsMissing(f"{folder} is not there: the official Finago Office WSDLs cannot be read")
    return {name: _parse(name, path, (folder / file).read_bytes()) for name, (file, path, _) in SERVICES.items()}


def payload(envelope: etree._Element) -> etree._Element | None:
    """The single element in a SOAP 1.1 envelope's Body, or None when the envelope is not one."""
    if envelope.tag != f"{{{ENVELOPE}}}Envelope":
        return None
    body = envelope.find(f"{{{ENVELOPE}}}Body")
    if body is None:
        return None
    children = [c for c in body if isinstance(c.tag, str)]
    return children[0] if len(children) == 1 else None


def violations(service: Service, action: str, envelope: etree._Element) -> list[str]:
    """What breaks the WSDL in a request: its SOAPAction, its envelope, its payload against the schema."""
    operation = service.actions.get(action)
    if operation is None:
        return [f"{service.name}: SOAPAction {action!r} is not an operation of the WSDL's SOAP 1.1 binding"]
    content = payload(envelope)
    if content is None:
        return [f"{service.name}.{operation.name}: not a SOAP 1.1 envelope with one element in its Body"]
    if content.tag != operation.input:
        return [f"{service.name}.{operation.name}: the Body holds {content.tag}, the operation takes {operation.input}"]
    document = etree.ElementTree(copy.deepcopy(content))
    if service.schema.validate(document):
        return []
    return [f"{service.name}.{operation.name}: line {e.line}: {e.message}" for e in service.schema.error_log]
