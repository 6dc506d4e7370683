"""The subscription source's webhook: `POST /api/v1/sources/subscriptions/{id}/events`, signed per tenant, each
event taken once by its id, kept unchanged before it is parsed (docs/sources/subscriptions.md).

Order of work: the signature is checked on the raw bytes (no parsing), so that nobody without the tenant's secret
can fill its storage; the body is then stored unchanged; then parsed and translated; then the event id is claimed
(a row per tenant and event id) — an event sent again answers 200 with the receipt of the first, and nothing is
queued twice. The signing secrets are in the secret store; the tenant's source settings name them
(`sources.subscriptions.secrets`, more than one while a secret is rotated).
"""

from __future__ import annotations

import re
import secrets as token
import time
from typing import Any
from urllib.parse import quote

from api.http import Request, Response, error
from pipeline import subscriptions
from pipeline.errors import BilagsbroError, ConfigError
from pipeline.ports import Conflict, Stores
from pipeline.received import Intake, accept
from pipeline.records.history import blob_ref, new_id, original_path
from pipeline.records.names import CONTAINER_RECEIVED, TABLE_LEDGER
from pipeline.records.tenants import TenantRegistry, secret_name

MAX_EVENT_BODY = 256 * 1024
SOURCE = "subscriptions"


def _denied() -> Response:
    # The same answer for an unknown tenant, one without the source and a bad signature: nothing to probe.
    return error(401, "the event is not signed with an active signing secret of this tenant's subscription source")


def signing_secrets(stores: Stores, tenant_id: str) -> list[str]:
    """The tenant's active signing secrets (values), newest first; [] when it has no subscription source."""
    try:
        tenant = TenantRegistry(stores.tables).current(tenant_id)
    except ConfigError:
        return []
    names = (tenant.sources.get(SOURCE) or {}).get("secrets") or []
    values = []
    for name in names:
        try:
            values.append(stores.secrets.get(str(name)))
        except (BilagsbroError, KeyError):
            continue  # a retired secret already deleted from the store
    return values


def add_signing_secret(stores: Stores, tenant_id: str, *, value: str | None = None, keep: int = 2) -> tuple[str, str]:
    """A new signing secret for the tenant's subscription source, beside the newest `keep - 1` of the old ones (so a
    sender can switch without losing events); returns (its name in the store, its value — shown once)."""
    registry = TenantRegistry(stores.tables)
    tenant = registry.get(tenant_id)
    value = value or "whsec_" + token.token_urlsafe(32)
    name = secret_name(tenant_id, SOURCE, "signing", new_id("s-"))
    stores.secrets.set(name, value)
    source = dict(tenant.sources.get(SOURCE) or {})
    source["secrets"] = [name, *list(source.get("secrets") or [])][:keep]
    registry.save(tenant.model_copy(update={"sources": {**tenant.sources, SOURCE: source}}))
    return name, value


def post_subscription_event(stores: Stores, connectors: Any, request: Request, *, now: float | None = None) -> Response:
    tenant = request.path_params.get("id", "")
    if not re.fullmatch(r"[a-z0-9-]{1,60}", tenant):
        return _denied()
    if len(request.body) > MAX_EVENT_BODY:
        return error(413, f"an event of {len(request.body)} bytes exceeds {MAX_EVENT_BODY}")
    active = signing_secrets(stores, tenant)
    why = subscriptions.verify(request.headers.get(subscriptions.HEADER), request.body, active,
                               now=time.time() if now is None else now) if active else "unknown"
    if why is not None:
        return _denied() if why == "unknown" else error(401, why)
    receipt = new_id("r-")
    original = original_path(tenant, receipt, "event.json")
    stores.blobs.put(CONTAINER_RECEIVED, original, request.body, content_type="application/json",
                     metadata={"tenant": tenant, "format": subscriptions.FORMAT, "receipt": receipt,
                               "via": "subscriptions", "content_type": "application/json"})
    event, problems = subscriptions.parse(request.body)
    if event is None:
        return error(400, "the event is not a JSON object", problems, receipt=receipt)
    document, problems = subscriptions.translate(event, receipt=receipt)
    if document is None:
        return error(422 if event.get("id") and event.get("type") else 400,
                     f"{len(problems)} problem(s) in the event", problems, receipt=receipt)
    seen = {"PartitionKey": f"{tenant}|{SOURCE}|events", "RowKey": quote(str(event["id"]), safe=""),
            "Receipt": receipt, "Reference": document.reference}
    try:
        stores.tables.insert(TABLE_LEDGER, seen)
    except Conflict:
        first = stores.tables.get(TABLE_LEDGER, seen["PartitionKey"], seen["RowKey"]) or {}
        return Response(200, {"event": event["id"], "duplicate": True, "receipt": first.get("Receipt"),
                              "reference": first.get("Reference")})
    intake = Intake(receipt=receipt, original=blob_ref(CONTAINER_RECEIVED, original))
    try:
        accept(stores, tenant, intake, [(0, document)], via="subscriptions", detail={"event": event["id"]})
    except Exception:
        stores.tables.delete(TABLE_LEDGER, seen["PartitionKey"], seen["RowKey"])  # not taken: the sender retries
        raise
    body = {"event": event["id"], "duplicate": False, "receipt": receipt, "documents": intake.accepted}
    return Response(202, body, messages={intake.queue: [e.to_json() for e in intake.envelopes]})
