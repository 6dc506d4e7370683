"""The organisation's people and its record: users and their roles per client, the two-factor rule, and the audit
log — for the organisation's owners only (workspace.access: action `org-admin`)."""

from __future__ import annotations

from api.http import Response
from pipeline.errors import BilagsbroError
from pipeline.records.tenants import TenantRegistry
from workspace import audit
from workspace.identity import ROLES, IdentityError
from workspace.router import Visit, redirect, render


def audit_log(visit: Visit) -> Response:
    assert visit.user is not None
    entries, cursor = audit.page(visit.stores.tables, visit.user.org, cursor=visit.request.query.get("cursor") or None)
    return render(visit, "audit.html", entries=entries, cursor=cursor)


def _clients(visit: Visit) -> list[tuple[str, str]]:
    assert visit.user is not None
    registry = TenantRegistry(visit.stores.tables)
    named = []
    for client in visit.directory.clients(visit.user.org):
        try:
            named.append((client, registry.get(client).name))
        except BilagsbroError:
            continue
    return sorted(named, key=lambda c: c[1].lower())


def users(visit: Visit, notice: str = "", link: str = "", error: str = "", status: int = 200) -> Response:
    assert visit.user is not None
    org = visit.directory.organisation(visit.user.org)
    return render(visit, "users.html", status, users=sorted(visit.directory.users(visit.user.org), key=lambda u: u.email),
                  clients=_clients(visit), roles=ROLES, org=org, notice=notice, link=link, error=error)


def add_user(visit: Visit) -> Response:
    """A new user of the organisation, without a password: the answer shows a one-time link to set one."""
    from workspace.pages_session import reset_link

    assert visit.user is not None
    try:
        made = visit.directory.add_user(visit.user.org, visit.form.get("email", ""), name=visit.form.get("name", ""),
                                        org_owner=visit.form.get("org_owner") == "on")
    except IdentityError as exc:
        return users(visit, error=str(exc), status=400)
    visit.audit("user added", subject=made.email, why=visit.form.get("reason", ""), org_owner=made.org_owner)
    return users(visit, link=reset_link(visit.stores.tables, made.email, visit.request.base_url), status=201)


def set_role(visit: Visit) -> Response:
    """A role on one client (or none): the client must be the organisation's (Directory.set_role checks)."""
    email = visit.params["email"]
    client = visit.form.get("client", "")
    role = visit.form.get("role", "") or None
    reason = visit.form.get("reason", "").strip()[:1000]
    if len(reason) < 3:  # as resends and key changes: a role change says why, in the audit log
        return users(visit, error=visit.t("reason_help"), status=400)
    before = visit.directory.user(email)
    try:
        after = visit.directory.set_role(email, client, role)
    except IdentityError as exc:
        return users(visit, error=str(exc), status=400)
    visit.audit("role changed", client=client, subject=email, why=reason,
                before=before.role(client) if before else None, after=after.role(client))
    return redirect(visit, "users")


def organisation(visit: Visit) -> Response:
    """The organisation's rule that its owners must sign in with two-factor."""
    import dataclasses

    assert visit.user is not None
    org = visit.directory.organisation(visit.user.org)
    assert org is not None
    required = visit.form.get("require_totp_for_owners") == "on"
    visit.directory.set_organisation(dataclasses.replace(org, require_totp_for_owners=required))
    visit.audit("two-factor rule changed", subject=org.id, why=visit.form.get("reason", ""),
                before=org.require_totp_for_owners, after=required)
    return redirect(visit, "users")
