"""History: where originals, shared-form documents and target exchanges are kept for 90 days.

Paths are deterministic from tenant and ids, so any stage, the status API and a replay can find a
document's content without an index. The containers carry a 90-day lifecycle rule (infra/).

A document small enough to travel inside a queue message (pipeline/envelope.py) has no blob of its own:
it goes inside the message, and its shared form is kept with its `translated` trace row. Only a larger
one is written here (a claim check), as `<tenant>/<document>/shared.json` or `.../adapted.json`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pipeline.envelope import INLINE_CHARS, Enclosure
from pipeline.ports import BlobStore, Exchange, NotFound, TableStore
from pipeline.records.names import CONTAINER_DOCUMENTS, CONTAINER_EXCHANGES

if TYPE_CHECKING:
    from pipeline.model import Document

_REDACT = {"authorization", "cookie", "set-cookie", "x-api-key", "proxy-authorization"}


def new_id(prefix: str) -> str:
    """Sortable by time, unguessable: ids are also what a tenant uses to ask for status."""
    return f"{prefix}{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}{secrets.token_hex(6)}"


def original_path(tenant: str, receipt: str, file_name: str) -> str:
    return f"{tenant}/{receipt[2:10]}/{receipt}/{quote(file_name, safe='')}"


def document_path(tenant: str, document_id: str, form: str = "shared") -> str:
    """`shared` is the document as translated; `adapted` is it in the tenant's terms for its target."""
    return f"{tenant}/{document_id}/{form}.json"


def blob_ref(container: str, path: str) -> str:
    return f"{container}/{path}"


def split_ref(ref: str) -> tuple[str, str]:
    container, _, path = ref.partition("/")
    return container, path


def enclose(blobs: BlobStore, tenant: str, document_id: str, document: Document, *, form: str = "shared",
            attempt: int = 1) -> tuple[Enclosure, str | None]:
    """A document for an envelope: inside it when its JSON is small, else written to Blob Storage first.

    Returns the enclosure and, when the document travels inside, its JSON (what its trace row keeps).
    """
    text = document.model_dump_json(exclude_none=True)
    if len(text) <= INLINE_CHARS and len(text.encode("utf-8")) <= 2 * INLINE_CHARS:
        return Enclosure(document_id, document.reference, attempt, body=json.loads(text)), text
    path = document_path(tenant, document_id, form)
    blobs.put(CONTAINER_DOCUMENTS, path, text.encode("utf-8"), content_type="application/json; charset=utf-8")
    return Enclosure(document_id, document.reference, attempt, blob=blob_ref(CONTAINER_DOCUMENTS, path)), None


def load(blobs: BlobStore, tables: TableStore, tenant: str, enclosure: Enclosure,
         context: dict[str, str] | None = None) -> Document:
    """The document an enclosure carries: inside it, in Blob Storage, or (neither) its shared form as kept
    with its `translated` trace row."""
    from pipeline.shared_form import DOCUMENT

    if enclosure.body is not None:
        return DOCUMENT.validate_python(enclosure.body, context=context)
    if enclosure.blob is not None:
        return DOCUMENT.validate_json(blobs.get(*split_ref(enclosure.blob)), context=context)
    kept = shared_form(blobs, tables, tenant, enclosure.id)
    if kept is None:
        raise NotFound(f"the shared form of {tenant}/{enclosure.id}")
    return DOCUMENT.validate_json(kept)


def shared_form(blobs: BlobStore, tables: TableStore, tenant: str, document_id: str,
                rows: list[dict[str, Any]] | None = None) -> bytes | None:
    """A document's shared form (JSON) as its latest `translated` step kept it; None when it never got one."""
    from pipeline.records.trace import TraceLog

    for row in reversed(rows if rows is not None else TraceLog(tables).rows(tenant, document_id)):
        if row.get("SharedForm"):
            return str(row["SharedForm"]).encode("utf-8")
        ref = (row.get("Detail") or {}).get("shared_form") if row.get("Step") == "translated" else None
        if isinstance(ref, str) and "/" in ref:
            try:
                return blobs.get(*split_ref(ref))
            except NotFound:
                return None
    return None


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("[redacted]" if k.lower() in _REDACT else v) for k, v in headers.items()}


def _body(data: bytes) -> dict[str, Any]:
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


class BlobExchangeLog:
    """Every request to a target and its response, per document, as one JSON blob each."""

    def __init__(self, blobs: BlobStore, tenant: str, document_id: str) -> None:
        self.blobs = blobs
        self.prefix = f"{tenant}/{document_id}/"
        self.count = 0

    def record(self, exchange: Exchange) -> None:
        self.count += 1
        record = {
            "at": exchange.at.isoformat(),
            "method": exchange.method,
            "url": exchange.url,
            "request": {"headers": redact_headers(exchange.request_headers), **_body(exchange.request_body)},
            "response": {
                "status": exchange.status,
                "headers": redact_headers(exchange.response_headers),
                **_body(exchange.response_body),
            },
            "elapsed_ms": round(exchange.elapsed_ms, 1),
            **({"error": exchange.error} if exchange.error else {}),
        }
        name = f"{self.prefix}{exchange.at:%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}.json"
        self.blobs.put(
            CONTAINER_EXCHANGES,
            name,
            json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"),
            content_type="application/json; charset=utf-8",
        )


def exchanges(blobs: BlobStore, tenant: str, document_id: str) -> list[dict[str, Any]]:
    prefix = f"{tenant}/{document_id}/"
    return [json.loads(blobs.get(CONTAINER_EXCHANGES, name)) for name in blobs.list(CONTAINER_EXCHANGES, prefix)]
