"""Receiving: store what arrives unchanged, then split it into documents for the stages.

The original bytes are written to Blob Storage before anything parses them, so a rejected request
or a file of unknown format is never lost. Shared-form JSON from the API is checked here as well,
so a vendor gets every problem in the 4xx answer; files are only checked for a known format and
translated by the next stage.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pipeline.envelope import Envelope, new_traceparent
from pipeline.errors import Problem
from pipeline.history import blob_ref, document_path, new_id, original_path
from pipeline.inflight import open_journeys, record
from pipeline.model import Document, Origin
from pipeline.names import CONTAINER_DOCUMENTS, CONTAINER_RECEIVED, QUEUE_RECEIVED
from pipeline.ports import Stores
from pipeline.trace import TraceEntry, TraceLog

DOCUMENT = TypeAdapter(Document)
MAX_DOCUMENTS_PER_REQUEST = 5000


@dataclass
class Intake:
    """What the API answers: the receipt, each accepted document, every problem."""

    receipt: str
    original: str
    accepted: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _items(text: str) -> Iterator[tuple[int, Any]]:
    """Yields (line, value) for a JSON object, an array of objects, or {"documents": [...]}.

    Decoding element by element is how each document gets its line in the request body.
    """
    decoder = json.JSONDecoder(parse_float=str, parse_int=str)
    start = len(text) - len(text.lstrip())
    if text[start:start + 1] != "[":
        value, _ = decoder.raw_decode(text, start)
        if isinstance(value, dict) and isinstance(value.get("documents"), list):
            yield from _array(text, _member(text, start, decoder, "documents"), decoder)
        else:
            yield _line_of(text, start), value
        return
    yield from _array(text, start, decoder)


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


def _array(text: str, start: int, decoder: json.JSONDecoder) -> Iterator[tuple[int, Any]]:
    pos = start + 1
    while True:
        pos = _skip_space(text, pos)
        if pos < len(text) and text[pos] == "]":
            return
        value, end = decoder.raw_decode(text, pos)
        yield _line_of(text, pos), value
        pos = _skip_space(text, end)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "]":
            return
        raise json.JSONDecodeError("expected ',' or ']' between documents", text, pos)


def _problems_of(error: ValidationError, *, index: int, line: int, reference: str | None) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False):
        loc = [str(p) for p in detail["loc"]]
        # The discriminated union puts the type name first: drop it, the vendor knows the type.
        if loc and loc[0] in ("voucher", "sales_invoice", "payment"):
            loc = loc[1:]
        path = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc).lstrip(".")
        message = str(detail["msg"]).removeprefix("Value error, ")
        problems.append(
            Problem(message, field=path or None, line=line, reference=reference, file=f"documents[{index}]")
        )
    return problems


def _doc_problems(item: Any, index: int, line: int) -> tuple[Document | None, list[Problem]]:
    if not isinstance(item, dict):
        return None, [Problem("a document must be a JSON object", file=f"documents[{index}]", line=line)]
    reference = item.get("reference") if isinstance(item.get("reference"), str) else None
    if "type" not in item:
        return None, [Problem("type is required: voucher, sales_invoice or payment", field="type",
                              file=f"documents[{index}]", line=line, reference=reference)]
    if "origin" in item:
        return None, [Problem("origin is set by Bilagsbro, not by the sender", field="origin",
                              file=f"documents[{index}]", line=line, reference=reference)]
    try:
        return DOCUMENT.validate_python(item), []
    except ValidationError as exc:
        return None, _problems_of(exc, index=index, line=line, reference=reference)


FATAL = ("encoding", "empty", "too-many", "malformed-json")


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
    except json.JSONDecodeError as exc:
        return [], [Problem(f"malformed JSON: {exc.msg} (column {exc.colno})", file=file, line=exc.lineno,
                            code="malformed-json")]
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


def receive_documents(stores: Stores, tenant: str, body: bytes, *, content_type: str = "") -> Intake:
    """Shared-form JSON from the API: keep the body, check every document, accept the good ones."""
    receipt = new_id("r-")
    original = original_path(tenant, receipt, "request.json")
    stores.blobs.put(
        CONTAINER_RECEIVED, original, body, content_type=content_type or "application/json",
        metadata={"tenant": tenant, "format": "api", "receipt": receipt},
    )
    intake = Intake(receipt=receipt, original=blob_ref(CONTAINER_RECEIVED, original))
    good, problems = parse_shared_form(body)
    intake.problems.extend(problems)
    if any(p.code in FATAL for p in problems):
        return intake

    trace = TraceLog(stores.tables)
    ids = [new_id("d-") for _ in good]
    open_journeys(stores.tables, tenant, ids)  # before any trace row: a crash from here on loses nothing
    for (index, line, document), document_id in zip(good, ids, strict=True):
        document = document.model_copy(update={"origin": Origin(format="api", file=receipt, line=line)})
        intake.envelopes.append(accept(stores, trace, tenant, receipt, document, intake, index=index,
                                       document_id=document_id))
    return intake


def accept(stores: Stores, trace: TraceLog, tenant: str, receipt: str, document: Document,
           intake: Intake, *, index: int, document_id: str | None = None) -> Envelope:
    """Keep one document in the shared form and start its journey; the envelope is for QUEUE_RECEIVED.

    Give `document_id` when its journey was opened already (many at once, as the API does).
    """
    if document_id is None:
        document_id = new_id("d-")
        open_journeys(stores.tables, tenant, [document_id])
    path = document_path(tenant, document_id)
    stores.blobs.put(
        CONTAINER_DOCUMENTS, path, document.model_dump_json(exclude_none=True).encode("utf-8"),
        content_type="application/json; charset=utf-8",
    )
    envelope = Envelope(
        tenant=tenant, document=document_id, receipt=receipt, blob=blob_ref(CONTAINER_DOCUMENTS, path),
        traceparent=new_traceparent(),
    )
    [envelope] = record(trace.tables, [TraceEntry(
        tenant, document_id, "received",
        {"receipt": receipt, "original": intake.original, "index": index, "type": document.type,
         "shared_form": envelope.blob},
        reference=document.reference, receipt=receipt, trace_id=envelope.traceparent.split("-")[1],
    )], hop=None, then=[envelope], queue=QUEUE_RECEIVED)
    intake.accepted.append({"id": document_id, "reference": document.reference, "type": document.type})
    return envelope


def receive_file(
    stores: Stores, tenant: str, data: bytes, *, file_name: str, format: str | None,
    known_formats: Mapping[str, object], source: str = "api",
) -> Intake:
    """A raw file (API upload or SFTP drop): keep it, then hand it whole to the translate stage."""
    receipt = new_id("r-")
    safe_name = file_name.replace("/", "_").replace("\\", "_")[:200] or "file"
    original = original_path(tenant, receipt, safe_name)
    stores.blobs.put(CONTAINER_RECEIVED, original, data, metadata={
        "tenant": tenant, "format": format or "", "receipt": receipt, "via": source,
    })
    intake = Intake(receipt=receipt, original=blob_ref(CONTAINER_RECEIVED, original))
    trace = TraceLog(stores.tables)
    trace.index_receipt(tenant, receipt, {"file": safe_name, "format": format or "detect", "via": source,
                                          "bytes": len(data)})
    if format is not None and format not in known_formats:
        problem = Problem(
            f"unknown format {format!r}; known: {', '.join(sorted(known_formats))}",
            field="format", file=safe_name, code="unknown-format",
        )
        intake.problems.append(problem)
        trace.write(TraceEntry(tenant, receipt, "rejected", {
            "original": intake.original, "file": safe_name, "problems": [problem.as_dict()]}, receipt=receipt))
        return intake
    if not data:
        problem = Problem("the file is empty", file=safe_name, code="empty")
        intake.problems.append(problem)
        trace.write(TraceEntry(tenant, receipt, "rejected", {
            "original": intake.original, "file": safe_name, "problems": [problem.as_dict()]}, receipt=receipt))
        return intake
    envelope = Envelope(
        tenant=tenant, document=receipt, receipt=receipt, blob=intake.original, kind="file",
        format=format, traceparent=new_traceparent(),
    )
    open_journeys(stores.tables, tenant, [receipt])  # the file's own journey, until it is split
    [envelope] = record(stores.tables, [TraceEntry(tenant, receipt, "received", {
        "original": intake.original, "file": safe_name, "format": format or "detect", "bytes": len(data),
        "via": source}, receipt=receipt, trace_id=envelope.traceparent.split("-")[1])],
        hop=None, then=[envelope], queue=QUEUE_RECEIVED)
    intake.envelopes.append(envelope)
    return intake


def parse_drop_path(blob_name: str) -> tuple[str, str | None, str] | None:
    """`<tenant>/inbound/<format>/<file>` or `<tenant>/inbound/<file>` → (tenant, format, file)."""
    parts = blob_name.strip("/").split("/")
    if len(parts) == 4 and parts[1] == "inbound":
        return parts[0], parts[2], parts[3]
    if len(parts) == 3 and parts[1] == "inbound":
        return parts[0], None, parts[2]
    return None


def receive_drop(stores: Stores, blob_name: str, data: bytes, *, known_formats: Mapping[str, object]) -> Intake | None:
    """A completed SFTP upload. Files outside a tenant's inbound folder are left where they are."""
    from pipeline.errors import ConfigError
    from pipeline.tenants import TenantRegistry

    where = parse_drop_path(blob_name)
    if where is None:
        return None
    tenant, format, file_name = where
    try:
        TenantRegistry(stores.tables).get(tenant)
    except ConfigError:
        return None
    return receive_file(stores, tenant, data, file_name=file_name, format=format,
                        known_formats=known_formats, source="sftp")
