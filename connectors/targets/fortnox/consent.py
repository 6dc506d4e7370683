"""Fortnox's consent as a hosted onboarding link: the operator makes a link, the customer approves in Fortnox.

    POST /api/v1/admin/tenants/{id}/onboarding/fortnox   {"settings": {...}, "credentials": {"client_secret"}}
         → {"url": ".../api/onboarding/fortnox/links/{link}", "expires": ...}       (admin key; 24 hours, one use)
    GET  /api/onboarding/fortnox/links/{link}[?lang=en]   a page (Norwegian; English on request): what Bilagsbro reads
         and writes, that Fortnox has no drafts — the customer ticks the direct-posting opt-in to go on
    POST /api/onboarding/fortnox/links/{link}             → 302 to Fortnox's consent page (state in a cookie too)
    GET  /api/onboarding/fortnox/callback?code&state
         → the code exchanged for a refresh token (authorization_code grant, HTTP Basic), the connection changed
           through pipeline.connections.change — which stores the token in the secret store and runs the
           connection test (licence, series, financial year) before it takes over — and a page that says how it went.

Links live in the ledger table's partition `fortnox|onboarding`, keyed by the SHA-256 of the link and of the
state: neither is stored in clear. The operator's client secret is written to the secret store at once.
Facts: https://www.fortnox.se/developer/authorization (reference/target-apis.md §8.1); `account_type=service`
[unverified whether Bilagsbro's app needs it: it asks for a service account's consent, not a user's].
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx

from api.http import Request, Response, admin_tenant, error, json_body
from connectors.targets.fortnox.descriptor import DESCRIPTOR, FortnoxSettings
from connectors.targets.fortnox.mapping import NAME, SCOPES
from connectors.targets.fortnox.pages import TEXT, done_page, link_page, refused_page
from pipeline import redaction
from pipeline.errors import BilagsbroError, ConfigError, Problem
from pipeline.names import TABLE_LEDGER
from pipeline.ports import Conflict, Stale, Stores
from pipeline.records import platform
from pipeline.stages import Connectors
from pipeline.tenants import TenantRegistry

PARTITION = f"{NAME}|onboarding"
LIFETIME = dt.timedelta(hours=24)
COOKIE = "bilagsbro_fortnox_state"
ROUTE = "/api/onboarding/fortnox"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_link(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The admin API: an onboarding link for one tenant, with the Fortnox settings it will connect with."""
    tenant, denied = admin_tenant(stores, request)
    if denied:
        return denied
    body, bad = json_body(request, required=True)
    if bad or body is None:
        return bad or error(400, "send a JSON object")
    settings, credentials = body.get("settings") or {}, body.get("credentials") or {}
    if not isinstance(settings, dict) or not isinstance(credentials, dict) or set(body) - {"settings", "credentials"}:
        return error(400, "send {\"settings\": {...}, \"credentials\": {\"client_secret\": ...}}")
    if set(credentials) - {"client_secret"} or not isinstance(credentials.get("client_secret", ""), str):
        problem = Problem("the link takes the operator's client_secret (none: the one set for every tenant), and "
                          "nothing else (the refresh token comes from the customer's consent)", field="credentials",
                          code="invalid-setting")
        refused = [*_refusals(settings), problem]
        return error(422, "; ".join(str(p) for p in refused), refused)
    try:
        made = new_link(stores, tenant.id, settings, credentials.get("client_secret", ""), request.base_url)
    except ConfigError as exc:
        return error(422, exc.message, list(exc.problems))
    return Response(201, made)


def _refusals(settings: dict[str, Any]) -> list[Problem]:
    try:
        DESCRIPTOR.settings.read({**settings, "direct_posting": True}, connector=NAME, strict=True)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def new_link(stores: Stores, tenant_id: str, settings: dict[str, Any], client_secret: str, base_url: str
             ) -> dict[str, Any]:
    """A one-use onboarding link for `tenant_id`, valid 24 hours, served under `base_url` (the function app's);
    the admin API and `bilagsbro onboarding-link TENANT fortnox` make it. ConfigError names each refused setting.
    The operator's client id and secret, when not given, are those set once for every tenant (`bilagsbro platform
    set fortnox client_secret`)."""
    settings = {**platform.settings(stores.secrets, DESCRIPTOR), **{k: v for k, v in settings.items() if v}}
    client_secret = client_secret or platform.value(stores.secrets, NAME, "client_secret") or ""
    problems = _refusals(settings)
    if not client_secret:
        problems.append(Problem("the operator's client_secret is required", field="credentials.client_secret",
                                code="invalid-setting"))
    if problems:
        raise ConfigError("; ".join(str(p) for p in problems), tenant=tenant_id, connector=NAME,
                          problems=tuple(problems))
    link = secrets.token_urlsafe(32)
    secret_name = f"{NAME}-onboarding-{_digest(link)[:24]}"
    stores.secrets.set(secret_name, client_secret)
    expires = _now() + LIFETIME
    stores.tables.insert(TABLE_LEDGER, {"PartitionKey": PARTITION, "RowKey": _digest(link), "Tenant": tenant_id,
                                        "Settings": json.dumps(settings), "SecretName": secret_name,
                                        "Expires": expires.isoformat(), "State": "", "Used": False})
    return {"tenant_id": tenant_id, "url": f"{base_url.rstrip('/')}{ROUTE}/links/{link}",
            "expires": expires.isoformat(timespec="seconds")}


def _row(stores: Stores, key: str) -> dict[str, Any] | None:
    row = stores.tables.get(TABLE_LEDGER, PARTITION, key)
    if row is None or row.get("Used") or dt.datetime.fromisoformat(str(row["Expires"])) < _now():
        return None
    return row


def _refused(request: Request, status: int, lang: str, why: str, *, detail: str = "") -> Response:
    """A page for a browser; the API's JSON error for anything that does not ask for HTML."""
    if "text/html" in (request.headers.get("accept") or ""):
        return refused_page(status, lang, why, detail=detail)
    return error(status, TEXT["en"][why].format(detail=detail))


def _lang(request: Request) -> str:
    return "en" if request.query.get("lang") == "en" else "nb"


def show(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The page a customer opens: what Bilagsbro will read and write, and the direct-posting opt-in."""
    lang = _lang(request)
    row = _row(stores, _digest(request.path_params.get("link", "")))
    if row is None:
        return _refused(request, 404, lang, "link")
    tenant = TenantRegistry(stores.tables).get(str(row["Tenant"]))
    return link_page(lang, tenant.name, series=json.loads(row["Settings"]).get("voucher_series", "A"))


def start(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """The customer's go: with the opt-in ticked, off to Fortnox's consent page with a fresh state."""
    form = {k: v[-1] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
    lang = "en" if form.get("lang") == "en" else "nb"
    row = _row(stores, _digest(request.path_params.get("link", "")))
    if row is None:
        return _refused(request, 404, lang, "link")
    if form.get("direct_posting") != "yes":
        tenant = TenantRegistry(stores.tables).get(str(row["Tenant"]))
        return link_page(lang, tenant.name, series=json.loads(row["Settings"]).get("voucher_series", "A"),
                         missing_opt_in=True)
    state = secrets.token_urlsafe(32)
    stores.tables.update(TABLE_LEDGER, {**row, "State": _digest(state), "Lang": lang}, etag=row["etag"])
    try:
        stores.tables.insert(TABLE_LEDGER, {"PartitionKey": PARTITION, "RowKey": "state-" + _digest(state),
                                            "Link": row["RowKey"]})
    except Conflict:  # a state is 256 random bits: never twice
        return _refused(request, 409, lang, "link")
    settings = FortnoxSettings.read({**json.loads(row["Settings"]), "direct_posting": True}, connector=NAME)
    query = urlencode({"client_id": settings.client_id, "redirect_uri": _callback(request), "scope": " ".join(SCOPES),
                       "state": state, "access_type": "offline", "response_type": "code", "account_type": "service"})
    return Response(302, "", headers={"Location": f"{settings.auth_url}?{query}",
                                      "Set-Cookie": f"{COOKIE}={state}; Path={ROUTE}; HttpOnly; SameSite=Lax; "
                                                    "Max-Age=3600"}, content_type="text/plain; charset=utf-8")


def _callback(request: Request) -> str:
    return f"{request.base_url}{ROUTE}/callback"


def _cookie(request: Request) -> str | None:
    for part in (request.headers.get("cookie") or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def callback(stores: Stores, connectors: Connectors, request: Request) -> Response:
    """Back from Fortnox: the code for a refresh token, the connection tested and in force, and a page."""
    state = request.query.get("state") or ""
    pointer = stores.tables.get(TABLE_LEDGER, PARTITION, "state-" + _digest(state)) if state else None
    row = _row(stores, str(pointer["Link"])) if pointer else None
    lang = str(row.get("Lang") or "nb") if row else "nb"
    if row is None or row.get("State") != _digest(state):  # no onboarding under way by that state
        return _refused(request, 404, lang, "state")
    if _cookie(request) != state:  # a state from another browser (a forwarded or stolen consent URL)
        return _refused(request, 403, lang, "state")
    try:  # one use: claimed before the code is spent
        stores.tables.update(TABLE_LEDGER, {**row, "Used": True}, etag=row["etag"])
    except Stale:
        return _refused(request, 409, lang, "link")
    if request.query.get("error"):
        return _refused(request, 403, lang, "denied")
    settings = FortnoxSettings.read({**json.loads(row["Settings"]), "direct_posting": True}, connector=NAME)
    client_secret = stores.secrets.get(str(row["SecretName"]))
    try:
        refresh = _exchange(settings.token_url, settings.client_id, client_secret, request.query.get("code") or "",
                            _callback(request))
        outcome = _connect(stores, connectors, str(row["Tenant"]), row, refresh, client_secret)
    except BilagsbroError as exc:
        return _refused(request, 502, lang, "exchange", detail=exc.message)
    if not outcome.activated:
        said = (outcome.check.get("error") or {})
        return _refused(request, 422, lang, "check", detail=str(said.get("message") or "the connection test failed"))
    return done_page(lang, outcome.check)


def _exchange(token_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str) -> str:
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
    redaction.remember(basic)
    redaction.remember(code)
    try:
        answer = httpx.post(token_url, headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
                            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
                            timeout=30)
    except httpx.HTTPError as exc:
        raise ConfigError(f"Fortnox's token endpoint did not answer ({type(exc).__name__})", connector=NAME) from None
    if answer.status_code != 200:
        raise ConfigError(f"Fortnox refused the code (HTTP {answer.status_code}): the consent must be given again",
                          connector=NAME, status=answer.status_code)
    refresh = str(answer.json().get("refresh_token") or "")
    access = str(answer.json().get("access_token") or "")
    for token in (refresh, access):
        if token:
            redaction.remember(token)
    if not refresh:
        raise ConfigError("Fortnox's answer had no refresh token", connector=NAME)
    return refresh


def _connect(stores: Stores, connectors: Connectors, tenant: str, row: dict[str, Any], refresh: str,
             client_secret: str) -> Any:
    from pipeline.connections import change

    return change(stores, connectors, tenant, NAME, settings=json.loads(row["Settings"]),
                  credentials={"refresh_token": refresh, "client_secret": client_secret}, direct_posting=True)
