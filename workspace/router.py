"""The workspace's front door: one request in, one page out, with identity, CSRF and access decided first.

function_app.py hands every request under /api/app/ to `handle`. It finds the route (workspace.routes), reads the
session cookie (or, only where the app setting WORKSPACE_APP_SERVICE_AUTH is true, App Service authentication's
Entra headers), checks the CSRF token of every non-GET, asks workspace.access whether this user may take this
route with these parameters, and only then runs the handler.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from api.http import Request, Response
from workspace import access, audit
from workspace.identity import Directory, User
from workspace.sessions import Session, Sessions, app_service_principal, cookie, csrf_ok, read_cookie
from workspace.texts import LANGUAGES, date, moment, money, text

if TYPE_CHECKING:
    from pipeline.ports import Stores
    from pipeline.registry import Connectors

ROOT = "/api/app"
HTML = "text/html; charset=utf-8"
LANG_COOKIE = "bb_lang"
MAX_FORM = 64 * 1024
APP_SERVICE_AUTH = "WORKSPACE_APP_SERVICE_AUTH"
_TEMPLATES = Path(__file__).parent / "templates"
_environment: list[Any] = []


def app_service_auth_on(environ: Mapping[str, str] | None = None) -> bool:
    return (environ if environ is not None else os.environ).get(APP_SERVICE_AUTH, "").lower() == "true"


@dataclass
class Visit:
    """Everything a page handler gets: the request, who is asking, the route's parameters and the form."""

    stores: Stores
    connectors: Connectors
    request: Request
    params: dict[str, str]
    form: dict[str, str]
    session: Session | None
    user: User | None
    lang: str
    headers: dict[str, str] = field(default_factory=dict)  # extra answer headers (Set-Cookie)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # a multipart form's files: name → (file, data)

    @property
    def directory(self) -> Directory:
        return Directory(self.stores.tables)

    def t(self, key: str) -> str:
        return text(self.lang, key)

    def who(self) -> str:
        return self.user.email if self.user else "anonymous"

    def audit(self, action: str, *, client: str = "", subject: str = "", why: str = "", **detail: Any) -> None:
        assert self.user is not None
        audit.record(self.stores.tables, self.user.org, who=self.user.email, action=action, client=client,
                     subject=subject, why=why, detail=detail)


def _jinja() -> Any:
    if not _environment:
        import jinja2

        env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters.update(money=money, date=date, moment=moment)
        _environment.append(env)
    return _environment[0]


def render(visit: Visit, template: str, http_status: int = 200, /, **values: Any) -> Response:
    from workspace.routes import navigation

    page = _jinja().get_template(template).render(
        t=visit.t, lang=visit.lang, root=ROOT, user=visit.user, csrf=visit.session.csrf if visit.session else "",
        nav=navigation(visit), path=visit.request.path_params.get("path", ""), **values)
    headers = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
               "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
               "X-Content-Type-Options": "nosniff", **visit.headers}
    return Response(http_status, page, headers=headers, content_type=HTML)


def redirect(visit: Visit, to: str, **query: str) -> Response:
    location = f"{ROOT}/{to}".rstrip("/") + (f"?{urlencode(query)}" if query else "")
    return Response(303, b"", headers={"Location": location, "Cache-Control": "no-store", **visit.headers},
                    content_type=HTML)


def _form(request: Request) -> dict[str, Any]:
    """The form's fields (text); a multipart form's files under "\\0files" (workspace/uploads.py)."""
    if request.method == "GET" or not request.body:
        return {}
    if "multipart/form-data" in request.headers.get("content-type", ""):
        from workspace.uploads import fields

        return fields(request)
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    return dict(parse_qsl(request.body[:MAX_FORM].decode("utf-8", "replace"), keep_blank_values=True))


def _identify(stores: Stores, request: Request, directory: Directory) -> tuple[Session | None, User | None, str]:
    """The session and user of this request, and a Set-Cookie header when one was just started (Entra)."""
    sessions = Sessions(stores.tables)
    token = read_cookie(request.headers.get("cookie", ""))
    session = sessions.get(token) if token else None
    user = directory.user(session.email) if session and session.email else None
    if user is not None and session is not None and user.sessions_valid_after:
        session = sessions.get(token, valid_after=user.sessions_valid_after)
        user = user if session else None
    if app_service_auth_on():
        principal = app_service_principal(dict(request.headers))
        if principal is not None:
            found = directory.user(principal[0])
            org = directory.organisation(found.org) if found else None
            trusted = found is not None and org is not None and org.entra_tenant_id == principal[1]
            if not trusted:
                return None, None, ""
            assert found is not None
            if session is None or session.email != found.email or not session.signed_in:
                session = sessions.start(email=found.email, org=found.org, stage="full", via="entra")
                return session, found, cookie(session.token)
            return session, found, ""
    return session, user, ""


def handle(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """One request of the workspace. A refusal (4xx) is a page for a browser and the API's JSON error for anything
    that does not accept HTML, as the onboarding pages do."""
    answer = _handle(stores, connectors, request)
    if answer.status >= 400 and "text/html" not in request.headers.get("accept", "text/html"):
        from api.http import error

        return error(answer.status, {401: "sign in first", 403: "not allowed", 404: "not found",
                                     405: "method not allowed", 409: "conflict", 410: "gone",
                                     429: "too many attempts"}.get(answer.status, "refused"))
    return answer


def _handle(stores: Stores, connectors: Connectors, request: Request) -> Response:
    from workspace import pages_session
    from workspace.routes import ROUTES

    path = request.path_params.get("path", "").strip("/")
    directory = Directory(stores.tables)
    lang = request.query.get("lang") or read_cookie(request.headers.get("cookie", ""), LANG_COOKIE)
    lang = lang if lang in LANGUAGES else "nb"
    if request.query.get("lang") in LANGUAGES and request.method == "GET":  # the switch: remember, then show
        rest = {k: v for k, v in request.query.items() if k != "lang"}
        return Response(303, b"", content_type=HTML, headers={
            "Location": f"{ROOT}/{path}".rstrip("/") + (f"?{urlencode(rest)}" if rest else ""),
            "Set-Cookie": f"{LANG_COOKIE}={lang}; Path=/; Secure; SameSite=Lax; Max-Age=31536000"})
    session, user, set_cookie = _identify(stores, request, directory)
    form = _form(request)
    files = form.pop("\0files", {})
    visit = Visit(stores, connectors, request, {}, form, session,
                  user if session is not None and session.signed_in else None, lang, files=files)
    if set_cookie:
        visit.headers["Set-Cookie"] = set_cookie
    allowed: set[str] = set()
    for route in ROUTES:
        params = route.match(path)
        if params is None:
            continue
        if route.method != request.method:
            allowed.add(route.method)
            continue
        visit.params = params
        if request.method != "GET" and not csrf_ok(session, visit.form.get("csrf", "")):
            return pages_session.problem(visit, 403, "csrf")
        refused = access.refusal(route, visit.user, params, directory, stage=session.stage if session else "")
        if refused is not None:
            if refused.status == 401:
                return redirect(visit, "login")
            return pages_session.problem(visit, refused.status, "not_found" if refused.status == 404 else "forbidden")
        answer: Response = route.handler(visit)
        return answer
    if allowed:
        return Response(405, b"", headers={"Allow": ", ".join(sorted(allowed))}, content_type=HTML)
    return pages_session.problem(visit, 404, "not_found")
