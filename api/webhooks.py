"""The webhook routes: a tenant (vendor API) or an operator (admin API) registers endpoints, rotates their secrets
and reads every delivery attempt. Called like every handler of api/ by function_app.py."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from api.http import Request, Response, admin_tenant, authenticate, error, json_body
from pipeline import webhooks
from pipeline.errors import Problem
from pipeline.ports import NotFound, Stores
from pipeline.registry import Connectors
from pipeline.webhook_endpoints import MAX_OVERLAP, WebhookEndpoints, events_problem
from pipeline.webhook_events import deliveries

FIELDS = {"url", "events", "description"}


def _tenant(stores: Stores, request: Request) -> tuple[str | None, Response | None]:
    return authenticate(stores, request)


def _register(stores: Stores, tenant: str, request: Request) -> Response:
    body, bad = json_body(request, required=True)
    if bad or body is None:
        return bad or error(400, "send a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        return error(400, f"unknown field(s): {', '.join(unknown)}; known: {', '.join(sorted(FIELDS))}",
                     [Problem("unknown field", field=name) for name in unknown])
    problems = []
    url = body.get("url")
    if not isinstance(url, str) or len(url) > 2000:
        problems.append(Problem("url is an absolute https:// URL of at most 2000 characters", field="url"))
    else:
        refused = webhooks.target_problem(url, allow_private=webhooks.private_targets_allowed(os.environ))
        if refused:
            problems.append(Problem(refused, field="url", code="unsafe-target"))
    wrong_events = events_problem(body.get("events"))
    if wrong_events:
        problems.append(Problem(wrong_events, field="events"))
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 200):
        problems.append(Problem("description is text of at most 200 characters", field="description"))
    if problems:
        return error(422, "the webhook endpoint was not registered", problems)
    try:
        endpoint, secret = WebhookEndpoints(stores.tables, stores.secrets).add(
            tenant, str(url), list(body["events"]), description)
    except ValueError as exc:
        return error(409, str(exc))
    return Response(201, {**endpoint.as_dict(), "secret": secret})


def create_webhook(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """A new endpoint; its signing secret is in this answer and nowhere else."""
    tenant, denied = _tenant(stores, request)
    if denied or tenant is None:
        return denied or error(401, "missing API key")
    return _register(stores, tenant, request)


def list_webhooks(stores: Stores, connectors: Connectors, request: Request) -> Response:
    tenant, denied = _tenant(stores, request)
    if denied or tenant is None:
        return denied or error(401, "missing API key")
    endpoints = WebhookEndpoints(stores.tables, stores.secrets).of(tenant)
    return Response(200, {"endpoints": [e.as_dict() for e in endpoints]})


def delete_webhook(stores: Stores, connectors: Connectors, request: Request) -> Response:
    tenant, denied = _tenant(stores, request)
    if denied or tenant is None:
        return denied or error(401, "missing API key")
    endpoint_id = request.path_params.get("id", "")
    try:
        WebhookEndpoints(stores.tables, stores.secrets).remove(tenant, endpoint_id)
    except NotFound as exc:
        return error(404, str(exc))
    return Response(200, {"deleted": endpoint_id})


def rotate_webhook_secret(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """A new secret signs from now on; the previous one also signs for `overlap_hours` (24 by default)."""
    tenant, denied = _tenant(stores, request)
    if denied or tenant is None:
        return denied or error(401, "missing API key")
    body, bad = json_body(request)
    if bad or body is None:
        return bad or error(400, "send a JSON object")
    unknown = sorted(set(body) - {"overlap_hours"})
    hours = body.get("overlap_hours", 24)
    limit = MAX_OVERLAP.total_seconds() / 3600
    if unknown or isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 <= hours <= limit:
        return error(400, f"the only field is overlap_hours, a number of hours from 0 to {limit:.0f}",
                     [Problem("not valid", field=(unknown or ["overlap_hours"])[0])])
    try:
        endpoint, secret = WebhookEndpoints(stores.tables, stores.secrets).rotate(
            tenant, request.path_params.get("id", ""), dt.timedelta(hours=hours))
    except NotFound as exc:
        return error(404, str(exc))
    return Response(200, {**endpoint.as_dict(), "secret": secret})


def list_webhook_deliveries(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Every event sent to the endpoint, newest first, with each attempt: when, the answer, the error."""
    tenant, denied = _tenant(stores, request)
    if denied or tenant is None:
        return denied or error(401, "missing API key")
    endpoint_id = request.path_params.get("id", "")
    try:
        WebhookEndpoints(stores.tables, stores.secrets).get(tenant, endpoint_id)
    except NotFound as exc:
        return error(404, str(exc))
    return Response(200, {"endpoint": endpoint_id, "deliveries": deliveries(stores, tenant, endpoint_id)})


def admin_create_webhook(stores: Stores, connectors: Connectors, request: Request) -> Response:
    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    return _register(stores, tenant.id, request)


def admin_list_webhooks(stores: Stores, connectors: Connectors, request: Request) -> Response:
    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    endpoints: list[dict[str, Any]] = [e.as_dict() for e in WebhookEndpoints(stores.tables, stores.secrets).of(tenant.id)]
    return Response(200, {"endpoints": endpoints})
