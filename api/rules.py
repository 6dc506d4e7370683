"""The admin API of a tenant's rules: the rules in force with their version (ETag), a new version (If-Match),
the versions with who, when and why, one version, the diff of two, the preview of a change, and rollback.

Handlers in the shape of api/http.py (request in, response out; admin key). The versioning is
pipeline/rule_versions.py, the preview pipeline/rules_preview.py; the workspace calls those directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from api.http import Request, Response, admin_body, admin_tenant, error, json_body, validation_problems
from pipeline import rule_versions as versions
from pipeline.errors import ConfigError, Problem
from pipeline.records.apikeys import hash_key, key_id
from pipeline.rules import Rules

if TYPE_CHECKING:
    from pipeline.ports import Stores
    from pipeline.registry import Connectors

DEFAULT_KEEP, MAX_KEEP = 100, 500


class RulesChange(BaseModel):
    """PUT .../rules with a reason: the rules and why (a bare Rules object is taken too, as before versions)."""

    model_config = ConfigDict(extra="forbid")

    rules: Rules
    reason: str = Field("", max_length=1000, description="Why: kept with the version, with who saved it")


class Preview(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: Rules
    recent: StrictInt = Field(50, ge=0, le=500, description="How many of the newest documents that were not held up "
                                                      "to look at, besides every blocked and failed one")
    limit: StrictInt = Field(DEFAULT_KEEP, ge=1, le=MAX_KEEP, description="Documents shown in full (all are counted)")


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., min_length=3, max_length=1000)


def _who(request: Request) -> str:
    key = request.headers.get("authorization", "").partition(" ")[2].strip()
    return f"admin key {key_id(hash_key(key))}"


def _based_on(request: Request) -> tuple[int | None, Response | None]:
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None, None
    version = versions.parse_etag(header)
    if version is None:
        return None, error(400, f"If-Match {header!r} names no version of the rules: send the ETag a GET gave",
                           [Problem("not an ETag of the rules", field="If-Match", code="invalid-header")])
    return version, None


def _version_param(request: Request) -> int | None:
    text = request.path_params.get("version", "")
    return int(text) if text.isdigit() and len(text) <= 8 else None


def _saved(stores: Stores, tenant_id: str, saved: versions.RuleVersion) -> Response:
    """A saved version, with what it changed against the one it was based on."""
    earlier = versions.get(stores.tables, tenant_id, saved.based_on) if saved.based_on is not None else None
    changes = versions.diff(earlier.rules if earlier is not None else Rules(), saved.rules)
    return Response(200, {"tenant_id": tenant_id, **saved.as_dict(), "diff": changes,
                          "summary": versions.summary(changes)}, headers={"ETag": versions.etag(saved.version)})


def get_rules(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The rules in force, their version and its ETag (for If-Match)."""
    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    tenant, current = versions.in_force(stores.tables, tenant.id)
    number = current.version if current is not None else 0
    return Response(200, {"tenant_id": tenant.id, "version": number, "etag": versions.etag(number),
                          "rules": tenant.rules.model_dump(mode="json"),
                          **({"at": current.at, "by": current.by, "reason": current.reason} if current else {})},
                    headers={"ETag": versions.etag(number)})


def put_rules(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """A new version of the rules: validated, in force on the next document; 409 when If-Match names a version
    that is no longer the one in force."""
    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    body, bad = json_body(request, required=True)
    if bad:
        return bad
    assert body is not None
    based_on, bad = _based_on(request)
    if bad:
        return bad
    try:
        change = RulesChange.model_validate(body) if "rules" in body else RulesChange(rules=Rules.model_validate(body))
    except ValidationError as exc:
        return error(422, "rules are not valid", validation_problems(exc))
    try:
        saved = versions.save(stores.tables, tenant.id, change.rules, based_on=based_on, by=_who(request),
                              reason=change.reason)
    except versions.Outdated as exc:
        return error(409, str(exc), current_version=exc.current, etag=versions.etag(exc.current))
    except ConfigError as exc:
        return error(422, exc.message, [Problem(exc.message, field="rules")])
    return _saved(stores, tenant.id, saved)


def list_rule_versions(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Versions newest first, without their rules (`before` pages on)."""
    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    unknown = sorted(set(request.query) - {"limit", "before"})
    limit_text, before_text = request.query.get("limit", "50"), request.query.get("before")
    if unknown or not limit_text.isdigit() or not 1 <= int(limit_text) <= 500 or (
            before_text is not None and not (before_text.isdigit() and len(before_text) <= 8)):
        return error(400, "the parameters are limit (1 to 500) and before (a version number)",
                     [Problem("not valid", field=name) for name in unknown or ["limit", "before"]])
    found, following = versions.page(stores.tables, tenant.id, limit=int(limit_text),
                                     before=int(before_text) if before_text is not None else None)
    body: dict[str, Any] = {"tenant_id": tenant.id, "versions": [v.as_dict(with_rules=False) for v in found],
                            "next": None}
    if following is not None:
        body["next"] = f"{request.base_url}/api/v1/admin/tenants/{tenant.id}/rules/versions?limit={limit_text}" \
                       f"&before={following}"
    return Response(200, body)


def get_rule_version(stores: Stores, connectors: Connectors, request: Request) -> Response:
    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    number = _version_param(request)
    found = versions.get(stores.tables, tenant.id, number) if number is not None else None
    if found is None:
        return error(404, f"no version {request.path_params.get('version')} of {tenant.id}'s rules")
    return Response(200, {"tenant_id": tenant.id, **found.as_dict()})


def diff_rule_versions(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """What a version changed against another (`against`; default: the version before it)."""
    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    number = _version_param(request)
    found = versions.get(stores.tables, tenant.id, number) if number is not None else None
    if found is None:
        return error(404, f"no version {request.path_params.get('version')} of {tenant.id}'s rules")
    against_text = request.query.get("against")
    if set(request.query) - {"against"} or (against_text is not None and not (
            against_text.isdigit() and len(against_text) <= 8)):
        return error(400, "the one parameter is against (a version number)", [Problem("not valid", field="against")])
    against = int(against_text) if against_text is not None else found.version - 1
    earlier = versions.get(stores.tables, tenant.id, against) if against >= 0 else None
    if earlier is None and against >= 0:
        return error(404, f"no version {against} of {tenant.id}'s rules")
    changes = versions.diff(earlier.rules if earlier else Rules(), found.rules)
    return Response(200, {"tenant_id": tenant.id, "version": found.version, "against": against if earlier else None,
                          "diff": changes, "summary": versions.summary(changes)})


def preview_rules(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """What new rules would do to every blocked and failed document and the newest others (nothing written)."""
    from pipeline.rules_preview import Tally, preview

    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    body, bad = admin_body(request, Preview)
    if bad:
        return bad
    assert isinstance(body, Preview)
    tenant, current = versions.in_force(stores.tables, tenant.id)
    tally = Tally(keep=body.limit)
    for verdict in preview(stores, connectors, tenant, body.rules, recent=body.recent):
        tally.add(verdict)
    changes = versions.diff(tenant.rules, body.rules)
    return Response(200, {"tenant_id": tenant.id, "target": tenant.target,
                          "based_on": current.version if current else 0, "diff": changes, **tally.as_dict()})


def rollback_rules(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The rules of an earlier version in force again, as a new version."""
    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    body, bad = admin_body(request, Rollback)
    if bad:
        return bad
    assert isinstance(body, Rollback)
    based_on, bad = _based_on(request)
    if bad:
        return bad
    number = _version_param(request)
    if number is None or versions.get(stores.tables, tenant.id, number) is None:
        return error(404, f"no version {request.path_params.get('version')} of {tenant.id}'s rules")
    try:
        saved = versions.rollback(stores.tables, tenant.id, number, based_on=based_on, by=_who(request),
                                  reason=body.reason)
    except versions.Outdated as exc:
        return error(409, str(exc), current_version=exc.current, etag=versions.etag(exc.current))
    except ConfigError as exc:
        return error(422, exc.message)
    return _saved(stores, tenant.id, saved)
