"""Signing in to the workspace (in-memory ports): argon2id hashes, sessions hashed at rest with idle and absolute
expiry, CSRF on every form, lockout and throttling, one-time reset links, TOTP (RFC 6238), Entra ID's headers only
when App Service authentication is on."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from pipeline.records.names import TABLE_AUDIT, TABLE_SESSIONS, TABLE_WORKSPACE
from tests.web.support import PASSWORD, Browser, world
from workspace import audit, sessions, totp
from workspace.identity import MAX_FAILURES, Directory, verify_password
from workspace.pages_session import client_address, reset_link
from workspace.router import APP_SERVICE_AUTH
from workspace.sessions import Sessions, digest


@pytest.fixture
def w():
    return world()


def test_passwords_are_argon2id_and_never_stored_plain(w):
    row = w.stores.tables.get(TABLE_WORKSPACE, "user", w.users["owner"])
    assert row["PasswordHash"].startswith("$argon2id$v=19$")
    assert PASSWORD not in json.dumps(list(w.stores.tables.rows.values()), default=str)
    assert verify_password(row["PasswordHash"], PASSWORD) and not verify_password(row["PasswordHash"], "feil passord")


def test_the_session_cookie_is_secure_httponly_lax_and_only_its_hash_is_stored(w):
    browser = Browser(w.stores, w.conns)
    browser.get("login")
    answer = browser.post("login", {"email": w.users["owner"], "password": PASSWORD})
    assert answer.status == 303 and answer.headers["Location"] == "/api/app/clients"
    header = answer.headers["Set-Cookie"]
    assert {"Secure", "HttpOnly", "SameSite=Lax", "Path=/"} <= {p.strip() for p in header.split(";")}
    stored = [k for k in w.stores.tables.rows if k[0] == TABLE_SESSIONS]
    assert (TABLE_SESSIONS, digest(browser.cookie)[:2], digest(browser.cookie)) in stored
    assert all(browser.cookie not in json.dumps(v, default=str) for v in w.stores.tables.rows.values())
    assert browser.get("clients").status == 200


def test_signing_in_starts_a_new_session_id(w):
    browser = Browser(w.stores, w.conns)
    browser.get("login")
    anonymous = browser.cookie
    browser.post("login", {"email": w.users["owner"], "password": PASSWORD})
    assert browser.cookie != anonymous
    stale = Browser(w.stores, w.conns, cookie=anonymous)
    assert stale.get("clients").status == 303  # the visitor's id signs no one in


def test_sessions_expire_when_idle_and_after_their_absolute_lifetime(w, monkeypatch):
    store = Sessions(w.stores.tables)
    session = store.start(email=w.users["owner"], org=w.org_a, stage="full")
    start = dt.datetime.now(dt.UTC)
    monkeypatch.setattr(sessions, "_now", lambda: start + sessions.IDLE + dt.timedelta(seconds=1))
    assert store.get(session.token) is None
    busy = store.start(email=w.users["owner"], org=w.org_a, stage="full")
    moment = start
    while moment < start + sessions.ABSOLUTE - sessions.IDLE:  # seen every half hour: never idle
        moment += sessions.IDLE / 2
        monkeypatch.setattr(sessions, "_now", lambda at=moment: at)
        assert store.get(busy.token) is not None
    monkeypatch.setattr(sessions, "_now", lambda: start + sessions.ABSOLUTE + dt.timedelta(seconds=1))
    assert store.get(busy.token) is None


def test_every_change_needs_the_csrf_token_of_the_session(w):
    browser = w.browser("owner")
    name_before = w.stores.tables.get("tenants", "tenant", w.a1)["Tenant"]["name"]
    for form in ({"name": "Kapret AS"}, {"name": "Kapret AS", "csrf": "feil"}):
        answer = browser.post(f"clients/{w.a1}/facts", form, csrf=False)
        assert answer.status == 403
    other = w.browser("accountant")  # another session's token is no good either
    assert browser.post(f"clients/{w.a1}/facts", {"name": "Kapret AS", "csrf": other.csrf}, csrf=False).status == 403
    assert w.stores.tables.get("tenants", "tenant", w.a1)["Tenant"]["name"] == name_before
    assert browser.post(f"clients/{w.a1}/facts", {"name": "Fjellbakeriet på Røros AS", "organization_number":
                                                  "974760673", "fiscal_year_start": "7"}).status == 303
    # the sign-in form carries one too
    fresh = Browser(w.stores, w.conns)
    fresh.get("login")
    assert fresh.post("login", {"email": w.users["owner"], "password": PASSWORD}, csrf=False).status == 403


def test_a_wrong_password_locks_the_account_after_max_failures_even_for_the_right_one_then(w):
    browser = Browser(w.stores, w.conns)
    browser.get("login")
    for _ in range(MAX_FAILURES - 1):
        assert browser.post("login", {"email": w.users["viewer"], "password": "gjettet feil"}).status == 401
    assert browser.post("login", {"email": w.users["viewer"], "password": "gjettet feil"}).status == 429
    locked = browser.post("login", {"email": w.users["viewer"], "password": PASSWORD})
    assert locked.status == 429 and "låst" in locked.encoded().decode()
    # unknown e-mail and wrong password read the same
    other = Browser(w.stores, w.conns, address="192.0.2.99")
    other.get("login")
    unknown = other.post("login", {"email": "finnes.ikke@example.no", "password": "x" * 12}).encoded().decode()
    wrong = other.post("login", {"email": w.users["owner"], "password": "x" * 12}).encoded().decode()
    assert "Feil e-post eller passord." in unknown and "Feil e-post eller passord." in wrong


def test_one_address_failing_many_times_is_throttled(w):
    browser = Browser(w.stores, w.conns, address="198.51.100.7")
    browser.get("login")
    for attempt in range(sessions.IP_FAILURES):
        browser.post("login", {"email": f"gjett{attempt}@example.no", "password": "x" * 12})
    assert browser.post("login", {"email": w.users["owner"], "password": PASSWORD}).status == 429
    assert w.browser("owner").get("clients").status == 200  # from another address the owner still gets in


def test_an_address_sent_by_the_client_does_not_dodge_the_throttle(w):
    """Only the last X-Forwarded-For entry is the front end's: a new made-up first entry per attempt changes nothing."""
    browser = Browser(w.stores, w.conns, address="198.51.100.8:50123")
    browser.get("login")
    for attempt in range(sessions.IP_FAILURES):
        browser.post("login", {"email": f"gjett{attempt}@example.no", "password": "x" * 12},
                     headers={"x-forwarded-for": f"10.0.{attempt}.1, 198.51.100.8:{50000 + attempt}"})
    assert browser.post("login", {"email": w.users["owner"], "password": PASSWORD},
                        headers={"x-forwarded-for": "10.9.9.9, 198.51.100.8:40000"}).status == 429


@pytest.mark.parametrize(("forwarded", "address"), [
    ("203.0.113.5:51234", "203.0.113.5"), ("203.0.113.5", "203.0.113.5"), ("[2001:db8::7]:443", "2001:db8::7"),
    ("2001:db8::7", "2001:db8::7"), ("10.0.0.1, 203.0.113.5:80", "203.0.113.5"), (" 1.1.1.1 ,[::1]:9", "::1")])
def test_the_client_address_is_the_last_forwarded_entry(forwarded, address):
    assert client_address(forwarded) == address


def test_a_reset_link_is_single_use_hashed_and_short_lived(w, monkeypatch):
    link = reset_link(w.stores.tables, w.users["viewer"], "http://workspace.test")
    token = link.rsplit("/", 1)[1]
    assert link.startswith("http://workspace.test/api/app/reset/")
    assert w.stores.tables.get(TABLE_WORKSPACE, "reset", digest(token)) is not None
    assert all(token not in json.dumps(v, default=str) for v in w.stores.tables.rows.values())
    before = w.browser("viewer")  # a session from before the reset
    browser = Browser(w.stores, w.conns)
    assert browser.get(f"reset/{token}").status == 200
    assert browser.post(f"reset/{token}", {"password": "kort"}).status == 400  # refused: the link is not spent
    assert browser.post(f"reset/{token}", {"password": "et nytt langt passord"}).status == 200
    assert browser.get(f"reset/{token}").status == 410  # used
    assert before.get("clients").status == 303  # sessions from before the reset are void
    assert Browser(w.stores, w.conns).sign_in(w.users["viewer"], "et nytt langt passord").status == 303
    late = reset_link(w.stores.tables, w.users["viewer"], "http://x").rsplit("/", 1)[1]
    monkeypatch.setattr(sessions, "_now", lambda: dt.datetime.now(dt.UTC) + sessions.RESET_TTL + dt.timedelta(1))
    assert sessions.reset_email(w.stores.tables, late) is None
    entries, _ = audit.page(w.stores.tables, w.org_a)
    assert [e.action for e in entries][:1] == ["password set by reset link"]


def test_totp_matches_the_rfc_6238_test_vectors():
    key = b"12345678901234567890"
    for at, expected in ((59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
                         (1234567890, "89005924"), (2000000000, "69279037"), (20000000000, "65353130")):
        assert totp.hotp(key, at // 30, digits=8) == expected
    secret = base64.b32encode(key).decode()
    assert totp.matching_step(secret, totp.code(secret, 1111111109), at=1111111109 + 29) == 1111111109 // 30
    assert totp.matching_step(secret, "000000", at=1111111109) is None


def test_an_organisation_that_requires_two_factor_makes_its_owner_set_it_up_and_then_use_it(w):
    directory = Directory(w.stores.tables)
    directory.set_organisation(directory.organisation(w.org_a).__class__(
        w.org_a, "Regnskap Ærlig AS", require_totp_for_owners=True))
    browser = Browser(w.stores, w.conns)
    assert browser.sign_in(w.users["owner"]).headers["Location"] == "/api/app/login/enroll"
    assert browser.get("clients").status == 303  # not signed in until two-factor is set up
    page = browser.get("login/enroll").encoded().decode()
    secret = page.split('id="secret">')[1].split("<")[0]
    assert browser.post("login/enroll", {"code": "123456" if totp.code(secret) != "123456" else "654321"}).status == 400
    page = browser.get("login/enroll").encoded().decode()  # a new secret each time the page is shown
    secret = page.split('id="secret">')[1].split("<")[0]
    assert browser.post("login/enroll", {"code": totp.code(secret)}).status == 303
    assert browser.get("clients").status == 200
    # the next sign-in asks for a code; the code just used is refused (once only), a wrong one too
    again = Browser(w.stores, w.conns)
    assert again.sign_in(w.users["owner"]).headers["Location"] == "/api/app/login/totp"
    assert again.get("clients").status == 303
    assert again.get("login/totp").status == 200
    assert again.post("login/totp", {"code": totp.code(secret)}).status == 401
    assert again.post("login/totp", {"code": "000000" if totp.code(secret) != "000000" else "111111"}).status == 401
    assert directory.user(w.users["owner"]).totp_secret.startswith("workspace--totp--")
    assert w.stores.secrets.get(directory.user(w.users["owner"]).totp_secret) == secret  # in the secret store


def _principal(name: str, tenant: str) -> str:
    claims = [{"typ": "http://schemas.microsoft.com/identity/claims/tenantid", "val": tenant},
              {"typ": "preferred_username", "val": name}]
    return base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims, "name_typ": "name",
                                        "role_typ": "roles"}).encode()).decode()


def test_entra_headers_sign_in_only_when_app_service_authentication_is_on(w, monkeypatch):
    entra = "0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
    directory = Directory(w.stores.tables)
    directory.set_organisation(directory.organisation(w.org_a).__class__(w.org_a, "Regnskap Ærlig AS",
                                                                         entra_tenant_id=entra))
    headers = {"x-ms-client-principal": _principal(w.users["owner"], entra),
               "x-ms-client-principal-name": w.users["owner"]}
    monkeypatch.delenv(APP_SERVICE_AUTH, raising=False)
    off = Browser(w.stores, w.conns).request("GET", "clients", headers=headers)
    assert off.status == 303 and off.headers["Location"] == "/api/app/login"  # ignored: anyone could send them
    monkeypatch.setenv(APP_SERVICE_AUTH, "true")
    browser = Browser(w.stores, w.conns)
    on = browser.request("GET", "clients", headers=headers)
    assert on.status == 200 and "Fjellbakeriet" in on.encoded().decode()
    assert browser.cookie  # a session of its own, so its forms carry a CSRF token
    assert browser.request("GET", "clients", headers=headers).status == 200
    other_tenant = {**headers, "x-ms-client-principal": _principal(w.users["owner"], "another-entra-tenant")}
    assert Browser(w.stores, w.conns).request("GET", "clients", headers=other_tenant).status == 303
    unknown = {"x-ms-client-principal": _principal("ukjent@aerlig.example", entra),
               "x-ms-client-principal-name": "ukjent@aerlig.example"}
    assert Browser(w.stores, w.conns).request("GET", "clients", headers=unknown).status == 303


def test_the_audit_log_is_append_only_paged_and_newest_first(w):
    for n in range(7):
        audit.record(w.stores.tables, w.org_a, who="eier@aerlig.example", action=f"endring {n}", why="test")
    first, cursor = audit.page(w.stores.tables, w.org_a, limit=3)
    second, cursor2 = audit.page(w.stores.tables, w.org_a, cursor=cursor, limit=3)
    third, end = audit.page(w.stores.tables, w.org_a, cursor=cursor2, limit=3)
    assert [e.action for e in first + second + third] == [f"endring {n}" for n in range(6, -1, -1)]
    assert end is None
    rows = [k for k in w.stores.tables.rows if k[0] == TABLE_AUDIT]
    assert len(rows) == 7 and {k[1] for k in rows} == {f"org|{w.org_a}"}  # a row per entry
    assert audit.page(w.stores.tables, w.org_b)[0] == []


def test_a_user_added_by_an_owner_gets_a_one_time_link_and_it_is_audited(w):
    browser = w.browser("owner")
    answer = browser.post("users", {"email": "Ny.Kollega@Aerlig.example", "name": "Ny Kollega"})
    assert answer.status == 201
    link = answer.encoded().decode().split('id="reset-link" class="wrap">')[1].split("<")[0]
    assert "/api/app/reset/" in link
    assert Directory(w.stores.tables).user("ny.kollega@aerlig.example").password_hash == ""
    entries, _ = audit.page(w.stores.tables, w.org_a)
    assert entries[0].action == "user added" and entries[0].subject == "ny.kollega@aerlig.example"
    assert entries[0].who == w.users["owner"]
