"""Problems: a tenant's blocked and failed documents grouped by cause, each cause with the fix at hand, and every
document of a cause retried at once — checked first, so that a cause still there is reported per document.

A cause is a stable key with its parameters: `tripletex.missing-account.3999` (account 3999 does not exist in
Tripletex), `tripletex.unknown-vat-code.86`, `tripletex.credentials-refused`. It is worked out from a step's trace
detail alone (`causes_of`), so the index (pipeline/records/problems.py) is kept by the step that records it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.errors import Problem
from pipeline.ports import Stores
from pipeline.records import problems as index

if TYPE_CHECKING:
    pass

_PATH = re.compile(r"([a-z_]+)(?:\[(\d+)\])?")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,40}")
# What the customer opens in the accounting system to fix a cause there, by the field or code it is about.
WHERE = (("account", "the chart of accounts"), ("vat", "the VAT codes"), ("customer", "the customer register"),
         ("supplier", "the supplier register"), ("department", "the departments"), ("project", "the projects"),
         ("period", "the accounting periods"), ("date", "the accounting periods"))


PARTY_BY_NUMBER = ("number", "organization_number", "name")  # a party named by what identifies it in a register


def value_at(document: Any, path: str | None, *, party: tuple[str, ...] = PARTY_BY_NUMBER) -> str:
    """What a problem's field holds in a document (`lines[1].account` → "9999"); "" when it cannot be read.
    A party (customer, supplier) is shown by the first of its `party` fields it has."""
    value: Any = document
    for part in (path or "").split("."):
        found = _PATH.fullmatch(part)
        if not found:
            return ""
        value = value.get(found.group(1)) if isinstance(value, dict) else getattr(value, found.group(1), None)
        if found.group(2) is not None:
            value = value[int(found.group(2))] if isinstance(value, tuple | list) and \
                int(found.group(2)) < len(value) else None
        if value is None:
            return ""
    if isinstance(value, str | int):
        return str(value)
    return str(next((found for name in party if (found := getattr(value, name, None))), ""))


def annotated(problem: Problem, source: Any, adapted: Any) -> dict[str, Any]:
    """A preflight problem as a blocked step records it: with the value its field holds as the system saw it
    (after the rules) and, where a rule changed it, the source's value (what a rule's key is)."""
    shown = problem.as_dict()
    value = value_at(adapted, problem.field) if problem.field else ""
    if value:
        shown["value"] = value
        before = value_at(source, problem.field)
        if before and before != value:
            shown["source_value"] = before
    return shown


def _token(value: str) -> str:
    return value if _TOKEN.fullmatch(value) else "~" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]


def _general(field_name: str | None) -> str | None:
    return re.sub(r"\[\d+\]", "[]", field_name) if field_name else None


def _key(*parts: str | None) -> str:
    return ".".join(p for p in parts if p)


def causes_of(step: str, detail: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The causes a `blocked`, `failed` or `poisoned` step names: key, kind, system, parameters, message, field."""
    target = str(detail.get("target") or "") or None
    system = target or "bilagsbro"
    found: dict[str, dict[str, Any]] = {}

    def add(kind: str, params: dict[str, Any], message: str, token: str | None = None, **where: Any) -> None:
        key = _key(system, kind, token)
        found.setdefault(key, {"key": key, "kind": kind, "target": target, "params": params, "message": message,
                               **{k: v for k, v in where.items() if v is not None}})

    def from_problem(p: Mapping[str, Any]) -> None:
        code = str(p.get("code") or "invalid")
        value = str(p.get("value") or "")
        params = {k: v for k, v in {"field": _general(p.get("field")), "value": value or None,
                                    "source_value": p.get("source_value")}.items() if v}
        token = _token(value) if value else (_token(str(p.get("message") or "")) if code.startswith("refused")
                                              else None)
        add(code, params, str(p.get("message") or ""), token, field=p.get("field"), file=p.get("file"),
            line=p.get("line"))

    if step == "blocked":
        for p in detail.get("problems") or ():
            if isinstance(p, Mapping) and p.get("severity", "error") == "error":
                from_problem(p)
    elif step == "failed":
        error = detail.get("error") or {}
        listed = [p for p in error.get("problems") or () if isinstance(p, Mapping)]
        if listed:
            for p in listed:
                from_problem(p)
        elif error.get("kind") == "ConfigError" and error.get("status") in (401, 403):
            add("credentials-refused", {"status": error["status"]}, str(error.get("message") or ""))
        else:
            kind = "configuration" if error.get("kind") == "ConfigError" else "refused"
            said = str(error.get("provider_message") or error.get("message") or "")
            add(kind, {"error": error.get("kind")}, said, _token(re.sub(r"\d", "0", said)[:500]))
    elif step == "poisoned":
        last = detail.get("last_error")
        message = str(last.get("message") if isinstance(last, Mapping) else last or "")
        add("gave-up", {"queue": detail.get("queue")}, message, _token(str(detail.get("queue") or "")))
    return list(found.values())


def fix(kind: str, target: str | None, params: Mapping[str, Any], *, title: str | None = None) -> dict[str, Any]:
    """The fix at hand for a cause: a rule (which rule field, which key), the accounting system's own page
    (where in it; no deep link: those are not verified for any system), reconnecting, or retrying."""
    system = title or target or "the accounting system"
    field_name = str(params.get("field") or "")
    value = str(params.get("value") or "")
    source = str(params.get("source_value") or value)
    subject = f"{kind} {field_name}".lower()
    where = next((place for word, place in WHERE if word in subject), "the settings")
    open_it = {"action": "open", "system": target, "where": where,
               "text": f"Fix it in {system}: {where}"}
    if kind == "credentials-refused":
        return {"action": "reconnect", "system": target, "text": f"{system} refused the credentials: connect again "
                "with new ones (PUT /api/v1/admin/tenants/{id}/connection or the workspace's connect wizard)"}
    if kind == "configuration":
        return {"action": "reconnect", "system": target, "text": "The connection's settings must change; see the "
                                                                 "message, then retry"}
    if kind == "gave-up":
        return {"action": "retry", "text": "Tried until the queue gave up on a passing fault: retry once the "
                                           "system answers again"}
    if kind == "direct-posting-required":
        return {"action": "setting", "setting": "direct_posting", "system": target,
                "text": f"{system} has no drafts: opt in to direct posting on the connection to send anything"}
    if field_name.endswith(".account") or field_name.endswith("_account") or "account" in kind:
        if "vat" not in kind:
            rule = {"action": "rule", "rule": "account_map", "key": source, "or": open_it,
                    "text": f"Map account {source} to an account {system} has (rules: account_map), or add "
                            f"{value or 'it'} there"}
            if source != value:
                rule["text"] = (f"The rule account_map maps {source} to {value}, which {system} cannot take: change "
                                "that rule, or fix the account there")
            return rule
    if field_name.endswith(".vat_code") or "vat-code" in kind:
        return {"action": "rule", "rule": "vat_map", "key": source, "or": open_it,
                "text": f"Map VAT code {source} to a code {system} takes on that account (rules: vat_map)"}
    if kind.startswith("unsupported-"):
        return {"action": "source", "text": f"{system} does not take this; the source must send it otherwise"}
    return open_it


@dataclass
class Group:
    """One cause and how many documents it holds up."""

    cause: str
    kind: str
    target: str | None
    params: dict[str, Any]
    message: str
    documents: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    newest: str = ""
    oldest: str = ""

    def count(self, row: Mapping[str, Any]) -> None:
        """One more document of this cause: its status, and when its problem was recorded."""
        self.documents += 1
        status = str(row.get("Status") or "failed")
        self.statuses[status] = self.statuses.get(status, 0) + 1
        at = str(row.get("At") or "")
        self.newest = max(self.newest, at) if self.newest else at
        self.oldest = min(self.oldest, at) if self.oldest else at

    def as_dict(self, title: str | None = None) -> dict[str, Any]:
        return {"cause": self.cause, "kind": self.kind, "target": self.target, "params": self.params,
                "message": self.message, "documents": self.documents, "statuses": self.statuses,
                "newest": self.newest, "oldest": self.oldest,
                "fix": fix(self.kind, self.target, self.params, title=title)}


def groups(stores: Stores, tenant: str) -> list[Group]:
    """The tenant's causes, most documents first: one pass over the cause rows (a request per 1,000), holding
    one entry per cause, never the documents."""
    found: dict[str, Group] = {}
    for row in index.cause_rows(stores.tables, tenant):
        cause = str(row["Cause"])
        group = found.get(cause)
        if group is None:
            group = found[cause] = Group(cause, str(row.get("Kind")), row.get("Target"), dict(row.get("Params") or {}),
                                         str(row.get("Message") or ""))
        group.count(row)
    return sorted(found.values(), key=lambda g: (-g.documents, g.cause))


def group(stores: Stores, tenant: str, cause: str) -> Group | None:
    """One cause as `groups` adds it up, from its own rows only (a range read per 1,000 documents)."""
    found: Group | None = None
    cursor: str | None = None
    while True:
        rows, cursor = index.affected(stores.tables, tenant, cause, limit=index.PAGE, cursor=cursor)
        for row in rows:
            if found is None:
                found = Group(cause, str(row.get("Kind")), row.get("Target"), dict(row.get("Params") or {}),
                              str(row.get("Message") or ""))
            found.count(row)
        if cursor is None:
            return found


def shown(row: Mapping[str, Any]) -> dict[str, Any]:
    """A cause row as the list of affected documents shows it."""
    listed = {"id": row.get("Id"), "reference": row.get("Reference"), "status": row.get("Status"),
              "step": row.get("Step"), "at": row.get("At"), "message": row.get("Message"), "field": row.get("Field"),
              "file": row.get("File"), "line": row.get("Line")}
    return {k: v for k, v in listed.items() if v is not None}
