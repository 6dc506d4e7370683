"""Received: what arrives stored unchanged first, then handed on in as few storage operations as it allows.

The original bytes are written to Blob Storage before anything parses them, so a rejected request
or a file of unknown format is never lost. Shared-form JSON from the API is checked here as well,
so a vendor gets every problem in the 4xx answer — and, being in the shared form already, it skips the
translate stage: each document gets its `received` and `translated` steps here and goes straight to
QUEUE_TRANSLATED, up to MAX_DOCUMENTS to an envelope, each envelope's rows in one entity-group
transaction. Files are only checked for a known format and translated by the next stage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.envelope import Envelope, Packer, new_message_id, new_traceparent, trace_id
from pipeline.errors import Problem
from pipeline.inflight import Send, commit, open_journey
from pipeline.model import Document, Origin
from pipeline.ports import QueueSender, Stores
from pipeline.records.documents import listing
from pipeline.records.history import blob_ref, enclose, new_id, original_path
from pipeline.records.names import CONTAINER_RECEIVED, QUEUE_RECEIVED, QUEUE_TRANSLATED
from pipeline.records.trace import TraceEntry, TraceLog, child_id
from pipeline.shared_form import DOCUMENT, FATAL, MAX_DOCUMENTS_PER_REQUEST, parse_shared_form

__all__ = ["DOCUMENT", "FATAL", "MAX_DOCUMENTS_PER_REQUEST", "Intake", "parse_shared_form", "receive_documents",
           "receive_file", "receive_drop", "safe_file_name"]
FORMAT = "shared-form"  # the API's format, by the name files and the CLI use for it too
_MEDIA_TYPE = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,199}")


@dataclass
class Intake:
    """What the API answers: the receipt, each accepted document, every problem; and what goes where next."""

    receipt: str
    original: str
    accepted: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    queue: str = QUEUE_TRANSLATED  # where `envelopes` go


def receive_documents(stores: Stores, tenant: str, body: bytes, *, content_type: str = "") -> Intake:
    """Shared-form JSON from the API: keep the body, check every document, accept the good ones."""
    receipt = new_id("r-")
    original = original_path(tenant, receipt, "request.json")
    stores.blobs.put(
        CONTAINER_RECEIVED, original, body,
        content_type=content_type if _MEDIA_TYPE.fullmatch(content_type) else "application/json",
        metadata={"tenant": tenant, "format": FORMAT, "receipt": receipt, "via": "api",
                  "content_type": content_type if _MEDIA_TYPE.fullmatch(content_type) else "application/json"},
    )
    intake = Intake(receipt=receipt, original=blob_ref(CONTAINER_RECEIVED, original))
    good, problems = parse_shared_form(body)
    intake.problems.extend(problems)
    if any(p.code in FATAL for p in problems):
        return intake
    accept(stores, tenant, intake, [
        (index, document.model_copy(update={"origin": Origin(format=FORMAT, file=receipt, line=line)}))
        for index, line, document in good], via="api")
    return intake


def accept(stores: Stores, tenant: str, intake: Intake, documents: Sequence[tuple[int, Document]], *,
           via: str, detail: Mapping[str, Any] | None = None) -> list[Envelope]:
    """Shared-form documents of one receipt, received and (being in the shared form) translated at once.

    Each document is `d-<receipt>-<index>`; its two steps and the envelope that carries it on are written
    together, one transaction per envelope, after the receipt's journey is open (pipeline/inflight.py).
    The envelopes (for QUEUE_TRANSLATED) are added to `intake.envelopes` and returned.
    """
    if not documents:
        return []
    open_journey(stores.tables, tenant, intake.receipt)  # before any envelope row: a crash now loses nothing
    template = Envelope(tenant=tenant, receipt=intake.receipt, traceparent=new_traceparent(), id=new_message_id())
    packer = Packer(template)
    entries: dict[str, list[TraceEntry]] = {}
    sent: list[Envelope] = []

    def flush(envelope: Envelope | None) -> None:
        if envelope is None:
            return
        rows = [e for d in envelope.documents for e in entries.pop(d.id)]
        commit(stores.tables, tenant, intake.receipt, rows, sends=[Send(QUEUE_TRANSLATED, envelope)])
        sent.append(envelope)

    for index, document in documents:
        document_id = child_id(intake.receipt, index)
        enclosure, kept = enclose(stores.blobs, tenant, document_id, document)
        steps = {"received": {"receipt": intake.receipt, "original": intake.original, "index": index,
                              "type": document.type, "via": via, **(detail or {})},
                 "translated": {"type": document.type, "format": document.origin.format if document.origin else FORMAT,
                                "shared_form": enclosure.blob or "kept with this step",
                                "note": "already in the shared form: checked when received"}}
        tid = trace_id(template.traceparent)
        entries[document_id] = [
            TraceEntry(tenant, document_id, step, info, reference=document.reference, receipt=intake.receipt,
                       trace_id=tid, shared_form=kept if step == "translated" else None,
                       listing=listing(document_id, document, via=via) if step == "translated" else None)
            for step, info in steps.items()]
        flush(packer.add(enclosure))
        intake.accepted.append({"id": document_id, "reference": document.reference, "type": document.type})
    flush(packer.close())
    intake.envelopes.extend(sent)
    return sent


def send_all(queues: QueueSender, queue: str, envelopes: Sequence[Envelope]) -> None:
    """Envelopes sent at once, concurrently when there are several (what an output binding would do)."""
    if len(envelopes) <= 1:
        for envelope in envelopes:
            queues.send(queue, envelope.to_json())
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(envelopes)), thread_name_prefix="bilagsbro-send") as pool:
        list(pool.map(lambda e: queues.send(queue, e.to_json()), envelopes))


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
    intake = Intake(receipt=receipt, original=blob_ref(CONTAINER_RECEIVED, original), queue=QUEUE_RECEIVED)
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
    envelope = Envelope(tenant=tenant, receipt=receipt, traceparent=new_traceparent(), id=new_message_id(),
                        kind="file", blob=intake.original, format=format)
    open_journey(stores.tables, tenant, receipt)  # the file's journey: until its last document's ends
    commit(stores.tables, tenant, receipt, [TraceEntry(tenant, receipt, "received", {
        "original": intake.original, "file": safe_name, "format": format or "detect", "bytes": len(data),
        "via": source}, receipt=receipt, trace_id=trace_id(envelope.traceparent))],
        sends=[Send(QUEUE_RECEIVED, envelope)])
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
    from pipeline.records.tenants import TenantRegistry

    where = parse_drop_path(blob_name)
    if where is None:
        return None
    tenant, format, file_name = where
    try:
        TenantRegistry(stores.tables).current(tenant)
    except ConfigError:
        return None
    return receive_file(stores, tenant, data, file_name=file_name, format=format,
                        known_formats=known_formats, source="sftp")
