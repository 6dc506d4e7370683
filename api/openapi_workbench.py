"""The OpenAPI of the bookkeeper's tools — problems by cause, versioned rules with their preview, and the dry run of
an upload — kept beside api/openapi.py, which merges them into the one document."""

from __future__ import annotations

from typing import Any

from api.problems import MAX_PAGE as PROBLEM_PAGE
from pipeline.dry_run import MAX_PAGE as DRY_RUN_PAGE

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NULLABLE_STR = {"type": ["string", "null"]}
ADMIN: list[dict[str, list[str]]] = [{"adminKey": []}]
ETAG_PATTERN = r'^(\*|(W/)?"?(rules-)?[0-9]{1,8}"?)$'


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required), **extra}


def components() -> dict[str, Any]:
    fix = _obj({"action": {"type": "string", "enum": ["rule", "open", "reconnect", "retry", "setting", "source"]},
                "rule": _STR, "key": _STR, "system": _NULLABLE_STR, "where": _STR, "setting": _STR, "text": _STR,
                "or": {"type": "object"}}, ("action", "text"),
               description="The fix at hand: a rule (which rule field and key), the accounting system's own page "
                           "(where in it), reconnecting, a setting, or a retry")
    group = _obj({"cause": _STR, "kind": _STR, "target": _NULLABLE_STR, "params": {"type": "object"},
                  "message": _STR, "documents": _INT, "statuses": {"type": "object"}, "newest": _STR,
                  "oldest": _STR, "fix": _ref("ProblemFix"), "url": _STR, "retry_url": _STR},
                 ("cause", "kind", "params", "message", "documents", "fix"))
    affected = _obj({"id": _STR, "reference": _NULLABLE_STR, "status": _STR, "step": _STR, "at": _STR,
                     "message": _STR, "field": _STR, "file": _STR, "line": _INT, "status_url": _STR},
                    ("id", "status_url"))
    version = {"version": _INT, "at": _STR, "by": _STR, "reason": _STR,
               "action": {"type": "string", "enum": ["initial", "save", "rollback"]}, "etag": _STR,
               "based_on": _INT, "rollback_of": _INT}
    change = _obj({"rule": _STR, "key": _STR, "change": {"type": "string", "enum": ["added", "removed", "changed"]},
                   "before": {}, "after": {}}, ("rule", "key", "change"))
    diff = {"diff": {"type": "array", "items": _ref("RuleChange")}, "summary": {"type": "object"}}
    money = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$"}
    totals = {"type": "object", "properties": {
        "by_account": {"type": "array", "items": _obj({"account": _STR, "lines": _INT, "debit": money,
                                                       "credit": money, "net": money})},
        "by_vat_code": {"type": "array", "items": _obj({"vat_code": _STR, "lines": _INT, "gross": money,
                                                        "vat_amount": money})},
        "by_account_and_vat_code": {"type": "array", "items": {"type": "object"}}}}
    return {
        "ProblemFix": fix,
        "ProblemGroup": group,
        "ProblemGroups": _obj({"causes": _INT, "documents": _INT, "groups": {"type": "array",
                                                                           "items": _ref("ProblemGroup")}},
                              ("causes", "documents", "groups")),
        "ProblemDocuments": {"allOf": [group, _obj({
            "affected": {"type": "array", "items": affected}, "next": _NULLABLE_STR, "cursor": _STR},
            ("affected", "next"))]},
        "ProblemRetry": _obj({"reason": {"type": "string", "minLength": 3, "maxLength": 1000}}, ("reason",),
                             additionalProperties=False),
        "ProblemRetried": _obj({"cause": _STR, "counts": {"type": "object"}, "more": {"type": "boolean"},
                                "documents": {"type": "array", "items": _obj({
                                    "id": _STR, "reference": _NULLABLE_STR,
                                    "outcome": {"type": "string", "enum": ["resubmitted", "still_there", "gone"]},
                                    "problems": {"type": "array", "items": {"type": "object"}}}, ("id", "outcome"))}},
                               ("cause", "counts", "documents", "more")),
        "RulesInForce": _obj({"tenant_id": _STR, "version": _INT, "etag": _STR, "rules": _ref("Rules"),
                              "at": _STR, "by": _STR, "reason": _STR}, ("tenant_id", "version", "etag", "rules")),
        "RulesChange": _obj({"rules": _ref("Rules"), "reason": {"type": "string", "maxLength": 1000}}, ("rules",),
                            additionalProperties=False),
        "RuleChange": change,
        "RuleVersionSaved": _obj({"tenant_id": _STR, **version, "rules": _ref("Rules"), **diff},
                                 ("tenant_id", "version", "etag", "rules", "diff")),
        "RuleVersion": _obj({"tenant_id": _STR, **version, "rules": _ref("Rules")}, ("tenant_id", "version", "rules")),
        "RuleVersions": _obj({"tenant_id": _STR, "versions": {"type": "array", "items": _obj(version, ("version",))},
                              "next": _NULLABLE_STR}, ("tenant_id", "versions", "next")),
        "RuleDiff": _obj({"tenant_id": _STR, "version": _INT, "against": {"type": ["integer", "null"]}, **diff},
                         ("tenant_id", "version", "diff")),
        "RulesPreview": _obj({"rules": _ref("Rules"),
                              "recent": {"type": "integer", "minimum": 0, "maximum": 500, "default": 50},
                              "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
                             ("rules",), additionalProperties=False),
        "RulesPreviewed": _obj({"tenant_id": _STR, "target": _STR, "based_on": _INT, **diff, "checked": _INT,
                                "counts": {"type": "object"}, "truncated": {"type": "boolean"},
                                "documents": {"type": "array", "items": _obj({
                                    "id": _STR, "reference": _NULLABLE_STR, "was": _STR,
                                    "verdict": {"type": "string", "enum": ["now_passes", "still_blocked",
                                                                           "newly_blocked", "payload_changes",
                                                                           "unchanged", "unreadable", "unchecked"]},
                                    "problems": {"type": "array"}, "changes": {"type": "array"},
                                    "payload_fields": {"type": "array", "items": _STR}}, ("id", "verdict"))}},
                               ("tenant_id", "counts", "documents", "checked")),
        "RulesRollback": _obj({"reason": {"type": "string", "minLength": 3, "maxLength": 1000}}, ("reason",),
                              additionalProperties=False),
        "DryRun": _obj({
            "file": _STR, "format": _NULLABLE_STR, "tenant_id": _STR, "target": _STR,
            "summary": _obj({"documents": _INT, "by_type": {"type": "object"}, "errors": _INT, "warnings": _INT,
                             "problems_by_code": {"type": "object"}, "totals": totals,
                             "totals_in_target_terms": totals}, ("documents", "errors", "warnings", "totals")),
            "problems": {"type": "array", "items": _ref("Problem")}, "problems_complete": {"type": "boolean"},
            "offset": _INT, "limit": _INT, "next_offset": {"type": ["integer", "null"]},
            "delivered": {"type": "boolean", "const": False},
            "documents": {"type": "array", "items": _obj({
                "index": _INT, "reference": _STR, "type": _STR, "document": {"type": "object"}, "payload": {},
                "problems": {"type": "array", "items": _ref("Problem")}}, ("index", "reference", "document"))}},
            ("file", "summary", "problems", "documents", "delivered")),
    }


def paths(answers: Any, path_id: Any, formats: dict[str, Any]) -> dict[str, Any]:
    """`answers` and `path_id` are api.openapi's helpers; `formats` the schema of a format's name."""
    cause = {"name": "cause", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_~-]+(\.[A-Za-z0-9_~-]+)*$", "maxLength": 200},
             "description": "A cause's key as GET /api/v1/problems lists it, e.g. tripletex.missing-account.3999"}
    tenant = path_id("The tenant's id")
    version = {"name": "version", "in": "path", "required": True,
               "schema": {"type": "string", "pattern": "^[0-9]{1,8}$"}, "description": "A version's number"}
    if_match = {"name": "If-Match", "in": "header", "required": False,
                "schema": {"type": "string", "pattern": ETAG_PATTERN},
                "description": "The ETag of the version the change is based on (GET .../rules): a save based on "
                               "another version than the one in force is refused with 409"}
    admin_body = (400, 401, 403, 404, 413, 415, 422)

    def admin(summary: str, ok: tuple[int, str, str], *errors: int, parameters: tuple[dict[str, Any], ...] = (),
              body: str | None = None) -> dict[str, Any]:
        op: dict[str, Any] = {"summary": summary, "security": ADMIN, "parameters": [tenant, *parameters],
                              "responses": answers(*errors, ok=ok)}
        if body is not None:
            op["requestBody"] = {"required": True, "content": _json(_ref(body))}
        return op

    return {
        "/api/v1/problems": {"get": {
            "summary": "The tenant's blocked and failed documents grouped by cause (account 3999 does not exist in "
                       "Tripletex — 14 documents), most documents first, each with the fix at hand",
            "responses": answers(400, 401, 403, ok=(200, "The causes", "ProblemGroups"))}},
        "/api/v1/problems/{cause}": {"get": {
            "summary": "One cause: its fix and the documents it holds up, newest first, a page at a time",
            "parameters": [cause,
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                       "maximum": PROBLEM_PAGE}},
                           {"name": "cursor", "in": "query", "schema": {"type": "string", "minLength": 1},
                            "description": "From the previous page (opaque: only one this API gave out)"}],
            "responses": answers(400, 401, 403, 404, ok=(200, "The cause and a page of its documents",
                                                         "ProblemDocuments"))}},
        "/api/v1/problems/{cause}/retry": {"post": {
            "summary": "Retry every document of a cause at once (audited: the key and the reason); each is checked "
                       "first, and one whose cause is still there is reported, not sent",
            "parameters": [cause], "requestBody": {"required": True, "content": _json(_ref("ProblemRetry"))},
            "responses": answers(400, 401, 403, 404, 413, 415, 422,
                                 ok=(202, "What became of each document", "ProblemRetried"))}},
        "/api/v1/dry-run": {"post": {
            "summary": "A file through everything but delivery for the tenant: the summary (counts, totals per "
                       "account and per VAT code), problems with file, line and field, and a page of its documents "
                       "with the exact payloads for the tenant's system; nothing is delivered or kept",
            "parameters": [
                {"name": "format", "in": "query", "schema": formats, "description": "Omit it to have it detected"},
                {"name": "name", "in": "query", "schema": _STR, "description": "The file's name"},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 10**9},
                 "description": "The first document of the page (0)"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                            "maximum": DRY_RUN_PAGE}}],
            "requestBody": {"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}},
            "responses": answers(400, 401, 403, 413, 422, ok=(200, "What the file would become", "DryRun"))}},
        "/api/v1/admin/tenants/{id}/rules": {
            "get": admin("The rules in force, their version and its ETag", (200, "The rules", "RulesInForce"),
                         401, 403, 404),
            "put": {**admin("A new version of the tenant's rules (validated; in force on the next document); with "
                            "If-Match, refused with 409 when another version came in meanwhile",
                            (200, "The version saved and what it changed", "RuleVersionSaved"), *admin_body, 409,
                            parameters=(if_match,)),
                    "requestBody": {"required": True, "content": _json(
                        {"anyOf": [_ref("Rules"), _ref("RulesChange")]})}}},
        "/api/v1/admin/tenants/{id}/rules/versions": {"get": admin(
            "Every version of the rules, newest first, with who, when and why",
            (200, "Versions", "RuleVersions"), 400, 401, 403, 404, parameters=(
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 99_999_999},
                 "description": "Versions below this one (the next page)"}))},
        "/api/v1/admin/tenants/{id}/rules/versions/{version}": {"get": admin(
            "One version of the rules", (200, "The version", "RuleVersion"), 401, 403, 404, parameters=(version,))},
        "/api/v1/admin/tenants/{id}/rules/versions/{version}/diff": {"get": admin(
            "What a version changed against another (default: the one before it)", (200, "The diff", "RuleDiff"),
            400, 401, 403, 404, parameters=(version, {"name": "against", "in": "query", "schema": {
                "type": "integer", "minimum": 0, "maximum": 99_999_999}}))},
        "/api/v1/admin/tenants/{id}/rules/preview": {"post": admin(
            "What new rules would do to every blocked and failed document and the newest others: now passes, still "
            "blocked (why), newly blocked, payload changes (which fields); nothing is written",
            (200, "The preview", "RulesPreviewed"), *admin_body, body="RulesPreview")},
        "/api/v1/admin/tenants/{id}/rules/versions/{version}/rollback": {"post": admin(
            "The rules of an earlier version in force again, as a new version",
            (200, "The version saved and what it changed", "RuleVersionSaved"), *admin_body, 409,
            parameters=(version, if_match), body="RulesRollback")},
    }


OPERATIONS = {
    ("/api/v1/problems", "get"): "problem_list",
    ("/api/v1/problems/{cause}", "get"): "problem_documents",
    ("/api/v1/problems/{cause}/retry", "post"): "problem_retry",
    ("/api/v1/dry-run", "post"): "dry_run",
    ("/api/v1/admin/tenants/{id}/rules", "get"): "tenant_rules_current",
    ("/api/v1/admin/tenants/{id}/rules", "put"): "tenant_rules",
    ("/api/v1/admin/tenants/{id}/rules/versions", "get"): "tenant_rule_versions",
    ("/api/v1/admin/tenants/{id}/rules/versions/{version}", "get"): "tenant_rule_version",
    ("/api/v1/admin/tenants/{id}/rules/versions/{version}/diff", "get"): "tenant_rule_diff",
    ("/api/v1/admin/tenants/{id}/rules/preview", "post"): "tenant_rules_preview",
    ("/api/v1/admin/tenants/{id}/rules/versions/{version}/rollback", "post"): "tenant_rules_rollback",
}
_VERSION = {"id": "$request.path.id", "version": "$response.body#/version"}
LINKS = {"tenant_rules": ("200", {"tenant_rule_version": _VERSION, "tenant_rule_diff": _VERSION})}
