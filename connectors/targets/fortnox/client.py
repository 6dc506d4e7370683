"""Fortnox over HTTP: its error body for the shared stack, and OAuth2 with single-use refresh tokens.

- Auth (https://www.fortnox.se/developer/authorization): `Authorization: Bearer <access token>`; an access token
  (1 hour) is bought at `POST https://apps.fortnox.se/oauth-v1/token` with HTTP Basic client id:secret and
  `grant_type=refresh_token&refresh_token=…`. Every refresh answers a *new* refresh token and spends the old one
  (single use; ~45 days' life [unverified: 31 or 45 days, sources differ]): the new one is saved to the secret
  store before anything else is done. A refused refresh token is read again from the store once — another worker or
  process may have rotated it meanwhile — and only then is it the customer's to fix (a new consent).
- Errors: `{"ErrorInformation": {"error": 1, "message": "…", "code": 2000106}}` (emilwalter/fortnox-client,
  src/fortnoxError.ts; some answers capitalise the keys [unverified], both are read). The licence and scope
  refusals — 2001101 "Det finns ingen aktiv licens för önskat scope", 2000663 "Har inte behörighet för scope" —
  are configuration whatever the status (they come as 400 as well as 403, erp-mafia/accounted#1738).
- Rate limit: 25 requests per 5 seconds per client and company → 429; [unverified] whether it says Retry-After, so
  it is read when given and the stack backs off otherwise. The request id header [unverified]: the common ones.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Generator

import httpx

from connectors.http import Dialect, ProviderError, error_from_response, json_error
from connectors.targets.fortnox.descriptor import DESCRIPTOR
from connectors.targets.fortnox.mapping import NAME
from pipeline import redaction
from pipeline.errors import ConfigError

LICENCE_CODES = {"2001101": "the company has no active Fortnox licence for what Bilagsbro needs (bookkeeping)",
                 "2000663": "the consent given to Bilagsbro does not cover what it needs (the bookkeeping scope)"}
REFUSED_GRANTS = ("invalid_grant", "invalid_client", "unauthorized_client", "invalid_request")
RENEW_BEFORE = 0.1  # renew an access token when a tenth of its life is left


def fortnox_error(response: httpx.Response) -> ProviderError:
    """Fortnox's ErrorInformation; OAuth's error shape from its token endpoint; licence refusals as configuration."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return json_error(response)
    info = body.get("ErrorInformation") if isinstance(body, dict) else None
    if not isinstance(info, dict):
        said = json_error(response)
        grant = body.get("error") if isinstance(body, dict) else None
        if grant in REFUSED_GRANTS:
            return ProviderError(said.message, said.details, said.request_id, str(grant), remedy=ConfigError)
        return said
    message = info.get("message") or info.get("Message")
    code = info.get("code") or info.get("Code")
    code = str(code) if code is not None else None
    if code in LICENCE_CODES:
        return ProviderError(f"{message} ({LICENCE_CODES[code]})", code=code, remedy=ConfigError)
    return ProviderError(str(message) if message else None, code=code)


DIALECT = Dialect.of(DESCRIPTOR, error_body=fortnox_error)


class OAuth:
    """A tenant's refresh token: keeps the current access token and saves every rotated refresh token at once."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, load: Callable[[], str],
                 save: Callable[[str], None]) -> None:
        self.token_url, self.client_id = token_url, client_id
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        redaction.remember(self._basic)
        self._load, self._save = load, save
        self.refresh_token = load()
        redaction.remember(self.refresh_token)
        self.access: str | None = None
        self.renew_at = 0.0
        self.lock = threading.Lock()

    def request(self, cause: httpx.Request) -> httpx.Request:
        return httpx.Request("POST", self.token_url, headers={"Authorization": f"Basic {self._basic}",
                                                              "Accept": "application/json"},
                             data={"grant_type": "refresh_token", "refresh_token": self.refresh_token},
                             extensions=dict(cause.extensions))

    def reread(self) -> bool:
        """Whether the store holds another refresh token than ours (rotated by another worker): then use it."""
        stored = self._load()
        if stored and stored != self.refresh_token:
            redaction.remember(stored)
            self.refresh_token = stored
            return True
        return False

    def take(self, response: httpx.Response) -> str | None:
        """The access token from the token endpoint's answer; None when the refresh token was refused but the store
        has a newer one (ask again); ConfigError when the consent is gone."""
        response.read()
        if response.status_code >= 400:
            error = error_from_response(response, dialect=DIALECT)
            if response.status_code in (400, 401, 403) or isinstance(error, ConfigError):
                if self.reread():
                    return None
                raise ConfigError("Fortnox refused the refresh token: the customer must give Bilagsbro permission "
                                  "again through the onboarding link (the permission was withdrawn in Fortnox, or it "
                                  "lay unused for more than 45 days), or the app's client id or secret is wrong",
                                  connector=NAME, status=error.status, provider_message=error.provider_message,
                                  request_id=error.request_id)
            raise error
        try:
            answer = response.json()
            access, rotated = str(answer["access_token"]), str(answer["refresh_token"])
            lifetime = float(answer.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise ConfigError("Fortnox's token endpoint gave no access and refresh token; is token_url Fortnox's "
                              "(https://apps.fortnox.se/oauth-v1/token)?", connector=NAME,
                              status=response.status_code) from None
        redaction.remember(access)
        redaction.remember(rotated)
        if rotated != self.refresh_token:
            self._save(rotated)  # the old one is spent: keep the new one before anything else
            self.refresh_token = rotated
        self.access = access
        self.renew_at = time.monotonic() + lifetime * (1 - RENEW_BEFORE)
        return access


class FortnoxAuth(httpx.Auth):
    """Bearer auth with an access token bought (and renewed) with the tenant's refresh token."""

    requires_response_body = True

    def __init__(self, oauth: OAuth) -> None:
        self.oauth = oauth

    def __repr__(self) -> str:  # never a token
        return "FortnoxAuth(oauth)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        oauth = self.oauth
        with oauth.lock:  # one refresh at a time: a refresh token is good for one use only
            for _ in range(2):
                if oauth.access is not None and time.monotonic() < oauth.renew_at:
                    break
                if oauth.take((yield oauth.request(request))) is not None:
                    break
            access = oauth.access
        if access is None:
            raise ConfigError("Fortnox gave no access token", connector=NAME)
        request.headers["Authorization"] = f"Bearer {access}"
        response = yield request
        if response.status_code == 401:  # revoked or expired early: one new access token, once
            with oauth.lock:
                if oauth.access == access:
                    oauth.take((yield oauth.request(request)))
            request.headers["Authorization"] = f"Bearer {oauth.access}"
            yield request
