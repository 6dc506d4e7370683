"""The export's part of the OpenAPI document: GET /api/v1/export, its parameters, and the schema of a JSON line."""

from __future__ import annotations

from typing import Any

from pipeline.export import FORMATS

_STR = {"type": "string"}
_NULL_STR = {"type": ["string", "null"]}


def components() -> dict[str, Any]:
    delivery = {
        "type": ["object", "null"], "required": ["target", "at", "not_accepted"],
        "description": "The latest delivery (null until delivered): the system, its id for the voucher, draft or "
                       "posted, the fields it had no place for; `duplicate` when this copy posted nothing",
        "properties": {"target": _STR, "at": {"type": "string", "format": "date-time"}, "remote_id": _NULL_STR,
                       "draft": {"type": ["boolean", "null"]}, "url": _STR,
                       "not_accepted": {"type": "array", "items": _STR}, "duplicate": {"type": "boolean"}},
    }
    return {"ExportLine": {
        "type": "object",
        "description": "One line of the JSON lines export (application/x-ndjson): a document as Bilagsbro holds it",
        "required": ["id", "reference", "type", "received_at", "status", "receipt", "delivery", "document"],
        "properties": {
            "id": _STR, "reference": _STR, "type": {"type": "string", "enum": ["voucher", "sales_invoice", "payment"]},
            "received_at": {"type": "string", "format": "date-time"},
            "status": {"type": "string", "description": "As GET /api/v1/documents/{id} says it"},
            "receipt": _NULL_STR, "delivery": delivery,
            "problems": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"},
                         "description": "What the preflight found, when the status is blocked"},
            "error": {"type": "object", "description": "Why it failed, when the status is failed"},
            "document": {"allOf": [{"$ref": "#/components/schemas/Document"}],
                         "description": "The shared form as translated, with `origin` (where it came from)"},
        },
    }}


def paths(answers: Any) -> dict[str, Any]:
    """`answers` is api.openapi._answers (error statuses with their JSON body)."""
    from api.export import DEFAULT_PAGE, PAGE

    def query(name: str, schema: dict[str, Any], description: str, *, required: bool = False) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}

    page = {"Link": {"description": 'The next page, when the period holds more: <…&after=ID>; rel="next"',
                     "schema": _STR},
            "X-Bilagsbro-Documents": {"description": "Documents of the period in this page", "schema": _STR},
            "X-Bilagsbro-Transactions": {"description": "saft: the transactions in the file", "schema": _STR},
            "X-Bilagsbro-Left-Out": {"description": "saft: documents of the page not in the file (not delivered, "
                                                    "another currency, booking nothing, dated outside 1970–2100); "
                                                    "the file's HeaderComment says which", "schema": _STR}}
    return {"/api/v1/export": {"get": {
        "summary": "The tenant's documents received in a period (Europe/Oslo days): every one as JSON lines in the "
                   "shared form with its status and delivery, or the delivered ones as a SAF-T Financial 1.30 file "
                   "(valid against Skatteetaten's XSD); a page of at most `limit` documents, the next in `Link`",
        "parameters": [
            query("from", {"type": "string", "format": "date"}, "First day of receipt", required=True),
            query("to", {"type": "string", "format": "date"}, "Last day of receipt (included; not before from)",
                  required=True),
            query("format", {"type": "string", "enum": list(FORMATS), "default": "jsonl"},
                  "jsonl (application/x-ndjson, one ExportLine a line) or saft (application/xml)"),
            query("currency", {"type": "string", "pattern": "^[A-Z]{3}$", "default": "NOK"},
                  "SAF-T only: the file's currency; documents in others are left out (no exchange rate is known)"),
            query("limit", {"type": "integer", "minimum": 1, "maximum": PAGE, "default": DEFAULT_PAGE},
                  "Documents of the period per page"),
            query("after", {"type": "string", "pattern": "^d-[0-9a-f-]{14,60}$"},
                  "Resume after this document id (from the Link header)"),
        ],
        "responses": {
            "200": {"description": "A page of the export", "headers": page, "content": {
                "application/x-ndjson": {"schema": {"type": "string",
                                                    "description": "One ExportLine (JSON) per line, UTF-8, LF"}},
                "application/xml": {"schema": {"type": "string", "description": (
                    "SAF-T Financial 1.30 (urn:StandardAuditFile-Taxation-Financial:NO): header, master files, "
                    "general ledger entries with one journal per accounting system; docs/export.md")}},
            }},
            **answers(400, 401, 403, 422),
        },
    }}}
