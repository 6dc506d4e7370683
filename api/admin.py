"""The admin API's handlers (admin key required): tenants, their connections to accounting systems (tested before
they take over), further connections, format options, and API keys.

Called by function_app.py as every handler of api/ is: a request in, a response out. Keys are shown by id and
hint, never in full, except once: in the answer that issues them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.http import Request, Response, admin_body, admin_tenant, authenticate, error, json_body, validation_problems
from pipeline.errors import BilagsbroError, ConfigError, Problem
from pipeline.ports import NotFound, Stores
from pipeline.records.apikeys import DEFAULT_OVERLAP, MAX_OVERLAP, ApiKeys
from pipeline.records.tenants import TenantRegistry

if TYPE_CHECKING:
    from pipeline.registry import Connectors


def _body(request: Request, allowed: set[str]) -> tuple[dict[str, Any] | None, Response | None]:
    body, bad = json_body(request)
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

    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    return Response(200, describe(tenant))


def list_api_keys(stores: Stores, connectors: Connectors, request: Request) -> Response:
    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    return Response(200, {"tenant_id": tenant.id,
                          "keys": [k.as_dict() for k in ApiKeys(stores.tables).owned_by(tenant.id)]})


def issue_api_key(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Another key for the tenant (e.g. one per till system); the key is in this answer and nowhere else."""
    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    body, bad = _body(request, {"label"})
    if bad or body is None:
        return bad or error(400, "send a JSON object")
    key, view = ApiKeys(stores.tables).issue(tenant.id, label=body.get("label"))
    return Response(201, {"api_key": key, "key": view.as_dict()})


def revoke_api_key(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The key stops working at once: the next request with it answers 401."""
    tenant, denied = admin_tenant(stores, request)
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

    tenant, denied = admin_tenant(stores, request)
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

    from pipeline.records.connections import change, describe

    tenant, body, refused = connection_request(stores, connectors, request)
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

    tenant, denied = admin_tenant(stores, request)
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


def create_tenant(stores: Stores, connectors: Connectors, request: Request) -> Response:
    from api.admin_requests import NewTenant

    _, denied = authenticate(stores, request, role="admin")
    if denied:
        return denied
    body, bad = admin_body(request, NewTenant)
    if bad:
        return bad
    assert isinstance(body, NewTenant)
    registry = TenantRegistry(stores.tables)
    try:
        tenant = registry.add(body.name, organization_number=body.organization_number)
    except ConfigError as exc:
        return error(422, exc.message)
    except ValueError as exc:  # the tenant model's own checks (organisation number)
        return error(422, "the tenant is not valid", validation_problems(exc))
    return Response(201, {"tenant_id": tenant.id, "name": tenant.name, "api_key": registry.issue_key(tenant.id)})


def connection_request(stores: Stores, connectors: Connectors, request: Request) -> tuple[Any, Any, Response | None]:
    """The tenant and the connection an admin request names (admin key, a valid body, a registered target); or
    the answer that refuses it."""
    from api.admin_requests import Connection

    tenant, denied = admin_tenant(stores, request)
    if denied:
        return None, None, denied
    body, bad = admin_body(request, Connection)
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

    tenant, body, refused = connection_request(stores, connectors, request)
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

    tenant, body, refused = connection_request(stores, connectors, request)
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

    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    format = request.path_params.get("format", "")
    descriptor = connectors.descriptors.get(format)
    if not isinstance(descriptor, FormatDescriptor):
        return error(404, f"unknown format {format!r}; known: {', '.join(sorted(connectors.sources))}")
    body, bad = json_body(request, required=True)
    if bad:
        return bad
    assert body is not None
    try:
        set_format_options(TenantRegistry(stores.tables), tenant.id, descriptor, body)
    except ConfigError as exc:
        return error(422, exc.message, list(exc.problems) or [Problem(exc.message, field="options")])
    return Response(200, {"tenant_id": tenant.id, "format": format, "options": body})
