"""Who may do what in the workspace, decided in this one place before any page handler runs.

Every route declares its action; the router calls `refusal` with the signed-in user and the route's parameters and
runs the handler only when it answers None. A route with a `{client}` must name a client of the user's own
organisation on which the user has a role at least as strong as the action needs; one with an `{email}` must name
a user of the same organisation. Anything else about another organisation is answered 404, exactly as for what
does not exist, so a probe learns nothing; a viewer attempting a change gets 403.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from workspace.identity import RANK, Directory, User

# action → what it needs: a role on the route's client, or a standing in the organisation
CLIENT_ACTIONS = {"read": "viewer", "operate": "accountant", "administer": "owner"}
OTHER_ACTIONS = ("public", "second-factor", "signed-in", "org-admin")
CHANGES = {"operate", "administer", "org-admin"}  # actions that change something: never for a viewer


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # "clients/{client}/documents/{id}", relative to the workspace's root
    action: str
    handler: Callable[..., Any] = field(compare=False)

    def __post_init__(self) -> None:
        if self.action not in CLIENT_ACTIONS and self.action not in OTHER_ACTIONS:
            raise ValueError(f"{self.pattern}: unknown action {self.action!r}")
        if self.action in CLIENT_ACTIONS and "{client}" not in self.pattern:
            raise ValueError(f"{self.pattern}: a client action needs {{client}} in its route")

    @property
    def regex(self) -> re.Pattern[str]:
        parts = re.split(r"(\{\w+\})", self.pattern)
        return re.compile("".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        return {k: unquote(v) for k, v in found.groupdict().items()} if found else None


@dataclass(frozen=True)
class Refusal:
    status: int  # 401: sign in first; 403: not allowed; 404: nothing to see (or not yours)
    reason: str


def refusal(route: Route, user: User | None, params: Mapping[str, str], directory: Directory,
            *, stage: str = "") -> Refusal | None:
    """None when `user` may take `route` with these parameters; else why not."""
    if route.action == "public":
        return None
    if route.action == "second-factor":
        return None if stage in ("totp", "enroll") else Refusal(401, "sign in first")
    if user is None or user.disabled:
        return Refusal(401, "sign in first")
    email = params.get("email")
    if email is not None:
        other = directory.user(email)
        if other is None or other.org != user.org:
            return Refusal(404, "no such user")
    client = params.get("client")
    if client is not None and (directory.client_org(client) != user.org or role_on(user, client) is None):
        return Refusal(404, "no such client")
    if route.action == "org-admin":
        return None if user.org_owner else Refusal(403, "only the organisation's owners may do that")
    if route.action in CLIENT_ACTIONS:
        assert client is not None
        needed = CLIENT_ACTIONS[route.action]
        if RANK[role_on(user, client) or "viewer"] < RANK[needed]:
            return Refusal(403, f"this needs the role {needed} on the client")
    return None


def role_on(user: User, client: str) -> str | None:
    """The user's role on a client of their organisation: the organisation's owners are owners of every client."""
    return "owner" if user.org_owner else user.role(client)


def visible_clients(user: User, directory: Directory) -> list[str]:
    """The clients the user may see: every client of the organisation for its owners, else those with a role."""
    return [c for c in directory.clients(user.org) if role_on(user, c) is not None]
