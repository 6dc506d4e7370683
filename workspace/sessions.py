"""Signed-in sessions, CSRF tokens, sign-in throttling and one-time reset links for the workspace.

A session is a random 256-bit id in a cookie (`Secure; HttpOnly; SameSite=Lax`); the table keeps only its SHA-256,
so a copy of the table signs no one in. Each has an idle and an absolute expiry, a CSRF token every form carries
back, and a stage: `anonymous` (a visitor at the sign-in page: its CSRF token protects that form too),
`totp` (password right, second factor still to give), `enroll` (an owner who must set up two-factor first) and
`full`. Reset links are single-use tokens, likewise stored hashed, valid RESET_TTL.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from pipeline.ports import Conflict, Stale, TableStore
from pipeline.records.names import TABLE_SESSIONS, TABLE_WORKSPACE

COOKIE = "bb_session"
IDLE = dt.timedelta(hours=1)
ABSOLUTE = dt.timedelta(hours=12)
ANONYMOUS = dt.timedelta(minutes=30)
SEEN_EVERY = dt.timedelta(minutes=1)  # how stale "last seen" may get before it is written again
RESET_TTL = dt.timedelta(minutes=30)
IP_WINDOW = dt.timedelta(minutes=15)
IP_FAILURES = 30  # failed sign-ins from one address within IP_WINDOW before it must wait


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Session:
    token: str  # the cookie's value; only its digest is stored
    email: str
    org: str
    stage: str
    csrf: str
    via: str
    created_at: dt.datetime

    @property
    def signed_in(self) -> bool:
        return self.stage == "full" and bool(self.email)


def cookie(token: str, *, max_age: int | None = None) -> str:
    age = f"; Max-Age={max_age}" if max_age is not None else ""
    return f"{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax{age}"


def cleared_cookie() -> str:
    return cookie("", max_age=0)


def read_cookie(header: str, name: str = COOKIE) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip()
    return ""


class Sessions:
    def __init__(self, tables: TableStore) -> None:
        self.tables = tables

    @staticmethod
    def _key(token: str) -> tuple[str, str]:
        hashed = digest(token)
        return hashed[:2], hashed

    def start(self, *, email: str = "", org: str = "", stage: str = "anonymous", via: str = "password") -> Session:
        token = secrets.token_urlsafe(32)
        partition, row = self._key(token)
        at = _now()
        self.tables.insert(TABLE_SESSIONS, {"PartitionKey": partition, "RowKey": row, "Email": email, "Org": org,
                                            "Stage": stage, "Csrf": secrets.token_urlsafe(24), "Via": via,
                                            "CreatedAt": at.isoformat(), "SeenAt": at.isoformat()})
        found = self.get(token)
        assert found is not None
        return found

    def get(self, token: str, *, valid_after: str = "") -> Session | None:
        """The session, or None when unknown or expired (an expired one is deleted)."""
        if not token or len(token) > 100:
            return None
        partition, row_key = self._key(token)
        row = self.tables.get(TABLE_SESSIONS, partition, row_key)
        if row is None:
            return None
        at = _now()
        created = dt.datetime.fromisoformat(str(row["CreatedAt"]))
        seen = dt.datetime.fromisoformat(str(row["SeenAt"]))
        stage = str(row.get("Stage"))
        expired = (at - created > (ABSOLUTE if stage == "full" else ANONYMOUS)) or at - seen > IDLE
        if expired or (valid_after and created.isoformat() < valid_after):
            self.tables.delete(TABLE_SESSIONS, partition, row_key)
            return None
        if at - seen > SEEN_EVERY:
            try:
                self.tables.update(TABLE_SESSIONS, {**{k: v for k, v in row.items() if k != "etag"},
                                                    "SeenAt": at.isoformat()}, etag=str(row["etag"]))
            except Stale:
                pass  # another request of the same session wrote it meanwhile
        return Session(token, str(row.get("Email") or ""), str(row.get("Org") or ""), stage, str(row["Csrf"]),
                       str(row.get("Via") or ""), created)

    def end(self, token: str) -> None:
        self.tables.delete(TABLE_SESSIONS, *self._key(token))

    def promote(self, old: Session, *, email: str, org: str, stage: str, via: str = "password") -> Session:
        """A new session id for a new stage (no fixation: the id a visitor had before signing in stops working)."""
        self.end(old.token)
        return self.start(email=email, org=org, stage=stage, via=via)


def csrf_ok(session: Session | None, given: str) -> bool:
    return session is not None and bool(given) and hmac.compare_digest(session.csrf, given)


# -- throttling sign-ins by client address --------------------------------------------------------------


def _throttle_key(address: str) -> str:
    return "ip-" + digest(address)[:32]


def address_blocked(tables: TableStore, address: str) -> bool:
    row = tables.get(TABLE_WORKSPACE, "throttle", _throttle_key(address))
    if row is None:
        return False
    started = dt.datetime.fromisoformat(str(row["WindowStart"]))
    return _now() - started < IP_WINDOW and int(row.get("Count") or 0) >= IP_FAILURES


def address_failed(tables: TableStore, address: str) -> None:
    key = _throttle_key(address)
    for _ in range(5):
        row = tables.get(TABLE_WORKSPACE, "throttle", key)
        at = _now()
        if row is None:
            try:
                tables.insert(TABLE_WORKSPACE, {"PartitionKey": "throttle", "RowKey": key, "Count": 1,
                                                "WindowStart": at.isoformat()})
                return
            except Conflict:
                continue
        fresh = at - dt.datetime.fromisoformat(str(row["WindowStart"])) >= IP_WINDOW
        updated = {"PartitionKey": "throttle", "RowKey": key, "Count": 1 if fresh else int(row.get("Count") or 0) + 1,
                   "WindowStart": at.isoformat() if fresh else row["WindowStart"]}
        try:
            tables.update(TABLE_WORKSPACE, updated, etag=str(row["etag"]))
            return
        except Stale:
            continue


# -- one-time reset links ------------------------------------------------------------------------------------


def new_reset(tables: TableStore, email: str) -> str:
    token = secrets.token_urlsafe(32)
    tables.insert(TABLE_WORKSPACE, {"PartitionKey": "reset", "RowKey": digest(token), "Email": email,
                                    "ExpiresAt": (_now() + RESET_TTL).isoformat(), "Used": False})
    return token


def reset_email(tables: TableStore, token: str) -> str | None:
    """The e-mail the link is for, while it is unused and unexpired."""
    if not token or len(token) > 100:
        return None
    row = tables.get(TABLE_WORKSPACE, "reset", digest(token))
    if row is None or row.get("Used") or dt.datetime.fromisoformat(str(row["ExpiresAt"])) < _now():
        return None
    return str(row["Email"])


def use_reset(tables: TableStore, token: str) -> str | None:
    """Spend the link: its e-mail once, None ever after (ETag-guarded, so two tabs cannot both use it)."""
    if reset_email(tables, token) is None:
        return None
    row = tables.get(TABLE_WORKSPACE, "reset", digest(token))
    assert row is not None
    try:
        tables.update(TABLE_WORKSPACE, {**{k: v for k, v in row.items() if k != "etag"}, "Used": True,
                                        "UsedAt": _now().isoformat()}, etag=str(row["etag"]))
    except Stale:
        return None
    return str(row["Email"])


# -- Microsoft Entra ID through App Service authentication ---------------------------------------------------


TENANT_CLAIM = "http://schemas.microsoft.com/identity/claims/tenantid"


def app_service_principal(headers: dict[str, str]) -> tuple[str, str] | None:
    """(e-mail or UPN, Entra tenant id) from App Service authentication's headers, else None.

    Only call when the app setting says App Service authentication is on: then the platform strips these headers
    from what clients send and sets them itself (learn.microsoft.com/azure/app-service/configure-authentication-
    user-identities). With it off, anyone could send them, so they must be ignored (workspace.router does).
    """
    name = headers.get("x-ms-client-principal-name", "").strip()
    encoded = headers.get("x-ms-client-principal", "").strip()
    if not encoded:
        return None
    try:
        principal: dict[str, Any] = json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    claims = {str(c.get("typ")): str(c.get("val")) for c in principal.get("claims") or [] if isinstance(c, dict)}
    if principal.get("auth_typ") != "aad":
        return None
    tenant = claims.get(TENANT_CLAIM) or claims.get("tid") or ""
    name = name or claims.get("preferred_username") or claims.get(
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "")
    return (name, tenant) if name and tenant else None
