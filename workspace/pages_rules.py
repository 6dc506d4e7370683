"""Rules: the version in force, every version with who, when and why, the diff of any two, a typed editor (maps by
source account, VAT code, series, dimension; per-customer exceptions) whose change is previewed on the client's
blocked and recent documents before it is saved as a new version, and rollback to an earlier version.

Versioning, concurrency and the preview are pipeline.rule_versions and pipeline.rules_preview, as the admin API's
are; this module turns form rows into `Rules` and back, and audits each change.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from api.http import Response
from pipeline import rule_versions as versions
from pipeline.errors import ConfigError
from pipeline.rules import Rules
from workspace.access import role_on
from workspace.router import Visit, redirect, render

# the maps a row of two fields edits, with the words of their two columns
MAPS = (("account_map", "source_account", "target_account"), ("vat_map", "source_vat", "target_vat"),
        ("voucher_types", "source_series", "target_type"), ("dimensions", "our_dimension", "their_dimension"),
        ("grouping_codes", "grouping_account", "grouping_code"))
BLANK = 3  # empty rows offered under each map for new rules
PREVIEW_RECENT, PREVIEW_SHOWN = 50, 100


def value(shown: Any) -> str:
    """A rule's value in a diff as a person reads it: a per-customer exception as its mappings and note."""
    if not isinstance(shown, dict):
        return "" if shown is None else str(shown)
    parts = [f"{a} → {b}" for a, b in (shown.get("account_map") or {}).items()]
    parts += [f"mva {a} → {b}" for a, b in (shown.get("vat_map") or {}).items()]
    return ", ".join(parts) + (f" ({shown['note']})" if shown.get("note") else "")


def rows(rules: Rules, add: tuple[str, str] | None = None) -> dict[str, Any]:
    """The editor's rows for `rules`: each map's (from, to) pairs and blanks; the exceptions one row per mapping.
    `add` (rule, key) puts a row for that key first, to be filled in (the fix of a problem links here)."""
    shown: dict[str, Any] = {}
    for kind, _, _ in MAPS:
        pairs = sorted(getattr(rules, kind).items())
        if add is not None and add[0] == kind and add[1] not in getattr(rules, kind):
            pairs.insert(0, (add[1], ""))
        shown[kind] = pairs + [("", "")] * BLANK
    customers = []
    for key, exception in sorted(rules.customers.items()):
        for kind, mapping in (("account", exception.account_map), ("vat", exception.vat_map)):
            for source, target in sorted(mapping.items()):
                customers.append({"key": key, "kind": kind, "from": source, "to": target, "note": exception.note or ""})
        if not exception.account_map and not exception.vat_map:
            customers.append({"key": key, "kind": "account", "from": "", "to": "", "note": exception.note or ""})
    shown["customers"] = customers + [{"key": "", "kind": "account", "from": "", "to": "", "note": ""}] * BLANK
    return shown


def parse(form: dict[str, str], current: Rules) -> tuple[Rules | None, list[str], dict[str, Any]]:
    """The rules a submitted editor holds (rows with both fields filled; the rest of `current` — rules the form
    does not edit — kept), the problems found, and the rows as given (to show them again)."""
    data: dict[str, Any] = current.model_dump(mode="json")
    problems: list[str] = []
    given: dict[str, Any] = {}
    for kind, _, _ in MAPS:
        mapping: dict[str, str] = {}
        pairs = []
        for i in range(_count(form, kind)):
            source, target = form.get(f"{kind}.{i}.from", "").strip(), form.get(f"{kind}.{i}.to", "").strip()
            pairs.append((source, target))
            if source and target:
                if source in mapping and mapping[source] != target:
                    problems.append(f"{kind}: {source} → {mapping[source]} / {target}")
                mapping[source] = target
            elif source or target:
                problems.append(f"{kind}: {source or '…'} → {target or '…'}")
        data[kind] = mapping
        given[kind] = [pair for pair in pairs if pair[0] or pair[1]] + [("", "")] * BLANK
    customers: dict[str, dict[str, Any]] = {}
    listed = []
    for i in range(_count(form, "customers")):
        row = {name: form.get(f"customers.{i}.{name}", "").strip() for name in ("key", "kind", "from", "to", "note")}
        listed.append(row)
        if not row["key"]:
            if row["from"] or row["to"]:
                problems.append(f"customers: {row['from']} → {row['to']}")
            continue
        entry = customers.setdefault(row["key"], {"account_map": {}, "vat_map": {}})
        if row["note"]:
            entry["note"] = row["note"][:200]
        if row["from"] and row["to"]:
            entry["vat_map" if row["kind"] == "vat" else "account_map"][row["from"]] = row["to"]
        elif row["from"] or row["to"]:
            problems.append(f"customers {row['key']}: {row['from'] or '…'} → {row['to'] or '…'}")
    data["customers"] = customers
    given["customers"] = [r for r in listed if r["key"] or r["from"] or r["to"]] + \
        [{"key": "", "kind": "account", "from": "", "to": "", "note": ""}] * BLANK
    if problems:
        return None, problems, given
    try:
        return Rules.model_validate(data), [], given
    except ValidationError as exc:
        return None, [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()], given


def _count(form: dict[str, str], kind: str) -> int:
    """How many rows of `kind` the form sent (their indexes are 0…n-1)."""
    count = 0
    while f"{kind}.{count}.from" in form or f"{kind}.{count}.key" in form:
        count += 1
    return min(count, 2000)


def _page(visit: Visit, *, status: int = 200, given: dict[str, Any] | None = None, **extra: Any) -> Response:
    tenant, current = versions.in_force(visit.stores.tables, visit.params["client"])
    before = visit.request.query.get("before", "")
    listed, following = versions.page(visit.stores.tables, tenant.id, limit=50,
                                      before=int(before) if before.isdigit() and len(before) <= 8 else None)
    query = visit.request.query
    add = (query["add"], query.get("key", "")) if query.get("add") in dict((m[0], 1) for m in MAPS) else None
    notice = ""
    if query.get("rolled_back", "").isdigit() and query.get("saved", "").isdigit():
        notice = visit.t("rules_rolled_back").format(n=query["rolled_back"], m=query["saved"])
    elif query.get("saved", "").isdigit():
        notice = visit.t("rules_saved").format(n=query["saved"])
    descriptor = visit.connectors.descriptors.get(tenant.target)
    return render(visit, "rules.html", status, tenant=tenant, current=current,
                  system=str(getattr(descriptor, "title", None) or tenant.target),
                  number=current.version if current else 0, versions=listed, following=following,
                  editor=given or rows(tenant.rules, add), maps=MAPS, added=add,
                  editable=visit.user is not None and role_on(visit.user, tenant.id) in ("accountant", "owner"),
                  notice=notice, value=value, **{"errors": [], "preview": None, "diff": None, "stale": None, "reason": "",
                                    "based_on": current.version if current else 0, **extra})


def rules(visit: Visit) -> Response:
    return _page(visit)


def _based_on(visit: Visit) -> int | None:
    text = visit.form.get("based_on", "")
    return int(text) if text.isdigit() and len(text) <= 8 else None


def preview(visit: Visit) -> Response:
    """What the edited rules would do to every blocked and failed document and the newest others: nothing saved."""
    from pipeline.rules_preview import Tally
    from pipeline.rules_preview import preview as judge

    tenant, _ = versions.in_force(visit.stores.tables, visit.params["client"])
    edited, problems, given = parse(visit.form, tenant.rules)
    keep: dict[str, Any] = {"given": given, "reason": visit.form.get("reason", ""), "based_on": _based_on(visit)}
    if edited is None:
        return _page(visit, status=422, errors=problems, **keep)
    tally = Tally(keep=PREVIEW_SHOWN)
    for verdict in judge(visit.stores, visit.connectors, tenant, edited, recent=PREVIEW_RECENT):
        tally.add(verdict)
    return _page(visit, preview={**tally.as_dict(), "recent": PREVIEW_RECENT},
                 diff=versions.diff(tenant.rules, edited), **keep)


def save(visit: Visit) -> Response:
    """The edited rules as a new version, based on the version the editor showed: if another was saved meanwhile,
    409 with what changed meanwhile and what this change would do to the version in force."""
    tenant_id = visit.params["client"]
    tenant, current = versions.in_force(visit.stores.tables, tenant_id)
    edited, problems, given = parse(visit.form, tenant.rules)
    reason = visit.form.get("reason", "").strip()
    based_on = _based_on(visit)
    keep: dict[str, Any] = {"given": given, "reason": reason, "based_on": based_on}
    if edited is None:
        return _page(visit, status=422, errors=problems, **keep)
    if len(reason) < 3:
        return _page(visit, status=400, errors=[visit.t("reason_help")], **keep)
    try:
        saved = versions.save(visit.stores.tables, tenant_id, edited, based_on=based_on,
                              by=f"workspace {visit.who()}", reason=reason[:1000])
    except versions.Outdated as exc:
        return _stale(visit, exc, edited, keep)
    except ConfigError as exc:
        return _page(visit, status=422, errors=[exc.message], **keep)
    changes = versions.diff(tenant.rules, saved.rules)
    visit.audit("rules changed", client=tenant_id, subject=f"version {saved.version}", why=reason,
                summary=versions.summary(changes), diff=changes[:50])
    return redirect(visit, f"clients/{tenant_id}/rules", saved=str(saved.version))


def _stale(visit: Visit, exc: versions.Outdated, edited: Rules, keep: dict[str, Any]) -> Response:
    """The 409 of an edit based on a version no longer in force, as a page: what changed meanwhile, and this
    change against the version in force; the editor keeps the edit, now based on the version in force."""
    tenant, current = versions.in_force(visit.stores.tables, visit.params["client"])
    earlier = versions.get(visit.stores.tables, tenant.id, exc.based_on) if exc.based_on is not None else None
    meanwhile = versions.diff(earlier.rules, tenant.rules) if earlier is not None else []
    stale = {"message": visit.t("stale").format(current=exc.current, based_on=exc.based_on),
             "meanwhile": meanwhile}
    return _page(visit, status=409, stale=stale, diff=versions.diff(tenant.rules, edited),
                 **{**keep, "based_on": exc.current})


def version(visit: Visit) -> Response:
    """One version: what it changed against another (the one before it, or `against`) and its rules."""
    tenant_id = visit.params["client"]
    text = visit.params["version"]
    found = versions.get(visit.stores.tables, tenant_id, int(text)) if text.isdigit() and len(text) <= 8 else None
    against_text = visit.request.query.get("against", "")
    against = int(against_text) if against_text.isdigit() and len(against_text) <= 8 else None
    if found is None:
        from workspace.pages_session import problem

        return problem(visit, 404, "not_found")
    against = against if against is not None else found.version - 1
    earlier = versions.get(visit.stores.tables, tenant_id, against) if against >= 0 else None
    tenant, current = versions.in_force(visit.stores.tables, tenant_id)
    return render(visit, "rules_version.html", tenant=tenant, found=found, against=against if earlier else None,
                  diff=versions.diff(earlier.rules if earlier else Rules(), found.rules),
                  editor=rows(found.rules), maps=MAPS, number=current.version if current else 0, value=value,
                  editable=visit.user is not None and role_on(visit.user, tenant_id) in ("accountant", "owner"))


def rollback(visit: Visit) -> Response:
    """An earlier version's rules in force again, as a new version (with a reason); audited."""
    tenant_id = visit.params["client"]
    text = visit.params["version"]
    number = int(text) if text.isdigit() and len(text) <= 8 else None
    reason = visit.form.get("reason", "").strip()
    if number is None or versions.get(visit.stores.tables, tenant_id, number) is None:
        from workspace.pages_session import problem

        return problem(visit, 404, "not_found")
    if len(reason) < 3:
        return _page(visit, status=400, errors=[visit.t("reason_help")])
    try:
        saved = versions.rollback(visit.stores.tables, tenant_id, number, based_on=_based_on(visit),
                                  by=f"workspace {visit.who()}", reason=reason[:1000])
    except versions.Outdated as exc:
        earlier = versions.get(visit.stores.tables, tenant_id, number)
        assert earlier is not None
        return _stale(visit, exc, earlier.rules, {"given": None, "reason": reason})
    visit.audit("rules rolled back", client=tenant_id, subject=f"version {saved.version}", why=reason,
                rollback_of=number)
    return redirect(visit, f"clients/{tenant_id}/rules", rolled_back=str(number), saved=str(saved.version))
