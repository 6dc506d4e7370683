"""A client's history: the documents search, one document's four steps with everything it carried, resend and
retry (each asking for a reason), and the public field map of the client's accounting system.

The same functions as GET /api/v1/documents and its siblings (pipeline.records.documents, .history, .trace,
pipeline.resend, api.vendor.resubmit): only the rendering is the workspace's own.
"""

from __future__ import annotations

import json
from typing import Any

from api.history import shown_exchanges
from api.http import Response
from api.vendor import resubmit
from pipeline.errors import BilagsbroError
from pipeline.ports import NotFound
from pipeline.records import documents
from pipeline.records.history import shared_form, split_ref
from pipeline.records.names import QUEUE_TRANSLATED
from pipeline.records.tenants import TenantRegistry
from pipeline.records.trace import TraceLog, shown, status
from pipeline.resend import plan, send
from workspace.router import Visit, redirect, render

FILTERS = ("status", "type", "reference_prefix", "source", "date_from", "date_to", "cursor")
ORIGINAL_SHOWN = 20_000  # characters of the original shown on the page


def history(visit: Visit) -> Response:
    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    given = {k: v.strip() for k, v in visit.request.query.items() if k in FILTERS and v.strip()}
    error = ""
    try:
        found, cursor = documents.search(visit.stores.tables, tenant.id, documents.Query.parse(given))
    except documents.BadQuery as exc:
        found, cursor, error = [], None, str(exc)
    return render(visit, "history.html", 400 if error else 200, tenant=tenant, rows=found, cursor=cursor,
                  given=given, error=error, statuses=documents.STATUSES)


def _text(data: bytes) -> str:
    """The original as text for reading: UTF-8, else Windows-1252 (what Norwegian exporters write)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _original(visit: Visit, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    received = next((r for r in rows if r.get("Step") == "received"), None)
    detail = (received or {}).get("Detail") or {}
    ref = detail.get("original")
    if not isinstance(ref, str) or "/" not in ref:
        return None
    container, path = split_ref(ref)
    try:
        with visit.stores.blobs.open(container, path) as stream:
            head = stream.read(ORIGINAL_SHOWN * 2 + 4)
    except NotFound:
        return {"name": path.rsplit("/", 1)[-1], "text": "", "gone": True}
    text = _text(head)
    return {"name": path.rsplit("/", 1)[-1], "text": text[:ORIGINAL_SHOWN], "cut": len(text) > ORIGINAL_SHOWN,
            "line": detail.get("line"), "gone": False}


def document(visit: Visit, notice: str = "", error: str = "", status_code: int = 200) -> Response:
    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    document_id = visit.params["id"]
    if document_id.startswith("d-") and documents.expired(document_id):
        return render(visit, "problem.html", 410, title=visit.t("not_found"), help="", message=document_id)
    rows = TraceLog(visit.stores.tables).rows(tenant.id, document_id) if document_id.startswith("d-") else []
    if not rows:
        from workspace.pages_session import problem

        return problem(visit, 404, "not_found")
    trace = [shown(r) for r in rows]
    adapted = next((r for r in reversed(rows) if r.get("Step") == "adapted"), None)
    kept = shared_form(visit.stores.blobs, visit.stores.tables, tenant.id, document_id, rows)
    notice = notice or {"resent": "sent_again", "retried": "retried"}.get(visit.request.query.get("notice", ""), "")
    return render(visit, "document.html", status_code, tenant=tenant, id=document_id, trace=trace, status=status(trace),
                  reference=next((t.get("reference") for t in trace if t.get("reference")), None),
                  original=_original(visit, rows), shared=_pretty(kept),
                  payload=_pretty((adapted or {}).get("Detail", {}).get("payload")) if adapted else "",
                  exchanges=shown_exchanges(visit.stores, tenant.id, document_id), notice=notice, error=error,
                  pretty=_pretty)


def _pretty(value: Any) -> str:
    """JSON as a person reads it: indented, æøå as they are (kept blobs come as bytes)."""
    if value is None or value == "" or value == b"":
        return ""
    if isinstance(value, bytes | str):
        try:
            value = json.loads(value)
        except ValueError:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _reason(visit: Visit) -> str:
    return visit.form.get("reason", "").strip()


def resend(visit: Visit) -> Response:
    """Send the document again to the client's accounting system: a reason is required; never twice by accident."""
    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    document_id = visit.params["id"]
    reason = _reason(visit)
    if len(reason) < 3:
        return document(visit, error=visit.t("reason_help"), status_code=400)
    force = visit.form.get("force") == "on"
    planned = plan(visit.stores, tenant, document_id, tenant.target, force=force)
    if planned.outcome != "send":
        return document(visit, error=str(planned.detail.get("reason") or planned.outcome), status_code=409)
    try:
        envelopes = send(visit.stores, tenant, [planned], by=f"workspace {visit.who()}", reason=reason, force=force)
    except BilagsbroError as exc:
        return document(visit, error=exc.message, status_code=409)
    visit.audit("document resent", client=tenant.id, subject=document_id, why=reason, reference=planned.reference,
                target=planned.target, force=force)
    answer = redirect(visit, f"clients/{tenant.id}/documents/{document_id}", notice="resent")
    answer.messages = {QUEUE_TRANSLATED: [e.to_json() for e in envelopes]}
    return answer


def retry(visit: Visit) -> Response:
    """Adapt and deliver again (after a fix): a reason is required."""
    tenant_id = visit.params["client"]
    document_id = visit.params["id"]
    reason = _reason(visit)
    if len(reason) < 3:
        return document(visit, error=visit.t("reason_help"), status_code=400)
    refused, envelope = resubmit(visit.stores, tenant_id, document_id, by=f"workspace {visit.who()}", reason=reason)
    if refused is not None or envelope is None:
        message = str((refused.body or {}).get("error") if refused else "not found")
        return document(visit, error=message, status_code=refused.status if refused else 404)
    visit.audit("document retried", client=tenant_id, subject=document_id, why=reason)
    answer = redirect(visit, f"clients/{tenant_id}/documents/{document_id}", notice="retried")
    answer.messages = {QUEUE_TRANSLATED: [envelope.to_json()]}
    return answer


def field_map(visit: Visit) -> Response:
    """The public field map (pipeline.fieldmap) for the client's accounting system only."""
    from pipeline.descriptors import targets
    from pipeline.fieldmap import describe, shared_fields
    from pipeline.model import DOCUMENT_TYPES

    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    descriptor = targets(visit.connectors.descriptors).get(tenant.target)
    tables = []
    if descriptor is not None:
        for kind in DOCUMENT_TYPES:
            if kind not in descriptor.accepts.documents:
                continue
            rules = descriptor.accepts.fields.get(kind, {})
            tables.append((kind, [(name, describe(rules.get(name))) for name in shared_fields(kind)]))
    return render(visit, "field_map.html", tenant=tenant, title=getattr(descriptor, "title", tenant.target),
                  tables=tables)


def original(visit: Visit) -> Response:
    """The document's original as a download, under its own file name (api.history.original: the API's)."""
    from api.history import original as download

    tenant_id, document_id = visit.params["client"], visit.params["id"]
    rows = TraceLog(visit.stores.tables).rows(tenant_id, document_id) if document_id.startswith("d-") else []
    answer = download(visit.stores, tenant_id, document_id, rows) if rows else None
    if answer is None or answer.status != 200:
        from workspace.pages_session import problem

        return problem(visit, answer.status if answer is not None and answer.status == 410 else 404, "not_found")
    answer.headers.update({"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                           "Content-Security-Policy": "default-src 'none'; sandbox"})
    return answer
