"""The read-back's part of the OpenAPI document: /api/v1/ledger/... and the schemas of its answers."""

from __future__ import annotations

from typing import Any

_STR = {"type": "string"}
_NULL_STR = {"type": ["string", "null"]}
_AMOUNT = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "Exact decimal, as text"}
_DATE = {"type": "string", "format": "date"}
_MONTH = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}$"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(name: str, schema: dict[str, Any], description: str, *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


COMPANY = _query("company", {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,40}$"},
                 "The company within the tenant (default `main`)")


def components() -> dict[str, Any]:
    posting = {"type": "object", "required": ["id", "voucher", "date", "account", "amount"], "properties": {
        "id": _STR, "voucher": _STR, "voucher_id": _NULL_STR, "date": _DATE, "account": _STR, "amount": _AMOUNT,
        "vat_code": _NULL_STR, "dimensions": {"type": "object", "additionalProperties": _STR}, "text": _NULL_STR,
        "customer": _NULL_STR, "supplier": _NULL_STR, "currency": _NULL_STR,
        "amount_currency": {"anyOf": [_AMOUNT, {"type": "null"}]},
        "document": {"type": ["string", "null"], "description": "GET /api/v1/ledger/documents/{id}"}}}
    sync = {"type": "object", "required": ["company", "status"], "properties": {
        "company": _STR, "run": _NULL_STR, "source": _NULL_STR,
        "status": {"type": ["string", "null"], "enum": ["running", "done", "failed", None]},
        "slices_done": {"type": "integer"}, "slices": {"type": "integer"},
        "years": {"type": "array", "items": _STR}, "postings": {"type": "integer"}, "documents": {"type": "integer"},
        "mismatch_count": {"type": "integer"},
        "mismatches": {"type": "array", "items": {"type": "object", "properties": {
            "account": _STR, "period": _STR, "ours": _AMOUNT, "reported": _AMOUNT}}},
        "problem_count": {"type": "integer"}, "problems": {"type": "array", "items": _STR},
        "started": _NULL_STR, "finished": _NULL_STR, "error": _NULL_STR, "last_refresh": _NULL_STR,
        "file": {"type": "string", "description": "Where the uploaded file is kept (uploads only)"}}}
    inbox = {"type": "object", "required": ["company", "documents"], "properties": {
        "company": _STR, "documents": {"type": "array", "items": {
            "type": "object", "required": ["id", "file_name"], "properties": {
                "id": {"type": "string", "description": "GET /api/v1/ledger/documents/{id}"}, "voucher": {"type": "null"},
                "file_name": _STR, "content_type": _STR, "size": {"type": ["integer", "null"]},
                "folder": _NULL_STR}}}}}
    return {
        "LedgerInbox": inbox,
        "LedgerPosting": posting,
        "LedgerTransactions": {"type": "object", "required": ["company", "transactions", "next_cursor"],
                               "properties": {"company": _STR, "transactions": {"type": "array",
                                                                                "items": _ref("LedgerPosting")},
                                              "next_cursor": _NULL_STR}},
        "LedgerAccounts": {"type": "object", "required": ["company", "accounts"], "properties": {
            "company": _STR,
            "accounts": {"type": "array", "items": {"type": "object", "required": ["number"], "properties": {
                "number": _STR, "name": _STR, "kind": _NULL_STR, "vat_code": _NULL_STR, "active": {"type": "boolean"}}}},
            "parties": {"type": "array", "items": {"type": "object", "properties": {
                "kind": {"type": "string", "enum": ["customer", "supplier"]}, "number": _STR, "name": _STR,
                "organization_number": _NULL_STR}}},
            "dimensions": {"type": "array", "items": {"type": "object", "properties": {
                "kind": _STR, "code": _STR, "name": _STR}}},
            "fiscal_years": {"type": "array", "items": {"type": "object", "properties": {
                "start": _DATE, "end": _DATE, "periods": {"type": "array", "items": _MONTH}}}}}},
        "LedgerBalances": {"type": "object", "required": ["company", "balances", "mismatches"], "properties": {
            "company": _STR, "mismatches": {"type": "integer"},
            "balances": {"type": "array", "items": {"type": "object", "required": ["account", "period", "change"],
                                                    "properties": {
                "account": _STR, "period": {"type": "string", "description": "YYYY-MM, or a fiscal year "
                                                                             "`<start>..<end>` where the system "
                                                                             "reports per year only"},
                "change": _AMOUNT, "reported": {"anyOf": [_AMOUNT, {"type": "null"}]},
                "matches": {"type": ["boolean", "null"]}}}}}},
        "LedgerSync": sync,
        "LedgerSource": {"type": "object", "required": ["company", "source"], "properties": {
            "company": _STR, "source": _NULL_STR, "since": _NULL_STR,
            "history": {"type": "array", "items": {"type": "object", "properties": {
                "source": _STR, "since": _STR, "previous": _STR}}}}},
        "LedgerSourceChoice": {"type": "object", "required": ["source"], "properties": {
            "source": {"type": "string", "enum": ["tripletex", "fortnox"],
                       "description": "An API source; files are chosen by uploading one"}}},
    }


def paths(answers: Any, path_id: Any) -> dict[str, Any]:
    errors = (400, 401, 403)
    days = [_query("from", _DATE, "First day (incl.)", required=True),
            _query("to", _DATE, "Last day (incl.)", required=True)]
    page = [_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Postings per page (200)"),
            _query("cursor", {"type": "string", "pattern": r"^[A-Za-z0-9_.~|:-]{1,300}$"},
                   "The `next_cursor` of the previous page (opaque)")]
    sync_range = [_query("from", _DATE, "First day to read (default: the start of the fiscal year two before "
                                        "the current one)"),
                  _query("to", _DATE, "Last day to read (default: the end of the current fiscal year)")]
    return {
        "/api/v1/ledger/accounts": {"get": {
            "summary": "The chart of accounts read back, with customers and suppliers, dimensions and fiscal years",
            "parameters": [COMPANY], "responses": answers(*errors, ok=(200, "The chart", "LedgerAccounts"))}},
        "/api/v1/ledger/transactions": {"get": {
            "summary": "General-ledger postings dated from..to in date order, paged; optionally one account's or "
                       "one voucher's",
            "parameters": [*days, _query("account", _STR, "Only this account's postings"),
                           _query("voucher", _STR, "Only this voucher's postings (its number as shown)"), *page,
                           COMPANY],
            "responses": answers(*errors, ok=(200, "A page; `Link: rel=next` when there is more",
                                              "LedgerTransactions"))}},
        "/api/v1/ledger/balances": {"get": {
            "summary": "Per account and period: our sum of the postings beside the system's own balance report "
                       "(`matches` false where they differ)",
            "parameters": [_query("from", _MONTH, "First period YYYY-MM"), _query("to", _MONTH, "Last period YYYY-MM"),
                           _query("account", _STR, "Only this account"), COMPANY],
            "responses": answers(*errors, ok=(200, "Balances", "LedgerBalances"))}},
        "/api/v1/ledger/documents/{id}": {"get": {
            "summary": "A document attached to a voucher (PDF or image), as the system had it",
            "parameters": [path_id("The document's id (a posting's `document`)"), COMPANY],
            "responses": {"200": {"description": "The file", "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("application/pdf", "image/*", "application/octet-stream")}},
                **answers(*errors, 404)}}},
        "/api/v1/ledger/inbox": {"get": {
            "summary": "The documents waiting in the accounting system's inbox at the last sync (receipts and supplier "
                       "invoices not booked yet; Fortnox's «Inkorg»), each downloadable at /api/v1/ledger/documents/{id}",
            "parameters": [COMPANY], "responses": answers(*errors, ok=(200, "The inbox", "LedgerInbox"))}},
        "/api/v1/ledger/source": {
            "get": {"summary": "Where the company's ledger is read from, since when, and every earlier choice",
                    "parameters": [COMPANY], "responses": answers(*errors, ok=(200, "The source", "LedgerSource"))},
            "put": {"summary": "Read the company's ledger from an API (the tenant's connection to that system); "
                               "recorded, with the earlier choice kept in the history",
                    "parameters": [COMPANY],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": _ref("LedgerSourceChoice")}}},
                    "responses": answers(*errors, ok=(200, "Chosen", "LedgerSource"))}},
        "/api/v1/ledger/files": {"post": {
            "summary": "A SIE 4 or SAF-T Financial file for a company without API access: kept unchanged, chosen "
                       "as its ledger source, and read in the background (202; progress at /api/v1/ledger/sync)",
            "parameters": [_query("format", {"type": "string", "enum": ["sie4", "saft"]}, "The file's format",
                                  required=True),
                           _query("name", {"type": "string", "maxLength": 80}, "The file's name"), *sync_range,
                           COMPANY],
            "requestBody": {"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}},
            "responses": answers(*errors, 413, 422, ok=(202, "Kept; being read", "LedgerSync"))}},
        "/api/v1/ledger/sync": {
            "post": {"summary": "Read the ledger again from its source in the background: the current and two "
                                "previous fiscal years, or from..to; `ledger.synced` when done",
                     "parameters": [*sync_range, COMPANY],
                     "responses": answers(*errors, 422, ok=(202, "Started", "LedgerSync"))},
            "get": {"summary": "How far the latest sync came, and every disagreement with the system's report",
                    "parameters": [COMPANY], "responses": answers(*errors, 404, ok=(200, "Progress", "LedgerSync"))}},
        "/api/v1/ledger/export": {"get": {
            "summary": "The ledger read back, from..to, as SAF-T Financial 1.30 (whole days up to `limit` vouchers "
                       "a page; `Link: rel=next`)",
            "parameters": [*days, _query("limit", {"type": "integer", "minimum": 1, "maximum": 10_000},
                                         "Vouchers per page (5,000)"), COMPANY],
            "responses": {"200": {"description": "SAF-T Financial", "content": {
                "application/xml": {"schema": {"type": "string"}}}}, **answers(*errors, 422)}}},
    }


OPERATIONS = {
    ("/api/v1/ledger/accounts", "get"): "ledger_accounts",
    ("/api/v1/ledger/transactions", "get"): "ledger_transactions",
    ("/api/v1/ledger/balances", "get"): "ledger_balances",
    ("/api/v1/ledger/documents/{id}", "get"): "ledger_document",
    ("/api/v1/ledger/inbox", "get"): "ledger_inbox",
    ("/api/v1/ledger/source", "get"): "ledger_source",
    ("/api/v1/ledger/source", "put"): "ledger_source_choose",
    ("/api/v1/ledger/files", "post"): "ledger_file",
    ("/api/v1/ledger/sync", "post"): "ledger_sync_start",
    ("/api/v1/ledger/sync", "get"): "ledger_sync_progress",
    ("/api/v1/ledger/export", "get"): "ledger_export",
}
