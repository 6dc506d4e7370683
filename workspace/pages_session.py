"""Signing in and out: password, the second factor (and setting it up), one-time reset links; error pages.

A wrong e-mail and a wrong password get the same answer in the same time; each failure counts against the account
(MAX_FAILURES → locked for LOCKOUT) and the client address (IP_FAILURES in IP_WINDOW). Every step that changes
who someone is starts a new session id.
"""

from __future__ import annotations

from pathlib import Path

from api.http import Response
from pipeline.ports import TableStore
from workspace import totp
from workspace.identity import IdentityError, User
from workspace.router import ROOT, Visit, redirect, render
from workspace.sessions import (
    Sessions,
    address_blocked,
    address_failed,
    cleared_cookie,
    cookie,
    digest,
    reset_email,
    use_reset,
)

_STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def problem(visit: Visit, status: int, key: str) -> Response:
    return render(visit, "problem.html", status, title=visit.t(key), help=visit.t(f"{key}_help")
                  if key != "csrf" else "", message=visit.t(key) if key == "csrf" else "")


def static(visit: Visit) -> Response:
    name = visit.params["name"]
    found = _STATIC / name
    if name not in {p.name for p in _STATIC.iterdir()} or found.suffix not in STATIC_TYPES:
        return problem(visit, 404, "not_found")
    return Response(200, found.read_bytes(), headers={"Cache-Control": "public, max-age=3600",
                                                      "X-Content-Type-Options": "nosniff"},
                    content_type=STATIC_TYPES[found.suffix])


def home(visit: Visit) -> Response:
    return redirect(visit, "clients" if visit.user else "login")


def _anonymous(visit: Visit) -> None:
    """A visitor at a form gets a short session of its own, whose CSRF token the form carries."""
    if visit.session is None or visit.session.signed_in:
        visit.session = Sessions(visit.stores.tables).start()
        visit.headers["Set-Cookie"] = cookie(visit.session.token)


def login_form(visit: Visit, error: str = "", status: int = 200) -> Response:
    if visit.user is not None:
        return redirect(visit, "clients")
    _anonymous(visit)
    return render(visit, "login.html", status, error=error, email=visit.form.get("email", ""))


def _address(visit: Visit) -> str:
    """The client's address as App Service's front end saw it: the LAST entry of X-Forwarded-For, the one the front
    end appends (entries before it are whatever the client sent, so throttling on them could be dodged by sending
    a new one each time); `ip:port`, `[ipv6]:port` and bare addresses alike."""
    forwarded = visit.request.headers.get("x-forwarded-for", "")
    return client_address(forwarded) if forwarded.strip() else "local"


def client_address(forwarded: str) -> str:
    last = forwarded.split(",")[-1].strip()
    if last.startswith("["):  # [2001:db8::1]:443
        return last[1:].split("]", 1)[0]
    if last.count(":") == 1:  # 203.0.113.5:51234
        return last.split(":", 1)[0]
    return last  # a bare IPv4 or IPv6 address


def login(visit: Visit) -> Response:
    directory = visit.directory
    address = _address(visit)
    if address_blocked(visit.stores.tables, address):
        return login_form(visit, visit.t("throttled"), 429)
    user = directory.user(visit.form.get("email", ""))
    from workspace.identity import now, verify_password

    right = verify_password(user.password_hash if user else "", visit.form.get("password", ""))
    if user is not None and user.locked(now()):
        return login_form(visit, visit.t("locked"), 429)
    if user is None or not right or user.disabled:
        address_failed(visit.stores.tables, address)
        if user is not None:
            user = directory.failed_sign_in(user)
            if user.locked(now()):
                return login_form(visit, visit.t("locked"), 429)
        return login_form(visit, visit.t("bad_login"), 401)
    directory.signed_in(user)
    org = directory.organisation(user.org)
    stage = "full"
    if user.totp_secret:
        stage = "totp"
    elif org is not None and org.require_totp_for_owners and user.owns_any:
        stage = "enroll"
    assert visit.session is not None
    visit.session = Sessions(visit.stores.tables).promote(visit.session, email=user.email, org=user.org, stage=stage)
    visit.headers["Set-Cookie"] = cookie(visit.session.token)
    return redirect(visit, {"full": "clients", "totp": "login/totp", "enroll": "login/enroll"}[stage])


def _pending_user(visit: Visit) -> User | None:
    return visit.directory.user(visit.session.email) if visit.session and visit.session.email else None


def totp_form(visit: Visit, error: str = "", status: int = 200) -> Response:
    if visit.session is None or visit.session.stage != "totp":
        return redirect(visit, "login")
    return render(visit, "totp.html", status, error=error)


def totp_check(visit: Visit) -> Response:
    user = _pending_user(visit)
    if user is None or visit.session is None or visit.session.stage != "totp" or not user.totp_secret:
        return redirect(visit, "login")
    secret = visit.stores.secrets.get(user.totp_secret)
    step = totp.matching_step(secret, visit.form.get("code", ""))
    if step is None or not visit.directory.used_totp_step(user, step):
        address_failed(visit.stores.tables, _address(visit))
        visit.directory.failed_sign_in(user)
        return totp_form(visit, visit.t("bad_code"), 401)
    return _full(visit, user)


def _full(visit: Visit, user: User) -> Response:
    assert visit.session is not None
    visit.session = Sessions(visit.stores.tables).promote(visit.session, email=user.email, org=user.org, stage="full")
    visit.headers["Set-Cookie"] = cookie(visit.session.token)
    return redirect(visit, "clients")


def _secret_name(email: str) -> str:
    return f"workspace--totp--{digest(email)[:40]}"


def enroll_form(visit: Visit, error: str = "", status: int = 200) -> Response:
    """Two-factor set-up: a new secret, kept in the secret store under a pending name until a code proves it."""
    user = _pending_user(visit) if visit.user is None else visit.user
    if user is None or visit.session is None or visit.session.stage not in ("enroll", "full"):
        return redirect(visit, "login")
    pending = _secret_name(user.email) + "--pending"
    secret = totp.new_secret()
    visit.stores.secrets.set(pending, secret)
    return render(visit, "enroll.html", status, error=error, secret=secret, uri=totp.uri(secret, user.email))


def enroll(visit: Visit) -> Response:
    user = _pending_user(visit) if visit.user is None else visit.user
    if user is None or visit.session is None or visit.session.stage not in ("enroll", "full"):
        return redirect(visit, "login")
    name = _secret_name(user.email)
    try:
        secret = visit.stores.secrets.get(name + "--pending")
    except Exception:
        return enroll_form(visit)
    step = totp.matching_step(secret, visit.form.get("code", ""))
    if step is None:
        return enroll_form(visit, visit.t("bad_code"), 400)
    visit.stores.secrets.set(name, secret)
    visit.directory.set_totp(user.email, name)
    visit.directory.used_totp_step(visit.directory.user(user.email) or user, step)
    from workspace import audit

    audit.record(visit.stores.tables, user.org, who=user.email, action="two-factor set up", subject=user.email)
    return _full(visit, user)


def logout(visit: Visit) -> Response:
    if visit.session is not None:
        Sessions(visit.stores.tables).end(visit.session.token)
    visit.headers["Set-Cookie"] = cleared_cookie()
    return redirect(visit, "login")


def reset_form(visit: Visit, error: str = "", status: int = 200) -> Response:
    if reset_email(visit.stores.tables, visit.params["token"]) is None:
        return render(visit, "problem.html", 410, title=visit.t("reset_title"), help="",
                      message=visit.t("reset_invalid"))
    _anonymous(visit)
    return render(visit, "reset.html", status, error=error, token=visit.params["token"])


def reset(visit: Visit) -> Response:
    from workspace.identity import hash_password

    token = visit.params["token"]
    password = visit.form.get("password", "")
    try:
        hash_password(password)  # the rules first, so a refused password does not spend the link
    except IdentityError as exc:
        return reset_form(visit, str(exc), 400)
    email = use_reset(visit.stores.tables, token)
    if email is None:
        return reset_form(visit)
    visit.directory.set_password(email, password)
    user = visit.directory.user(email)
    if user is not None:
        from workspace import audit

        audit.record(visit.stores.tables, user.org, who=email, action="password set by reset link", subject=email)
    return render(visit, "problem.html", 200, title=visit.t("reset_title"), help="", message=visit.t("reset_done"),
                  link=f"{ROOT}/login")


def reset_link(tables: TableStore, email: str, base_url: str) -> str:
    """A one-time link to set the password of `email` (the CLI prints it; an owner adding a user sees it)."""
    from workspace.identity import Directory
    from workspace.sessions import new_reset

    user = Directory(tables).user(email)
    if user is None:
        raise IdentityError(f"no user {email}")
    token = new_reset(tables, user.email)
    return f"{base_url.rstrip('/')}{ROOT}/reset/{token}"
