"""The connect and switch wizards of a client's accounting system, built from the descriptor registry and run on
the same backend as the admin API: pipeline.records.connections (change, companies, stage), pipeline.switching
(preview, switch).

Pick a system → a form of the credentials and settings its descriptor declares, in the customer's words
(workspace.connect_words) → the connection test, green or red → saved only when green. Credentials go straight to
the secret store (`stage`), so a red test or a company to pick never asks for them twice and they are never put in
a page; the audit row names which credentials changed, never their values. A client connected elsewhere gets the
switch instead: the preview of its last 90 days in the new system, then the switch with a reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin

from api.http import Response
from pipeline.descriptors import TargetDescriptor
from pipeline.errors import BilagsbroError, ConfigError
from pipeline.ports import NotFound
from pipeline.records import platform
from pipeline.records.names import QUEUE_TRANSLATED
from pipeline.records.tenants import Tenant, TenantRegistry
from workspace.connect_words import WORDS, help_of, words
from workspace.pages_clients import connected
from workspace.pages_session import problem
from workspace.router import Visit, redirect, render

MANAGED = ("secrets", "facts", "direct_posting")


@dataclass
class Input:
    """One field of the wizard's form."""

    name: str  # the form's name: s_<setting> or c_<credential>
    key: str
    kind: str  # secret | text | number | check | select | pick
    label: str
    help: str
    required: bool
    value: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    kept: bool = False  # a secret: one is stored already (leave empty to keep it)
    advanced: bool = False
    problem: str = ""


def _descriptor(visit: Visit) -> TargetDescriptor | None:
    found = visit.connectors.descriptors.get(visit.params.get("system", ""))
    return found if isinstance(found, TargetDescriptor) and found.name in visit.connectors.targets else None


def _targets(visit: Visit) -> list[TargetDescriptor]:
    return [d for d in visit.connectors.descriptors.values()
            if isinstance(d, TargetDescriptor) and d.name in visit.connectors.targets]


def _mode(tenant: Tenant, system: str, further: bool) -> str:
    """connect (not connected, or new settings of the system in force), further (beside it), or switch."""
    if further and system != tenant.target:
        return "further"
    if not connected(tenant) or system == tenant.target:
        return "connect"
    return "switch"


def _kind(annotation: Any) -> tuple[str, list[str]]:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is not None and get_origin(annotation) is not Literal and len(args) == 1:
        annotation = args[0]  # X | None
    if get_origin(annotation) is Literal:
        return "select", [str(a) for a in get_args(annotation)]
    if annotation is bool:
        return "check", []
    if annotation in (int, float):
        return "number", []
    if annotation is str or get_origin(annotation) is list:
        return "text", []
    return "", []  # a mapping (account maps, tax rules): set with the CLI or the admin API


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _current(tenant: Tenant, system: str, mode: str) -> dict[str, Any]:
    if mode == "connect" and system == tenant.target:
        return dict(tenant.target_settings)
    return dict((tenant.connections.get(system) or {}).get("settings") or {})


def inputs(visit: Visit, descriptor: TargetDescriptor, tenant: Tenant, mode: str, *,
           given: dict[str, str] | None = None, choices: list[dict[str, Any]] | None = None,
           problems: dict[str, str] | None = None) -> list[Input]:
    """The form's fields, in the order the descriptor declares them: its credentials, then its settings."""
    from pipeline.records.connections import staged_names

    own = _current(tenant, descriptor.name, mode)
    current = platform.fill(visit.stores.secrets, descriptor, own)
    # The integration's, set by our operator (filled in where the connection has none of its own): not asked.
    ours = {key for key, name in current["secrets"].items()
            if key not in (own.get("secrets") or {}) and name == platform.platform_name(descriptor.name, key)}
    kept = {**(current.get("secrets") or {}), **staged_names(tenant, descriptor.name)}
    given, problems = given or {}, problems or {}
    found: list[Input] = []
    for secret in descriptor.secrets:
        if secret.name in (descriptor.consent_gives if descriptor.consent else ()):
            continue
        label, where = words(descriptor.name, secret.name, visit.lang, fallback=(secret.label, secret.where))
        if secret.name in ours:  # Bilagsbro's own, set once by our operator: only a firm with its own gives one
            where = visit.t("platform_secret")
        found.append(Input(f"c_{secret.name}", secret.name, "secret", label, where,
                           secret.required and secret.name not in kept, kept=secret.name in kept,
                           advanced=secret.name in ours, problem=problems.get(f"credentials.{secret.name}", "")))
    for name, info in descriptor.settings.model_fields.items():
        if name in MANAGED:
            continue
        kind, options = _kind(info.annotation)
        if not kind:
            continue
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        if kind == "check" and visit.form.get("_checks") == "1":  # as sent: an unticked box is not in the form
            value = "on" if visit.form.get(f"s_{name}") == "on" else ""
        else:
            value = given[name] if name in given else _shown(current.get(name, default))
        label, where = words(descriptor.name, name, visit.lang,
                             fallback=(name.replace("_", " ").capitalize(), help_of(descriptor, name)))
        entry = Input(f"s_{name}", name, kind, label, where, info.is_required(), value or "",
                      [(o, o) for o in options], problem=problems.get(f"settings.{name}", ""),
                      advanced=not info.is_required() and (descriptor.name, name) not in WORDS)
        if name == descriptor.picks:
            entry.advanced = False
            if choices:
                entry.kind = "pick"
                entry.choices = [(str(c.get("value")), f"{c.get('name')} ({c.get('value')}"
                                  + (f", {c['organization_number']}" if c.get("organization_number") else "") + ")")
                                 for c in choices]
        found.append(entry)
    return found


def _read(descriptor: TargetDescriptor, visit: Visit) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The form's settings as the system's model types them (only those given), its credentials, and the problems
    (field → message) of settings the model refuses."""
    values: dict[str, Any] = {}
    for name, info in descriptor.settings.model_fields.items():
        kind = _kind(info.annotation)[0]
        if name in MANAGED or not kind:
            continue
        text = visit.form.get(f"s_{name}", "").strip()
        if kind == "check":
            if visit.form.get("_checks") == "1":  # the form had its boxes: one not sent is unticked
                values[name] = text == "on"
        elif text or (info.is_required() and f"s_{name}" in visit.form):
            values[name] = text
    credentials = {s.name: visit.form.get(f"c_{s.name}", "").strip() for s in descriptor.secrets}
    credentials = {k: v for k, v in credentials.items() if v}
    try:  # the integration's own settings (set once by the operator) count as given; the connection fills them in
        model = descriptor.settings.read({**platform.settings(visit.stores.secrets, descriptor), **values},
                                         connector=descriptor.name)
    except ConfigError as exc:
        return {}, credentials, {p.field or "": p.message for p in exc.problems}
    typed = model.model_dump(mode="json", include=set(values))
    return typed, credentials, {}


def pick(visit: Visit) -> Response:
    """Step 1: which system (every accounting system in the registry)."""
    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    further = visit.request.query.get("further") == "1"
    systems = [(d.name, d.title, _mode(tenant, d.name, further)) for d in _targets(visit)
               if not (further and d.name == tenant.target)]
    return render(visit, "connect_pick.html", tenant=tenant, systems=systems, further=further,
                  current=tenant.target if connected(tenant) else "")


def form(visit: Visit, *, status: int = 200, error: dict[str, Any] | None = None, problems: dict[str, str] | None = None,
         choices: list[dict[str, Any]] | None = None, link: dict[str, Any] | None = None) -> Response:
    """Step 2: the credentials and settings of the chosen system."""
    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    descriptor = _descriptor(visit)
    if descriptor is None:
        return problem(visit, 404, "not_found")
    further = (visit.request.query.get("further") or visit.form.get("further")) == "1"
    mode = _mode(tenant, descriptor.name, further)
    given = {k.removeprefix("s_"): v for k, v in visit.form.items() if k.startswith("s_")}
    fields = inputs(visit, descriptor, tenant, mode, given=given, choices=choices, problems=problems)
    direct = (visit.form.get("direct_posting") == "on") if visit.form else bool(
        _current(tenant, descriptor.name, mode).get("direct_posting"))
    return render(visit, "connect_form.html", status, tenant=tenant, system=descriptor, mode=mode, further=further,
                  fields=[f for f in fields if not f.advanced], advanced=[f for f in fields if f.advanced],
                  error=error, reason=visit.form.get("reason", ""), direct_posting=direct, link=link,
                  drafts=descriptor.accepts.drafts, choices=choices or [])


def _red(visit: Visit, check: dict[str, Any]) -> dict[str, Any]:
    """A failed test in the customer's words: what it means, then the system's own message."""
    error = check.get("error") or {}
    status = error.get("status")
    if status in (401, 403):
        headline = "red_credentials"
    elif error.get("kind") in ("TransientError", "OutcomeUnknown") or (isinstance(status, int) and status >= 500):
        headline = "red_unreachable"
    else:
        headline = "red_other"
    return {"headline": visit.t(headline), "message": str(error.get("message") or ""),
            "provider": str(error.get("provider_message") or "")}


def _reason(visit: Visit) -> str:
    return visit.form.get("reason", "").strip()[:1000]


def connect(visit: Visit) -> Response:
    """Step 3: the connection test with what was given; saved (in force) only when it is green."""
    from pipeline.records.connections import change, companies, stage, staged

    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    descriptor = _descriptor(visit)
    if descriptor is None:
        return problem(visit, 404, "not_found")
    further = visit.form.get("further") == "1"
    mode = _mode(tenant, descriptor.name, further)
    if mode == "switch":
        return form(visit, status=409, error={"headline": visit.t("use_switch"), "message": ""})
    if len(_reason(visit)) < 3:
        return form(visit, status=400, problems={"reason": visit.t("reason_help")},
                    error={"headline": visit.t("reason_help"), "message": ""})
    settings, credentials, refused = _read(descriptor, visit)
    if refused:
        return form(visit, status=422, problems=refused, error={"headline": visit.t("fix_fields"), "message": ""})
    if credentials:
        stage(visit.stores, tenant.id, descriptor.name, credentials)
    if descriptor.consent is not None:
        return _consent(visit, descriptor, tenant, settings, credentials)
    given = staged(visit.stores, tenant.id, descriptor.name)
    kept = platform.fill(visit.stores.secrets, descriptor, _current(tenant, descriptor.name, mode))["secrets"]
    missing = {f"credentials.{s.name}": visit.t("required") for s in descriptor.secrets
               if s.required and s.name not in given and s.name not in kept}
    if missing:
        return form(visit, status=422, problems=missing, error={"headline": visit.t("fix_fields"), "message": ""})
    if descriptor.picks and settings.get(descriptor.picks) is None and not _current(
            tenant, descriptor.name, mode).get(descriptor.picks):
        try:
            listed = companies(visit.stores, visit.connectors, tenant.id, descriptor.name, settings=settings,
                               credentials=given)
        except BilagsbroError as exc:
            return form(visit, status=422, error=_red(visit, {"error": exc.context()}))
        return form(visit, choices=list(listed["companies"]))
    try:
        outcome = change(visit.stores, visit.connectors, tenant.id, descriptor.name, settings=settings,
                         credentials=given, direct_posting=visit.form.get("direct_posting") == "on", further=further)
    except BilagsbroError as exc:
        return form(visit, status=422, error=_red(visit, {"error": exc.context()}),
                    problems={p.field or "": p.message for p in exc.problems})
    if mode == "connect":
        visit.directory.store_check(tenant.id, outcome.check)
    visit.audit("connection changed" if outcome.activated else "connection refused by its test", client=tenant.id,
                subject=descriptor.name, why=_reason(visit), ok=outcome.activated, further=further,
                credentials_changed=sorted(credentials), settings={k: v for k, v in settings.items()})
    if not outcome.activated:
        return form(visit, status=422, error=_red(visit, outcome.check))
    return redirect(visit, f"clients/{tenant.id}", notice="connected")


def _consent(visit: Visit, descriptor: TargetDescriptor, tenant: Tenant, settings: dict[str, Any],
             credentials: dict[str, str]) -> Response:
    """A system the customer connects by consent (Fortnox): a hosted onboarding link instead of their credentials."""
    from pipeline.records.connections import staged

    assert descriptor.consent is not None
    given = {**staged(visit.stores, tenant.id, descriptor.name), **credentials}
    try:
        link = descriptor.consent(visit.stores, tenant.id, settings, given, visit.request.base_url)
    except BilagsbroError as exc:
        return form(visit, status=422, error=_red(visit, {"error": exc.context()}),
                    problems={p.field or "": p.message for p in exc.problems})
    visit.audit("consent link made", client=tenant.id, subject=descriptor.name, why=_reason(visit),
                expires=link.get("expires"), credentials_changed=sorted(credentials))
    return form(visit, status=201, link=link)


def preview(visit: Visit) -> Response:
    """The switch, step 3: the new system tested with what was given, and what it would make of the last 90 days."""
    from pipeline.records.connections import companies, stage, staged
    from pipeline.switching import preview as switch_preview

    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    descriptor = _descriptor(visit)
    if descriptor is None or _mode(tenant, descriptor.name, False) != "switch":
        return problem(visit, 404, "not_found")
    settings, credentials, refused = _read(descriptor, visit)
    if refused:
        return form(visit, status=422, problems=refused, error={"headline": visit.t("fix_fields"), "message": ""})
    if credentials:
        stage(visit.stores, tenant.id, descriptor.name, credentials)
    given = staged(visit.stores, tenant.id, descriptor.name)
    try:
        if descriptor.picks and settings.get(descriptor.picks) is None:
            listed = companies(visit.stores, visit.connectors, tenant.id, descriptor.name, settings=settings,
                               credentials=given)
            return form(visit, choices=list(listed["companies"]))
        wanted = {**settings, "direct_posting": visit.form.get("direct_posting") == "on"}
        found = switch_preview(visit.stores, visit.connectors, tenant.id, descriptor.name, settings=wanted,
                               credentials=given)
    except BilagsbroError as exc:
        return form(visit, status=422, error=_red(visit, {"error": exc.context()}),
                    problems={p.field or "": p.message for p in exc.problems})
    if not found["connection"]["ok"]:
        return form(visit, status=422, error=_red(visit, found["connection"]))
    visit.audit("switch previewed", client=tenant.id, subject=descriptor.name, checked=(found.get("documents") or {})
                .get("checked"), credentials_changed=sorted(credentials))
    old = visit.connectors.descriptors.get(tenant.target)
    return render(visit, "switch_preview.html", tenant=tenant, system=descriptor, preview=found,
                  from_title=getattr(old, "title", tenant.target), hidden=_hidden(settings),
                  direct_posting=visit.form.get("direct_posting") == "on",
                  resend_from=dt.date.today().replace(day=1).isoformat())


def _hidden(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """The settings as the switch form carries them on (as the connect form sends them; never a credential)."""
    return [(k, ("on" if v else "") if isinstance(v, bool) else _shown(v)) for k, v in settings.items()
            if v is not None and not isinstance(v, dict)]


def switch(visit: Visit) -> Response:
    """The switch, step 4: through pipeline.switching.switch (tested again; the old connection kept read-only; the
    open period resent when asked). A reason is required and kept in the audit log."""
    from pipeline.records.connections import staged
    from pipeline.switching import switch as do_switch

    tenant = TenantRegistry(visit.stores.tables).get(visit.params["client"])
    descriptor = _descriptor(visit)
    if descriptor is None or _mode(tenant, descriptor.name, False) != "switch":
        return problem(visit, 404, "not_found")
    reason = _reason(visit)
    settings, _, refused = _read(descriptor, visit)
    if refused or len(reason) < 3:
        return form(visit, status=400, problems=refused or {"reason": visit.t("reason_help")},
                    error={"headline": visit.t("reason_help") if not refused else visit.t("fix_fields"), "message": ""})
    resend_from = None
    if visit.form.get("resend") == "on":
        try:
            resend_from = dt.date.fromisoformat(visit.form.get("resend_from", ""))
        except ValueError:
            return form(visit, status=400, error={"headline": visit.t("bad_date"), "message": ""})
    try:
        done = do_switch(visit.stores, visit.connectors, tenant.id, descriptor.name, by=f"workspace {visit.who()}",
                         reason=reason, settings=settings, credentials=staged(visit.stores, tenant.id, descriptor.name),
                         direct_posting=visit.form.get("direct_posting") == "on", resend_from=resend_from)
    except BilagsbroError as exc:
        return form(visit, status=422, error=_red(visit, {"error": exc.context()}))
    resent = done.get("resend") or {}
    messages = resent.pop("envelopes", [])
    visit.audit("accounting system switched" if done["switched"] else "switch refused by the connection test",
                client=tenant.id, subject=descriptor.name, why=reason, switched=done["switched"], **{"from": done["from"]},
                kept_read_only=done.get("kept_read_only"), resend=resent or None)
    if not done["switched"]:
        return form(visit, status=422, error=_red(visit, done["check"]))
    visit.directory.store_check(tenant.id, done["check"])
    answer = redirect(visit, f"clients/{tenant.id}", notice="switched")
    if messages:
        answer.messages = {QUEUE_TRANSLATED: messages}
    return answer


def remove_further(visit: Visit) -> Response:
    """A further connection (beside the primary, or kept read-only after a switch) removed, with a reason."""
    from pipeline.records.connections import disconnect
    from workspace.pages_clients import client

    tenant_id, system = visit.params["client"], visit.params["system"]
    reason = _reason(visit)
    if len(reason) < 3:
        return client(visit, error=visit.t("reason_help"), status=400)
    try:
        disconnect(visit.stores, tenant_id, system)
    except NotFound:
        return client(visit, error=visit.t("not_found"), status=404)
    except ConfigError as exc:
        return client(visit, error=exc.message, status=409)
    visit.audit("further connection removed", client=tenant_id, subject=system, why=reason)
    return redirect(visit, f"clients/{tenant_id}", notice="saved")
