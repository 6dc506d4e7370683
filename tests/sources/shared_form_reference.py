"""The shared form as JSON text, read the way it was before it was streamed: the reference the streaming
reader (pipeline/shared_form.py) is held to by tests/sources/test_shared_form_stream.py.

Originally: a request body or file split into documents, every problem located.

One JSON document, a JSON array, or {"documents": [...]}; each document is checked against the model
and gets its index and line in the body, so a vendor hears of every problem in one answer. Numbers
are read exactly (Decimal, never a float); nothing after the first JSON value is ever dropped quietly.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pipeline.errors import Problem
from pipeline.model import DOCUMENT_TYPES, Document, _Document

DOCUMENT = TypeAdapter(Document)
_TYPES = tuple(DOCUMENT_TYPES)
MAX_DOCUMENTS_PER_REQUEST = 5000
# Problems with the body as a whole: nothing in it is accepted.
FATAL = ("encoding", "empty", "too-many", "malformed-json")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _items(text: str) -> Iterator[tuple[int, Any]]:
    """Yields (line, value) for a JSON object, an array of objects, or {"documents": [...]}.

    Decoding element by element is how each document gets its line in the request body. Numbers are
    read exactly (Decimal), never through a float. Anything after the first JSON value is refused, so
    two documents sent as JSON lines never lose the second one silently.
    """
    decoder = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal)
    start = _skip_space(text, 0)
    if text[start:start + 1] == "[":
        end = yield from _array(text, start, decoder)
    else:
        value, end = decoder.raw_decode(text, start)
        if isinstance(value, dict) and isinstance(value.get("documents"), list):
            # Other members beside "documents" are the sender's own (batch ids, ...): kept in the original.
            yield from _array(text, _member(text, start, decoder, "documents"), decoder)
        else:
            yield _line_of(text, start), value
    rest = _skip_space(text, end)
    if rest < len(text):
        raise json.JSONDecodeError(
            "content after the first JSON value: send one document, a JSON array of documents or "
            '{"documents": [...]}, not JSON lines', text, rest)


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _member(text: str, start: int, decoder: json.JSONDecoder, name: str) -> int:
    """Where the value of member `name` of the (already valid) object at `start` begins; the last one
    wins, as it does for the decoder."""
    pos, found = _skip_space(text, start + 1), -1
    while text[pos] != "}":
        key, pos = decoder.raw_decode(text, pos)
        pos = _skip_space(text, _skip_space(text, pos) + 1)  # past the ':'
        if key == name:
            found = pos
        _, pos = decoder.raw_decode(text, pos)
        pos = _skip_space(text, pos)
        if text[pos] == ",":
            pos = _skip_space(text, pos + 1)
    return found


def _array(text: str, start: int, decoder: json.JSONDecoder) -> Generator[tuple[int, Any], None, int]:
    """The elements of the array at `start`; returns the position just after its closing bracket."""
    pos = _skip_space(text, start + 1)
    if pos < len(text) and text[pos] == "]":
        return pos + 1
    while True:
        value, end = decoder.raw_decode(text, pos)
        yield _line_of(text, pos), value
        pos = _skip_space(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_space(text, pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            return pos + 1
        raise json.JSONDecodeError("expected ',' or ']' between documents", text, pos)


# Our own error kinds (PydanticCustomError in pipeline.model) become the problem's code.
_CODES = {"unknown_vat_code": "unknown-vat-code", "invalid_kid": "invalid-kid", "zero_voucher": "zero-voucher"}


def _problems_of(error: ValidationError, *, index: int, line: int, reference: str | None) -> list[Problem]:
    details = error.errors(include_url=False)
    paths = []
    for detail in details:
        loc = [str(p) for p in detail["loc"]]
        # The discriminated union puts the type name first: drop it, the vendor knows the type.
        if loc and loc[0] in ("voucher", "sales_invoice", "payment"):
            loc = loc[1:]
        paths.append("".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc).lstrip("."))
    problems = []
    for detail, path in zip(details, paths, strict=True):
        # A bad line also shortens the list pydantic counts ("at least 2 items"): the line's own
        # problem says it all.
        if detail["type"] == "too_short" and any(p.startswith(f"{path}[") for p in paths):
            continue
        message = str(detail["msg"]).removeprefix("Value error, ")
        problems.append(Problem(message, field=path or None, line=line, reference=reference,
                                file=f"documents[{index}]", code=_CODES.get(detail["type"], "invalid")))
    return problems


def _doc_problems(item: Any, index: int, line: int) -> tuple[Document | None, list[Problem]]:
    """The document, or every problem with it (not only the first)."""
    file = f"documents[{index}]"
    if not isinstance(item, dict):
        return None, [Problem("a document must be a JSON object", file=file, line=line)]
    reference = item.get("reference") if isinstance(item.get("reference"), str) else None
    problems: list[Problem] = []
    if "origin" in item:
        problems.append(Problem("origin is set by Bilagsbro, not by the sender", field="origin",
                                reference=reference, file=file, line=line))
        item = {k: v for k, v in item.items() if k != "origin"}
    if item.get("type") not in _TYPES:
        problems.append(Problem(f"type is required: one of {', '.join(_TYPES)}", field="type",
                                reference=reference, file=file, line=line))
        # Without a type only the common fields can be checked; check them as a voucher would.
        item = {k: v for k, v in item.items() if k in _Document.model_fields}
        try:
            _Document.model_validate(item)
        except ValidationError as exc:
            problems.extend(_problems_of(exc, index=index, line=line, reference=reference))
        return None, problems
    try:
        document = DOCUMENT.validate_python(item)
    except ValidationError as exc:
        return None, problems + _problems_of(exc, index=index, line=line, reference=reference)
    return (None if problems else document), problems


def parse_shared_form(body: bytes, file: str | None = None) -> tuple[list[tuple[int, int, Document]], list[Problem]]:
    """Shared-form JSON → (index, line, document) for each good document, and every problem."""
    problems: list[Problem] = []
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [Problem(f"the body is not UTF-8 (byte {exc.start})", file=file, code="encoding")]
    if not text.strip():
        return [], [Problem("the body is empty: send one document or a list", file=file, code="empty")]
    items: list[tuple[int, Any]] = []
    try:
        for item in _items(text):
            items.append(item)
            if len(items) > MAX_DOCUMENTS_PER_REQUEST:
                return [], [Problem(f"more than {MAX_DOCUMENTS_PER_REQUEST} documents in one request: split it",
                                    file=file, code="too-many")]
    except RecursionError:  # the json module gives up on arrays and objects nested thousands deep
        return [], [Problem("malformed JSON: nested too deeply to be shared-form documents", file=file,
                            code="malformed-json")]
    except json.JSONDecodeError as exc:
        offset = len(body) - len(text.encode("utf-8")) + len(text[:exc.pos].encode("utf-8"))  # counts a BOM
        where = f"line {exc.lineno}, column {exc.colno}, byte offset {offset}"
        return [], [Problem(f"malformed JSON: {exc.msg} ({where})", file=file, line=exc.lineno,
                            code="malformed-json")]
    if not items:
        return [], [Problem("no documents: the list is empty", file=file, line=1, code="empty")]
    seen: dict[str, int] = {}
    good: list[tuple[int, int, Document]] = []
    for index, (line, item) in enumerate(items):
        document, found = _doc_problems(item, index, line)
        if document is not None and document.reference in seen:
            found = [Problem(
                f"reference repeats documents[{seen[document.reference]}] in the same request",
                field="reference", file=f"documents[{index}]", line=line, reference=document.reference,
                code="duplicate-reference")]
            document = None
        if document is None:
            problems.extend(p if file is None else Problem(
                p.message, field=f"{p.file}.{p.field}" if p.field else p.file, file=file, line=p.line,
                reference=p.reference, code=p.code) for p in found)
            continue
        seen[document.reference] = index
        good.append((index, line, document))
    return good, problems
