"""The Finago Office session: one login per connection, shared by every worker, in the client the tenant chose.

`Authenticate.Login(credential{ApplicationId, Username, Password})` returns a session id that every service takes
as the cookie `ASP.NET_SessionId` (developer.24sevenoffice.com/docs/authenticate.html: keep it, because
"if you repeatedly authenticate with the same credentials, your requests will be throttled"). A user can work
in several clients (an accounting firm's user: one identity per client): `GetIdentities` lists them and
`SetIdentityById` chooses the tenant's (`client_id`). A user reaching several clients with no `client_id` is
refused rather than guessed. A call that says the session has ended (a fault, or SaveBundleList's
`NotAuthenticated`) logs in again, once, unless another worker already did.

[unverified] how a refused login answers: a fault (its words: "invalid username or password", an application id
"not valid", an identity "blocked") or an empty LoginResult; both are a ConfigError in the customer's words.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.targets.finago_office.mapping import NAME
from pipeline import redaction
from pipeline.errors import BilagsbroError, ConfigError

if TYPE_CHECKING:
    from connectors.targets.finago_office.client import Soap

# A Login fault in these words is the customer's login refused; any other (the service failing, the quota: "Request
# is blocked") is passing.
_REFUSED = re.compile(r"password|passord|username|brukernavn|credential|application\s*id|identityid is blocked|"
                      r"not valid|invalid|denied|ugyldig", re.IGNORECASE)


@dataclass(frozen=True)
class Identity:
    """Who the session works as: the client (company) and the user."""

    id: str
    client_id: str
    client: str
    user: str
    reachable: tuple[tuple[str, str], ...]  # every (client id, name) the login reaches


class Session:
    """The connection's session id and identity, made on first use."""

    def __init__(self, *, application_id: str, username: str, password: str, client_id: str | None,
                 tenant: str) -> None:
        self._credential = {"ApplicationId": application_id, "Username": username, "Password": password}
        self.username, self.client_id, self.tenant = username, client_id, tenant
        self.id: str | None = None
        self.identity: Identity | None = None
        self.logins = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the password or the session id
        return f"Session(username={self.username!r}, client_id={self.client_id!r})"

    def current(self, soap: Soap) -> str:
        """The session id, logging in first when there is none."""
        with self._lock:
            if self.id is None:
                self._login(soap)
            assert self.id is not None
            return self.id

    def renew(self, soap: Soap, ended: str) -> str:
        """A new session after `ended` stopped working — unless another worker has made one already."""
        with self._lock:
            if self.id in (None, ended):
                self.id = None
                self._login(soap)
            assert self.id is not None
            return self.id

    def _refused(self, exc: BilagsbroError | None, what: str) -> ConfigError:
        said = f" Finago Office said: {exc.provider_message}" if exc is not None and exc.provider_message else ""
        return ConfigError(f"Finago Office refused the login of {self.username}: {what}.{said}", tenant=self.tenant,
                           connector=NAME, status=exc.status if exc else None,
                           provider_message=exc.provider_message if exc else None,
                           request_id=exc.request_id if exc else None)

    def _login(self, soap: Soap) -> None:
        try:
            answer = soap.call("auth", "Login", session=None, credential=self._credential)
        except ConfigError:
            raise
        except BilagsbroError as exc:
            if exc.retryable and not _REFUSED.search(exc.provider_message or ""):
                raise  # the service failed or throttled: not the customer's login
            raise self._refused(exc, "check the username and password (and that the application id is "
                                     "Bilagsbro's)") from None
        if not answer:
            raise self._refused(None, "wrong username or password (the answer held no session)")
        session = str(answer)
        redaction.remember(session)  # issued to us: a secret like the password that bought it
        self.logins += 1
        self.identity = self._choose(soap, session)
        self.id = session

    def _choose(self, soap: Soap, session: str) -> Identity:
        found = soap.call("auth", "GetIdentities", session=session) or []
        identities: list[dict[str, Any]] = [i for i in found if i and not i.get("IsDisabled")]
        reachable = tuple((str((i.get("Client") or {}).get("Id")), str((i.get("Client") or {}).get("Name") or ""))
                          for i in identities)
        listed = ", ".join(f"{number} {name}".strip() for number, name in reachable) or "none"
        if self.client_id is None:
            if len(identities) != 1:
                raise ConfigError(f"{self.username} reaches {len(identities)} Finago Office clients ({listed}): say "
                                  "which one Bilagsbro posts in with client_id", tenant=self.tenant, connector=NAME)
            chosen = identities[0]
        else:
            chosen = next((i for i in identities if str((i.get("Client") or {}).get("Id")) == self.client_id), {})
            if not chosen:
                raise ConfigError(f"{self.username} has no access to Finago Office client {self.client_id}; it reaches: "
                                  f"{listed}. Give the user access to the client, or correct client_id",
                                  tenant=self.tenant, connector=NAME)
        if not chosen.get("IsCurrent"):
            if not soap.call("auth", "SetIdentityById", session=session, identityId=chosen["Id"]):
                raise ConfigError(f"Finago Office would not let {self.username} work in client "
                                  f"{(chosen.get('Client') or {}).get('Id')}", tenant=self.tenant, connector=NAME)
        client = chosen.get("Client") or {}
        return Identity(id=str(chosen.get("Id")), client_id=str(client.get("Id")), client=str(client.get("Name") or ""),
                        user=str((chosen.get("User") or {}).get("Name") or ""), reachable=reachable)
