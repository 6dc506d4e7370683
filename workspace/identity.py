"""Organisations, their clients and their users, with a role per client: the workspace's who-is-who.

One table (`workspace`), a few partitions: `org` (an organisation: name, whether owners must use two-factor, the
Entra tenant it trusts), `client` (a tenant and the organisation owning it, with company facts the accounting
systems do not keep), `user` (keyed by lower-case e-mail: organisation, argon2id password hash, roles per client,
failed sign-ins and lockout) and per organisation an index of its clients and of its users, so a page lists them
with one partition read. A tenant belongs to at most one organisation; a user to exactly one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.ports import Conflict, Entity, TableStore
from pipeline.records.names import TABLE_WORKSPACE

ROLES = ("viewer", "accountant", "owner")
RANK = {role: rank for rank, role in enumerate(ROLES, start=1)}
MIN_PASSWORD = 12
MAX_FAILURES = 5  # consecutive failed sign-ins before the account is locked for LOCKOUT
LOCKOUT = dt.timedelta(minutes=15)
_EMAIL = re.compile(r"[^@\s/\\#?]+@[^@\s/\\#?]+\.[^@\s/\\#?]+")


class IdentityError(ValueError):
    """Something the workspace cannot do with these values, in words for the person who asked."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def normal_email(email: str) -> str:
    text = email.strip().lower()
    if not _EMAIL.fullmatch(text) or len(text) > 200:
        raise IdentityError(f"{email!r} is not an e-mail address")
    return text


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    require_totp_for_owners: bool = False
    entra_tenant_id: str = ""


@dataclass(frozen=True)
class User:
    email: str
    org: str
    name: str
    org_owner: bool  # manages the organisation's users and reads its audit log
    roles: Mapping[str, str] = field(default_factory=dict)  # client (tenant id) → owner / accountant / viewer
    password_hash: str = ""
    failures: int = 0
    locked_until: str = ""
    totp_secret: str = ""  # the name of the two-factor secret in the secret store ("" when not enrolled)
    totp_last_step: int = 0  # the last time step accepted: a code is good once
    sessions_valid_after: str = ""  # sessions started before this (a password reset) are void
    disabled: bool = False

    def role(self, client: str) -> str | None:
        return self.roles.get(client)

    def may(self, client: str, needed: str) -> bool:
        role = self.roles.get(client)
        return role is not None and RANK[role] >= RANK[needed]

    def locked(self, at: dt.datetime) -> bool:
        return bool(self.locked_until) and dt.datetime.fromisoformat(self.locked_until) > at

    @property
    def owns_any(self) -> bool:
        return self.org_owner or "owner" in self.roles.values()


def _user(row: Entity) -> User:
    return User(email=str(row["RowKey"]), org=str(row["Org"]), name=str(row.get("Name") or ""),
                org_owner=bool(row.get("OrgOwner")), roles=json.loads(row.get("Roles") or "{}"),
                password_hash=str(row.get("PasswordHash") or ""), failures=int(row.get("Failures") or 0),
                locked_until=str(row.get("LockedUntil") or ""), totp_secret=str(row.get("TotpSecret") or ""),
                totp_last_step=int(row.get("TotpLastStep") or 0),
                sessions_valid_after=str(row.get("SessionsValidAfter") or ""), disabled=bool(row.get("Disabled")))


COST: dict[str, int] = {}  # argon2-cffi's defaults (RFC 9106's second choice: t=3, m=64 MiB, p=4); tests lower them


def _hasher() -> Any:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(type=Type.ID, **COST)  # type: ignore[arg-type]  # argon2id


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise IdentityError(f"a password has at least {MIN_PASSWORD} characters")
    return str(_hasher().hash(password))


_DUMMY: list[str] = []


def verify_password(stored: str, password: str) -> bool:
    """Whether `password` matches; with no stored hash a dummy one is checked, so an unknown e-mail takes as long
    as a known one (no telling which addresses have accounts by the time an answer takes)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if not _DUMMY:
        _DUMMY.append(str(_hasher().hash(secrets.token_urlsafe(16))))
    try:
        return bool(_hasher().verify(stored or _DUMMY[0], password)) and bool(stored)
    except (VerificationError, InvalidHashError):
        return False


class Directory:
    """Reads and writes organisations, clients and users in the workspace table."""

    def __init__(self, tables: TableStore) -> None:
        self.tables = tables

    # -- organisations and their clients -----------------------------------------------------------------

    def add_organisation(self, name: str, *, org_id: str | None = None, require_totp_for_owners: bool = False,
                         entra_tenant_id: str = "") -> Organisation:
        from pipeline.records.tenants import new_tenant_id

        org = Organisation(org_id or "o-" + new_tenant_id(name), name, require_totp_for_owners, entra_tenant_id)
        try:
            self.tables.insert(TABLE_WORKSPACE, {"PartitionKey": "org", "RowKey": org.id, "Name": name,
                                                 "RequireTotpForOwners": require_totp_for_owners,
                                                 "EntraTenantId": entra_tenant_id, "CreatedAt": now().isoformat()})
        except Conflict:
            raise IdentityError(f"organisation {org.id} exists already") from None
        return org

    def organisation(self, org_id: str) -> Organisation | None:
        row = self.tables.get(TABLE_WORKSPACE, "org", org_id)
        if row is None:
            return None
        return Organisation(org_id, str(row.get("Name") or ""), bool(row.get("RequireTotpForOwners")),
                            str(row.get("EntraTenantId") or ""))

    def set_organisation(self, org: Organisation) -> None:
        self.tables.transact(TABLE_WORKSPACE, [("merge", {
            "PartitionKey": "org", "RowKey": org.id, "Name": org.name,
            "RequireTotpForOwners": org.require_totp_for_owners, "EntraTenantId": org.entra_tenant_id})])

    def attach_client(self, org_id: str, tenant_id: str) -> None:
        """The organisation owns the tenant from now on; a tenant another organisation owns is refused."""
        if self.organisation(org_id) is None:
            raise IdentityError(f"no organisation {org_id}")
        owner = self.client_org(tenant_id)
        if owner is not None and owner != org_id:
            raise IdentityError(f"{tenant_id} belongs to another organisation")
        self.tables.upsert(TABLE_WORKSPACE, {"PartitionKey": f"org|{org_id}|clients", "RowKey": tenant_id})
        self.tables.transact(TABLE_WORKSPACE, [("insert-or-merge", {"PartitionKey": "client", "RowKey": tenant_id,
                                                                     "Org": org_id})])

    def client_org(self, tenant_id: str) -> str | None:
        row = self.tables.get(TABLE_WORKSPACE, "client", tenant_id) if tenant_id else None
        return str(row["Org"]) if row and row.get("Org") else None

    def clients(self, org_id: str) -> list[str]:
        return [str(r["RowKey"]) for r in self.tables.query(TABLE_WORKSPACE, f"org|{org_id}|clients")]

    def client_facts(self, tenant_id: str) -> dict[str, Any]:
        """What the workspace keeps of a client beside the tenant: company facts, the stored connection test."""
        row = self.tables.get(TABLE_WORKSPACE, "client", tenant_id) or {}
        facts = json.loads(row.get("Facts") or "{}")
        check = json.loads(row.get("LastCheck") or "null")
        return {"facts": facts, "check": check, "checked_at": row.get("LastCheckAt") or ""}

    def set_client_facts(self, tenant_id: str, facts: Mapping[str, Any]) -> None:
        self.tables.transact(TABLE_WORKSPACE, [("merge", {"PartitionKey": "client", "RowKey": tenant_id,
                                                          "Facts": json.dumps(dict(facts), ensure_ascii=False)})])

    def store_check(self, tenant_id: str, result: Mapping[str, Any]) -> None:
        """A connection test's result, kept so the clients page shows the light without asking the system; a red
        one says since when it has been red (`red_since`: the first red test after a green or none)."""
        kept = dict(result)
        if not kept.get("ok"):
            before = self.client_facts(tenant_id)
            earlier = before["check"] if isinstance(before["check"], dict) else None
            kept["red_since"] = (earlier.get("red_since") if earlier and not earlier.get("ok") else None) or \
                now().isoformat()
        text = json.dumps(kept, ensure_ascii=False, default=str)[:8000]
        self.tables.transact(TABLE_WORKSPACE, [("merge", {"PartitionKey": "client", "RowKey": tenant_id,
                                                          "LastCheck": text, "LastCheckAt": now().isoformat()})])

    # -- users --------------------------------------------------------------------------------------------

    def add_user(self, org_id: str, email: str, *, name: str = "", password: str | None = None,
                 org_owner: bool = False) -> User:
        if self.organisation(org_id) is None:
            raise IdentityError(f"no organisation {org_id}")
        address = normal_email(email)
        row = {"PartitionKey": "user", "RowKey": address, "Org": org_id, "Name": name[:200], "OrgOwner": org_owner,
               "Roles": "{}", "PasswordHash": hash_password(password) if password else "", "Failures": 0,
               "CreatedAt": now().isoformat()}
        try:
            self.tables.insert(TABLE_WORKSPACE, row)
        except Conflict:
            raise IdentityError(f"{address} has an account already") from None
        self.tables.upsert(TABLE_WORKSPACE, {"PartitionKey": f"org|{org_id}|users", "RowKey": address})
        return _user(row)

    def user(self, email: str) -> User | None:
        try:
            address = normal_email(email)
        except IdentityError:
            return None
        row = self.tables.get(TABLE_WORKSPACE, "user", address)
        return _user(row) if row else None

    def users(self, org_id: str) -> list[User]:
        found = []
        for index in self.tables.query(TABLE_WORKSPACE, f"org|{org_id}|users"):
            user = self.user(str(index["RowKey"]))
            if user is not None and user.org == org_id:
                found.append(user)
        return found

    def _merge(self, email: str, **properties: Any) -> None:
        self.tables.transact(TABLE_WORKSPACE, [("merge", {"PartitionKey": "user", "RowKey": email, **properties})])

    def set_role(self, email: str, client: str, role: str | None) -> User:
        """Give the user `role` on `client` (None takes it away); the client must be the user's organisation's."""
        user = self.user(email)
        if user is None:
            raise IdentityError(f"no user {email}")
        if role is not None and role not in ROLES:
            raise IdentityError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if self.client_org(client) != user.org:
            raise IdentityError(f"{client} is not a client of {user.org}")
        roles = dict(user.roles)
        if role is None:
            roles.pop(client, None)
        else:
            roles[client] = role
        self._merge(user.email, Roles=json.dumps(roles))
        return _user({**self._row(user.email)})

    def set_org_owner(self, email: str, org_owner: bool) -> None:
        self._merge(normal_email(email), OrgOwner=org_owner)

    def _row(self, email: str) -> Entity:
        row = self.tables.get(TABLE_WORKSPACE, "user", email)
        if row is None:
            raise IdentityError(f"no user {email}")
        return row

    def set_password(self, email: str, password: str) -> None:
        """A new password: failures and lockout cleared, every session started before now void."""
        self._merge(normal_email(email), PasswordHash=hash_password(password), Failures=0, LockedUntil="",
                    SessionsValidAfter=now().isoformat())

    def failed_sign_in(self, user: User) -> User:
        failures = user.failures + 1
        locked = (now() + LOCKOUT).isoformat() if failures >= MAX_FAILURES else user.locked_until
        self._merge(user.email, Failures=failures, LockedUntil=locked)
        return _user(self._row(user.email))

    def signed_in(self, user: User) -> None:
        if user.failures or user.locked_until:
            self._merge(user.email, Failures=0, LockedUntil="")

    def set_totp(self, email: str, secret_name: str) -> None:
        self._merge(normal_email(email), TotpSecret=secret_name, TotpLastStep=0)

    def used_totp_step(self, user: User, step: int) -> bool:
        """Record `step` as used; False when it (or a later one) was used already — a code is good once."""
        row = self._row(user.email)
        if int(row.get("TotpLastStep") or 0) >= step:
            return False
        self.tables.update(TABLE_WORKSPACE, {**{k: v for k, v in row.items() if k != "etag"}, "TotpLastStep": step},
                           etag=str(row["etag"]))
        return True
