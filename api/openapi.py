"""The published contract: the shared form's JSON Schema and the vendor API's OpenAPI document.

Both are generated from the models themselves (the shared form, the admin requests, the rules, the
trace's statuses), so they cannot drift from what the code accepts; docs/shared-form.schema.json is
the committed copy (a test fails when it differs), and a test holds the paths here to the routes
function_app.py declares, both ways. Schemathesis checks every answer against this document.
"""

from __future__ import annotations

import copy
import html as _html
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import TypeAdapter

from api import openapi_ledger as readback_openapi
from api import openapi_webhooks, openapi_workbench
from pipeline.descriptors import Descriptor, FormatDescriptor
from pipeline.errors import SEVERITIES
from pipeline.model import DOCUMENT_TYPES, Document
from pipeline.records.documents import MAX_PAGE, STATUSES
from pipeline.records.trace import STATUS_OF

VERSION = "1.1.0"
TENANT: list[dict[str, list[str]]] = [{"tenantKey": []}]
ADMIN: list[dict[str, list[str]]] = [{"adminKey": []}]


def _without_origin(schema: dict[str, Any]) -> dict[str, Any]:
    """`origin` is Bilagsbro's own field: senders are refused when they set it, so it is not advertised."""
    schema = copy.deepcopy(schema)
    definitions = schema.get("$defs", {})
    for model in DOCUMENT_TYPES.values():
        properties = definitions.get(model.__name__, {}).get("properties", {})
        properties.pop("origin", None)
    definitions.pop("Origin", None)
    return schema


def shared_form_schema() -> dict[str, Any]:
    schema = _without_origin(TypeAdapter(Document).json_schema())
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://bilagsbro.no/schema/shared-form/v1.json",
        "title": "Bilagsbro shared form: one document",
        "description": (
            "A voucher, sales invoice (a credit note credits another) or payment. Amounts are decimal "
            "strings with at most two decimals, signed: debit positive, credit negative. A line's amount "
            "is gross (VAT included); vat_code is the SAF-T standard VAT code. What JSON Schema cannot "
            "say is checked too: a voucher balances and moves money, an invoice's total is the sum of "
            "its lines, a KID passes MOD10 or MOD11."
        ),
        **schema,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


_STR = {"type": "string"}
_TEXT = {"type": "string", "minLength": 1}
_MOMENT = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
_STATUS = {"type": "string", "enum": sorted(set(STATUS_OF.values()))}


def _components() -> dict[str, Any]:
    from api.admin_requests import NewTenant
    from pipeline.rules import Rules

    template = "#/components/schemas/{model}"
    schema = _without_origin(TypeAdapter(Document).json_schema(ref_template=template))
    components: dict[str, Any] = schema.pop("$defs", {})
    components["Document"] = schema
    for model in (NewTenant, Rules):
        model_schema = model.model_json_schema(ref_template=template)
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    components["Problem"] = {
        **_obj({k: _STR for k in ("message", "field", "file", "reference", "code")} | {
            "line": {"type": "integer"},
            "severity": {"type": "string", "enum": list(SEVERITIES), "description": "Absent: error"}}, ["message"]),
        "description": "One thing wrong, located as precisely as the input allows (file, line, field, voucher)",
    }
    problems = {"type": "array", "items": _ref("Problem")}
    components["Error"] = _obj({"error": _STR, "problems": problems}, ["error"])
    components["TraceStep"] = _obj({
        "step": _STR, "at": {"type": "string", "format": "date-time"}, "attempt": {"type": "integer"},
        "reference": _STR, "trace_id": _STR, "detail": {"type": "object"},
    }, ["step", "at", "detail"])
    trace = {"type": "array", "items": _ref("TraceStep")}
    accepted = _obj({"id": _STR, "reference": _STR, "type": _STR, "status_url": _STR}, ["id", "status_url"])
    components["Intake"] = _obj({
        "receipt": _STR, "documents": {"type": "array", "items": accepted}, "problems": problems,
        "error": {"type": "string", "description": "Present when anything was refused"},
    }, ["receipt", "documents", "problems"])
    components["FileIntake"] = _obj({
        "receipt": _STR, "status_url": _STR, "original": {"type": "string", "description": "Where the file is kept"},
        "problems": problems, "error": _STR,
    }, ["receipt", "status_url", "original", "problems"])
    components["DocumentStatus"] = _obj({
        "id": _STR, "reference": {"type": ["string", "null"]}, "status": _STATUS, "trace": trace,
        "exchanges": {"type": "array", "items": {"type": "object"},
                      "description": "With include=exchanges: every request and response, secrets redacted"},
    }, ["id", "reference", "status", "trace"])
    counts = {"type": "object", "additionalProperties": {"type": "integer"},
              "description": "documents, errors and warnings found translating, problems the preflight found"}
    components["Receipt"] = _obj({
        "receipt": _STR, "status": _STATUS, "documents": {"type": "array", "items": accepted},
        "problems": {"type": "array", "items": {"type": "object"}}, "trace": trace, "counts": counts,
        "complete": {"type": "boolean", "description": "false: the lists show only the first entries"},
        "preflight": {"type": "object", "description": "The whole-file preflight: target, checked, first problems"},
        "report": _obj({"json": _STR, "csv": _STR}, ["json", "csv"]),
    }, ["receipt", "status", "documents", "problems", "trace"])
    found = {**accepted, "properties": {**accepted["properties"], "line": {"type": "integer"}}}
    components["Report"] = _obj({
        "receipt": _STR, "status": _STATUS, "file": {"type": ["string", "null"]},
        "format": {"type": ["string", "null"]}, "counts": counts,
        "documents": {"type": "array", "items": found},
        "problems": {"type": "array", "items": {"allOf": [_ref("Problem"), _obj(
            {"stage": {"type": "string", "enum": ["translate", "preflight"]}})]}},
    }, ["receipt", "status", "counts", "documents", "problems"])
    components["DocumentListed"] = _obj({
        "id": _STR, "reference": _STR, "type": _STR, "date": {"type": "string", "format": "date"},
        "status": _STATUS, "step": _STR, "source": {"type": "string", "description": "The format it came in"},
        "via": {"type": "string", "description": "api, file or timer"},
        "received_at": {"type": "string", "format": "date-time"}, "receipt": _STR, "target": _STR,
        "remote_id": _STR, "file": _STR, "line": {"type": "integer"}, "updated_at": _STR, "status_url": _STR,
    }, ["id", "status", "status_url"])
    components["KeptDocument"] = {
        **_obj({"type": {"type": "string", "enum": list(DOCUMENT_TYPES)}, "reference": _STR, "date": _STR,
                "origin": _obj({"format": _STR, "file": {"type": ["string", "null"]},
                                "line": {"type": ["integer", "null"]}}, ["format"])}, ["type", "reference", "date"]),
        "description": "A document as Bilagsbro keeps it: the shared form (Document) with every default filled in, "
                       "and `origin`, where Bilagsbro received it"}
    components["DocumentList"] = _obj({
        "documents": {"type": "array", "items": _ref("DocumentListed")},
        "next": {"type": ["string", "null"], "description": "The next page's URL; null on the last page"},
        "cursor": {"type": "string", "description": "The next page's cursor (also in `next`)"},
    }, ["documents", "next"])
    components["Payload"] = _obj({
        "id": _STR, "target": {"type": ["string", "null"]}, "at": _STR,
        "payload": {"description": "Exactly what the target connector sends"},
        "adapted": {"type": "object", "description": "The shared form after the tenant's rules (large documents)"},
    }, ["id", "payload"])
    components["Exchanges"] = _obj({"id": _STR, "exchanges": {"type": "array", "items": {"type": "object"}}},
                                   ["id", "exchanges"])
    from api.resend import BulkResend, Resend

    components["Resend"] = Resend.model_json_schema(ref_template=template)
    components["BulkResend"] = BulkResend.model_json_schema(ref_template=template)
    planned = {"id": _STR, "reference": {"type": ["string", "null"]}, "target": _STR,
               "outcome": {"type": "string", "enum": ["send", "already_there", "not_found", "no_shared_form",
                                                      "refused", "resubmitted"]},
               "reason": _STR, "already_there": {"type": "object"}, "replaces": {"type": "object"},
               "would_refuse": {"type": "array", "items": _ref("Problem")}}
    components["Resent"] = _obj({**planned, "status_url": _STR}, ["id", "target", "outcome"])
    components["BulkResent"] = _obj({
        "target": _STR, "dry_run": {"type": "boolean"}, "matched": {"type": "integer"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "refused_by_preflight": {"type": "integer"}, "resubmitted": {"type": "integer"},
        "documents": {"type": "array", "items": _obj(planned, ["id", "target", "outcome"])},
    }, ["target", "dry_run", "matched", "counts", "documents"])
    from api.switch import Switch, SwitchPreview

    components["SwitchPreview"] = SwitchPreview.model_json_schema(ref_template=template)
    components["Switch"] = Switch.model_json_schema(ref_template=template)
    components["SwitchPreviewed"] = _obj({
        "tenant_id": _STR, "from": _STR, "to": _STR,
        "connection": _obj({"ok": {"type": "boolean"}, "error": {"type": "object"}}, ["ok"]),
        "documents": _obj({
            "checked": {"type": "integer"}, "accepted": {"type": "integer"}, "would_refuse": {"type": "integer"},
            "unreadable": {"type": "integer"}, "by_status": {"type": "object"},
            "missing": {"type": "object", "description": "accounts, vat_codes, customers, dimensions, other: each "
                                                         "value the new system lacks, how many documents need it"}},
            ["checked", "accepted", "would_refuse"]),
        "fields": {"type": "array", "description": "Fields the documents fill that the new system leaves out "
                                                  "(`dropped`) or treats otherwise (`differently`, from the field map)",
                   "items": _obj({"type": _STR, "field": _STR, "documents": {"type": "integer"}, "dropped": _STR,
                                  "differently": {"type": "object"}, "before": {"type": ["string", "object"]}},
                                 ["type", "field", "documents", "before"])},
        "rules": {"type": "object"}, "period": {"type": "object"}, "error": _STR,
    }, ["tenant_id", "from", "to", "connection"])
    components["Switched"] = _obj({
        "tenant_id": _STR, "switched": {"type": "boolean"}, "from": _STR, "to": _STR, "check": {"type": "object"},
        "kept_read_only": _STR, "at": _STR, "resend": {"type": "object"}, "error": _STR,
    }, ["tenant_id", "switched", "from", "to"])
    components["Receipts"] = _obj({"receipts": {"type": "array", "items": _obj(
        {"receipt": _STR, "at": _STR, "status_url": _STR, "file": _STR, "format": _STR, "via": _STR,
         "bytes": {"type": "integer"}}, ["receipt", "at", "status_url"])}}, ["receipts"])
    components["Resubmitted"] = _obj({"id": _STR, "status": {"const": "resubmitted"}, "status_url": _STR},
                                     ["id", "status", "status_url"])
    components["NewTenantKey"] = _obj({"tenant_id": _STR, "name": _STR, "api_key": {
        "type": "string", "description": "Shown once; only its SHA-256 is kept"}}, ["tenant_id", "name", "api_key"])
    connection_view = {
        "connections": {"type": "object", "description": "Other systems: settings, mode (active, read-only)"},
        "tenant_id": _STR, "target": _STR, "settings": {"type": "object"},
        "credentials": {"type": "array", "items": _STR, "description": "Which secrets are stored, never values"},
        "secret_names": {"type": "object", "additionalProperties": _STR},
        "pending": {"type": "object", "description": "A change not in force yet, and why"},
    }
    components["Connection"] = _obj(connection_view, ["tenant_id", "target", "settings", "credentials"])
    components["ConnectionStatus"] = _obj({
        **connection_view, "activated": {"type": "boolean"},
        "check": _obj({"ok": {"type": "boolean"}, "error": {"type": "object"}}, ["ok"]),
    }, ["tenant_id", "target", "settings", "credentials", "activated", "check"])
    components["Remote"] = _obj({
        "id": _STR, "reference": _STR, "target": _STR,
        "connection": {"type": "string", "description": "primary, active or read-only"},
        "found": {"type": "boolean"}, "remote_id": _STR, "draft": {"type": "boolean"},
        "url": {"type": ["string", "null"]},
    }, ["id", "reference", "target", "connection", "found"])
    components["FurtherConnection"] = _obj({
        **connection_view, "connected": _STR, "activated": {"type": "boolean"},
        "check": _obj({"ok": {"type": "boolean"}, "error": {"type": "object"}}, ["ok"]),
    }, ["tenant_id", "target", "connected", "activated", "check"])
    components["Companies"] = _obj({
        "tenant_id": _STR, "target": _STR,
        "setting": {"type": "string", "description": "The setting a choice fills, e.g. company_no"},
        "companies": {"type": "array", "items": _obj({"value": {"description": "What the setting takes"},
                                                      "name": {"type": ["string", "null"]}}, ["value"])},
    }, ["tenant_id", "target", "setting", "companies"])
    optional = {"type": ["string", "null"]}
    components["ApiKey"] = _obj({
        "key_id": _STR, "tenant_id": optional, "role": _STR, "hint": _STR, "label": optional, "created_at": _STR,
        "status": {"type": "string", "enum": ["active", "expiring", "expired", "revoked"]},
        "expires_at": _STR, "revoked_at": _STR, "replaced_by": _STR, "replaces": _STR,
    }, ["key_id", "role", "hint", "created_at", "status"])
    components["ApiKeys"] = _obj({"tenant_id": _STR, "keys": {"type": "array", "items": _ref("ApiKey")}},
                                 ["tenant_id", "keys"])
    secret_key = {"type": "string", "description": "Shown once; only its SHA-256 is kept"}
    components["IssuedKey"] = _obj({"api_key": secret_key, "key": _ref("ApiKey")}, ["api_key", "key"])
    components["RevokedKey"] = _obj({"key": _ref("ApiKey")}, ["key"])
    components["RotatedKey"] = _obj({"api_key": secret_key, "key": _ref("ApiKey"), "replaces": _ref("ApiKey")},
                                    ["api_key", "key", "replaces"])
    components["TenantRules"] = _obj({"tenant_id": _STR, "rules": _ref("Rules")}, ["tenant_id", "rules"])
    components["FormatOptions"] = _obj({"tenant_id": _STR, "format": _STR, "options": {"type": "object"}},
                                       ["tenant_id", "format", "options"])
    return components


IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": ("A key of your choosing (a UUID) that makes a retry safe: the same key with the same request "
                    "within 24 hours gets the first answer, marked `Idempotent-Replayed: true`, and nothing is "
                    "taken in twice; the same key with another request is a 409. Keys are per tenant. A "
                    "document's reference stays the lasting guard against posting it twice."),
}
REPLAYED: dict[str, Any] = {"schema": {"type": "string", "enum": ["true"]},
                            "description": "Present when this is the kept answer to an earlier request with the "
                                           "same Idempotency-Key"}
IDEMPOTENCY_CONFLICT = ("The Idempotency-Key was used for another request in the last 24 hours, or a request with "
                        "it is still being answered (then with Retry-After)")


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(schema)}}


def _answers(*codes: int, ok: tuple[int, str, str] | None = None) -> dict[str, Any]:
    """The responses of an operation: its success answer, then every error status it can give."""
    described = {
        400: "Malformed request (JSON, parameters): every problem listed",
        401: "Missing or invalid API key",
        403: "A valid key of the wrong kind (a tenant key on the admin API, or the other way round)",
        404: "No such resource for this key",
        409: "Conflicts with the resource's state",
        413: ("Body too large (a JSON answer from Bilagsbro). A body over the Functions host's own limit "
              "(FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, set to 209,715,200 bytes) never reaches Bilagsbro: the host "
              "refuses it itself, without a JSON body (reported as 500 in Azure/azure-functions-host#10519)"),
        410: "Expired: kept 90 days after it was received, then deleted everywhere (`expired: true`)",
        415: "Not application/json",
        422: "Well-formed, but refused: every problem listed, each with its field",
    }
    responses: dict[str, Any] = {}
    if ok is not None:
        status, description, schema = ok
        responses[str(status)] = {"description": description, "content": _json(schema)}
    for code in codes:
        responses[str(code)] = {"description": described[code], "content": _json("Error")}
    return responses


def _path_id(what: str) -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}, "description": what}


def spec(base_url: str = "", *, connectors: Mapping[str, Descriptor] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route function_app.py declares; formats, targets and their settings,
    secrets and options come from the connectors' descriptors (the registry, connectors.CONNECTORS)."""
    from api import openapi_export as export_contract
    from pipeline.records.connection_schemas import schemas

    registry = connectors or {}
    formats = sorted(name for name, d in registry.items() if isinstance(d, FormatDescriptor))
    format_schema = {"type": "string", "enum": formats} if formats else {"type": "string"}
    extra_components, connection, options = schemas(registry)
    tenant_errors = (401, 403)
    admin_errors = (400, 401, 403, 404, 413, 415, 422)
    documents_answers = _answers(401, 403, 413, 415, ok=(202, "Accepted: a receipt and a status URL per document",
                                                          "Intake"))
    intake_error = {"content": _json("Intake")}
    documents_answers["400"] = {"description": "The body as a whole is unusable (not UTF-8, empty, malformed "
                                               "JSON with its line and byte offset, content after the first "
                                               "JSON value, too many documents): nothing accepted", **intake_error}
    documents_answers["422"] = {"description": "Some or all documents refused, every problem listed with "
                                               "documents[i], line and field; the accepted ones proceed",
                                **intake_error}
    file_answers = _answers(401, 403, 413, ok=(202, "Kept and queued: a receipt with a status URL", "FileIntake"))
    file_answers["400"] = {"description": "Kept, but cannot be translated (unknown format, empty file)",
                           "content": _json("FileIntake")}
    for answers, intake in ((documents_answers, "Intake"), (file_answers, "FileIntake")):
        answers["400"]["description"] += "; or an Idempotency-Key that is not 1 to 255 visible ASCII characters"
        answers["400"]["content"] = {"application/json": {"schema": {"anyOf": [_ref(intake), _ref("Error")]}}}
        answers["409"] = {"description": IDEMPOTENCY_CONFLICT, "content": _json("Error"),
                          "headers": {"Retry-After": {"schema": {"type": "integer"}, "description":
                                                      "Seconds to wait when the first request is still running"}}}
        for status in ("202", "400", "422"):
            if status in answers:
                answers[status]["headers"] = {"Idempotent-Replayed": REPLAYED}

    def admin(summary: str, body: dict[str, Any], ok: tuple[int, str, str], *extra: dict[str, Any],
              conflict: bool = False) -> dict[str, Any]:
        return {"summary": summary, "security": ADMIN,
                "parameters": [_path_id("The tenant's id"), *extra],
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                "responses": _answers(*admin_errors, *((409,) if conflict else ()), ok=ok)}

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bilagsbro vendor API",
            "version": VERSION,
            "description": (
                "Send vouchers, sales invoices and payments once; Bilagsbro delivers them to the tenant's "
                "accounting system. Authenticate with `Authorization: Bearer <API key>` (a tenant's key; the "
                "admin routes take an admin key). Every document passes received → translated → adapted → "
                "delivered; its status URL shows each step."
            ),
        },
        "servers": [{"url": base_url or "/"}],
        "components": {
            "schemas": {
                **_components(),
                **extra_components,
                **openapi_webhooks.components(),
                **openapi_workbench.components(),
                **export_contract.components(),
                **readback_openapi.components(),
            },
            "securitySchemes": {
                "tenantKey": {"type": "http", "scheme": "bearer", "description": "A tenant's API key (bb_...)"},
                "adminKey": {"type": "http", "scheme": "bearer", "description": "An admin key: bilagsbro admin-key"},
            },
        },
        "security": TENANT,
        "paths": _identify({
            "/api/v1/documents": {"get": {
                "summary": "Search the tenant's documents of the last 90 days, newest first, a page at a time",
                "parameters": [
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES)}},
                    {"name": "type", "in": "query", "schema": {"type": "string", "enum": list(DOCUMENT_TYPES)}},
                    {"name": "reference_prefix", "in": "query", "schema": _TEXT,
                     "description": "References that start with this text"},
                    {"name": "source", "in": "query", "schema": _TEXT,
                     "description": "The format it came in: shared-form (the API), gbat10, saft-cash-register, ..."},
                    {"name": "date_from", "in": "query", "schema": {"type": "string", "format": "date"},
                     "description": "The document's own date, from (inclusive)"},
                    {"name": "date_to", "in": "query", "schema": {"type": "string", "format": "date"},
                     "description": "The document's own date, to (inclusive)"},
                    {"name": "received_from", "in": "query", "schema": _MOMENT,
                     "description": "Received at or after (a date or ISO 8601 time; to the second)"},
                    {"name": "received_to", "in": "query", "schema": _MOMENT,
                     "description": "Received before (exclusive)"},
                    {"name": "target", "in": "query", "schema": _TEXT, "description": "The accounting system"},
                    {"name": "receipt", "in": "query", "description": "The receipt's id (r-...)",
                     "schema": {"type": "string", "pattern": "^r-[0-9]{14}[0-9a-f]*$"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
                    {"name": "cursor", "in": "query", "schema": _TEXT,
                     "description": "From the previous page (opaque: only one this API gave out)"},
                ],
                "responses": _answers(400, *tenant_errors, ok=(200, "A page of documents", "DocumentList")),
            }, "post": {
                "summary": "Send one document, a JSON array of them, or {\"documents\": [...]} (shared form)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"anyOf": [
                    _ref("Document"),
                    {"type": "array", "items": _ref("Document"), "minItems": 1, "maxItems": 5000},
                    {"type": "object", "required": ["documents"], "description": "Other members are kept, unread",
                     "properties": {"documents": {"type": "array", "items": _ref("Document"), "minItems": 1,
                                                  "maxItems": 5000}}},
                ]}}}},
                "parameters": [IDEMPOTENCY_KEY],
                "responses": documents_answers,
            }},
            "/api/v1/files": {"post": {
                "summary": "Send a raw file in a known format (the original is kept unchanged)",
                "parameters": [
                    {"name": "format", "in": "query", "schema": format_schema,
                     "description": "The file's format; omit it to have it detected"},
                    {"name": "name", "in": "query", "schema": {"type": "string"}, "description": "The file's name"},
                    IDEMPOTENCY_KEY,
                ],
                "requestBody": {"required": True, "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "responses": file_answers,
            }},
            "/api/v1/sources/subscriptions/{id}/events": {"post": {
                "summary": "A subscription system's event (renewal → invoice, payment → payment, cancellation → credit "
                           "note), signed with the tenant's signing secret; taken once per event id "
                           "(docs/sources/subscriptions.md)",
                "security": [],
                "parameters": [_path_id("The tenant's id"), {
                    "name": "Bilagsbro-Signature", "in": "header", "required": True, "schema": {"type": "string"},
                    "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.' and the raw body>"}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["id", "type", "data"], "properties": {
                        "id": {"type": "string"}, "type": {"type": "string", "enum": ["renewal", "payment",
                                                                                      "cancellation"]},
                        "data": {"type": "object"}}}}}},
                "responses": {
                    "200": {"description": "Sent before: nothing done again (the first receipt)",
                            "content": {"application/json": {"schema": {"type": "object"}}}},
                    "202": {"description": "Taken: the document is on its way",
                            "content": {"application/json": {"schema": {"type": "object"}}}},
                    **_answers(400, 401, 413, 422)},
            }},
            "/api/v1/documents/{id}": {"get": {
                "summary": "A document's status and its trace (every step, with errors and causes)",
                "parameters": [_path_id("The document's id (d-...)"),
                               {"name": "include", "in": "query", "schema": {"type": "string", "enum": ["exchanges"]}}],
                "responses": _answers(400, *tenant_errors, 404, 410, ok=(200, "Status and trace", "DocumentStatus")),
            }},
            "/api/v1/documents/{id}/original": {"get": {
                "summary": "The bytes exactly as received: the request or file the document came in (a file's "
                           "document: X-Bilagsbro-Lines names its lines), with its content type",
                "parameters": [_path_id("The document's id (d-...)")],
                "responses": {"200": {"description": "The original, byte for byte, with the content type it came "
                                                     "with (JSON from the API; a file as application/octet-stream)",
                                      "content": {"*/*": {"schema": {}}}},
                    **_answers(*tenant_errors, 404, 410)},
            }},
            "/api/v1/documents/{id}/shared-form": {"get": {
                "summary": "The document as translated, in the shared form",
                "parameters": [_path_id("The document's id (d-...)")],
                "responses": _answers(*tenant_errors, 404, 410, ok=(200, "The shared form", "KeptDocument")),
            }},
            "/api/v1/documents/{id}/payload": {"get": {
                "summary": "The document as adapted for its accounting system: the exact payload sent",
                "parameters": [_path_id("The document's id (d-...)")],
                "responses": _answers(*tenant_errors, 404, 410, ok=(200, "The adapted form", "Payload")),
            }},
            "/api/v1/documents/{id}/exchanges": {"get": {
                "summary": "Every request to and response from the accounting system, redacted, oldest first",
                "parameters": [_path_id("The document's id (d-...)")],
                "responses": _answers(*tenant_errors, 404, 410, ok=(200, "The exchanges", "Exchanges")),
            }},
            "/api/v1/documents/{id}/remote": {"get": {
                "summary": "Whether an accounting system of the tenant holds the document, asked there by its "
                           "reference: the primary system, or ?target= another connection (a read-only one kept "
                           "after a switch included); nothing is written there",
                "parameters": [_path_id("The document's id (d-...)"),
                               {"name": "target", "in": "query", "required": False, "schema": _STR,
                                "description": "A connected system's registry name; the primary one when left out"}],
                "responses": {**_answers(*tenant_errors, 404, 409, 410, 422, ok=(200, "Looked up", "Remote")),
                              "503": {"description": "The system is out of reach or busy: ask again later",
                                      "content": _json("Error"),
                                      "headers": {"Retry-After": {"schema": {"type": "integer"}}}}},
            }},
            "/api/v1/documents/{id}/retry": {"post": {
                "summary": "Adapt and deliver again after a problem was fixed (never posts twice)",
                "parameters": [_path_id("The document's id (d-...)")],
                "responses": _answers(*tenant_errors, 404, 409, ok=(202, "Resubmitted", "Resubmitted")),
            }},
            "/api/v1/documents/{id}/resend": {"post": {
                "summary": "Send a document again — to its system (after it was deleted there) or another the tenant "
                           "is connected to; audited; 409 when that system holds it already, unless force",
                "parameters": [_path_id("The document's id (d-...)")],
                "requestBody": {"required": True, "content": _json("Resend")},
                "responses": _answers(400, *tenant_errors, 404, 409, 410, 413, 415, 422,
                                      ok=(202, "On its way again", "Resent")),
            }},
            "/api/v1/resends": {"post": {
                "summary": "Send a filtered set again; the dry run (the default) shows what would be sent and what "
                           "the system would refuse, document by document",
                "requestBody": {"required": True, "content": _json("BulkResend")},
                "responses": {**_answers(400, *tenant_errors, 413, 415, 422,
                                         ok=(202, "Sent (dry_run false)", "BulkResent")),
                              "200": {"description": "The dry run", "content": _json("BulkResent")}},
            }},
            "/api/v1/receipts": {"get": {
                "summary": "The tenant's latest files (uploads and SFTP drops), newest last",
                "responses": _answers(*tenant_errors, ok=(200, "Receipts", "Receipts")),
            }},
            "/api/v1/receipts/{id}": {"get": {
                "summary": "A received file or request: counts, the first documents and problems (with lines), "
                           "the whole-file preflight, and links to the whole report",
                "parameters": [_path_id("The receipt's id (r-...)")],
                "responses": _answers(*tenant_errors, 404, ok=(200, "Receipt status", "Receipt")),
            }},
            "/api/v1/receipts/{id}/report": {"get": {
                "summary": "A received file's whole report: every document found and every problem (stage "
                           "translate or preflight) with file, line, voucher and field",
                "parameters": [_path_id("The receipt's id (r-...)")],
                "responses": _answers(*tenant_errors, 404, 409, ok=(200, "The whole report", "Report")),
            }},
            "/api/v1/receipts/{id}/report.csv": {"get": {
                "summary": "A received file's problems for a spreadsheet: UTF-8 with BOM, semicolons, columns "
                           "stage;severity;file;line;voucher;field;code;message",
                "parameters": [_path_id("The receipt's id (r-...)")],
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": _STR}}},
                              **_answers(*tenant_errors, 404, 409)},
            }},
            "/api/v1/admin/tenants": {"post": {
                "summary": "Create a tenant; answers its id and first API key, shown once",
                "security": ADMIN,
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewTenant")}}},
                "responses": _answers(400, 401, 403, 413, 415, 422, ok=(201, "Created", "NewTenantKey")),
            }},
            "/api/v1/admin/tenants/{id}/connection": {
                "put": {**admin("Connect the tenant to its accounting system: the new settings and credentials "
                                "take over only when the connection test passes (a failed test: 422, and the "
                                "working connection stays in force)", connection,
                                (200, "Connected and tested", "ConnectionStatus"), conflict=True)},
                "get": {"summary": "The connection in force, and a change still pending with why its test failed",
                        "security": ADMIN, "parameters": [_path_id("The tenant's id")],
                        "responses": _answers(401, 403, 404, ok=(200, "Connection", "Connection"))},
            },
            "/api/v1/admin/tenants/{id}/connection/companies": {"post": admin(
                "The companies a connection's credentials reach, to pick one (a system that lists them, e.g. "
                "Business NXT's availableCompanies); the body's settings and credentials over those in force, "
                "nothing written", connection, (200, "The companies and the setting a choice fills", "Companies"))},
            "/api/v1/admin/tenants/{id}/connections": {"put": {**admin(
                "Connect the tenant to a further accounting system beside its primary one (e.g. the new system "
                "before a switch), tested first: in force only when the test passes (a failed test: 422, nothing "
                "changes). Documents may then be resent there; new ones still go to the primary system",
                connection, (200, "Connected and tested", "FurtherConnection"), conflict=True)}},
            "/api/v1/admin/tenants/{id}/connections/{system}": {"delete": {
                "summary": "Remove a further connection (active, or read-only since a switch); the primary "
                           "system cannot be removed (409): switch to another first",
                "security": ADMIN,
                "parameters": [_path_id("The tenant's id"),
                               {"name": "system", "in": "path", "required": True, "schema": _STR,
                                "description": "The system's registry name, e.g. tripletex"}],
                "responses": _answers(401, 403, 404, 409, ok=(200, "Removed", "Connection")),
            }},
            "/api/v1/admin/tenants/{id}/switch/preview": {"post": admin(
                "Preview a switch of accounting system: of the last 90 days' documents and the rules, what the new "
                "system would accept and which accounts, VAT codes, customers and dimensions it lacks (its "
                "preflight); the credentials are used for this call only, nothing is written",
                _ref("SwitchPreview"), (200, "The preview", "SwitchPreviewed"))},
            "/api/v1/admin/tenants/{id}/switch": {"post": admin(
                "Switch accounting system: the new connection tested and in force, the old one kept read-only for "
                "lookups and history, the open period resent when asked (resend_from)",
                _ref("Switch"), (200, "Switched", "Switched"))},
            "/api/v1/admin/tenants/{id}/formats/{format}": {"put": admin(
                "Options of one file format for the tenant (e.g. its VAT codes → SAF-T codes), checked against "
                "the format's own options", options,
                (200, "The options now in force", "FormatOptions"),
                {"name": "format", "in": "path", "required": True, "schema": format_schema})},
            "/api/docs": {"get": {
                "summary": "This document as a readable page", "security": [],
                "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": _STR}}}},
            }},
            "/api/docs/field-map": {"get": {
                "summary": "The field map: every field of the shared form, what each accounting system does with it "
                           "(where it lands and how, what it works out itself, what it does not accept and why), "
                           "side by side", "security": [],
                "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": _STR}}}},
            }},
            "/api/openapi.json": {"get": {
                "summary": "This document", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}},
            }},
            **_admin_key_paths(),
            **_onboarding_paths(),
            **_workspace_paths(),
            **openapi_webhooks.paths(_answers, _path_id),
            **openapi_workbench.paths(_answers, _path_id, format_schema),
            **export_contract.paths(_answers),
            **readback_openapi.paths(_answers, _path_id),
        }),
        "webhooks": openapi_webhooks.events(),
    }


def _admin_key_paths() -> dict[str, Any]:
    """A tenant's API keys (admin key): listed by id and hint, issued, revoked, rotated with an overlap."""
    tenant = _path_id("The tenant's id")
    key = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
    label = {"label": {"type": ["string", "null"], "maxLength": 100,
                       "description": "what the key is for, e.g. the till"}}
    # These routes answer 400, not 422, for a field they do not know (api/admin.py).
    optional_body = (400, 401, 403, 404, 413, 415)

    def body(properties: dict[str, Any]) -> dict[str, Any]:
        return {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False, "properties": properties}}}}

    return {
        "/api/v1/admin/tenants/{id}/keys": {
            "get": {"summary": "The tenant's API keys by id and hint (never the key), with their state",
                    "security": ADMIN, "parameters": [tenant],
                    "responses": _answers(401, 403, 404, ok=(200, "Keys", "ApiKeys"))},
            "post": {"summary": "Issue another API key; the key is in this answer only",
                     "security": ADMIN, "parameters": [tenant], "requestBody": body(label),
                     "responses": _answers(*optional_body, ok=(201, "Issued", "IssuedKey"))},
        },
        "/api/v1/admin/tenants/{id}/keys/{key_id}/revoke": {"post": {
            "summary": "Revoke a key: the next request with it answers 401",
            "security": ADMIN, "parameters": [tenant, key],
            "responses": _answers(401, 403, 404, ok=(200, "Revoked", "RevokedKey")),
        }},
        "/api/v1/admin/tenants/{id}/keys/{key_id}/rotate": {"post": {
            "summary": "A new key now; the old one keeps working through the overlap (default 24 h)",
            "security": ADMIN, "parameters": [tenant, key],
            "requestBody": body({"overlap_hours": {"type": "number", "minimum": 0, "maximum": 720}, **label}),
            "responses": _answers(*optional_body, 409, ok=(201, "The new key, shown once, and the old key's end",
                                                          "RotatedKey")),
        }},
    }


def _onboarding_paths() -> dict[str, Any]:
    """A system whose customers consent in their browser (Fortnox's OAuth): a link the operator makes, and the
    pages the customer goes through. The pages are HTML for people, not for programs."""
    tenant, link = _path_id("The tenant's id"), {"name": "link", "in": "path", "required": True,
                                                   "schema": {"type": "string"}}
    html = {"text/html": {"schema": _STR}}

    def pages(*codes: int, moved: bool = False) -> dict[str, Any]:
        # A browser (Accept: text/html) gets a page; anything else the API's JSON error.
        answers: dict[str, Any] = {str(c): {"description": "A page saying how it went", "content": {
            **html, **(_json("Error") if c >= 400 else {})}} for c in codes}
        if moved:
            answers["302"] = {"description": "To Fortnox's consent page", "headers": {"Location": {
                "schema": {"type": "string"}}}}
        return answers

    made = {"type": "object", "required": ["tenant_id", "url", "expires"], "properties": {
        "tenant_id": {"type": "string"}, "url": {"type": "string"}, "expires": {"type": "string"}}}
    return {
        "/api/v1/admin/tenants/{id}/onboarding/fortnox": {"post": {
            "summary": "An onboarding link for Fortnox's consent (24 hours, one use): the customer opens it, reads "
                       "what Bilagsbro reads and writes, opts in to direct posting and approves in Fortnox",
            "security": ADMIN, "parameters": [tenant],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "properties": {
                    "settings": {"type": "object", "description": "The Fortnox connection's settings"},
                    "credentials": {"type": "object", "properties": {"client_secret": {"type": "string"}}}}}}}},
            "responses": {"201": {"description": "The link", "content": {"application/json": {"schema": made}}},
                          **_answers(400, 401, 403, 404, 413, 415, 422)},
        }},
        "/api/onboarding/fortnox/callback": {"get": {
            "summary": "Where Fortnox sends the customer back (code and state)", "security": [],
            "parameters": [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                           for n in ("code", "state", "error")],
            "responses": pages(200, 403, 404, 409, 422, 502)}},
        "/api/onboarding/fortnox/links/{link}": {
            "get": {"summary": "The onboarding page (Norwegian; ?lang=en for English)", "security": [],
                    "parameters": [link, {"name": "lang", "in": "query", "required": False,
                                          "schema": {"type": "string"}}],
                    "responses": pages(200, 404)},
            "post": {"summary": "The customer's go: with the direct-posting opt-in, on to Fortnox", "security": [],
                     "parameters": [link], "requestBody": {"required": False, "content": {
                         "application/x-www-form-urlencoded": {"schema": {"type": "object"}}}},
                     "responses": pages(200, 404, 409, moved=True)},
        },
    }


def _workspace_paths() -> dict[str, Any]:
    """The bookkeepers' workspace (workspace/): server-rendered pages for people, signed in by a session cookie, with
    a CSRF token in every form; not an API for programs (tests/web and tests/browser test it)."""
    path = {"name": "*path", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "A page of the workspace, e.g. clients, clients/{client}/documents/{id}"}
    html = {"text/html": {"schema": _STR}}

    def pages(*codes: int) -> dict[str, Any]:
        # A browser (Accept: text/html) gets a page; anything else gets the API's JSON error for a 4xx.
        return {str(c): {"description": "A page (or, 303, where to go: the sign-in page, or the page after a "
                                        "change)", "content": {**html, **(_json("Error") if c >= 400 else {})}}
                for c in codes}

    return {"/api/app/{*path}": {
        "get": {"summary": "A page of the workspace (bokmål; ?lang=en for English)", "security": [],
                "parameters": [path], "responses": pages(200, 303, 404, 405, 410)},
        "post": {"summary": "A form of the workspace: sign-in, or a change the signed-in user's role allows (every "
                            "change in the audit log)", "security": [], "parameters": [path],
                 "requestBody": {"required": False, "content": {"application/x-www-form-urlencoded": {
                     "schema": {"type": "object"}}}},
                 "responses": pages(200, 201, 303, 400, 401, 403, 404, 405, 409, 429)},
    }}


# The function in function_app.py that serves each operation (a test holds the two together), and what
# one operation's answer feeds into the next (OpenAPI links: schemathesis follows them statefully).
OPERATIONS = {
    ("/api/v1/documents", "post"): "receive_documents",
    ("/api/v1/files", "post"): "receive_file",
    ("/api/v1/sources/subscriptions/{id}/events", "post"): "receive_subscription_event",
    ("/api/v1/documents", "get"): "document_list",
    ("/api/v1/documents/{id}", "get"): "document_status",
    ("/api/v1/documents/{id}/original", "get"): "document_original",
    ("/api/v1/documents/{id}/shared-form", "get"): "document_shared_form",
    ("/api/v1/documents/{id}/payload", "get"): "document_payload",
    ("/api/v1/documents/{id}/exchanges", "get"): "document_exchanges",
    ("/api/v1/documents/{id}/remote", "get"): "document_remote",
    ("/api/v1/documents/{id}/retry", "post"): "document_retry",
    ("/api/v1/documents/{id}/resend", "post"): "document_resend",
    ("/api/v1/resends", "post"): "documents_resend",
    ("/api/v1/receipts", "get"): "receipt_list",
    ("/api/v1/receipts/{id}", "get"): "receipt_status",
    ("/api/v1/receipts/{id}/report", "get"): "receipt_report",
    ("/api/v1/receipts/{id}/report.csv", "get"): "receipt_report_csv",
    ("/api/v1/admin/tenants", "post"): "tenant_create",
    ("/api/v1/admin/tenants/{id}/connection", "put"): "tenant_connection",
    ("/api/v1/admin/tenants/{id}/connection", "get"): "tenant_connection_status",
    ("/api/v1/admin/tenants/{id}/connection/companies", "post"): "tenant_connection_companies",
    ("/api/v1/admin/tenants/{id}/connections", "put"): "tenant_further_connection",
    ("/api/v1/admin/tenants/{id}/connections/{system}", "delete"): "tenant_further_connection_removed",
    ("/api/v1/admin/tenants/{id}/keys", "get"): "tenant_keys",
    ("/api/v1/admin/tenants/{id}/keys", "post"): "tenant_key_issue",
    ("/api/v1/admin/tenants/{id}/keys/{key_id}/revoke", "post"): "tenant_key_revoke",
    ("/api/v1/admin/tenants/{id}/keys/{key_id}/rotate", "post"): "tenant_key_rotate",
    ("/api/v1/admin/tenants/{id}/switch/preview", "post"): "tenant_switch_preview",
    ("/api/v1/admin/tenants/{id}/switch", "post"): "tenant_switch",
    ("/api/v1/admin/tenants/{id}/formats/{format}", "put"): "tenant_format",
    ("/api/docs", "get"): "api_docs",
    ("/api/docs/field-map", "get"): "api_field_map",
    ("/api/openapi.json", "get"): "api_openapi",
    **openapi_webhooks.OPERATIONS,
    **openapi_workbench.OPERATIONS,
    **readback_openapi.OPERATIONS,
    ("/api/v1/export", "get"): "export",
    ("/api/v1/admin/tenants/{id}/onboarding/fortnox", "post"): "fortnox_onboarding_link",
    ("/api/onboarding/fortnox/callback", "get"): "fortnox_onboarding_callback",
    ("/api/onboarding/fortnox/links/{link}", "get"): "fortnox_onboarding_page",
    ("/api/onboarding/fortnox/links/{link}", "post"): "fortnox_onboarding_start",
    ("/api/app/{*path}", "get"): "workspace",
    ("/api/app/{*path}", "post"): "workspace",
}
_TENANT_ID = {"id": "$response.body#/tenant_id"}
LINKS = {
    "receive_documents": ("202", {"document_status": {"id": "$response.body#/documents/0/id"},
                                  "document_retry": {"id": "$response.body#/documents/0/id"},
                                  "document_original": {"id": "$response.body#/documents/0/id"},
                                  "document_shared_form": {"id": "$response.body#/documents/0/id"},
                                  "document_payload": {"id": "$response.body#/documents/0/id"},
                                  "document_exchanges": {"id": "$response.body#/documents/0/id"}}),
    "receive_file": ("202", {"receipt_status": {"id": "$response.body#/receipt"},
                             "receipt_report": {"id": "$response.body#/receipt"},
                             "receipt_report_csv": {"id": "$response.body#/receipt"}}),
    "tenant_create": ("201", {"tenant_rules": _TENANT_ID, "tenant_connection_status": _TENANT_ID,
                              "tenant_keys": _TENANT_ID}),
    "tenant_key_issue": ("201", {"tenant_key_rotate": {"id": "$request.path.id", "key_id": "$response.body#/key/key_id"},
                                 "tenant_key_revoke": {"id": "$request.path.id", "key_id": "$response.body#/key/key_id"}}),
    **openapi_webhooks.LINKS,
    **openapi_workbench.LINKS,
}


def _identify(paths: dict[str, Any]) -> dict[str, Any]:
    """Each operation's operationId (its function's name) and the links from its answer."""
    for path, ops in paths.items():
        for method, op in ops.items():
            op["operationId"] = OPERATIONS.get((path, method), f"{method}_{path}")
            status, links = LINKS.get(op["operationId"], ("", {}))
            if links:
                op["responses"][status]["links"] = {
                    target: {"operationId": target, "parameters": parameters} for target, parameters in links.items()}
    return paths


def html(base_url: str = "", *, connectors: Mapping[str, Descriptor] | None = None) -> str:
    """A readable page for /api/docs that works offline (no CDN-hosted Swagger UI)."""
    document = spec(base_url, connectors=connectors)
    rows = []
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            responses = ", ".join(f"{code} {r['description']}" for code, r in op["responses"].items())
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{_html.escape(path)}</code></td>"
                f"<td>{_html.escape(op['summary'])}<br><small>{_html.escape(responses)}</small></td></tr>"
            )
    schema = _html.escape(json.dumps(shared_form_schema(), indent=1, ensure_ascii=False))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bilagsbro API</title>
<style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto}}td{{padding:.3rem;vertical-align:top}}
pre{{background:#f4f4f4;padding:1rem;overflow:auto;max-height:30rem}}</style></head><body>
<h1>Bilagsbro vendor API {VERSION}</h1><p>{_html.escape(document['info']['description'])}</p>
<p>Machine-readable: <a href="{base_url}/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1). What each accounting
system does with every field of the shared form: <a href="{base_url}/api/docs/field-map">the field map</a>.</p>
<table>{''.join(rows)}</table><h2>The shared form (JSON Schema)</h2><pre>{schema}</pre></body></html>"""


if __name__ == "__main__":  # python -m api.openapi > docs/shared-form.schema.json
    print(json.dumps(shared_form_schema(), indent=2, ensure_ascii=False))
