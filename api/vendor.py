"""The vendor HTTP API under /api/v1: documents and files in (once per Idempotency-Key), their status, receipts
and reports, retry, and the export — plain functions, request in, response and queue messages out.

function_app.py only translates between these and the Functions host's HTTP types, so the same
handlers serve Azure and the local host, and tests can call them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from api.http import MAX_DOCUMENTS_BODY, MAX_FILE_BODY, Request, Response, authenticate, error
from pipeline import idempotency
from pipeline.errors import Problem
from pipeline.ports import NotFound, Stores
from pipeline.received import FATAL, receive_documents, receive_file
from pipeline.records.history import shared_form, split_ref
from pipeline.records.names import QUEUE_TRANSLATED
from pipeline.records.trace import TraceLog, shown, status

if TYPE_CHECKING:
    from pipeline.envelope import Envelope
    from pipeline.registry import Connectors

def _status_url(request: Request, document_id: str) -> str:
    return f"{request.base_url}/api/v1/documents/{document_id}"


def _idempotent(stores: Stores, tenant: str, request: Request, route: str,
                handle: Callable[[], Response]) -> Response:
    """Run `handle` once per Idempotency-Key (when the client sends one) and replay its answer for 24 hours."""
    key = request.headers.get(idempotency.HEADER)
    if key is None:
        return handle()
    problem = idempotency.key_problem(key)
    if problem:
        return error(400, problem, [Problem(problem, field="Idempotency-Key", code="invalid-header")])
    ran: list[Response] = []

    def run() -> idempotency.Answer:
        ran.append(handle())
        return idempotency.Answer(ran[0].status, ran[0].body, dict(ran[0].headers))

    print_ = idempotency.fingerprint(route, request.query, request.headers.get("content-type", ""), request.body)
    answer, replayed = idempotency.IdempotencyKeys(stores.tables, stores.blobs).answer(tenant, key, print_, run)
    if isinstance(answer, idempotency.Refused):
        refused = error(answer.status, answer.message, [Problem(answer.message, field="Idempotency-Key", code="idempotency-key-in-use")])
        if answer.retry_after is not None:
            refused.headers["Retry-After"] = str(answer.retry_after)
        return refused
    if not replayed:
        return ran[0]  # with its queue messages: only the request that ran sends them
    return Response(answer.status, answer.body, {**answer.headers, "Idempotent-Replayed": "true"})


def post_documents(stores: Stores, connectors: Connectors, request: Request) -> Response:
    tenant, denied = authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    return _idempotent(stores, tenant, request, "documents", lambda: _post_documents(stores, tenant, request))


def _post_documents(stores: Stores, tenant: str, request: Request) -> Response:
    if len(request.body) > MAX_DOCUMENTS_BODY:
        return error(413, f"body of {len(request.body)} bytes exceeds {MAX_DOCUMENTS_BODY}: split it or "
                          "send a file to /api/v1/files")
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type:
        return error(415, f"send application/json, not {content_type}; files go to /api/v1/files?format=...")
    intake = receive_documents(stores, tenant, request.body, content_type=content_type)
    documents = [{**d, "status_url": _status_url(request, d["id"])} for d in intake.accepted]
    body: dict[str, Any] = {
        "receipt": intake.receipt,
        "documents": documents,
        "problems": [p.as_dict() for p in intake.problems],
    }
    messages = {intake.queue: [e.to_json() for e in intake.envelopes]}
    if not intake.problems:
        return Response(202, body, messages=messages)
    malformed = any(p.code in FATAL for p in intake.problems)
    body["error"] = (
        f"{len(intake.problems)} problem(s); {len(documents)} document(s) accepted and being processed, "
        "the others were not"
    )
    return Response(400 if malformed else 422, body, messages=messages)


def post_file(stores: Stores, connectors: Connectors, request: Request) -> Response:
    tenant, denied = authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    return _idempotent(stores, tenant, request, "files", lambda: _post_file(stores, connectors, tenant, request))


def _post_file(stores: Stores, connectors: Connectors, tenant: str, request: Request) -> Response:
    if len(request.body) > MAX_FILE_BODY:
        return error(413, f"file of {len(request.body)} bytes exceeds {MAX_FILE_BODY}; use the SFTP folder")
    # Absent: detect the format. Given, it must be one we know — an empty `format=` too is refused (kept, 400).
    format = request.query.get("format")
    file_name = request.query.get("name") or f"upload.{format or 'dat'}"
    intake = receive_file(stores, tenant, request.body, file_name=file_name, format=format,
                          known_formats=connectors.sources)
    body = {
        "receipt": intake.receipt,
        "status_url": f"{request.base_url}/api/v1/receipts/{intake.receipt}",
        "original": intake.original,
        "problems": [p.as_dict() for p in intake.problems],
    }
    if intake.problems:
        body["error"] = "the file was kept but cannot be translated"
        return Response(400, body)
    return Response(202, body, messages={intake.queue: [e.to_json() for e in intake.envelopes]})


def get_document(stores: Stores, connectors: Connectors, request: Request) -> Response:
    tenant, denied = authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    document_id = request.path_params.get("id", "")
    from api import history as history_api
    from pipeline.records.documents import expired

    if document_id.startswith("d-") and expired(document_id):
        return history_api.gone(document_id)
    trace = TraceLog(stores.tables).read(tenant, document_id)
    if not trace or not document_id.startswith("d-"):
        return error(404, f"no document {document_id} for this API key's tenant")
    include = request.query.get("include")
    if include not in (None, "exchanges"):
        return error(400, f"include={include!r} is not known; the only choice is include=exchanges",
                     [Problem("unknown value", field="include")])
    reference = next((t.get("reference") for t in trace if t.get("reference")), None)
    body: dict[str, Any] = {"id": document_id, "reference": reference, "status": status(trace), "trace": trace}
    if include == "exchanges":
        body["exchanges"] = history_api.shown_exchanges(stores, tenant, document_id)
    return Response(200, body)


def _receipt_trace(stores: Stores, request: Request) -> tuple[str, str, list[dict[str, Any]], Response | None]:
    tenant, denied = authenticate(stores, request)
    if denied:
        return "", "", [], denied
    assert tenant is not None
    receipt = request.path_params.get("id", "")
    log = TraceLog(stores.tables)
    trace = log.read(tenant, receipt) if receipt.startswith("r-") else []
    if not trace and receipt.startswith("r-"):
        # Listed (intake indexes a file first) but its first trace row is still being written:
        # the file is kept, so it is "received", never a 404 for a receipt the list just showed.
        listed = log.listed_receipt(tenant, receipt)
        if listed is not None:
            trace = [{"step": "received", "at": listed["at"], "attempt": 1, "detail": listed["detail"]}]
    if not trace:
        return tenant, receipt, [], error(404, f"no receipt {receipt} for this API key's tenant")
    return tenant, receipt, trace, None


def get_receipt(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """A file's status: counts, the first documents and problems, and links to its whole report."""
    tenant, receipt, trace, denied = _receipt_trace(stores, request)
    if denied:
        return denied
    documents = [
        {**d, "status_url": _status_url(request, d["id"])}
        for row in trace for d in row["detail"].get("documents", [])
    ]
    problems = [p for row in trace for p in row["detail"].get("problems", [])]
    summary = next((row["detail"] for row in reversed(trace) if "counts" in row["detail"]), None)
    counts = summary["counts"] if summary else {
        "documents": len(documents), "errors": sum(1 for p in problems if p.get("severity") != "warning"),
        "warnings": sum(1 for p in problems if p.get("severity") == "warning")}
    base = f"{request.base_url}/api/v1/receipts/{receipt}"
    body: dict[str, Any] = {
        "receipt": receipt, "status": status(trace), "counts": counts,
        "documents": documents, "problems": problems,
        "complete": bool(summary["complete"]) if summary else True,
        "report": {"json": f"{base}/report", "csv": f"{base}/report.csv"},
        "trace": trace,
    }
    if summary and "preflight" in summary:
        body["preflight"] = summary["preflight"]
    return Response(200, body)


def _whole_report(stores: Stores, trace: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Everything about a file: the report blobs of its translation, or the lists its trace holds
    (files refused at intake, files translated before reports were kept). None while it is still
    being translated."""
    from pipeline.records import report

    summary = next((row["detail"] for row in reversed(trace) if row["step"] in ("translated", "rejected")), None)
    if summary is None:
        return None
    found = report.whole(stores.blobs, summary)
    documents, problems = found if found is not None else (
        summary.get("documents", []),
        [{"stage": "translate", **p} for p in summary.get("problems", [])]
        + [{"stage": "preflight", **p} for p in (summary.get("preflight") or {}).get("problems", [])],
    )
    return {"format": summary.get("format"), "file": trace[0]["detail"].get("file"), "documents": documents,
            "problems": problems}


def get_receipt_report(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """A file's whole report as JSON: every document found (with its status URL) and every problem."""
    _, receipt, trace, denied = _receipt_trace(stores, request)
    if denied:
        return denied
    whole = _whole_report(stores, trace)
    if whole is None:
        return error(409, "the file is still being translated: its report is not ready yet",
                     receipt_status=status(trace))
    documents = [{**d, "status_url": _status_url(request, d["id"])} for d in whole.pop("documents")]
    found = [p for p in whole["problems"] if p.get("stage") != "preflight"]
    counts = {"documents": len(documents), "errors": sum(1 for p in found if p.get("severity") != "warning"),
              "warnings": sum(1 for p in found if p.get("severity") == "warning"),
              "preflight_problems": len(whole["problems"]) - len(found)}
    return Response(200, {"receipt": receipt, "status": status(trace), **whole, "counts": counts,
                          "documents": documents})


def get_receipt_report_csv(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """A file's problems for a spreadsheet (UTF-8 with BOM, semicolons; see pipeline/records/report.py)."""
    from pipeline.records import report

    _, receipt, trace, denied = _receipt_trace(stores, request)
    if denied:
        return denied
    summary = next((row["detail"] for row in reversed(trace) if row["step"] in ("translated", "rejected")), None)
    if summary is None:
        return error(409, "the file is still being translated: its report is not ready yet",
                     receipt_status=status(trace))
    body: bytes | None = None
    ref = (summary.get("report") or {}).get("problems.csv") if isinstance(summary.get("report"), dict) else None
    if ref:
        try:
            body = stores.blobs.get(*split_ref(ref))
        except NotFound:
            body = None
    if body is None:
        whole = _whole_report(stores, trace) or {"problems": []}
        body = report.csv_header() + b"".join(report.problem_row(p) for p in whole["problems"])
    name = str(trace[0]["detail"].get("file") or receipt).rsplit(".", 1)[0]
    filename = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in name)
    return Response(200, body, content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename=\"{filename}-report.csv\"; "
                               f"filename*=UTF-8''{quote(name)}-report.csv"})


def list_receipts(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The tenant's latest files (uploads and SFTP drops), each with its status URL."""
    tenant, denied = authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    rows = TraceLog(stores.tables).receipts(tenant)
    return Response(200, {"receipts": [
        {**r, "status_url": f"{request.base_url}/api/v1/receipts/{r['receipt']}"} for r in rows]})


def retry_document(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Send a document through adapt and deliver again, e.g. after a preflight problem was fixed."""
    tenant, denied = authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    document_id = request.path_params.get("id", "")
    from pipeline.records.apikeys import hash_key, key_id

    key = request.headers.get("authorization", "").partition(" ")[2].strip()
    refused, envelope = resubmit(stores, tenant, document_id, by=f"api key {key_id(hash_key(key))}")
    if refused is not None or envelope is None:
        return refused or error(404, f"no document {document_id} for this API key's tenant")
    return Response(202, {"id": document_id, "status": "resubmitted", "status_url": _status_url(request, document_id)},
                    messages={QUEUE_TRANSLATED: [envelope.to_json()]})


def resubmit(stores: Stores, tenant: str, document_id: str, *, by: str, reason: str | None = None
             ) -> tuple[Response | None, Envelope | None]:
    """The retry itself (the API's and the workspace's): its `resubmitted` step written and its envelope, to send to
    QUEUE_TRANSLATED; or the refusal (404 unknown, 409 never translated or delivered already)."""
    rows = TraceLog(stores.tables).rows(tenant, document_id) if document_id.startswith("d-") else []
    trace = [shown(r) for r in rows]
    if not trace:
        return error(404, f"no document {document_id} for this API key's tenant"), None
    if shared_form(stores.blobs, stores.tables, tenant, document_id, rows) is None:
        return error(409, "this document never reached the shared form (or is older than 90 days)"), None
    if status(trace) == "delivered":
        return error(409, "already delivered; nothing to retry"), None
    from pipeline.retry import resubmit as resubmitted
    from pipeline.retry import retried

    [envelope] = resubmitted(stores, tenant, [retried(document_id, rows)], by=by, reason=reason)
    return None, envelope


def get_export(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The tenant's documents of a period as JSON lines or SAF-T Financial, a page at a time (pipeline/export)."""
    from api.export import answer

    tenant, denied = authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    return answer(stores, connectors, tenant, request)
