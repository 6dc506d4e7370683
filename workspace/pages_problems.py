"""Problems: a client's blocked and failed documents grouped by cause, each with the fix at hand (a rule, the
accounting system's own page, reconnecting), the documents of one cause, and every one of them retried at once —
and the same groups across every client the user may see.

The groups, the fix and the checked retry are pipeline.problems and pipeline.problem_retry, as the API's are; this
module only words them for a bookkeeper and links each fix to the page where it is made.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from api.http import Response
from pipeline import problems as grouped
from pipeline.problem_retry import retries, retry_group
from pipeline.records import problems as index
from pipeline.records.names import QUEUE_TRANSLATED
from pipeline.records.tenants import TenantRegistry
from workspace.access import role_on
from workspace.router import ROOT, Visit, render

PAGE = 50
SHOWN_OUTCOMES = 200  # documents of a retry listed on the page (all are counted)


def _title(visit: Visit, system: str | None) -> str:
    descriptor = visit.connectors.descriptors.get(system or "")
    return str(getattr(descriptor, "title", None) or system or visit.t("system"))


def _where(visit: Visit, where: str) -> str:
    worded = visit.t(f"where_{where}")
    return where if worded.startswith("[") else worded


def shown(visit: Visit, tenant_id: str, group: grouped.Group) -> dict[str, Any]:
    """A cause as the page shows it: a headline in the user's language, its fix as words and a link."""
    system = _title(visit, group.target)
    value = str(group.params.get("value") or "")
    headline = visit.t(f"kind_{group.kind}")
    headline = group.message if headline.startswith("[") else headline.format(value=value, system=system)
    found = grouped.fix(group.kind, group.target, group.params, title=system)
    client = f"{ROOT}/clients/{tenant_id}"
    fix: dict[str, Any] = {"action": found["action"]}
    if found["action"] == "rule":
        rule = str(found["rule"])
        fix["label"] = visit.t("fix_rule_vat" if rule == "vat_map" else "fix_rule_account").format(key=found["key"])
        fix["href"] = f"{client}/rules?{urlencode({'add': rule, 'key': found['key']})}#editor"
        other = found.get("or") or {}
        if other:
            fix["also"] = visit.t("fix_open").format(system=system, where=_where(visit, str(other.get("where"))))
    elif found["action"] == "open":
        fix["label"] = visit.t("fix_open_only").format(system=system, where=_where(visit, str(found.get("where"))))
    elif found["action"] in ("reconnect", "setting"):
        fix["label"] = visit.t(f"fix_{found['action']}").format(system=system)
        fix["href"] = f"{client}#connection-title"
    else:
        fix["label"] = visit.t(f"fix_{found['action']}").format(system=system)
    return {"cause": group.cause, "kind": group.kind, "headline": headline, "message": group.message,
            "system": system, "documents": group.documents, "statuses": group.statuses, "newest": group.newest,
            "fix": fix, "href": f"{client}/problems/{quote(group.cause, safe='')}"}


def problems(visit: Visit, **extra: Any) -> Response:
    """The client's causes, most documents first, each with its fix and a retry of all its documents."""
    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    found = [shown(visit, tenant.id, g) for g in grouped.groups(visit.stores, tenant.id)]
    return render(visit, "problems.html", extra.pop("status", 200), tenant=tenant, groups=found, error="",
                  retries=retries(visit.stores, tenant.id, limit=10), can_retry=_can_retry(visit, tenant.id),
                  **extra)


def _can_retry(visit: Visit, tenant_id: str) -> bool:
    return visit.user is not None and role_on(visit.user, tenant_id) in ("accountant", "owner")


def all_problems(visit: Visit) -> Response:
    """Every cause of every client the user may see: one read of each client's problems index."""
    from workspace.pages_clients import _tenants

    rows = []
    for tenant in sorted(_tenants(visit), key=lambda t: t.name.lower()):
        for group in grouped.groups(visit.stores, tenant.id):
            rows.append({"tenant": tenant, **shown(visit, tenant.id, group)})
    return render(visit, "problems_all.html", rows=rows)


def cause(visit: Visit, result: dict[str, Any] | None = None, error: str = "", status: int = 200) -> Response:
    """One cause: its fix, a page of the documents it holds up (newest first), and the retry of them all; after a
    retry, what became of each document."""
    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    key = visit.params["cause"]
    group = grouped.group(visit.stores, tenant.id, key) if index.valid_cause(key) else None
    cursor = visit.request.query.get("cursor") or None
    rows: list[dict[str, Any]] = []
    following = None
    if group is not None:
        try:
            found, following = index.affected(visit.stores.tables, tenant.id, key, limit=PAGE, cursor=cursor)
        except index.BadCursor:
            found, following = index.affected(visit.stores.tables, tenant.id, key, limit=PAGE)
        rows = [grouped.shown(r) for r in found]
    if group is None and result is None:
        from workspace.pages_session import problem

        return problem(visit, 404, "not_found")
    return render(visit, "problems_cause.html", status, tenant=tenant, cause=key,
                  group=shown(visit, tenant.id, group) if group is not None else None, rows=rows,
                  cursor=following, result=result, error=error, can_retry=_can_retry(visit, tenant.id))


def retry(visit: Visit) -> Response:
    """Every document of the cause retried at once, each checked first (pipeline.problem_retry): a reason is
    required; the retry is audited as a whole (who, why, the counts) and on each document's trace."""
    tenant_id = visit.params["client"]
    key = visit.params["cause"]
    reason = visit.form.get("reason", "").strip()
    if len(reason) < 3:
        return cause(visit, error=visit.t("reason_help"), status=400)
    if not index.valid_cause(key) or grouped.group(visit.stores, tenant_id, key) is None:
        from workspace.pages_session import problem

        return problem(visit, 404, "not_found")
    done = retry_group(visit.stores, visit.connectors, tenant_id, key, by=f"workspace {visit.who()}",
                       reason=reason[:1000])
    envelopes = done.pop("envelopes")
    visit.audit("problems retried", client=tenant_id, subject=key, why=reason, counts=done["counts"],
                more=done["more"])
    done["shown"] = done["documents"][:SHOWN_OUTCOMES]
    answer = cause(visit, result=done)
    answer.messages = {QUEUE_TRANSLATED: [e.to_json() for e in envelopes]} if envelopes else {}
    return answer
