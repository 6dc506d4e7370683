"""The admin API's handlers for a tenant's API keys and the state of its connection (admin key required).

Beside api/vendor.py and called the same way by function_app.py: a request in, a response out. Keys are
shown by id and hint, never in full, except once: in the answer that issues them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.vendor import Request, Response, _admin_tenant, _json_body, error
from pipeline.errors import ConfigError, Problem
from pipeline.ports import NotFound, Stores
from pipeline.records.apikeys import DEFAULT_OVERLAP, MAX_OVERLAP, ApiKeys

if TYPE_CHECKING:
    from pipeline.registry import Connectors


def _body(request: Request, allowed: set[str]) -> tuple[dict[str, Any] | None, Response | None]:
    body, bad = _json_body(request)
    if bad or body is None:
        return None, bad
    unknown = sorted(set(body) - allowed)
    if unknown:
        return None, error(400, f"unknown field(s): {', '.join(unknown)}; known: {', '.join(sorted(allowed))}",
                           [Problem("unknown field", field=name) for name in unknown])
    label = body.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > 100):
        return None, error(400, "label is text of at most 100 characters", [Problem("not valid", field="label")])
    return body, None


def get_connection(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The tenant's connection in force, and a change still pending with the reason it is not in force."""
    from pipeline.records.connections import describe

    tenant, denied = _admin_tenant(stores, request)
    if denied:
        return denied
    return Response(200, describe(tenant))


def list_api_keys(stores: Stores, connectors: Connectors, request: Request) -> Response:
    tenant, denied = _admin_tenant(stores, request)
    if denied:
        return denied
    return Response(200, {"tenant_id": tenant.id,
                          "keys": [k.as_dict() for k in ApiKeys(stores.tables).owned_by(tenant.id)]})


def issue_api_key(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Another key for the tenant (e.g. one per till system); the key is in this answer and nowhere else."""
    tenant, denied = _admin_tenant(stores, request)
    if denied:
        return denied
    body, bad = _body(request, {"label"})
    if bad or body is None:
        return bad or error(400, "send a JSON object")
    key, view = ApiKeys(stores.tables).issue(tenant.id, label=body.get("label"))
    return Response(201, {"api_key": key, "key": view.as_dict()})


def revoke_api_key(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The key stops working at once: the next request with it answers 401."""
    tenant, denied = _admin_tenant(stores, request)
    if denied:
        return denied
    key_id = request.path_params.get("key_id", "")
    try:
        view = ApiKeys(stores.tables).revoke(tenant.id, key_id)
    except NotFound:
        return error(404, f"no key {key_id} for tenant {tenant.id}")
    return Response(200, {"key": view.as_dict()})


def rotate_api_key(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """A new key now; the old one keeps working through the overlap (default 24 hours, at most 30 days)."""
    import datetime as dt

    tenant, denied = _admin_tenant(stores, request)
    if denied:
        return denied
    body, bad = _body(request, {"overlap_hours", "label"})
    if bad or body is None:
        return bad or error(400, "send a JSON object")
    hours = body.get("overlap_hours", DEFAULT_OVERLAP.total_seconds() / 3600)
    limit = MAX_OVERLAP.total_seconds() / 3600
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 <= hours <= limit:
        return error(400, f"overlap_hours is a number from 0 to {limit:g}",
                     [Problem("not valid", field="overlap_hours")])
    key_id = request.path_params.get("key_id", "")
    try:
        key, new, old = ApiKeys(stores.tables).rotate(tenant.id, key_id, overlap=dt.timedelta(hours=hours),
                                                      label=body.get("label"))
    except NotFound:
        return error(404, f"no key {key_id} for tenant {tenant.id}")
    except ConfigError as exc:
        return error(409, exc.message)
    return Response(201, {"api_key": key, "key": new.as_dict(), "replaces": old.as_dict()})


def put_further_connection(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Connect the tenant to a further accounting system beside its primary one (e.g. the new system before a
    switch, to resend to it), tested first as the primary connection is: 200 when in force, 422 with the test's
    reason when not (nothing changes then). New documents still go to the primary system."""
    from api.vendor import _connection_request
    from pipeline.records.connections import change, describe

    tenant, body, refused = _connection_request(stores, connectors, request)
    if refused:
        return refused
    try:
        outcome = change(stores, connectors, tenant.id, body.target, settings=body.settings,
                         credentials=body.credentials, direct_posting=body.direct_posting, further=True)
    except ConfigError as exc:
        return error(422, exc.message, list(exc.problems) or [Problem(exc.message, field="target")])
    answer = {**describe(outcome.tenant), "connected": body.target, "activated": outcome.activated,
              "check": outcome.check}
    if outcome.superseded:
        return Response(409, {**answer, "error": "another change of this connection came in while this one was "
                                                 "tested; it decides (GET the connection to see which is in force)"})
    if not outcome.activated:
        reason = (outcome.check.get("error") or {}).get("message", "the connection test failed")
        return Response(422, {**answer, "error": f"connection test failed: {reason}. Nothing changed: "
                                                 f"{tenant.id} is not connected to {body.target} this way"})
    return Response(200, answer)


def delete_further_connection(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Remove a further connection (active, or read-only since a switch); the primary one cannot be removed."""
    from pipeline.records.connections import describe, disconnect

    tenant, denied = _admin_tenant(stores, request)
    if denied:
        return denied
    system = request.path_params.get("system", "")
    try:
        updated = disconnect(stores, tenant.id, system)
    except NotFound as exc:
        return error(404, str(exc))
    except ConfigError as exc:
        return error(409, exc.message)
    connectors.forget(tenant.id)
    return Response(200, {**describe(updated), "removed": system})
