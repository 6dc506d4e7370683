"""Every route of the workspace with the action it takes: the one list the router, workspace.access and the
isolation matrix test all read, so a route cannot be added without saying who may take it."""

from __future__ import annotations

from workspace import pages_clients as clients
from workspace import pages_connect as connect
from workspace import pages_dry_run as dry_run
from workspace import pages_history as history
from workspace import pages_people as people
from workspace import pages_problems as problems
from workspace import pages_rules as rules
from workspace import pages_session as session
from workspace.access import Route
from workspace.router import ROOT, Visit

ROUTES: tuple[Route, ...] = (
    Route("GET", "", "public", session.home),
    Route("GET", "static/{name}", "public", session.static),
    Route("GET", "login", "public", session.login_form),
    Route("POST", "login", "public", session.login),
    Route("GET", "reset/{token}", "public", session.reset_form),
    Route("POST", "reset/{token}", "public", session.reset),
    Route("GET", "login/totp", "second-factor", session.totp_form),
    Route("POST", "login/totp", "second-factor", session.totp_check),
    Route("GET", "login/enroll", "second-factor", session.enroll_form),
    Route("POST", "login/enroll", "second-factor", session.enroll),
    Route("POST", "logout", "signed-in", session.logout),
    Route("GET", "account/two-factor", "signed-in", session.enroll_form),
    Route("POST", "account/two-factor", "signed-in", session.enroll),
    Route("GET", "clients", "signed-in", clients.clients),
    Route("GET", "clients/{client}", "read", clients.client),
    Route("POST", "clients/{client}/facts", "operate", clients.save_facts),
    Route("POST", "clients/{client}/connection/test", "operate", clients.test_connection),
    Route("GET", "clients/{client}/connect", "operate", connect.pick),
    Route("GET", "clients/{client}/connect/{system}", "operate", connect.form),
    Route("POST", "clients/{client}/connect/{system}", "operate", connect.connect),
    Route("POST", "clients/{client}/switch/{system}/preview", "operate", connect.preview),
    Route("POST", "clients/{client}/switch/{system}", "operate", connect.switch),
    Route("POST", "clients/{client}/connections/{system}/remove", "operate", connect.remove_further),
    Route("POST", "clients/{client}/keys", "administer", clients.issue_key),
    Route("POST", "clients/{client}/keys/{key}/revoke", "administer", clients.revoke_key),
    Route("POST", "clients/{client}/keys/{key}/rotate", "administer", clients.rotate_key),
    Route("GET", "clients/{client}/documents", "read", history.history),
    Route("GET", "clients/{client}/documents/{id}", "read", history.document),
    Route("POST", "clients/{client}/documents/{id}/resend", "operate", history.resend),
    Route("POST", "clients/{client}/documents/{id}/retry", "operate", history.retry),
    Route("GET", "clients/{client}/field-map", "read", history.field_map),
    Route("GET", "clients/{client}/documents/{id}/original", "read", history.original),
    Route("GET", "problems", "signed-in", problems.all_problems),
    Route("GET", "clients/{client}/problems", "read", problems.problems),
    Route("GET", "clients/{client}/problems/{cause}", "read", problems.cause),
    Route("POST", "clients/{client}/problems/{cause}/retry", "operate", problems.retry),
    Route("GET", "clients/{client}/rules", "read", rules.rules),
    Route("POST", "clients/{client}/rules", "operate", rules.save),
    Route("POST", "clients/{client}/rules/preview", "read", rules.preview),  # changes nothing: a viewer may look
    Route("GET", "clients/{client}/rules/versions/{version}", "read", rules.version),
    Route("POST", "clients/{client}/rules/versions/{version}/rollback", "operate", rules.rollback),
    Route("GET", "clients/{client}/dry-run", "read", dry_run.form),
    Route("POST", "clients/{client}/dry-run", "read", dry_run.run),  # nothing delivered, nothing kept
    Route("GET", "audit", "org-admin", people.audit_log),
    Route("GET", "users", "org-admin", people.users),
    Route("POST", "users", "org-admin", people.add_user),
    Route("POST", "users/{email}/roles", "org-admin", people.set_role),
    Route("POST", "organisation", "org-admin", people.organisation),
)


def navigation(visit: Visit) -> list[tuple[str, str]]:
    """(href, label) of the main menu for this user: only pages they may open (a client's Rules and Dry run are in
    the client's own menu, _client_nav.html)."""
    if visit.user is None:
        return []
    items = [(f"{ROOT}/clients", visit.t("clients")), (f"{ROOT}/problems", visit.t("problems"))]
    if visit.user.org_owner:
        items += [(f"{ROOT}/users", visit.t("users")), (f"{ROOT}/audit", visit.t("audit"))]
    return items
