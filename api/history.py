"""History under /api/v1/documents: search a tenant's documents, and read back what came in, what it became and
what was exchanged with the accounting system — for 90 days, after which the answer is 410 "expired".

Handlers in the shape of api/http.py (request in, response out); function_app.py serves them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from api.http import Request, Response, authenticate, error
from pipeline import redaction
from pipeline.errors import Problem
from pipeline.ports import Entity, NotFound, Stores
from pipeline.records import documents
from pipeline.records.history import exchanges, shared_form, split_ref
from pipeline.records.names import RETENTION_DAYS
from pipeline.records.trace import TraceLog

if TYPE_CHECKING:
    from pipeline.registry import Connectors


def gone(subject: str) -> Response:
    """The answer for anything past the retention period: it existed, and is deleted by design."""
    at = documents.received_at(subject)
    return error(410, f"{subject} is expired: documents, originals and exchanges are kept {RETENTION_DAYS} days "
                      f"after they are received{f' (this one was received {at:%Y-%m-%d})' if at else ''}, "
                      "then deleted everywhere", expired=True, retention_days=RETENTION_DAYS)


def list_documents(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """A page of the tenant's documents, newest first, filtered; `next` follows the cursor to the next page."""
    tenant, denied = authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    try:
        query = documents.Query.parse(request.query)
    except documents.BadQuery as exc:
        return error(400, str(exc), [Problem(str(exc), field=exc.field, code="invalid-filter")])
    found, cursor = documents.search(stores.tables, tenant, query)
    base = f"{request.base_url}/api/v1/documents"
    body: dict[str, Any] = {
        "documents": [{**d, "status_url": f"{base}/{d['id']}"} for d in found],
        "next": None,
    }
    if cursor is not None:
        body["next"] = f"{base}?{urlencode({**dict(request.query), 'cursor': cursor})}"
        body["cursor"] = cursor
    return Response(200, body)


def _document(stores: Stores, request: Request) -> tuple[str, str, list[Entity], Response | None]:
    """The tenant, the document id and its trace rows; or the answer: 401/403, 410 when expired, 404."""
    tenant, denied = authenticate(stores, request)
    if denied:
        return "", "", [], denied
    assert tenant is not None
    document_id = request.path_params.get("id", "")
    if document_id.startswith("d-") and documents.expired(document_id):
        return tenant, document_id, [], gone(document_id)
    rows = TraceLog(stores.tables).rows(tenant, document_id) if document_id.startswith("d-") else []
    if not rows:
        return tenant, document_id, [], error(404, f"no document {document_id} for this API key's tenant")
    return tenant, document_id, rows, None


def get_original(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The bytes exactly as received, with their content type: the request or file the document came in.

    For a document that came in a file, the whole file (headers say which document of it, and from which line);
    for one posted to the API, the request body it came in (which may hold other documents too).
    """
    tenant, document_id, rows, denied = _document(stores, request)
    if denied:
        return denied
    return original(stores, tenant, document_id, rows)


def original(stores: Stores, tenant: str, document_id: str, rows: list[Entity]) -> Response:
    """A document's original as a download (the API's and the workspace's): its bytes and content type, and its
    file name in Content-Disposition — ASCII in `filename`, the name itself (æøå) in `filename*` (RFC 6266/5987)."""
    received = next((r for r in rows if r.get("Step") == "received"), None)
    ref = ((received or {}).get("Detail") or {}).get("original")
    if not isinstance(ref, str) or "/" not in ref:
        return error(404, f"no original is recorded for {document_id}")
    container, path = split_ref(ref)
    try:
        data = stores.blobs.get(container, path)
        metadata = stores.blobs.metadata(container, path)
    except NotFound:
        return gone(document_id) if documents.expired(document_id) else error(
            404, f"the original of {document_id} is no longer kept")
    detail = (received or {}).get("Detail") or {}
    via_api = metadata.get("format") == "shared-form" and metadata.get("via") == "api"
    content_type = metadata.get("content_type") or ("application/json" if via_api else "application/octet-stream")
    name = path.rsplit("/", 1)[-1]
    headers = {
        "Content-Disposition": f"attachment; filename=\"{_ascii(name)}\"; filename*=UTF-8''{quote(_unquoted(name))}",
        "X-Bilagsbro-Receipt": str(detail.get("receipt") or ""),
    }
    if detail.get("line") is not None:
        headers["X-Bilagsbro-Line"] = str(detail["line"])
        end = _last_line(stores, tenant, document_id)
        headers["X-Bilagsbro-Lines"] = f"{detail['line']}-{end}" if end is not None else f"{detail['line']}-"
    if detail.get("index") is not None:
        headers["X-Bilagsbro-Index"] = str(detail["index"])  # which document of the request, 0-based
    return Response(200, data, headers=headers, content_type=content_type)


def _last_line(stores: Stores, tenant: str, document_id: str) -> int | None:
    """The line before the next document of the same file starts: where this one ends (None for the last)."""
    stem, _, number = document_id.rpartition("-")
    if not number.isdigit():
        return None
    following = f"{stem}-{int(number) + 1:0{len(number)}d}"
    for row in TraceLog(stores.tables).rows(tenant, following):
        line = (row.get("Detail") or {}).get("line") if row.get("Step") == "received" else None
        if isinstance(line, int):
            return line - 1
    return None


def _unquoted(name: str) -> str:
    from urllib.parse import unquote

    return unquote(name)


def _ascii(name: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in _unquoted(name))


def get_shared_form(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The document as translated: the shared form (docs/shared-form.md), JSON."""
    tenant, document_id, rows, denied = _document(stores, request)
    if denied:
        return denied
    kept = shared_form(stores.blobs, stores.tables, tenant, document_id, rows)
    if kept is None:
        return error(404, f"{document_id} never reached the shared form: its trace says why")
    return Response(200, kept)


def get_payload(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The document as adapted for its accounting system: the target, the rules' result in the shared form, and
    the exact payload the target sends (its latest `adapted` step)."""
    tenant, document_id, rows, denied = _document(stores, request)
    if denied:
        return denied
    adapted = next((r for r in reversed(rows) if r.get("Step") == "adapted"), None)
    if adapted is None:
        return error(404, f"{document_id} was not adapted (yet): its trace says where it stands")
    detail = adapted.get("Detail") or {}
    body: dict[str, Any] = {"id": document_id, "target": detail.get("target"), "at": adapted.get("At"),
                            "payload": detail.get("payload")}
    ref = detail.get("adapted")
    if isinstance(ref, str) and "/" in ref:
        try:
            body["adapted"] = json.loads(stores.blobs.get(*split_ref(ref)))
        except NotFound:
            pass
    return Response(200, body)


def get_exchanges(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Every request to and response from the accounting system for the document, oldest first, redacted."""
    tenant, document_id, _, denied = _document(stores, request)
    if denied:
        return denied
    return Response(200, {"id": document_id, "exchanges": shown_exchanges(stores, tenant, document_id)})


def shown_exchanges(stores: Stores, tenant: str, document_id: str) -> list[dict[str, Any]]:
    """Exchanges as kept (credential headers already redacted when recorded), with URLs and bodies redacted by
    both nets of pipeline/redaction.py: anything named like a secret (a session token a system hands out in a
    response body, a consumer token in a request) and every secret value this process knows."""
    shown = []
    for exchange in exchanges(stores.blobs, tenant, document_id):
        if isinstance(exchange.get("url"), str):
            exchange["url"] = redaction.redact(exchange["url"])
        for side in ("request", "response"):
            part = exchange.get(side) or {}
            if isinstance(part.get("text"), str):
                part["text"] = redaction.redact(part["text"])
            headers = part.get("headers")
            if isinstance(headers, dict):
                part["headers"] = {k: redaction.redact(str(v)) for k, v in headers.items()}
        shown.append(exchange)
    return shown


def get_remote(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Whether one of the tenant's accounting systems holds the document, asked there by its reference (the
    target's own look-up, as a delivery with an unknown outcome asks): the primary system by default, or
    `?target=` another connection — a read-only one kept after a switch included, which is what it is kept for.
    Nothing is written to the system; the look-up's requests and responses are kept with the document's exchanges."""
    from pipeline.errors import BilagsbroError, ConfigError, TransientError
    from pipeline.records.tenants import TenantRegistry, through
    from pipeline.records.trace import shown

    tenant_id, document_id, rows, denied = _document(stores, request)
    if denied:
        return denied
    tenant = TenantRegistry(stores.tables).get(tenant_id)
    system = request.query.get("target") or tenant.target
    try:
        view = through(tenant, system)
    except ConfigError as exc:
        return error(422, exc.message, [Problem(exc.message, field="target", code="not-connected")])
    reference = next((t.get("reference") for t in (shown(r) for r in rows) if t.get("reference")), None)
    if not reference:
        return error(409, f"{document_id} has no reference (it never reached the shared form): nothing to look up")
    mode = "primary" if system == tenant.target else str((tenant.connections.get(system) or {}).get("mode"))
    try:
        found = connectors.target_for(stores, view, document_id).find(reference)
    except TransientError as exc:  # out of reach or busy: ask again later
        busy = error(503, exc.message + (f" ({exc.provider_message})" if exc.provider_message else ""))
        return Response(503, busy.body, {"Retry-After": "30"})
    except BilagsbroError as exc:  # refused credentials, a setting the system refuses: the connection needs a fix
        return error(422, exc.message + (f" ({exc.provider_message})" if exc.provider_message else ""),
                     list(exc.problems))
    body: dict[str, Any] = {"id": document_id, "reference": reference, "target": system, "connection": mode,
                            "found": found is not None}
    if found is not None:
        body.update({"remote_id": found.remote_id, "draft": found.draft, "url": found.url})
    return Response(200, body)
