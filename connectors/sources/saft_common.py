"""What the SAF-T Cash Register and SAF-T Financial parsers share: safe streaming XML and exact values.

Both formats are big XML files read with `lxml.etree.iterparse`, elements cleared as they are used, so a
100 MB file never sits whole in memory. Parsing is locked down: no DTD loading, no entity expansion, no
network. Element names are matched on their local name only, because files in the wild carry the 1.0,
1.10, 1.20 and 1.30 namespaces (and XMLSpy samples carry none).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from lxml import etree

from pipeline.errors import shown

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


class FieldError(Exception):
    """A value in the file is wrong; the caller turns it into a `Problem` for the voucher it belongs to."""

    def __init__(self, message: str, *, field: str, line: int | None, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line
        self.code = code


def local(tag: Any) -> str:
    """`{urn:StandardAuditFile-Taxation-Financial:NO}Line` → `Line`; comments and PIs have no name."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def iterparse(data: IO[bytes], tags: Iterable[str], events: tuple[str, ...] = ("end",)) -> Iterator[Any]:
    """(event, element) for the named elements in any namespace, parsed without DTDs, entities or network."""
    return iter(
        etree.iterparse(
            data,
            events=events,
            tag=[f"{{*}}{name}" for name in tags],
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
    )


_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s>/]")


def root_name(head: bytes) -> str | None:
    """Local name of the first element in the file's first bytes, skipping the prolog and comments."""
    body = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", head[:16384], flags=re.S)
    match = _ROOT.search(body)
    return match.group(1).decode("ascii", "replace") if match else None


_INDEX: dict[Any, tuple[dict[str, Any], list[str], list[Any]]] = {}
"""Each element's children by local name, made once per element: `find("{*}Name")` walks the children
(and ElementPath) on every call, and a transaction asks for a dozen names. Cleared by `release`, so
it holds the elements of the transaction in hand only; its references keep each element's Python
proxy alive, so an id is never reused for another element while it is in here."""


def _index(element: Any) -> tuple[dict[str, Any], list[str], list[Any]]:
    """(the first child by local name, every child's local name, every child), in document order."""
    found = _INDEX.get(element)
    if found is None:
        nodes = list(element)
        try:
            names = [node.tag.rpartition("}")[2] for node in nodes]
        except AttributeError:  # an entity among them: it has no name, and no name matches it
            nodes = [node for node in nodes if isinstance(node.tag, str)]
            names = [node.tag.rpartition("}")[2] for node in nodes]
        found = dict(zip(reversed(names), reversed(nodes), strict=True)), names, nodes
        if len(_INDEX) > 10_000:  # master data that is never released: a bound, not a leak
            _INDEX.clear()
        _INDEX[element] = found
    return found


def children(element: Any, name: str) -> list[Any]:
    """The element's children called `name` in any namespace or none, as `findall("{*}name")` finds them."""
    first, names, nodes = _INDEX.get(element) or _index(element)
    if name not in first:
        return []
    return [node for local, node in zip(names, nodes, strict=True) if local == name]


def child(element: Any, name: str) -> Any | None:
    """The first child called `name` in any namespace or none, as `find("{*}name")` finds it."""
    return (_INDEX.get(element) or _index(element))[0].get(name)


def text(element: Any, name: str) -> str | None:
    """Stripped text of the first child called `name`; None when absent or empty."""
    node = (_INDEX.get(element) or _index(element))[0].get(name)
    if node is None:
        return None
    found = node.text  # lxml makes a new string each time .text is read
    if found is None:
        return None
    value: str = found.strip()
    return value or None


def line_of(element: Any, name: str) -> int | None:
    node = child(element, name)
    line: int | None = (node if node is not None else element).sourceline
    return line


_PLAIN_MONEY = re.compile(r"-?\d{1,15}\.\d\d")  # what exporters write: already exact to the cent


def amount(element: Any, name: str, path: str, *, required: bool = True) -> Decimal | None:
    """An exact amount with at most two decimals, as the XSDs' monetary types allow."""
    raw = text(element, name)
    if raw is None:
        if required:
            raise FieldError(f"{name} is missing", field=f"{path}/{name}", line=element.sourceline)
        return None
    if _PLAIN_MONEY.fullmatch(raw):  # what `to_money` makes of it, without its checks and its field's name
        return Decimal(raw) + ZERO
    return to_money(raw, field=f"{path}/{name}", line=line_of(element, name))


def to_money(raw: str, *, field: str, line: int | None) -> Decimal:
    if not _DECIMAL.match(raw):
        raise FieldError(f"{shown(raw)} is not a decimal amount", field=field, line=line)
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        raise FieldError(f"{shown(raw)} is not a decimal amount", field=field, line=line) from None
    if abs(value) >= Decimal("1e15"):  # before quantize, which fails past the context's 28 digits
        raise FieldError(f"{shown(raw)} is too large for an amount", field=field, line=line)
    if value != value.quantize(CENT):
        raise FieldError(f"{shown(raw)} has more than two decimals", field=field, line=line)
    return value.quantize(CENT) + ZERO  # + ZERO: "-0" becomes 0.00, not -0.00


_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?$")  # xs:date, optionally with a time zone


def date(element: Any, name: str, path: str) -> dt.date:
    raw = text(element, name)
    if raw is None:
        raise FieldError(f"{name} is missing", field=f"{path}/{name}", line=line_of(element, name))
    match = _DATE.match(raw)
    try:
        if match is None:
            raise ValueError(raw)
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        raise FieldError(f"{shown(raw)} is not a date (YYYY-MM-DD)", field=f"{path}/{name}",
                         line=line_of(element, name)) from None


def release(element: Any) -> None:
    """Free a handled element and the siblings before it, so the tree never grows with the file."""
    _INDEX.clear()
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def syntax_line(error: etree.XMLSyntaxError) -> int | None:
    return error.lineno if error.lineno and error.lineno > 0 else None
