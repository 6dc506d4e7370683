"""The shared form as JSON text: a request body or file split into documents, every problem located.

One JSON document, a JSON array, or {"documents": [...]}; each document is checked against the model
and gets its index and line in the body, so a vendor hears of every problem in one answer. Numbers
are read exactly (Decimal, never a float); nothing after the first JSON value is ever dropped quietly.

The text is read as a stream (`read_documents`): decoded a megabyte at a time, each document decoded
and checked as it comes, so a 100 MB file never sits in memory. A request body is read the same way
and answered whole (`parse_shared_form`).
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Generator, Iterator
from decimal import Decimal
from typing import IO, Any

from pydantic import TypeAdapter, ValidationError

from pipeline import checked
from pipeline.errors import Problem
from pipeline.model import DOCUMENT_TYPES, Document, _Document
from pipeline.seen import Seen
from pipeline.shared_form_fast import document as fast_document

DOCUMENT = TypeAdapter(Document)
_TYPES = tuple(DOCUMENT_TYPES)
MAX_DOCUMENTS_PER_REQUEST = 5000
# Problems with the body as a whole: nothing in it is accepted.
FATAL = ("encoding", "empty", "too-many", "malformed-json")
CHUNK = 1 << 20
LOOKAHEAD = 16 << 20  # how far past a value's start a syntax error is still taken for a window cut short
_SPACE = " \t\r\n"  # JSON's whitespace


class _NotUtf8(Exception):
    def __init__(self, offset: int) -> None:
        self.offset = offset


class _Malformed(Exception):
    def __init__(self, message: str, pos: int) -> None:
        self.message, self.pos = message, pos


class _Text:
    """A UTF-8 byte stream as text in a window that slides forward, knowing each position's line,
    column and byte offset (a BOM counted in the offset, as it is in the bytes)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._fed = 0  # bytes after the BOM given to the decoder
        head = b""
        while len(head) < 3:
            more = stream.read(3 - len(head))
            if not more:
                break
            head += more
        bom = head.startswith(codecs.BOM_UTF8)
        self.buf = ""
        self.eof = False
        self._line, self._column, self._bytes = 1, 0, 3 if bom else 0  # where buf[0] is
        self._counted, self._counted_line = 0, 1  # lines are counted on from the last position asked
        self._feed(head[3:] if bom else head, final=False)

    def _feed(self, data: bytes, *, final: bool) -> None:
        pending = len(self._decoder.getstate()[0])
        try:
            self.buf += self._decoder.decode(data, final=final)
        except UnicodeDecodeError as exc:  # the offset after the BOM, as bytes.decode("utf-8-sig") gives it
            raise _NotUtf8(self._fed - pending + exc.start) from None
        self._fed += len(data)
        self.eof = final

    def more(self) -> bool:
        """Read on; False at the end of the stream."""
        if self.eof:
            return False
        data = self._stream.read(CHUNK)
        self._feed(data, final=not data)
        return True

    def skip_space(self, pos: int) -> int:
        """The first position at or after `pos` that is not JSON whitespace (len(buf) at the end)."""
        while True:
            while pos < len(self.buf) and self.buf[pos] in _SPACE:
                pos += 1
            if pos < len(self.buf) or not self.more():
                return pos

    def char(self, pos: int) -> str:
        """The character at `pos`, reading on for it; "" at the end."""
        while pos >= len(self.buf) and self.more():
            pass
        return self.buf[pos:pos + 1]

    def forget(self, pos: int) -> int:
        """Drop the text before `pos` once it is long; returns where `pos` is now."""
        if pos < CHUNK:
            return pos
        gone = self.buf[:pos]
        newlines = gone.count("\n")
        self._line += newlines
        self._column = len(gone) - gone.rfind("\n") - 1 if newlines else self._column + len(gone)
        self._bytes += len(gone.encode("utf-8"))
        self.buf = self.buf[pos:]
        self._counted, self._counted_line = 0, self._line
        return 0

    def line(self, pos: int) -> int:
        if pos < self._counted:
            self._counted, self._counted_line = 0, self._line
        self._counted_line += self.buf.count("\n", self._counted, pos)
        self._counted = pos
        return self._counted_line

    def where(self, pos: int) -> tuple[int, int, int]:
        """(line, column, byte offset) of `pos`, as json.JSONDecodeError and the whole text would give them."""
        newline = self.buf.rfind("\n", 0, pos)
        column = pos - newline if newline >= 0 else self._column + pos + 1
        return self.line(pos), column, self._bytes + len(self.buf[:pos].encode("utf-8"))

    def decode(self, decoder: json.JSONDecoder, pos: int) -> tuple[Any, int]:
        """The JSON value at `pos` and the position after it, reading on while it may be cut off.

        A value that ends near where the window ends may be cut off although it decodes: a number ("12"
        of "123", "1" of "1e5" with "e" left, of "1e+5" with "e+"). It is decoded again once the window
        reaches three characters past it, or the text has ended."""
        while True:
            try:
                value, end = decoder.raw_decode(self.buf, pos)
            except json.JSONDecodeError:
                if self.eof or len(self.buf) - pos > LOOKAHEAD or not self.more():
                    raise
                continue
            if len(self.buf) - end > 2 or self.eof or not self.more():
                return value, end


def _values(text: _Text) -> Generator[tuple[int, Any], None, None]:
    """(line, value) for a JSON object, an array of objects, or {"documents": [...]}.

    Decoding element by element is how each document gets its line in the body. Numbers are read
    exactly (Decimal), never through a float. Anything after the first JSON value is refused, so two
    documents sent as JSON lines never lose the second one silently.
    """
    decoder = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal)
    start = text.skip_space(0)
    if text.char(start) == "[":
        end = yield from _array(text, start, decoder)
    elif text.char(start) == "{":
        end = yield from _object(text, start, decoder)
    else:
        value, end = text.decode(decoder, start)  # a string or a number: JSON, and a document's problem
        yield text.line(start), value
    rest = text.skip_space(end)
    if rest < len(text.buf):
        raise _Malformed("content after the first JSON value: send one document, a JSON array of documents or "
                         '{"documents": [...]}, not JSON lines', rest)


def _array(text: _Text, start: int, decoder: json.JSONDecoder, *, between: str = "expected ',' or ']' between documents",
           ) -> Generator[tuple[int, Any], None, int]:
    """The elements of the array at `start`; returns the position just after its closing bracket. A
    separator missing between two elements is `between` (the whole-text reader's words: its own for a
    top-level array, json's for the "documents" member of an object, which json decoded whole)."""
    pos = text.skip_space(start + 1)
    if text.char(pos) == "]":
        return pos + 1
    while True:
        pos = text.forget(pos)
        value, end = text.decode(decoder, pos)
        yield text.line(pos), value
        pos = text.skip_space(end)
        if text.char(pos) == ",":
            pos = text.skip_space(pos + 1)
            continue
        if text.char(pos) == "]":
            return pos + 1
        raise _Malformed(between, pos)


def _object(text: _Text, start: int, decoder: json.JSONDecoder) -> Generator[tuple[int, Any], None, int]:
    """A top-level object member by member, as json's own object parser reads it (with its messages):
    a `documents` array is read element by element; any other object is one document. A second
    `documents` member after a streamed one is refused (the whole-text reader let the last one win)."""
    members: dict[str, Any] = {}
    streamed = False
    pos = text.skip_space(start + 1)
    if text.char(pos) == "}":
        yield text.line(start), members
        return pos + 1
    while True:
        if text.char(pos) != '"':
            raise _Malformed("Expecting property name enclosed in double quotes", pos)
        key, pos = text.decode(decoder, pos)
        pos = text.skip_space(pos)
        if text.char(pos) != ":":
            raise _Malformed("Expecting ':' delimiter", pos)
        pos = text.skip_space(pos + 1)
        if key == "documents" and streamed:
            raise _Malformed('"documents" is given twice', pos)
        if key == "documents" and text.char(pos) == "[":
            streamed = True
            pos = yield from _array(text, pos, decoder, between="Expecting ',' delimiter")
            members.pop(key, None)
        else:
            members[key], pos = text.decode(decoder, pos)
        pos = text.skip_space(pos)
        if text.char(pos) == "}":
            break
        if text.char(pos) != ",":
            raise _Malformed("Expecting ',' delimiter", pos)
        pos = text.skip_space(pos + 1)
    if not streamed:
        yield text.line(start), members
    return pos + 1


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
    document: Document | None = fast_document(item)  # plainly valid: built without pydantic; None: it judges
    if document is not None:
        return document, []
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


def read_documents(stream: IO[bytes], file: str | None = None, *, limit: int | None = None,
                   origin: str | None = None) -> Iterator[tuple[int, int, Document] | Problem]:
    """Shared-form JSON → (index, line, document) for each good document, and every problem, in the
    order of the text; a problem whose code is in FATAL ends it. With `origin` (a format name) each
    document carries its `Origin`: the format, `file` and its line."""
    try:
        text = _Text(stream)
        start = text.skip_space(0)
        empty = start >= len(text.buf) or (text.buf[start].isspace() and not _more_than_blanks(text, start))
    except _NotUtf8 as exc:
        yield Problem(f"the body is not UTF-8 (byte {exc.offset})", file=file, code="encoding")
        return
    if empty:
        yield Problem("the body is empty: send one document or a list", file=file, code="empty")
        return
    seen = Seen(numbered=True)  # each reference, with the index of the document that had it first
    count = 0
    values = _values(text)
    while True:
        try:
            line, item = next(values)
        except StopIteration:
            break
        except _NotUtf8 as exc:
            yield Problem(f"the body is not UTF-8 (byte {exc.offset})", file=file, code="encoding")
            return
        except RecursionError:  # the json module gives up on arrays and objects nested thousands deep
            yield Problem("malformed JSON: nested too deeply to be shared-form documents", file=file,
                          code="malformed-json")
            return
        except (json.JSONDecodeError, _Malformed) as exc:
            yield _malformed(text, exc, file)
            return
        index, count = count, count + 1
        if limit is not None and count > limit:
            yield Problem(f"more than {limit} documents in one request: split it", file=file, code="too-many")
            return
        document, found = _doc_problems(item, index, line)
        earlier = seen.first(document.reference) if document is not None else None
        if document is not None and earlier is not None:
            found = [Problem(f"reference repeats documents[{earlier}] in the same request", field="reference",
                             file=f"documents[{index}]", line=line, reference=document.reference,
                             code="duplicate-reference")]
            document = None
        if document is None:
            yield from (p if file is None else Problem(
                p.message, field=f"{p.file}.{p.field}" if p.field else p.file, file=file, line=p.line,
                reference=p.reference, code=p.code) for p in found)
            continue
        seen.add(document.reference, index)
        if origin is not None:
            document = checked.with_origin(document, checked.origin(origin, file, line))
        yield index, line, document
    if count == 0:
        yield Problem("no documents: the list is empty", file=file, line=1, code="empty")


def _more_than_blanks(text: _Text, pos: int) -> bool:
    """Whether anything but whitespace (str.isspace: the body's own test for being empty) follows `pos`."""
    while True:
        while pos < len(text.buf):
            if not text.buf[pos].isspace():
                return True
            pos += 1
        if not text.more():
            return False


def _malformed(text: _Text, exc: json.JSONDecodeError | _Malformed, file: str | None) -> Problem:
    message = exc.msg if isinstance(exc, json.JSONDecodeError) else exc.message
    line, column, offset = text.where(exc.pos)
    return Problem(f"malformed JSON: {message} (line {line}, column {column}, byte offset {offset})", file=file,
                   line=line, code="malformed-json")


def parse_shared_form(body: bytes, file: str | None = None) -> tuple[list[tuple[int, int, Document]], list[Problem]]:
    """Shared-form JSON → (index, line, document) for each good document, and every problem; a problem
    with the body as a whole (FATAL) comes alone, and then nothing is accepted."""
    try:
        body.decode("utf-8-sig")  # a request's text is checked whole first, as it always was
    except UnicodeDecodeError as exc:
        return [], [Problem(f"the body is not UTF-8 (byte {exc.start})", file=file, code="encoding")]
    good: list[tuple[int, int, Document]] = []
    problems: list[Problem] = []
    for item in read_documents(io.BytesIO(body), file, limit=MAX_DOCUMENTS_PER_REQUEST):
        if isinstance(item, Problem):
            if item.code in FATAL:
                return [], [item]
            problems.append(item)
        else:
            good.append(item)
    return good, problems
