"""SOAP 1.1 as an ASP.NET web service (.asmx) speaks it: the sandbox reads requests and writes answers and faults.

Answers are written in the order the WSDL's schema declares (so they validate against it); faults have the shape
ASP.NET gives a `SoapException`: HTTP 500, `soap:Client` for a request it could not read, `soap:Server` for one
that failed while processing ("Server was unable to process request. ---> …").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from sandboxes.finago_office.wsdl import ENVELOPE, Service

XSI = "http://www.w3.org/2001/XMLSchema-instance"
_NIL = f"{{{XSI}}}nil"


class SoapFault(Exception):
    """A fault to answer: `code` "Client" or "Server", its faultstring, the HTTP status (ASP.NET: 500)."""

    def __init__(self, code: str, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def read(element: etree._Element) -> Any:
    """An element as plain values: text for a leaf, a dict by local name otherwise (a name met twice: a list)."""
    if element.get(_NIL) == "true":
        return None
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return element.text or ""
    grouped: dict[str, list[Any]] = {}
    for child in children:
        grouped.setdefault(local(child.tag), []).append(read(child))
    return {name: found[0] if len(found) == 1 else found for name, found in grouped.items()}


def items(value: Any, item: str) -> list[Any]:
    """The items of an ArrayOfX wrapper (`<Entries><Entry/>…</Entries>`) whatever their number."""
    if not isinstance(value, dict) or item not in value:
        return []
    found = value[item]
    return found if isinstance(found, list) else [found]


def text(value: Any) -> str:
    """A value as XML Schema writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def render(service: Service, type_name: str, value: Mapping[str, Any], tag: str) -> etree._Element:
    """`value` as the element `tag` of type `type_name`, its children in schema order; absent optional ones left
    out, absent nillable required ones written as xsi:nil."""
    element = etree.Element(f"{{{service.namespace}}}{tag}", nsmap={None: service.namespace})
    for child in service.sequence(type_name):
        if child.name not in value or value[child.name] is None:
            if child.required and child.nillable:
                etree.SubElement(element, f"{{{service.namespace}}}{child.name}", {_NIL: "true"}, nsmap={"xsi": XSI})
            continue
        prefix, _, kind = child.type.partition(":")
        given = value[child.name]
        if prefix == "tns" and (kind in service.types):
            if kind.startswith("ArrayOf"):
                wrapper = etree.SubElement(element, f"{{{service.namespace}}}{child.name}")
                [item] = service.sequence(kind)
                item_kind = item.type.partition(":")[2]
                for entry in given:
                    if item.type.startswith("tns:") and item_kind in service.types:
                        wrapper.append(render(service, item_kind, entry, item.name))
                    else:
                        etree.SubElement(wrapper, f"{{{service.namespace}}}{item.name}").text = text(entry)
            else:
                element.append(render(service, kind, given, child.name))
        else:
            etree.SubElement(element, f"{{{service.namespace}}}{child.name}").text = text(given)
    return element


def answer(service: Service, operation: str, result: Any) -> bytes:
    """The response envelope of `operation` with its `…Result` (a mapping, a list for ArrayOf…, or a value)."""
    response = f"{operation}Response"
    [child] = service.sequence(response)
    holder = {child.name: result} if result is not None else {}
    body = render(service, response, holder, response)
    envelope = etree.Element(f"{{{ENVELOPE}}}Envelope", nsmap={"soap": ENVELOPE, "xsi": XSI,
                                                                 "xsd": "http://www.w3.org/2001/XMLSchema"})
    etree.SubElement(envelope, f"{{{ENVELOPE}}}Body").append(body)
    written: bytes = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
    return written


def fault(code: str, message: str) -> bytes:
    """ASP.NET's SOAP 1.1 fault: `code` is "Client" or "Server"."""
    return ('<?xml version="1.0" encoding="utf-8"?>'
            f'<soap:Envelope xmlns:soap="{ENVELOPE}" xmlns:xsi="{XSI}" xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
            f'<soap:Body><soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{escape(message)}</faultstring>'
            '<detail /></soap:Fault></soap:Body></soap:Envelope>').encode()
