"""Resend under /api/v1/documents: one document, or a filtered set with a dry run first (pipeline/resend.py).

Handlers in the shape of api/http.py; function_app.py serves them with the translated queue as output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.history import gone
from api.http import Request, Response, admin_body, authenticate, error
from pipeline.errors import BilagsbroError, Problem
from pipeline.records import documents
from pipeline.records.apikeys import hash_key, key_id
from pipeline.records.names import QUEUE_TRANSLATED
from pipeline.records.tenants import Tenant, TenantRegistry, through
from pipeline.resend import MAX_BULK, Planned, plan, send

if TYPE_CHECKING:
    from pipeline.ports import Stores
    from pipeline.registry import Connectors

PREFLIGHT_BATCH = 100


class Resend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str | None = Field(None, description="The system to send to (registry name, e.g. 'tripletex'): the "
                                                 "tenant's own when left out, or another it is connected to")
    reason: str = Field(..., min_length=3, max_length=1000, description="Why: kept with who asked, for the audit")
    force: StrictBool = Field(False, description="Send even though the system holds it already (after deleting it there)")


class BulkResend(Resend):
    filter: dict[str, str] = Field(default_factory=dict, description="As GET /api/v1/documents takes them")
    dry_run: StrictBool = Field(True, description="Only show what would be sent and what each target would refuse")


def _who(request: Request) -> str:
    key = request.headers.get("authorization", "").partition(" ")[2].strip()
    return f"api key {key_id(hash_key(key))}"


def _tenant(stores: Stores, request: Request) -> tuple[Tenant | None, Response | None]:
    tenant_id, denied = authenticate(stores, request)
    if denied:
        return None, denied
    assert tenant_id is not None
    return TenantRegistry(stores.tables).get(tenant_id), None


def resend_document(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Send one document again: 202 on its way; 409 when the system holds it already (unless forced)."""
    tenant, denied = _tenant(stores, request)
    if denied:
        return denied
    assert tenant is not None
    body, bad = admin_body(request, Resend)
    if bad:
        return bad
    assert isinstance(body, Resend)
    document_id = request.path_params.get("id", "")
    if document_id.startswith("d-") and documents.expired(document_id):
        return gone(document_id)
    planned = plan(stores, tenant, document_id, body.target or tenant.target, force=body.force)
    if planned.outcome == "not_found":
        return error(404, f"no document {document_id} for this API key's tenant")
    if planned.outcome == "refused":
        return error(422, planned.detail["reason"], [Problem(planned.detail["reason"], field="target")])
    if planned.outcome != "send":
        return error(409, planned.detail["reason"], **{k: v for k, v in planned.as_dict().items() if k != "reason"})
    envelopes = send(stores, tenant, [planned], by=_who(request), reason=body.reason, force=body.force)
    return Response(202, {**planned.as_dict(), "outcome": "resubmitted",
                          "status_url": f"{request.base_url}/api/v1/documents/{document_id}"},
                    messages={QUEUE_TRANSLATED: [e.to_json() for e in envelopes]})


def resend_documents(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """A filtered set at once: the dry run (the default) says per document what would be sent, what the system
    holds already and what it would refuse (its preflight); with dry_run false, the sendable ones are sent."""
    tenant, denied = _tenant(stores, request)
    if denied:
        return denied
    assert tenant is not None
    body, bad = admin_body(request, BulkResend)
    if bad:
        return bad
    assert isinstance(body, BulkResend)
    target = body.target or tenant.target
    try:
        through(tenant, target, sending=True)
        query = documents.Query.parse({**{k: v for k, v in body.filter.items() if k not in ("limit", "cursor")},
                                       "limit": str(documents.MAX_PAGE)})
    except documents.BadQuery as exc:
        return error(422, str(exc), [Problem(str(exc), field=f"filter.{exc.field}")])
    except BilagsbroError as exc:
        return error(422, exc.message, [Problem(exc.message, field="target")])
    listed: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page, cursor = documents.search(stores.tables, tenant.id, query)
        listed += page
        if cursor is None or len(listed) > MAX_BULK:
            break
        query = documents.Query(**{**query.__dict__, "cursor": cursor})
    if len(listed) > MAX_BULK:
        return error(422, f"more than {MAX_BULK} documents match: narrow the filter (e.g. by received_from and "
                          "received_to) and send each part", [Problem("too many documents", field="filter")])
    planned = [plan(stores, tenant, d["id"], target, force=body.force) for d in listed]
    refused = _preflight(stores, connectors, tenant, target, [p for p in planned if p.outcome == "send"])
    outcomes = [p.as_dict() | ({"would_refuse": refused[p.document_id]} if p.document_id in refused else {})
                for p in planned]
    counts: dict[str, int] = {}
    for p in planned:
        counts[p.outcome] = counts.get(p.outcome, 0) + 1
    answer: dict[str, Any] = {"target": target, "dry_run": body.dry_run, "matched": len(planned), "counts": counts,
                              "refused_by_preflight": len(refused), "documents": outcomes}
    if body.dry_run:
        return Response(200, answer)
    envelopes = send(stores, tenant, planned, by=_who(request), reason=body.reason, force=body.force)
    answer["resubmitted"] = counts.get("send", 0)
    return Response(202, answer, messages={QUEUE_TRANSLATED: [e.to_json() for e in envelopes]})


def _preflight(stores: Stores, connectors: Connectors, tenant: Tenant, target: str,
               planned: Sequence[Planned]) -> dict[str, list[dict[str, Any]]]:
    """What `target` would refuse in each document (its preflight after the tenant's rules), by document id.

    Asked in batches; a system that cannot be asked now is reported as such on every document, not guessed."""
    from pipeline.adapted import preflight
    from pipeline.envelope import Enclosure
    from pipeline.records.history import load

    found: dict[str, list[dict[str, Any]]] = {}
    seen = through(tenant, target)
    for start in range(0, len(planned), PREFLIGHT_BATCH):
        batch = planned[start:start + PREFLIGHT_BATCH]
        loaded = [load(stores.blobs, stores.tables, tenant.id, Enclosure(p.document_id, p.reference)) for p in batch]
        try:
            _, _, problems = preflight(stores, connectors, seen, loaded, "resend-preflight")
        except (BilagsbroError, ValueError) as exc:
            for p in batch:
                found[p.document_id] = [{"message": f"{target} could not be asked: {exc}", "code": "unchecked"}]
            continue
        by_reference = {p.reference: p.document_id for p in batch}
        for problem in problems:
            document_id = by_reference.get(problem.reference)
            if document_id is not None:
                found.setdefault(document_id, []).append(problem.as_dict())
    return found
