"""Problems under /api/v1/problems: a tenant's blocked and failed documents by cause, the documents of a cause a
page at a time, and every one of them retried at once (pipeline/problems.py).

Handlers in the shape of api/http.py; function_app.py serves them, the retry with the translated queue as
output. The workspace calls pipeline.problems' functions directly, with its signed-in user as `by`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from api.http import Request, Response, admin_body, authenticate, error
from pipeline import problems
from pipeline.errors import Problem
from pipeline.problem_retry import retry_group
from pipeline.records import problems as index
from pipeline.records.apikeys import hash_key, key_id
from pipeline.records.names import QUEUE_TRANSLATED

if TYPE_CHECKING:
    from pipeline.ports import Stores
    from pipeline.registry import Connectors

DEFAULT_PAGE, MAX_PAGE = 50, 500


class Retry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., min_length=3, max_length=1000, description="Why: kept with who asked, for the audit")


def _title(connectors: Connectors, target: str | None) -> str | None:
    descriptor = connectors.descriptors.get(target or "")
    return getattr(descriptor, "title", None)


def list_problems(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Every cause holding up the tenant's documents, most documents first, each with its fix."""
    tenant, denied = authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    if request.query:
        unknown = sorted(request.query)
        return error(400, f"unknown parameter(s): {', '.join(unknown)}",
                     [Problem("unknown parameter", field=name) for name in unknown])
    found = problems.groups(stores, tenant)
    base = f"{request.base_url}/api/v1/problems"
    return Response(200, {
        "causes": len(found), "documents": sum(g.documents for g in found),
        "groups": [{**g.as_dict(_title(connectors, g.target)), "url": f"{base}/{g.cause}",
                    "retry_url": f"{base}/{g.cause}/retry"} for g in found]})


def _cause(request: Request) -> tuple[str, Response | None]:
    cause = request.path_params.get("cause", "")
    if not index.valid_cause(cause):
        return cause, error(404, f"no cause {cause!r}: causes are listed by GET /api/v1/problems")
    return cause, None


def get_problem(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """One cause: its fix and a page of the documents it holds up, newest first (`next` follows the cursor)."""
    tenant, denied = authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    cause, bad = _cause(request)
    if bad:
        return bad
    unknown = sorted(set(request.query) - {"limit", "cursor"})
    if unknown:
        return error(400, f"unknown parameter(s): {', '.join(unknown)}; known: cursor, limit",
                     [Problem("unknown parameter", field=name) for name in unknown])
    try:
        limit = int(request.query.get("limit") or DEFAULT_PAGE)
    except ValueError:
        return error(400, "limit is a number", [Problem("not a number", field="limit")])
    if not 1 <= limit <= MAX_PAGE:
        return error(400, f"limit must be 1 to {MAX_PAGE}", [Problem("out of range", field="limit")])
    try:
        rows, cursor = index.affected(stores.tables, tenant, cause, limit=limit,
                                      cursor=request.query.get("cursor") or None)
    except index.BadCursor as exc:
        return error(400, str(exc), [Problem(str(exc), field="cursor")])
    found = problems.group(stores, tenant, cause) if rows or request.query.get("cursor") else None
    if found is None:
        return error(404, f"no document is held up by {cause} (fixed, retried, or never seen)")
    base = f"{request.base_url}/api/v1"
    body: dict[str, Any] = {
        **found.as_dict(_title(connectors, found.target)), "retry_url": f"{base}/problems/{cause}/retry",
        "affected": [{**problems.shown(r), "status_url": f"{base}/documents/{r['Id']}"} for r in rows], "next": None}
    if cursor is not None:
        body["cursor"] = cursor
        body["next"] = f"{base}/problems/{cause}?limit={limit}&cursor={cursor}"
    return Response(200, body)


def retry_problem(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Every document of a cause retried at once: each checked first, those whose cause is still there reported
    (`still_there`, with the problems) and left as they are; the others resubmitted (audited: key and reason)."""
    tenant, denied = authenticate(stores, request)
    if denied:
        return denied
    assert tenant is not None
    cause, bad = _cause(request)
    if bad:
        return bad
    body, bad = admin_body(request, Retry)
    if bad:
        return bad
    assert isinstance(body, Retry)
    if problems.group(stores, tenant, cause) is None:
        return error(404, f"no document is held up by {cause} (fixed, retried, or never seen)")
    key = request.headers.get("authorization", "").partition(" ")[2].strip()
    done = retry_group(stores, connectors, tenant, cause, by=f"api key {key_id(hash_key(key))}",
                                reason=body.reason)
    envelopes = done.pop("envelopes")
    return Response(202, done, messages={QUEUE_TRANSLATED: [e.to_json() for e in envelopes]} if envelopes else {})
