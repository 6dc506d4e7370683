"""The OpenAPI of the webhook routes and of the events themselves (OpenAPI 3.1 `webhooks`), kept beside
api/openapi.py, which merges them into the one document."""

from __future__ import annotations

from typing import Any

from pipeline.webhooks import EVENT_ID_HEADER, EVENTS, SIGNATURE_HEADER, URL

_STR = {"type": "string"}
URL_PATTERN = URL.pattern  # as the registration checks it
ADMIN: list[dict[str, list[str]]] = [{"adminKey": []}]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def components() -> dict[str, Any]:
    endpoint = {"type": "object", "required": ["id", "url", "events", "created", "secrets"], "properties": {
        "id": _STR, "url": _STR, "events": {"type": "array", "items": {"type": "string", "enum": list(EVENTS)}},
        "description": {"type": ["string", "null"]}, "created": {"type": "string", "format": "date-time"},
        "secrets": {"type": "array", "description": "The live signing secrets (never their values): `until` is "
                                                    "when a rotated-out one stops signing",
                    "items": {"type": "object", "properties": {"until": {"type": ["string", "null"]}}}},
    }}
    attempt = {"type": "object", "properties": {
        "at": _STR, "attempt": {"type": "integer"}, "status": {"type": ["integer", "null"]},
        "ms": {"type": "integer"}, "error": _STR, "response": _STR}}
    event = {"type": "object", "required": ["id", "type", "created", "tenant", "data"], "properties": {
        "id": {"type": "string", "description": f"The event's id, also in {EVENT_ID_HEADER}: deduplicate by it"},
        "type": {"type": "string", "enum": list(EVENTS)}, "created": _STR, "tenant": _STR,
        "data": {"type": "object", "description": "document.*: document, reference, receipt, status, detail; "
                                                  "file.processed: receipt, file_name, format, status, counts; "
                                                  "connection.unhealthy: target, document, error; "
                                                  "ledger.synced: company, source, kind (backfill or refresh), "
                                                  "postings, mismatch_count, mismatches"}}}
    return {
        "WebhookEndpoint": endpoint,
        "WebhookEndpointWithSecret": {"allOf": [endpoint, {"type": "object", "required": ["secret"], "properties": {
            "secret": {"type": "string", "description": "whsec_...: shown in this answer only; keep it to verify "
                                                        "signatures (docs/webhooks.md)"}}}]},
        "WebhookEndpoints": {"type": "object", "required": ["endpoints"],
                             "properties": {"endpoints": {"type": "array", "items": _ref("WebhookEndpoint")}}},
        "NewWebhookEndpoint": {"type": "object", "required": ["url", "events"], "additionalProperties": False,
                               "properties": {
                                   "url": {"type": "string", "maxLength": 2000, "pattern": URL_PATTERN,
                                           "description": "https, to a public address"},
                                   "events": {"type": "array", "minItems": 1,
                                              "items": {"type": "string", "enum": list(EVENTS)}},
                                   "description": {"type": ["string", "null"], "maxLength": 200}}},
        "WebhookDeliveries": {"type": "object", "required": ["endpoint", "deliveries"], "properties": {
            "endpoint": _STR, "deliveries": {"type": "array", "items": {"type": "object", "properties": {
                "event_id": _STR, "event": _STR,
                "state": {"type": "string", "enum": ["pending", "retrying", "delivered", "failed", "cancelled"]},
                "created": _STR, "attempt_count": {"type": "integer"}, "next_attempt": {"type": ["string", "null"]},
                "attempts": {"type": "array", "items": attempt}, "payload": _ref("WebhookEvent")}}}}},
        "WebhookEvent": event,
    }


def paths(answers: Any, path_id: Any) -> dict[str, Any]:
    """`answers` and `path_id` are api.openapi's helpers (passed in: that module imports this one)."""
    endpoint_id = path_id("The endpoint's id (wh-...)")
    tenant_id = path_id("The tenant's id")
    new = {"required": True, "content": _json(_ref("NewWebhookEndpoint"))}
    created = (201, "Registered: the endpoint and its signing secret, shown once", "WebhookEndpointWithSecret")
    rotate_body = {"required": False, "content": _json({
        "type": "object", "additionalProperties": False,
        "properties": {"overlap_hours": {"type": "number", "minimum": 0, "maximum": 168,
                                         "description": "How long the previous secret still signs (24)"}}})}
    return {
        "/api/v1/webhooks": {
            "post": {"summary": "Register a webhook endpoint for some of: " + ", ".join(EVENTS),
                     "requestBody": new, "responses": answers(400, 401, 403, 409, 413, 415, 422, ok=created)},
            "get": {"summary": "The tenant's webhook endpoints",
                    "responses": answers(401, 403, ok=(200, "Endpoints", "WebhookEndpoints"))},
        },
        "/api/v1/webhooks/{id}": {"delete": {
            "summary": "Delete an endpoint: nothing more is sent to it, deliveries still due are cancelled",
            "parameters": [endpoint_id],
            "responses": {"200": {"description": "Deleted", "content": _json({
                "type": "object", "required": ["deleted"], "properties": {"deleted": _STR}})},
                **answers(401, 403, 404)}}},
        "/api/v1/webhooks/{id}/rotate": {"post": {
            "summary": "A new signing secret now; the previous one also signs during the overlap",
            "parameters": [endpoint_id], "requestBody": rotate_body,
            "responses": answers(400, 401, 403, 404, 413, 415,
                                 ok=(200, "The new secret, shown once", "WebhookEndpointWithSecret"))}},
        "/api/v1/webhooks/{id}/deliveries": {"get": {
            "summary": "Every event sent to the endpoint, newest first, with each attempt and its answer",
            "parameters": [endpoint_id],
            "responses": answers(401, 403, 404, ok=(200, "Deliveries", "WebhookDeliveries"))}},
        "/api/v1/admin/tenants/{id}/webhooks": {
            "post": {"summary": "Register a webhook endpoint for a tenant", "security": ADMIN,
                     "parameters": [tenant_id], "requestBody": new,
                     "responses": answers(400, 401, 403, 404, 409, 413, 415, 422, ok=created)},
            "get": {"summary": "A tenant's webhook endpoints", "security": ADMIN, "parameters": [tenant_id],
                    "responses": answers(401, 403, 404, ok=(200, "Endpoints", "WebhookEndpoints"))},
        },
    }


def events() -> dict[str, Any]:
    """OpenAPI 3.1 `webhooks`: what Bilagsbro POSTs to a registered endpoint."""
    headers = [
        {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": _STR,
         "description": "t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>' with the endpoint's secret> (a second "
                        "v1 while a rotated secret overlaps)"},
        {"name": EVENT_ID_HEADER, "in": "header", "required": True, "schema": _STR},
        {"name": "Bilagsbro-Event-Type", "in": "header", "required": True, "schema": _STR},
    ]
    return {event: {"post": {
        "summary": f"{event}: answer 2xx within 10 s; anything else is tried again with backoff for 24 hours",
        "operationId": f"webhook_{event.replace('.', '_')}", "parameters": headers,
        "requestBody": {"required": True, "content": _json(_ref("WebhookEvent"))},
        "responses": {"200": {"description": "Received"}}}} for event in EVENTS}


OPERATIONS = {
    ("/api/v1/webhooks", "post"): "webhook_create",
    ("/api/v1/webhooks", "get"): "webhook_list",
    ("/api/v1/webhooks/{id}", "delete"): "webhook_delete",
    ("/api/v1/webhooks/{id}/rotate", "post"): "webhook_rotate",
    ("/api/v1/webhooks/{id}/deliveries", "get"): "webhook_deliveries",
    ("/api/v1/admin/tenants/{id}/webhooks", "post"): "tenant_webhook_create",
    ("/api/v1/admin/tenants/{id}/webhooks", "get"): "tenant_webhook_list",
}
LINKS = {"webhook_create": ("201", {"webhook_deliveries": {"id": "$response.body#/id"},
                                    "webhook_rotate": {"id": "$response.body#/id"}})}
