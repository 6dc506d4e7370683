"""The sandbox's Authenticate service: community users, the clients (identities) they reach, sessions.

`Login(credential{ApplicationId, IdentityId, Password, Username})` → a session id, also set as the cookie
`ASP.NET_SessionId`; `HasSession`, `GetIdentity`, `GetIdentities`, `SetIdentityById`, `GetIdentitiesWithCredential`.
The refusals' wordings are the sandbox's [unverified]; "Provided IdentityId is blocked …" is 24SevenOffice's (faq).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandboxes.finago_office.books import Books
from sandboxes.finago_office.soap import SoapFault

if TYPE_CHECKING:
    from sandboxes.finago_office.server import FinagoOfficeSandbox

NOT_AUTHENTICATED = "Not authenticated"


@dataclass
class Identity:
    id: str
    books: Books
    default: bool = False


@dataclass
class Session:
    identity: Identity


@dataclass
class Account:
    """A community user: an e-mail, a password and the clients (identities) it may work in."""

    username: str
    password: str
    identities: list[Identity] = field(default_factory=list)


def answer(box: FinagoOfficeSandbox, name: str, params: dict[str, Any], session: Session | None,
           cookies: dict[str, str]) -> Any:
    """The Authenticate service's answer to `name`; `cookies` gets the session cookie a Login sets."""
    user = box.user
    if name in ("Login", "GetIdentitiesWithCredential"):
        credential = params.get("credential") or {}
        if str(credential.get("ApplicationId", "")).lower() != box.application_id.lower():
            raise SoapFault("Server", "Server was unable to process request. ---> ApplicationId is not valid")
        if credential.get("Username") != user.username or credential.get("Password") != user.password:
            if name == "Login" and box.empty_login:
                return None
            raise SoapFault("Server", "Server was unable to process request. ---> Invalid username or password")
        if name == "GetIdentitiesWithCredential":
            return [_identity(i, current=False) for i in user.identities]
        wanted = str(credential.get("IdentityId") or "00000000-0000-0000-0000-000000000000")
        identity = next((i for i in user.identities if i.id == wanted), None)
        if identity is None and wanted != "00000000-0000-0000-0000-000000000000":
            raise SoapFault("Server", "Provided IdentityId is blocked. Please use GetIdentitiesWithCredential to get "
                                      "a list of available Identities and reauthenticate with a valid IdentityId")
        identity = identity or next(i for i in user.identities if i.default)
        session_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz012345") for _ in range(24))
        with box._lock:
            box.sessions[session_id] = Session(identity)
            box.issued.append(session_id)
            box.logins += 1
        cookies["ASP.NET_SessionId"] = session_id
        return session_id
    if name == "HasSession":
        return session is not None
    if session is None:
        raise SoapFault("Server", f"Server was unable to process request. ---> {NOT_AUTHENTICATED}")
    if name == "GetIdentity":
        return _identity(session.identity, current=True)
    if name == "GetIdentities":
        return [_identity(i, current=i is session.identity) for i in user.identities]
    if name == "SetIdentityById":
        identity = next((i for i in user.identities if i.id == params.get("identityId")), None)
        if identity is not None:
            session.identity = identity
        return identity is not None
    raise SoapFault("Server", f"Server was unable to process request. ---> Authenticate.{name} is not answered by "
                              "the sandbox")


def _identity(identity: Identity, *, current: bool) -> dict[str, Any]:
    books = identity.books
    return {"Id": identity.id, "User": {"ContactId": 1, "Id": str(uuid.UUID(int=books.client_id)), "Name": "Regnskap",
                                        "EmployeeId": 1},
            "Client": {"Id": books.client_id, "Name": books.name}, "IsCurrent": current, "IsDefault": identity.default,
            "IsProtected": False, "IsDisabled": False}
