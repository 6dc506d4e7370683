"""The Tripletex target: shared-form vouchers posted as manual vouchers through Tripletex API v2.

API: https://tripletex.no/v2-docs/ (spec: https://tripletex.no/v2/openapi.json, kept in
`../shared/specs/tripletex/openapi.json`); facts and quirks in reference/target-apis.md §1.

- Auth: a session token from consumer + employee token (`PUT /token/session/:create`), then HTTP Basic
  with user `0` (the employee's own company) or an accountant client's company id, password the token.
- Vouchers: `POST /ledger/voucher?sendToLedger=false` (a draft, "non-posted") unless the tenant opted in
  to direct posting. Postings carry signed `amountGross` and a `vatType`: Tripletex splits VAT out itself.
- Everything is referenced by Tripletex's internal id, so account, VAT, customer, supplier, department
  and project numbers are resolved once per tenant (one bulk lookup per kind) and cached.
- Idempotency: our reference travels in `externalVoucherNumber` (at most 70 characters: longer ones are
  shortened deterministically, mapping.EXTERNAL_NUMBER_MAX); `find` searches
  `GET /ledger/voucher/>externalVoucherNumber` and, because it is not verified that this search lists
  vouchers not yet posted (our drafts), `GET /ledger/voucher/>nonPosted` too. Tripletex does not enforce
  the number's uniqueness, so the idempotency ledger (pipeline/ledger.py) asks `find` before it posts
  again after an unknown outcome.
- Preflight also checks what Tripletex refuses beyond its spec (sources and what is unverified:
  docs/fidelity.md): VAT-locked accounts (mapping.vat_rules), the balance per posting date, closed
  accounting periods and reported VAT terms (periods.py); inactive customers and suppliers are told from
  missing ones (parties.py). A refusal at delivery is mapped back to our lines (refusals.py).
- The connection test (`check`) says who the tokens log in as and which permissions they lack
  (permissions.py).
- Customers are matched by customer number (`customerAccountNumber` filter, which lists customer
  numbers), else organisation number, else e-mail, else mobile phone (`phoneNumberMobile`); a name alone
  is not matched (ambiguous), nor is an identifier several customers share. Suppliers alike
  (`supplierNumber`; no phone filter). With the connection setting `create_customers`, a missing customer
  is created (`POST /customer`) exactly once: see `parties.py`.
- Only NOK vouchers: for another currency Tripletex needs the NOK amount (`amountGross`) beside the
  currency amount, and the shared form carries no exchange rate.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
from collections.abc import Generator, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import httpx

from connectors.http import RecordingTransport, Sleep, error_from_response, send
from connectors.targets.tripletex import parties, periods, permissions, refusals
from connectors.targets.tripletex.mapping import (
    DIMENSIONS,
    EXTERNAL_NUMBER_MAX,
    LOOKUP_CHUNK,
    NAME,
    NOT_ACCEPTED,
    PRODUCTION_URL,
    SECRET_FIELDS,
    SECRET_PARAMS,
    SESSION_DAYS,
    TEST_URL,
    UNSUPPORTED_DOCUMENTS,
    Register,
    Settings,
    balance_per_date,
    creatable,
    customer_payload,
    delivery_of,
    encode,
    external_number,
    found_once,
    matched,
    not_accepted,
    party_key,
    party_keys,
    posting_payload,
    problems_for,
    vat_ids_to_name,
    voucher_payload,
)
from pipeline import redaction
from pipeline.errors import ConfigError, DataError, Problem
from pipeline.model import Document, Party, Voucher
from pipeline.ports import Delivery, ExchangeLog, TargetContext

__all__ = [
    "DIMENSIONS", "EXTERNAL_NUMBER_MAX", "LOOKUP_CHUNK", "NAME", "NOT_ACCEPTED", "PRODUCTION_URL", "SECRET_FIELDS",
    "SECRET_PARAMS", "SESSION_DAYS", "TEST_URL", "UNSUPPORTED_DOCUMENTS", "Delivery", "Register", "SessionAuth",
    "Settings", "TargetContext", "TripletexTarget", "close", "connect", "creatable", "customer_payload",
    "delivery_of", "encode", "external_number", "matched", "not_accepted", "party_key", "party_keys",
    "posting_payload", "problems_for", "voucher_payload",
]


# -- auth -------------------------------------------------------------------------------------------

class SessionAuth(httpx.Auth):
    """Tripletex session auth: create a session token, send Basic `<company>:<token>`, renew once on 401."""

    requires_response_body = True

    def __init__(self, base_url: str, consumer_token: str, employee_token: str, company_id: str = "0") -> None:
        self._base_url = base_url
        self._consumer_token = consumer_token
        self._employee_token = employee_token
        self._company_id = company_id
        self._token: str | None = None

    def __repr__(self) -> str:  # never the tokens
        return f"SessionAuth(company_id={self._company_id!r})"

    def _create_request(self, cause: httpx.Request) -> httpx.Request:
        expires = dt.date.today() + dt.timedelta(days=SESSION_DAYS)
        # Same extensions as the request that needed the session: its exchange log records this one too.
        return httpx.Request("PUT", f"{self._base_url}/token/session/:create", params={
            "consumerToken": self._consumer_token, "employeeToken": self._employee_token,
            "expirationDate": expires.isoformat()}, extensions=dict(cause.extensions))

    def _session(self, response: httpx.Response) -> str:
        if response.status_code >= 400:
            error = error_from_response(response, connector=NAME)
            if response.status_code in (401, 403, 404, 422):
                raise ConfigError("Tripletex refused the consumer/employee tokens: check them and the base URL",
                                  connector=NAME, status=error.status, provider_message=error.provider_message,
                                  request_id=error.request_id)
            raise error
        try:
            token = str(response.json()["value"]["token"])
        except (ValueError, KeyError, TypeError):
            raise ConfigError("Tripletex session answer has no token; is base_url the API (…/v2)?",
                              connector=NAME, status=response.status_code) from None
        redaction.remember(token)  # issued to us: a secret like the tokens that bought it
        return token

    def _sign(self, request: httpx.Request, token: str) -> None:
        basic = base64.b64encode(f"{self._company_id}:{token}".encode()).decode("ascii")
        redaction.remember(basic)
        request.headers["Authorization"] = f"Basic {basic}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._token
        if token is None:
            token = self._token = self._session((yield self._create_request(request)))
        self._sign(request, token)
        response = yield request
        if response.status_code == 401:
            # The session expired (or was revoked): one new session, one more try.
            token = self._token = self._session((yield self._create_request(request)))
            self._sign(request, token)
            yield request


# -- the I/O class ----------------------------------------------------------------------------------

class TripletexTarget:
    name = NAME

    def __init__(self, context: TargetContext, *, transport: httpx.BaseTransport | None = None,
                 sleep: Sleep = time.sleep) -> None:
        self.context = context
        self.settings = Settings.of(context.settings)
        self.draft = not self.settings.direct_posting
        self._transport = transport
        self._sleep = sleep
        self._client: httpx.Client | None = None
        cache = context.cache.setdefault(NAME, {})
        self._cache: Register = cache.setdefault("register", Register())

    # -- plumbing -----------------------------------------------------------------------------------

    def _secret(self, name: str, what: str) -> str:
        if not name:
            raise ConfigError(f"Tripletex settings name no secret for the {what}", tenant=self.context.tenant,
                              connector=NAME)
        try:
            return self.context.secrets.get(name)
        except Exception:  # the store's own "not found": say which secret, never its value
            raise ConfigError(f"secret {name!r} ({what}) is missing from the secret store",
                              tenant=self.context.tenant, connector=NAME) from None

    def _auth(self) -> SessionAuth:
        """The tenant's session, kept in its cache so that each connect() does not open a new one."""
        consumer = self._secret(self.settings.consumer_token_secret, "consumer token")
        employee = self._secret(self.settings.employee_token_secret, "employee token")
        fingerprint = hashlib.sha256(f"{consumer}\0{employee}".encode()).hexdigest()
        key = (self.settings.base_url, self.settings.company_id, fingerprint)
        sessions: dict[Any, SessionAuth] = self.context.cache[NAME].setdefault("sessions", {})
        if key not in sessions:
            sessions[key] = SessionAuth(self.settings.base_url, consumer, employee, self.settings.company_id)
        return sessions[key]

    @property
    def client(self) -> httpx.Client:
        """The tenant's HTTP client, kept in its cache: one session and one connection pool per tenant."""
        if self._client is None:
            auth = self._auth()
            clients: dict[Any, httpx.Client] = self.context.cache[NAME].setdefault("clients", {})
            key = (self.settings.base_url, self.settings.company_id, self.settings.timeout, id(auth))
            client = clients.get(key)
            if client is None or client.is_closed:
                # No default log: each request names its document's log (see connectors.http.send).
                transport = RecordingTransport(None, self._transport or httpx.HTTPTransport(),
                                               secret_params=SECRET_PARAMS, secret_fields=SECRET_FIELDS)
                client = clients[key] = httpx.Client(
                    base_url=self.settings.base_url + "/", auth=auth, transport=transport,
                    timeout=self.settings.timeout, headers={"Accept": "application/json; charset=utf-8"})
            self._client = client
        return self._client

    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                 body: Any = None, reference: str | None = None, exchanges: ExchangeLog | None = None) -> Any:
        content = encode(body) if body is not None else None
        headers = {"Content-Type": "application/json; charset=utf-8"} if content is not None else None
        response = send(self.client, method, path.lstrip("/"), params=params, content=content,
                        headers=headers, connector=NAME, tenant=self.context.tenant, reference=reference,
                        sleep=self._sleep, exchanges=exchanges or self.context.exchanges)
        if not response.content:
            return None
        return response.json(parse_float=Decimal)

    def _list(self, path: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        values: list[dict[str, Any]] = []
        start = 0
        while True:
            page = self._request("GET", path, params={**params, "from": start, "count": 1000})
            values.extend(page.get("values") or [])
            if len(values) >= int(page.get("fullResultSize") or 0) or not page.get("values"):
                return values
            start = len(values)

    # -- the register -------------------------------------------------------------------------------

    def _by_numbers(self, path: str, param: str, key: str, numbers: Iterable[str],
                    found: dict[str, dict[str, Any]]) -> None:
        wanted = sorted({n for n in numbers if n not in found})
        for i in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[i:i + LOOKUP_CHUNK]
            for record in self._list(path, {param: ",".join(chunk)}):
                found[str(record.get(key))] = record

    def _dimension(self, path: str, param: str, key: str, numbers: Iterable[str],
                   found: dict[str, dict[str, Any]]) -> None:
        for number in sorted({n for n in numbers if n not in found}):
            # departmentNumber is a "containing" filter: keep the exact match only.
            for record in self._list(path, {param: number}):
                if str(record.get(key)) == number:
                    found[number] = record

    def resolve(self, vouchers: Sequence[Voucher]) -> Register:
        """Fill the tenant's cached register with what these vouchers need: one lookup per kind, at most."""
        lines = [line for voucher in vouchers for line in voucher.lines]
        register = self._cache
        self._by_numbers("ledger/account", "number", "number", (line.account for line in lines), register.accounts)
        self._by_numbers("ledger/vatType", "number", "number",
                         (line.vat_code for line in lines if line.vat_code is not None), register.vat_types)
        # VAT types an account is locked or limited to, by id, to name them in a problem (a search returns
        # only their ids): looked up only where a line breaks the lock or the limit.
        self._by_numbers("ledger/vatType", "id", "number", {
            str(i) for line in lines for i in vat_ids_to_name(line, register)}, register.vat_types)
        parties.find(self, "customer", [line.customer for line in lines if line.customer is not None],
                     register.customers)
        parties.find(self, "supplier", [line.supplier for line in lines if line.supplier is not None],
                     register.suppliers)
        self._dimension("department", "departmentNumber", "departmentNumber",
                        (line.dimensions["department"] for line in lines if "department" in line.dimensions),
                        register.departments)
        self._dimension("project", "number", "number",
                        (line.dimensions["project"] for line in lines if "project" in line.dimensions),
                        register.projects)
        return register

    @property
    def register(self) -> Register:
        """The tenant's cached register (what `resolve` has found so far)."""
        return self._cache

    def find_parties(self, found: Sequence[Party], register: Register) -> None:
        """Look customers up in Tripletex now, whatever the cache holds: how `parties` looks before it creates."""
        parties.find(self, "customer", found, register.customers)

    def create_customer(self, body: Mapping[str, Any], *, reference: str | None = None) -> dict[str, Any]:
        """`POST /customer`; only `parties.ensure` calls this (it makes creation happen once)."""
        try:
            return dict(self._request("POST", "customer", body=body, reference=reference)["value"])
        except ConfigError as exc:
            if exc.status != 403:
                raise
            raise ConfigError(f"Tripletex refused to create a customer for lack of permission: the employee token "
                              f"needs {permissions.PLAIN[permissions.CREATE_CUSTOMER]}", tenant=exc.tenant,
                              reference=reference, connector=NAME, status=403,
                              provider_message=exc.provider_message, request_id=exc.request_id) from exc

    def forget(self) -> None:
        """Drop the cached register (after someone changed the chart in Tripletex)."""
        self._cache = self.context.cache[NAME]["register"] = Register()

    # -- the Target protocol ------------------------------------------------------------------------

    def _vouchers(self, documents: Sequence[Document]) -> list[Voucher]:
        return [d for d in documents if isinstance(d, Voucher)]

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        problems: list[Problem] = []
        for document in documents:
            if document.type in UNSUPPORTED_DOCUMENTS:
                problems.append(Problem(f"the Tripletex connector does not deliver {document.type} yet",
                                        reference=document.reference, code="unsupported-document"))
        vouchers = self._vouchers(documents)
        if not vouchers:
            return problems
        register = self.resolve(vouchers)
        # A voucher resolved for preflight must not hide a register change from the next run: a miss
        # is looked up again next time (only hits are cached).
        for voucher in vouchers:
            problems.extend(problems_for(voucher, register, create_customers=self.settings.create_customers))
            problems.extend(balance_per_date(voucher, voucher_payload(voucher, register)))
        problems.extend(periods.problems(self, vouchers))
        return problems

    def accounts_missing(self, numbers: Iterable[str]) -> dict[str, str]:
        """Which of these account numbers cannot be booked on in the tenant's chart, and why (pipeline.ports
        `ChartOfAccounts`): asked when a source that names accounts is added, not at its first delivery."""
        numbers = list(numbers)
        found: dict[str, dict[str, Any]] = {}
        self._by_numbers("ledger/account", "number", "number", [n for n in numbers if n.isdigit()], found)
        missing = {n: "does not exist in Tripletex" if n.isdigit() else
                   "is no account number Tripletex can have (its account numbers are integers)"
                   for n in numbers if n not in found}
        missing.update({n: "is inactive in Tripletex" for n, a in found.items() if a.get("isInactive")})
        return dict(sorted(missing.items()))

    def render(self, document: Document) -> dict[str, Any]:
        voucher = self._voucher(document)
        register = self.resolve([voucher])
        return voucher_payload(voucher, register)

    def _voucher(self, document: Document) -> Voucher:
        if not isinstance(document, Voucher):
            raise DataError(
                f"Tripletex connector does not deliver {document.type} yet: only vouchers "
                "(send it as a voucher, or use the file target for now)",
                tenant=self.context.tenant, reference=document.reference, connector=NAME)
        return document

    def deliver(self, document: Document) -> Delivery:
        voucher = self._voucher(document)
        register = self.resolve([voucher])
        if self.settings.create_customers:
            for line in voucher.lines:
                if line.customer is not None and matched(line.customer, register.customers) is None \
                        and creatable(line.customer) is None:
                    parties.ensure(self, line.customer, reference=voucher.reference)
        body = voucher_payload(voucher, register)
        problems = problems_for(voucher, register) + balance_per_date(voucher, body)
        if problems:
            raise DataError(f"Tripletex lacks what voucher {voucher.reference} needs: "
                            + "; ".join(str(p) for p in problems),
                            tenant=self.context.tenant, reference=voucher.reference, connector=NAME,
                            problems=tuple(problems))
        answer = refusals.LastAnswer(self.context.exchanges)
        try:
            created = self._request("POST", "ledger/voucher", params={"sendToLedger": str(not self.draft).lower()},
                                    body=body, reference=voucher.reference, exchanges=answer)
        except DataError as exc:  # Tripletex's refusal, put on our lines where it says which
            exc.problems = refusals.problems(voucher, refusals.validation_messages(answer.body)) or exc.problems
            raise
        except ConfigError as exc:
            if exc.status == 403:
                raise ConfigError(f"Tripletex refused voucher {voucher.reference} for lack of permission: the employee "
                                  f"token needs {permissions.PLAIN[permissions.ADVANCED_VOUCHER]}",
                                  tenant=exc.tenant, reference=exc.reference, connector=NAME, status=403,
                                  provider_message=exc.provider_message, request_id=exc.request_id) from exc
            raise
        return delivery_of(created["value"], not_accepted=not_accepted(voucher))

    def find(self, reference: str) -> Delivery | None:
        number = external_number(reference)
        fields = "id,number,tempNumber,year,externalVoucherNumber,url"
        found = self._list("ledger/voucher/>externalVoucherNumber", {"externalVoucherNumber": number,
                                                                     "fields": fields})
        exact = {int(v["id"]): v for v in found if v.get("externalVoucherNumber") == number}
        # [unverified] whether the search above lists vouchers not yet posted; our drafts are such, so the
        # non-posted ones are searched too (filtered here: >nonPosted has no externalVoucherNumber filter).
        # A draft found by both searches is one voucher (by id).
        for draft in self._list("ledger/voucher/>nonPosted", {"includeNonApproved": "true", "fields": fields}):
            if draft.get("externalVoucherNumber") == number:
                exact.setdefault(int(draft["id"]), draft)
        return found_once(list(exact.values()))

    def check(self) -> dict[str, Any]:
        """A connection test: who the tokens log in as, and whether they may do what this tenant needs.

        A permission the token certainly lacks fails the test (ConfigError, in plain words); one that cannot
        be checked is reported, not failed (permissions.py)."""
        who = self._request("GET", "token/session/>whoAmI",
                            params={"fields": "employeeId,companyId,company(id,name)"})["value"]
        company = who.get("company") or {}
        held = permissions.check(self, create_customers=self.settings.create_customers)
        if held.missing:
            raise ConfigError(held.explain(), tenant=self.context.tenant, connector=NAME)
        return {"target": NAME, "base_url": self.settings.base_url, "company_id": who.get("companyId"),
                "company": company.get("name"), "employee_id": who.get("employeeId"),
                "direct_posting": self.settings.direct_posting, "permissions": held.summary()}


def close(context: TargetContext) -> None:
    """Close the tenant's HTTP clients (at shutdown; the pipeline otherwise keeps them for reuse)."""
    for client in context.cache.get(NAME, {}).pop("clients", {}).values():
        client.close()


def connect(context: TargetContext, **options: Any) -> TripletexTarget:
    return TripletexTarget(context, **options)

