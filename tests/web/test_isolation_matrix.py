"""The isolation matrix: every workspace route, enumerated from the router's own table (so a new route cannot
escape it) × {a user of another organisation, a user of the same organisation without a role on that client, a
viewer attempting a change} → 0 leaks (no client data in the answer) and 0 changes (storage as it was).

A positive control runs each case as the client's owner too: the same request then does show the data or make the
change, so a check that could never fail would be caught here.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from pipeline.records.names import TABLE_SESSIONS
from tests.web.support import World, world
from workspace.access import CHANGES, CLIENT_ACTIONS
from workspace.routes import ROUTES

PERSONAS = ("other_org", "no_role", "viewer")
GUARDED = set(CLIENT_ACTIONS) | {"org-admin"}


@pytest.fixture(scope="module")
def built() -> World:
    return world()


def _path(route: Any, w: World) -> str:
    values = {"client": w.a1, "id": w.pending if route.pattern.endswith("/retry") else w.document, "key": w.key, "email": w.users["viewer"], "token": "x" * 43,
              "name": "app.css", "cause": w.cause, "version": "0",
              # the connect wizard: a1's own system (file); the switch and a further connection: another one
              "system": "file" if "connect" in route.pattern.split("/") else "visma-business-file"}
    path = route.pattern
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


FORMS = {
    "clients/{client}/facts": {"name": "Overtatt AS", "organization_number": "", "fiscal_year_start": "5"},
    "clients/{client}/documents/{id}/resend": {"reason": "prøver å sende andres bilag", "force": "on"},
    "clients/{client}/documents/{id}/retry": {"reason": "prøver igjen"},
    "clients/{client}/keys": {"label": "innbrudd", "reason": "vil inn"},
    "clients/{client}/keys/{key}/revoke": {"reason": "stenger ute eieren"},
    "clients/{client}/keys/{key}/rotate": {"reason": "tar over nøkkelen"},
    "users": {"email": "ny@aerlig.example", "name": "Ny", "org_owner": "on"},
    "users/{email}/roles": {"client": "", "role": "owner", "reason": "gir meg selv alt"},  # client filled in per case
    "organisation": {"require_totp_for_owners": "on"},
    "clients/{client}/connect/{system}": {"reason": "tar over klienten", "_checks": "1"},
    "clients/{client}/switch/{system}/preview": {"_checks": "1"},
    "clients/{client}/switch/{system}": {"reason": "bytter for andre", "_checks": "1"},
    "clients/{client}/connections/{system}/remove": {"reason": "fjerner andres tilkobling"},
    "clients/{client}/problems/{cause}/retry": {"reason": "prøver alle igjen"},
    "clients/{client}/rules": {"based_on": "1", "reason": "3999 er 3000", "account_map.0.from": "3999",
                               "account_map.0.to": "3000"},
    "clients/{client}/rules/preview": {"based_on": "1", "account_map.0.from": "3999", "account_map.0.to": "3000"},
    "clients/{client}/rules/versions/{version}/rollback": {"based_on": "1", "reason": "tilbake til start"},
    "clients/{client}/dry-run": {"format": "shared-form", "offset": "1"},
}
# A file for the dry run (a POST that reads): what a bookkeeper would upload, with æøå in it.
FILES = {"clients/{client}/dry-run": {"file": ("prøve-æøå.json", json.dumps(
    {"type": "voucher", "reference": "PRØVE-1", "date": "2026-11-20", "description": "Prøve – blåbær",
     "lines": [{"account": "1920", "amount": "100.00"}, {"account": "3000", "amount": "-100.00", "vat_code": "3"}]},
    ensure_ascii=False).encode("utf-8"))}}


def _snapshot(w: World) -> dict[Any, Any]:
    """Every table and blob, less the sessions table (signing in and being seen are not changes of data)."""
    tables = {k: {kk: vv for kk, vv in v.items() if kk != "etag"} for k, v in w.stores.tables.rows.items()
              if k[0] != TABLE_SESSIONS}
    return copy.deepcopy({"tables": tables, "blobs": dict(w.stores.blobs.blobs)})


def _snapshot_of_a(w: World) -> dict[Any, Any]:
    """Only what belongs to organisation A: rows whose keys or organisation name A, its clients or its users."""
    marks = (w.org_a, w.a1, w.a2, *[e for p, e in w.users.items() if p != "other_org"])
    full = _snapshot(w)
    tables = {k: v for k, v in full["tables"].items()
              if any(m in str(k[1]) or m in str(k[2]) or m == v.get("Org") for m in marks)}
    return {"tables": tables, "blobs": {k: v for k, v in full["blobs"].items() if w.a1 in k[1] or w.a2 in k[1]}}


def _case(route: Any, persona: str) -> bool:
    """A viewer may read what it has a role on: for a viewer only the changes (and other people's pages) count. A
    POST that only reads (a preview, a dry run) is the viewer's to take: test_a_viewer_reading_by_post_changes_nothing."""
    return not (persona == "viewer" and (route.method == "GET" or route.action == "read")
                and route.action in (*CLIENT_ACTIONS, "signed-in"))


CASES = [(route, persona) for route in ROUTES for persona in PERSONAS if _case(route, persona)]


def test_every_route_is_in_the_matrix_with_an_action_that_says_who_may_take_it() -> None:
    patterns = {(r.method, r.pattern) for r in ROUTES}
    assert len(patterns) == len(ROUTES)  # no route declared twice
    guarded = [r for r in ROUTES if r.action in GUARDED]
    assert {r.pattern for r in guarded} >= {"clients/{client}", "clients/{client}/documents/{id}", "audit", "users"}
    # every route naming a client or a user is guarded by a client or organisation action
    assert all(r.action in GUARDED for r in ROUTES if "{client}" in r.pattern or "{email}" in r.pattern)


def _request(w: World, persona: str, route: Any) -> Any:
    browser = w.browser(persona)
    form = dict(FORMS.get(route.pattern, {}))
    if route.pattern == "users/{email}/roles":
        form["client"] = w.a1
    path = _path(route, w)
    return browser.request(route.method, path, form if route.method == "POST" else None,
                           files=FILES.get(route.pattern) if route.method == "POST" else None)


@pytest.mark.parametrize(("route", "persona"), CASES, ids=[f"{r.method} {r.pattern} × {p}" for r, p in CASES])
def test_no_leak_and_no_change(built: World, route: Any, persona: str) -> None:
    w = built
    own_org = persona == "other_org" and route.action == "org-admin" and "{email}" not in route.pattern
    snapshot = _snapshot_of_a if own_org else _snapshot  # B's owner may run B's organisation: A must not change
    before = snapshot(w)
    answer = _request(w, persona, route)
    body = answer.encoded().decode("utf-8", "replace")
    leaked = [text for text in w.secrets_of_a if text in body]
    if route.action in GUARDED or route.action == "signed-in":
        assert leaked == [], f"{persona} saw {leaked} on {route.method} {route.pattern}"
    if own_org:
        assert snapshot(w) == before, f"{persona} changed organisation A's data with {route.method} {route.pattern}"
    elif route.action in GUARDED:
        assert answer.status in (403, 404), (answer.status, body[:300])
        assert snapshot(w) == before, f"{persona} changed storage with {route.method} {route.pattern}"
        assert answer.messages == {} or all(not m for m in answer.messages.values())


@pytest.mark.parametrize("route", [r for r in ROUTES if r.action in GUARDED], ids=lambda r: f"{r.method} {r.pattern}")
def test_the_owner_of_the_client_does_get_through_so_the_matrix_can_fail(route: Any) -> None:
    w = world()  # its own world: these change things
    before = _snapshot(w)
    answer = _request(w, "owner", route)
    body = answer.encoded().decode("utf-8", "replace")
    assert answer.status in (200, 201, 303), (answer.status, body[:500])
    if route.method == "GET" and route.pattern.endswith("/original"):  # the bytes as received, as a download
        assert "HEMMELIG-ØRE-1" in body and answer.headers["Content-Disposition"].startswith("attachment;")
    elif route.method == "GET" and "{client}" in route.pattern:
        assert "Fjellbakeriet" in body
    if route.method == "POST" and route.action in CHANGES:
        assert _snapshot(w) != before, f"the owner's {route.pattern} changed nothing: the matrix could not see a change"
    if route.method == "POST" and route.action == "read":
        assert _snapshot(w) == before, f"{route.pattern} only reads, yet it changed storage"


@pytest.mark.parametrize("route", [r for r in ROUTES if r.method == "POST" and r.action == "read"],
                         ids=lambda r: f"{r.method} {r.pattern}")
def test_a_viewer_reading_by_post_changes_nothing(route: Any) -> None:
    """A preview of rules and a dry run are POSTs that only read: a viewer gets the answer, and nothing changes."""
    w = world()
    before = _snapshot(w)
    answer = _request(w, "viewer", route)
    assert answer.status == 200, answer.encoded()[:500]
    assert "Fjellbakeriet" in answer.encoded().decode("utf-8")
    assert _snapshot(w) == before and not any(answer.messages.values())
