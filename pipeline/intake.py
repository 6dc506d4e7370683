"""Receiving: store what arrives unchanged, then split it into documents for the stages.

The original bytes are written to Blob Storage before anything parses them, so a rejected request
or a file of unknown format is never lost. Shared-form JSON from the API is checked here as well,
so a vendor gets every problem in the 4xx answer; files are only checked for a known format and
translated by the next stage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.envelope import Envelope, new_traceparent
from pipeline.errors import Problem
from pipeline.history import blob_ref, document_path, new_id, original_path
from pipeline.model import Document, Origin
from pipeline.names import CONTAINER_DOCUMENTS, CONTAINER_RECEIVED
from pipeline.ports import Stores
from pipeline.shared_form import DOCUMENT, FATAL, MAX_DOCUMENTS_PER_REQUEST, parse_shared_form
from pipeline.trace import TraceEntry, TraceLog

__all__ = ["DOCUMENT", "FATAL", "MAX_DOCUMENTS_PER_REQUEST", "Intake", "parse_shared_form", "receive_documents",
           "receive_file", "receive_drop", "safe_file_name"]
FORMAT = "shared-form"  # the API's format, by the name files and the CLI use for it too
_MEDIA_TYPE = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,199}")


@dataclass
class Intake:
    """What the API answers: the receipt, each accepted document, every problem."""

    receipt: str
    original: str
    accepted: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)


def receive_documents(stores: Stores, tenant: str, body: bytes, *, content_type: str = "") -> Intake:
    """Shared-form JSON from the API: keep the body, check every document, accept the good ones."""
    receipt = new_id("r-")
    original = original_path(tenant, receipt, "request.json")
    stores.blobs.put(
        CONTAINER_RECEIVED, original, body,
        content_type=content_type if _MEDIA_TYPE.fullmatch(content_type) else "application/json",
        metadata={"tenant": tenant, "format": FORMAT, "receipt": receipt, "via": "api"},
    )
    intake = Intake(receipt=receipt, original=blob_ref(CONTAINER_RECEIVED, original))
    good, problems = parse_shared_form(body)
    intake.problems.extend(problems)
    if any(p.code in FATAL for p in problems):
        return intake

    trace = TraceLog(stores.tables)
    for index, line, document in good:
        document = document.model_copy(update={"origin": Origin(format=FORMAT, file=receipt, line=line)})
        intake.envelopes.append(accept(stores, trace, tenant, receipt, document, intake, index=index))
    return intake


def accept(stores: Stores, trace: TraceLog, tenant: str, receipt: str, document: Document,
            intake: Intake, *, index: int) -> Envelope:
    document_id = new_id("d-")
    path = document_path(tenant, document_id)
    stores.blobs.put(
        CONTAINER_DOCUMENTS, path, document.model_dump_json(exclude_none=True).encode("utf-8"),
        content_type="application/json; charset=utf-8",
    )
    envelope = Envelope(
        tenant=tenant, document=document_id, receipt=receipt, blob=blob_ref(CONTAINER_DOCUMENTS, path),
        traceparent=new_traceparent(),
    )
    trace.write(TraceEntry(
        tenant, document_id, "received",
        {"receipt": receipt, "original": intake.original, "index": index, "type": document.type,
         "shared_form": envelope.blob},
        reference=document.reference, receipt=receipt, trace_id=envelope.traceparent.split("-")[1],
    ))
    intake.accepted.append({"id": document_id, "reference": document.reference, "type": document.type})
    return envelope


def receive_file(
    stores: Stores, tenant: str, data: bytes, *, file_name: str, format: str | None,
    known_formats: Mapping[str, object], source: str = "api",
) -> Intake:
    """A raw file (API upload or SFTP drop): keep it, then hand it whole to the translate stage."""
    receipt = new_id("r-")
    safe_name = safe_file_name(file_name)
    original = original_path(tenant, receipt, safe_name)
    known = format is None or format in known_formats
    stores.blobs.put(CONTAINER_RECEIVED, original, data, metadata={
        # Metadata travels as HTTP headers (ASCII): an unknown format is reported, not stored there.
        "tenant": tenant, "format": (format or "") if known else "", "receipt": receipt, "via": source,
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
    trace.write(TraceEntry(tenant, receipt, "received", {
        "original": intake.original, "file": safe_name, "format": format or "detect", "bytes": len(data),
        "via": source}, receipt=receipt, trace_id=envelope.traceparent.split("-")[1]))
    intake.envelopes.append(envelope)
    return intake


def safe_file_name(name: str) -> str:
    """A file name that is safe as the last part of a blob path: what a person can read survives (æøå
    too); slashes and control characters become _, and no trailing dot or space (Azure refuses those)."""
    cleaned = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in name[:200])
    return cleaned.strip(" .") or "file"


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
