"""The vendor HTTP API under /api/v1, as plain functions: request in, response and queue messages out.

function_app.py only translates between these and the Functions host's HTTP types, so the same
handlers serve Azure and the local host, and tests can call them directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pipeline import idempotency
from pipeline.errors import BilagsbroError, ConfigError, Problem
from pipeline.ports import NotFound, Stores
from pipeline.received import FATAL, receive_documents, receive_file
from pipeline.records.history import shared_form, split_ref
from pipeline.records.names import QUEUE_TRANSLATED
from pipeline.records.tenants import TenantRegistry
from pipeline.records.trace import TraceLog, shown, status

if TYPE_CHECKING:
    from pipeline.envelope import Envelope
    from pipeline.registry import Connectors

MAX_DOCUMENTS_BODY = 10 * 1024 * 1024
# Below the Functions host's own limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: 104,857,600 bytes by default, and
# 209,715,200 in our app settings), so that every body we refuse is refused by us, with a JSON answer;
# see docs/decisions/0002.
MAX_FILE_BODY = 100_000_000
MAX_ADMIN_BODY = 1024 * 1024


@dataclass
class Request:
    method: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    base_url: str = ""


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    messages: dict[str, list[str]] = field(default_factory=dict)  # queue name → messages to send

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, ensure_ascii=False, indent=1).encode("utf-8")


def error(status: int, message: str, problems: list[Problem] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"error": message, **extra}
    if problems is not None:
        body["problems"] = [p.as_dict() for p in problems]
    headers = {"WWW-Authenticate": 'Bearer realm="bilagsbro"'} if status == 401 else {}
    return Response(status, body, headers)


def _authenticate(stores: Stores, request: Request, role: str = "tenant") -> tuple[str | None, Response | None]:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None, error(401, "missing API key: send 'Authorization: Bearer <API key>'")
    found = TenantRegistry(stores.tables).authenticate(key.strip())
    if found is None:
        return None, error(401, "the API key is not valid (wrong, revoked or for another environment)")
    if found[0] != role:
        return None, error(403, f"this key cannot do that: it needs a {role} key")
    return found[1], None


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
    tenant, denied = _authenticate(stores, request)
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
    tenant, denied = _authenticate(stores, request)
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
    tenant, denied = _authenticate(stores, request)
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
    tenant, denied = _authenticate(stores, request)
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
    tenant, denied = _authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    rows = TraceLog(stores.tables).receipts(tenant)
    return Response(200, {"receipts": [
        {**r, "status_url": f"{request.base_url}/api/v1/receipts/{r['receipt']}"} for r in rows]})


def retry_document(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Send a document through adapt and deliver again, e.g. after a preflight problem was fixed."""
    tenant, denied = _authenticate(stores, request)
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

    tenant, denied = _authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    return answer(stores, connectors, tenant, request)


def create_tenant(stores: Stores, connectors: Connectors, request: Request) -> Response:
    from api.admin_requests import NewTenant

    _, denied = _authenticate(stores, request, role="admin")
    if denied:
        return denied
    body, bad = _admin_body(request, NewTenant)
    if bad:
        return bad
    assert isinstance(body, NewTenant)
    registry = TenantRegistry(stores.tables)
    try:
        tenant = registry.add(body.name, organization_number=body.organization_number)
    except ConfigError as exc:
        return error(422, exc.message)
    except ValueError as exc:  # the tenant model's own checks (organisation number)
        return error(422, "the tenant is not valid", _validation_problems(exc))
    return Response(201, {"tenant_id": tenant.id, "name": tenant.name, "api_key": registry.issue_key(tenant.id)})


def _admin_tenant(stores: Stores, request: Request) -> tuple[Any, Response | None]:
    _, denied = _authenticate(stores, request, role="admin")
    if denied:
        return None, denied
    try:
        return TenantRegistry(stores.tables).get(request.path_params.get("id", "")), None
    except ConfigError as exc:
        return None, error(404, exc.message)


def _json_body(request: Request, *, required: bool = False) -> tuple[dict[str, Any] | None, Response | None]:
    """The admin API's JSON object: 413 when too big, 415 when not JSON, 400 when malformed, or when
    missing and `required` (an optional body left out reads as {})."""
    if len(request.body) > MAX_ADMIN_BODY:
        return None, error(413, f"body of {len(request.body)} bytes exceeds {MAX_ADMIN_BODY}")
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type:
        return None, error(415, f"send application/json, not {content_type}")
    if not request.body.strip():
        if not required:
            return {}, None
        return None, error(400, "the body is empty: send a JSON object", [Problem("the body is empty", code="empty")])
    try:
        body = json.loads(request.body)
    except UnicodeDecodeError as exc:
        return None, error(400, f"the body is not UTF-8 (byte {exc.start})",
                           [Problem("the body is not UTF-8", code="encoding")])
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return None, error(400, f"malformed JSON: {exc.msg} ({where})",
                           [Problem(f"malformed JSON: {exc.msg} ({where})", line=exc.lineno, code="malformed-json")])
    if not isinstance(body, dict):
        return None, error(400, "send a JSON object", [Problem("the body must be a JSON object", code="not-an-object")])
    return body, None


def _validation_problems(exc: Exception) -> list[Problem]:
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return [Problem(str(exc))]
    return [Problem(str(e["msg"]).removeprefix("Value error, "), field=".".join(str(p) for p in e["loc"]) or None)
            for e in exc.errors(include_url=False)]


def _admin_body(request: Request, model: Any) -> tuple[Any, Response | None]:
    """The body as `model`: unknown fields and wrong types are a 422 naming each field."""
    from pydantic import ValidationError

    body, bad = _json_body(request, required=True)
    if bad:
        return None, bad
    try:
        return model.model_validate(body), None
    except ValidationError as exc:
        return None, error(422, "the request is not valid", _validation_problems(exc))


def _connection_request(stores: Stores, connectors: Connectors, request: Request) -> tuple[Any, Any, Response | None]:
    """The tenant and the connection an admin request names (admin key, a valid body, a registered target); or
    the answer that refuses it."""
    from api.admin_requests import Connection

    tenant, denied = _admin_tenant(stores, request)
    if denied:
        return None, None, denied
    body, bad = _admin_body(request, Connection)
    if bad:
        return None, None, bad
    assert isinstance(body, Connection)
    if body.target not in connectors.targets:
        return None, None, error(422, f"unknown target {body.target!r}; known: {', '.join(sorted(connectors.targets))}",
                                 [Problem("unknown target", field="target")])
    return tenant, body, None


def put_connection(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Connect a tenant to an accounting system: the new settings and credentials are tested first and take
    over only when the test passes (200); a failed test leaves the working connection as it was (422)."""
    from pipeline.records.connections import change, describe

    tenant, body, refused = _connection_request(stores, connectors, request)
    if refused:
        return refused
    target = body.target
    try:
        outcome = change(stores, connectors, tenant.id, target, settings=body.settings, credentials=body.credentials,
                         direct_posting=body.direct_posting)
    except ConfigError as exc:  # settings the system's model refuses: each field named
        return error(422, exc.message, list(exc.problems))
    answer = {**describe(outcome.tenant), "activated": outcome.activated, "check": outcome.check}
    if outcome.superseded:
        return Response(409, {**answer, "error": "another change of this connection came in while this one was "
                                                 "tested; it decides (GET the connection to see which is in force)"})
    if not outcome.activated:
        reason = (outcome.check.get("error") or {}).get("message", "the connection test failed")
        return Response(422, {**answer, "error": f"connection test failed: {reason}. The new settings are kept as "
                                                 f"pending; {tenant.id} goes on with its current connection"})
    return Response(200, answer)


def post_connection_companies(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The companies a connection's credentials reach, to pick one before connecting (a system whose descriptor
    `picks` a setting, e.g. Business NXT's company_no): asked with the body's settings and credentials over those
    in force; nothing is written (200; 422 with the reason in the customer's words)."""
    from pipeline.records.connections import companies

    tenant, body, refused = _connection_request(stores, connectors, request)
    if refused:
        return refused
    try:
        listed = companies(stores, connectors, tenant.id, body.target, settings=body.settings,
                           credentials=body.credentials)
    except BilagsbroError as exc:  # wrong settings or credentials, or the system out of reach: say which
        return error(422, exc.message + (f" ({exc.provider_message})" if exc.provider_message else ""),
                     list(exc.problems))
    return Response(200, {"tenant_id": tenant.id, **listed})


def check_connection(stores: Stores, connectors: Connectors, tenant: Any) -> dict[str, Any]:
    """The connection test of the tenant's connection as it is (pipeline.records.connections.check: `Target.check`)."""
    from pipeline.records.connections import check

    return check(stores, connectors, tenant)


def put_format_options(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Options of one file format for a tenant, e.g. {"vat_map": {"3": "3", "1": "1"}} for GBAT10, checked
    against the format's options model (422 naming each refused field)."""
    from pipeline.descriptors import FormatDescriptor
    from pipeline.records.connections import set_format_options

    tenant, denied = _admin_tenant(stores, request)
    if denied:
        return denied
    format = request.path_params.get("format", "")
    descriptor = connectors.descriptors.get(format)
    if not isinstance(descriptor, FormatDescriptor):
        return error(404, f"unknown format {format!r}; known: {', '.join(sorted(connectors.sources))}")
    body, bad = _json_body(request, required=True)
    if bad:
        return bad
    assert body is not None
    try:
        set_format_options(TenantRegistry(stores.tables), tenant.id, descriptor, body)
    except ConfigError as exc:
        return error(422, exc.message, list(exc.problems) or [Problem(exc.message, field="options")])
    return Response(200, {"tenant_id": tenant.id, "format": format, "options": body})


def docs_json(stores: Stores, connectors: Connectors, request: Request) -> Response:
    from api import openapi

    return Response(200, openapi.spec(request.base_url, connectors=connectors.descriptors))


def docs_html(stores: Stores, connectors: Connectors, request: Request) -> Response:
    from api import openapi

    return Response(200, openapi.html(request.base_url, connectors=connectors.descriptors),
                    content_type="text/html; charset=utf-8")


def docs_field_map(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The public field map: every field of the shared form, what each accounting system does with it."""
    from pipeline import fieldmap

    return Response(200, fieldmap.html(connectors.descriptors, request.base_url),
                    content_type="text/html; charset=utf-8")


def put_rules(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """A new version of a tenant's rules (api/rules.py, where function_app.py serves it from)."""
    from api.rules import put_rules as save

    return save(stores, connectors, request)
