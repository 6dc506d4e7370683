"""The published contract: the shared form's JSON Schema and the vendor API's OpenAPI document.

Both are generated from the model itself, so they cannot drift from what the code accepts;
docs/shared-form.schema.json is the committed copy (a test fails when it differs).
"""

from __future__ import annotations

import html as _html
import json
from typing import Any

from pydantic import TypeAdapter

from pipeline.model import Document

VERSION = "1.0.0"


def shared_form_schema() -> dict[str, Any]:
    schema = TypeAdapter(Document).json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://bilagsbro.no/schema/shared-form/v1.json",
        "title": "Bilagsbro shared form: one document",
        "description": (
            "A voucher, sales invoice (a credit note credits another) or payment. Amounts are decimal "
            "strings with at most two decimals, signed: debit positive, credit negative. A line's amount "
            "is gross (VAT included); vat_code is the SAF-T standard VAT code."
        ),
        **schema,
    }


def _components() -> dict[str, Any]:
    schema = TypeAdapter(Document).json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    components["Document"] = schema
    problem = {
        "type": "object",
        "properties": {k: {"type": "string"} for k in ("message", "field", "file", "reference", "code")}
        | {"line": {"type": "integer"}},
        "required": ["message"],
    }
    components["Problem"] = problem
    components["Report"] = {
        "type": "object",
        "properties": {
            "receipt": {"type": "string"}, "status": {"type": "string"}, "file": {"type": ["string", "null"]},
            "format": {"type": ["string", "null"]},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "documents": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"}, "reference": {"type": "string"}, "type": {"type": "string"},
                "line": {"type": "integer"}, "status_url": {"type": "string"}}}},
            "problems": {"type": "array", "items": {"allOf": [
                {"$ref": "#/components/schemas/Problem"},
                {"type": "object", "properties": {"stage": {"enum": ["translate", "preflight"]}}}]}},
        },
        "required": ["receipt", "documents", "problems", "counts"],
    }
    components["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "string"},
                       "problems": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}}},
    }
    return components


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def spec(base_url: str = "") -> dict[str, Any]:
    errors = {
        "400": {"description": "Malformed request: every problem listed", "content": _json("Error")},
        "401": {"description": "Missing or invalid API key", "content": _json("Error")},
        "413": {"description": "Body too large", "content": _json("Error")},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bilagsbro vendor API",
            "version": VERSION,
            "description": (
                "Send vouchers, sales invoices and payments once; Bilagsbro delivers them to the tenant's "
                "accounting system. Authenticate with `Authorization: Bearer <API key>`. Every document "
                "passes received → translated → adapted → delivered; its status URL shows each step."
            ),
        },
        "servers": [{"url": base_url or "/"}],
        "components": {
            "schemas": _components(),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apiKey": []}],
        "paths": {
            "/api/v1/documents": {"post": {
                "summary": "Send one document or a list (shared form)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                    {"$ref": "#/components/schemas/Document"},
                    {"type": "array", "items": {"$ref": "#/components/schemas/Document"}},
                    {"type": "object", "properties": {"documents": {
                        "type": "array", "items": {"$ref": "#/components/schemas/Document"}}}},
                ]}}}},
                "responses": {
                    "202": {"description": "Accepted: a receipt and a status URL per document"},
                    "422": {"description": "Some or all documents rejected (every problem listed, with "
                                           "documents[i], line and field); the accepted ones proceed"},
                    **errors,
                },
            }},
            "/api/v1/files": {"post": {
                "summary": "Send a raw file in a known format",
                "parameters": [
                    {"name": "format", "in": "query", "schema": {"type": "string"},
                     "description": "e.g. gbat10, sie4, visma-business, saft-cash-register; omit to detect"},
                    {"name": "name", "in": "query", "schema": {"type": "string"}, "description": "file name"},
                ],
                "requestBody": {"required": True, "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "responses": {"202": {"description": "Kept and queued: a receipt with a status URL"}, **errors},
            }},
            "/api/v1/documents/{id}": {"get": {
                "summary": "A document's status and its trace (every step, with errors and causes)",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                               {"name": "include", "in": "query", "schema": {"enum": ["exchanges"]}}],
                "responses": {"200": {"description": "Status and trace"}, "404": {"description": "Not yours"}},
            }},
            "/api/v1/documents/{id}/retry": {"post": {
                "summary": "Adapt and deliver again after a problem was fixed (never posts twice)",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"202": {"description": "Resubmitted"}, "409": {"description": "Nothing to retry"}},
            }},
            "/api/v1/receipts/{id}": {"get": {
                "summary": "A received file: counts, the first documents and problems (with lines), the "
                           "whole-file preflight, and links to the whole report",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "Receipt status; `complete` false when the lists show "
                                                     "only the first entries (see `report`)"},
                              "401": errors["401"], "404": {"description": "Not yours"}},
            }},
            "/api/v1/receipts/{id}/report": {"get": {
                "summary": "A received file's whole report: every document found and every problem "
                           "(stage translate or preflight), with file, line, voucher and field",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The whole report", "content": _json("Report")},
                              "401": errors["401"], "404": {"description": "Not yours"},
                              "409": {"description": "Still being translated", "content": _json("Error")}},
            }},
            "/api/v1/receipts/{id}/report.csv": {"get": {
                "summary": "A received file's problems for a spreadsheet: UTF-8 with BOM, semicolon separated, "
                           "columns stage;severity;file;line;voucher;field;code;message",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                              "401": errors["401"], "404": {"description": "Not yours"},
                              "409": {"description": "Still being translated", "content": _json("Error")}},
            }},
            "/api/v1/admin/tenants": {"post": {
                "summary": "Create a tenant (admin key); answers its id and first API key, shown once",
                "responses": {"201": {"description": "Created"}, "403": {"description": "Not an admin key"}},
            }},
            **_admin_key_paths(),
        },
    }


def _admin_key_paths() -> dict[str, Any]:
    """A tenant's API keys (admin key): listed by id and hint, issued, revoked, rotated with an overlap."""
    tenant = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    key = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
    admin = {"401": {"description": "Missing or invalid API key", "content": _json("Error")},
             "403": {"description": "Not an admin key", "content": _json("Error")},
             "404": {"description": "No such tenant (or key)", "content": _json("Error")}}
    label = {"label": {"type": "string", "maxLength": 100, "description": "what the key is for, e.g. the till"}}
    return {
        "/api/v1/admin/tenants/{id}/connection": {"get": {
            "summary": "The connection in force, and a change still pending with why its test failed",
            "parameters": [tenant], "responses": {"200": {"description": "Connection"}, **admin},
        }},
        "/api/v1/admin/tenants/{id}/keys": {
            "get": {"summary": "The tenant's API keys by id and hint (never the key), with their state",
                    "parameters": [tenant], "responses": {"200": {"description": "Keys"}, **admin}},
            "post": {"summary": "Issue another API key; the key is in this answer only",
                     "parameters": [tenant],
                     "requestBody": {"content": {"application/json": {"schema": {
                         "type": "object", "additionalProperties": False, "properties": label}}}},
                     "responses": {"201": {"description": "Issued"},
                                   "400": {"description": "Malformed", "content": _json("Error")}, **admin}},
        },
        "/api/v1/admin/tenants/{id}/keys/{key_id}/revoke": {"post": {
            "summary": "Revoke a key: the next request with it answers 401",
            "parameters": [tenant, key], "responses": {"200": {"description": "Revoked"}, **admin},
        }},
        "/api/v1/admin/tenants/{id}/keys/{key_id}/rotate": {"post": {
            "summary": "A new key now; the old one keeps working through the overlap (default 24 h)",
            "parameters": [tenant, key],
            "requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False,
                "properties": {"overlap_hours": {"type": "number", "minimum": 0, "maximum": 720}, **label}}}}},
            "responses": {"201": {"description": "The new key, shown once, and the old key's end"},
                          "400": {"description": "Malformed", "content": _json("Error")},
                          "409": {"description": "The key is revoked or expired", "content": _json("Error")},
                          **admin},
        }},
    }


def html(base_url: str = "") -> str:
    """A readable page for /api/docs that works offline (no CDN-hosted Swagger UI)."""
    document = spec(base_url)
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
<p>Machine-readable: <a href="{base_url}/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1).</p>
<table>{''.join(rows)}</table><h2>The shared form (JSON Schema)</h2><pre>{schema}</pre></body></html>"""


if __name__ == "__main__":  # python -m pipeline.openapi > docs/shared-form.schema.json
    print(json.dumps(shared_form_schema(), indent=2, ensure_ascii=False))
