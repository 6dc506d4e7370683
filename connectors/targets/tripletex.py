"""The Tripletex target: shared-form vouchers posted as manual vouchers through Tripletex API v2.

API: https://tripletex.no/v2-docs/ (spec: https://tripletex.no/v2/openapi.json, kept in
`../shared/specs/tripletex/openapi.json`); facts and quirks in reference/target-apis.md §1.

- Auth: a session token from consumer + employee token (`PUT /token/session/:create`), then HTTP Basic
  with user `0` (the employee's own company) or an accountant client's company id, password the token.
- Vouchers: `POST /ledger/voucher?sendToLedger=false` (a draft, "non-posted") unless the tenant opted in
  to direct posting. Postings carry signed `amountGross` and a `vatType`: Tripletex splits VAT out itself.
- Everything is referenced by Tripletex's internal id, so account, VAT, customer, supplier, department
  and project numbers are resolved once per tenant (one bulk lookup per kind) and cached.
- Idempotency: our reference travels in `externalVoucherNumber`; `find` searches
  `GET /ledger/voucher/>externalVoucherNumber`. Tripletex does not enforce its uniqueness, so the
  idempotency ledger (pipeline/ledger.py) asks `find` before it posts again after an unknown outcome.
- Customers are matched by customer number (`customerAccountNumber` filter, which lists customer
  numbers), else organisation number, else e-mail; a name alone is not matched (ambiguous).
  Suppliers alike (`supplierNumber`).
- Only NOK vouchers: for another currency Tripletex needs the NOK amount (`amountGross`) beside the
  currency amount, and the shared form carries no exchange rate.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from connectors.http import RecordingTransport, Sleep, error_from_response, send
from pipeline.errors import ConfigError, DataError, Problem
from pipeline.model import Document, Posting, Voucher
from pipeline.ports import Delivery, TargetContext

NAME = "tripletex"
PRODUCTION_URL = "https://tripletex.no/v2"
TEST_URL = "https://api-test.tripletex.tech/v2"
SESSION_DAYS = 1  # a session token lives until its expirationDate; renewed on 401 anyway
LOOKUP_CHUNK = 100  # numbers per bulk lookup, to keep URLs short
# The spec gives `externalVoucherNumber` no maxLength [unverified: the real column limit]. We keep it
# to 100 characters: a longer reference becomes its first 83 characters, "~" and 16 hex digits of its
# SHA-256 — deterministic, so `find` searches with the same value.
EXTERNAL_NUMBER_MAX = 100
SECRET_PARAMS = ("consumerToken", "employeeToken", "token")
SECRET_FIELDS = ("token", "encryptionKey")

# Fields of the shared form Tripletex's manual voucher has no place for; reported in
# `Delivery.not_accepted` (e.g. "lines[1].kid"), never invented or hidden in another field.
NOT_ACCEPTED: dict[str, str] = {
    "lines[].kid": "KID belongs to Tripletex invoices; a manual voucher posting has no KID field "
                   "(Posting.externalRef is read-only)",
    "lines[].dimensions.*": "Tripletex postings take department and project; other dimensions have no field",
    "voucher_type": "mapping a source voucher series to a Tripletex voucherType is not implemented; "
                    "Tripletex uses its default type for manual vouchers",
}
DIMENSIONS = ("department", "project")
UNSUPPORTED_DOCUMENTS = ("sales_invoice", "payment")


# -- wire models ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """A tenant's Tripletex settings (context.settings); the tokens are secret *names*."""

    base_url: str = PRODUCTION_URL
    company_id: str = "0"
    direct_posting: bool = False
    consumer_token_secret: str = ""
    employee_token_secret: str = ""
    timeout: float = 30.0

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> Settings:
        names = settings.get("secrets") or {}
        return cls(
            base_url=str(settings.get("base_url") or PRODUCTION_URL).rstrip("/"),
            company_id=str(settings.get("company_id") or "0"),
            direct_posting=bool(settings.get("direct_posting", False)),
            consumer_token_secret=str(names.get("consumer_token") or ""),
            employee_token_secret=str(names.get("employee_token") or ""),
            timeout=float(settings.get("timeout") or 30.0),
        )


@dataclass
class Register:
    """Tripletex ids by our numbers, per kind; what a voucher needs, resolved or known missing."""

    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # "1500" → Account
    vat_types: dict[str, dict[str, Any]] = field(default_factory=dict)  # "3" → VatType
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # party key → Customer
    suppliers: dict[str, dict[str, Any]] = field(default_factory=dict)
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)


# -- pure mapping -----------------------------------------------------------------------------------

def external_number(reference: str) -> str:
    """Our reference as Tripletex's externalVoucherNumber (see EXTERNAL_NUMBER_MAX)."""
    if len(reference) <= EXTERNAL_NUMBER_MAX:
        return reference
    digest = hashlib.sha256(reference.encode("utf-8")).hexdigest()[:16]
    return f"{reference[:EXTERNAL_NUMBER_MAX - 17]}~{digest}"


def party_key(party: Any) -> str | None:
    """How a customer/supplier is looked up: 'number:…', 'org:…' or 'email:…' (None: name only)."""
    if party is None:
        return None
    if party.number:
        return f"number:{party.number}"
    if party.organization_number:
        return f"org:{party.organization_number}"
    if party.email:
        return f"email:{party.email.strip().lower()}"
    return None


def not_accepted(voucher: Voucher) -> tuple[str, ...]:
    fields: list[str] = []
    if voucher.voucher_type:
        fields.append("voucher_type")
    for i, line in enumerate(voucher.lines):
        if line.kid:
            fields.append(f"lines[{i}].kid")
        fields.extend(f"lines[{i}].dimensions.{name}" for name in line.dimensions if name not in DIMENSIONS)
    return tuple(fields)


def problems_for(voucher: Voucher, register: Register) -> list[Problem]:
    """Everything in the register this voucher needs and Tripletex lacks, each located by field."""
    problems: list[Problem] = []

    def problem(code: str, where: str, message: str) -> None:
        problems.append(Problem(message, field=where, reference=voucher.reference, code=code,
                                file=voucher.origin.file if voucher.origin else None,
                                line=voucher.origin.line if voucher.origin else None))

    if voucher.currency != "NOK":
        problem("unsupported-currency", "currency",
                f"Tripletex needs the NOK amount beside the {voucher.currency} amount; "
                "the shared form carries no exchange rate")
    for i, line in enumerate(voucher.lines):
        at = f"lines[{i}]"
        account = register.accounts.get(line.account)
        if account is None:
            problem("missing-account", f"{at}.account", f"account {line.account} does not exist in Tripletex")
        elif account.get("isInactive"):
            problem("inactive-account", f"{at}.account", f"account {line.account} is inactive in Tripletex")
        if line.vat_code is not None and line.vat_code not in register.vat_types:
            problem("unknown-vat-code", f"{at}.vat_code", f"VAT code {line.vat_code} is not a Tripletex VAT type")
        for role, parties, code in (("customer", register.customers, "missing-customer"),
                                    ("supplier", register.suppliers, "missing-supplier")):
            party = getattr(line, role)
            if party is None:
                continue
            key = party_key(party)
            if key is None:
                problem(code, f"{at}.{role}",
                        f"{role} {party.name!r} has no number, organisation number or e-mail to match in Tripletex")
            elif key not in parties:
                problem(code, f"{at}.{role}", f"{role} {key.replace(':', ' ', 1)} does not exist in Tripletex")
            elif parties[key].get("isInactive"):
                problem(code, f"{at}.{role}", f"{role} {key.replace(':', ' ', 1)} is inactive in Tripletex")
        if account is not None:
            ledger_type = account.get("ledgerType")
            if ledger_type == "CUSTOMER" and line.customer is None:
                problem("customer-required", f"{at}.customer",
                        f"account {line.account} is a customer ledger account: the line needs a customer")
            if ledger_type == "VENDOR" and line.supplier is None:
                problem("supplier-required", f"{at}.supplier",
                        f"account {line.account} is a supplier ledger account: the line needs a supplier")
            if account.get("requiresDepartment") and "department" not in line.dimensions:
                problem("department-required", f"{at}.dimensions.department",
                        f"account {line.account} requires a department in Tripletex")
            if account.get("requiresProject") and "project" not in line.dimensions:
                problem("project-required", f"{at}.dimensions.project",
                        f"account {line.account} requires a project in Tripletex")
        department = line.dimensions.get("department")
        if department is not None:
            found = register.departments.get(department)
            if found is None or found.get("isInactive"):
                problem("missing-department", f"{at}.dimensions.department",
                        f"department {department} does not exist or is inactive in Tripletex")
        project = line.dimensions.get("project")
        if project is not None:
            found = register.projects.get(project)
            if found is None or found.get("isClosed"):
                problem("missing-project", f"{at}.dimensions.project",
                        f"project {project} does not exist or is closed in Tripletex")
    return problems


def _ref(record: Mapping[str, Any] | None) -> dict[str, int] | None:
    return {"id": int(record["id"])} if record is not None else None


def posting_payload(row: int, line: Posting, voucher: Voucher, register: Register) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "row": row,  # rows from 1: row 0 is Tripletex's own (generated VAT postings)
        "date": voucher.date.isoformat(),
        "description": line.description or voucher.description or "",
        "account": _ref(register.accounts.get(line.account)),
        "amountGross": line.amount,
        "amountGrossCurrency": line.amount,  # NOK only: the currency amount is the NOK amount
    }
    if line.vat_code is not None:
        payload["vatType"] = _ref(register.vat_types.get(line.vat_code))
    if line.customer is not None:
        payload["customer"] = _ref(register.customers.get(party_key(line.customer) or ""))
    if line.supplier is not None:
        payload["supplier"] = _ref(register.suppliers.get(party_key(line.supplier) or ""))
    if "department" in line.dimensions:
        payload["department"] = _ref(register.departments.get(line.dimensions["department"]))
    if "project" in line.dimensions:
        payload["project"] = _ref(register.projects.get(line.dimensions["project"]))
    if line.invoice_number:
        payload["invoiceNumber"] = line.invoice_number
    if line.due_date is not None:
        # Posting.termOfPayment is a string in the spec with no description; in the Tripletex UI it
        # is the due date of an open item, so it takes the ISO date [unverified].
        payload["termOfPayment"] = line.due_date.isoformat()
    return payload


def voucher_payload(voucher: Voucher, register: Register) -> dict[str, Any]:
    """The body of `POST /ledger/voucher`: a pure function of the voucher and the resolved register."""
    body: dict[str, Any] = {
        "date": voucher.date.isoformat(),
        "description": voucher.description or voucher.reference,
        "externalVoucherNumber": external_number(voucher.reference),
        "postings": [posting_payload(i, line, voucher, register) for i, line in enumerate(voucher.lines, 1)],
    }
    return body


_NUMBER = re.compile(r'"\\u0000D(-?[0-9.]+)"')


def encode(payload: Any) -> bytes:
    """JSON with Decimal amounts as exact JSON numbers (never through float), æøå as UTF-8."""
    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"\x00D{value:f}"
        raise TypeError(type(value).__name__)
    return _NUMBER.sub(r"\1", json.dumps(payload, default=default, ensure_ascii=False)).encode("utf-8")


def delivery_of(voucher: Mapping[str, Any], *, not_accepted: tuple[str, ...] = ()) -> Delivery:
    """Our Delivery from Tripletex's Voucher: a voucher without a ledger number is non-posted (a draft)."""
    number = voucher.get("number") or 0
    return Delivery(
        remote_id=str(voucher["id"]),
        draft=not number,
        url=voucher.get("url"),
        not_accepted=not_accepted,
        details={k: voucher.get(k) for k in ("number", "tempNumber", "year", "externalVoucherNumber")
                 if voucher.get(k) is not None},
    )


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
            return str(response.json()["value"]["token"])
        except (ValueError, KeyError, TypeError):
            raise ConfigError("Tripletex session answer has no token; is base_url the API (…/v2)?",
                              connector=NAME, status=response.status_code) from None

    def _sign(self, request: httpx.Request, token: str) -> None:
        basic = base64.b64encode(f"{self._company_id}:{token}".encode()).decode("ascii")
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
                 body: Any = None, reference: str | None = None) -> Any:
        content = encode(body) if body is not None else None
        headers = {"Content-Type": "application/json; charset=utf-8"} if content is not None else None
        response = send(self.client, method, path.lstrip("/"), params=params, content=content,
                        headers=headers, connector=NAME, tenant=self.context.tenant, reference=reference,
                        sleep=self._sleep, exchanges=self.context.exchanges)
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

    def _parties(self, path: str, number_param: str, number_key: str, keys: Iterable[str],
                 found: dict[str, dict[str, Any]]) -> None:
        wanted = {k for k in keys if k not in found}
        numbers = [k.split(":", 1)[1] for k in wanted if k.startswith("number:")]
        # Only numeric customer numbers can exist in Tripletex (customerNumber is an integer).
        by_number: dict[str, dict[str, Any]] = {}
        self._by_numbers(path, number_param, number_key, [n for n in numbers if n.isdigit()], by_number)
        for number, record in by_number.items():
            found[f"number:{number}"] = record
        for key in sorted(wanted):
            kind, _, value = key.partition(":")
            if kind in ("org", "email"):
                param = "organizationNumber" if kind == "org" else "email"
                matches = self._list(path, {param: value})
                if kind == "email":
                    matches = [m for m in matches if str(m.get("email", "")).lower() == value]
                if len(matches) == 1:
                    found[key] = matches[0]

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
        self._parties("customer", "customerAccountNumber", "customerNumber",
                      (k for k in (party_key(line.customer) for line in lines) if k), register.customers)
        self._parties("supplier", "supplierNumber", "supplierNumber",
                      (k for k in (party_key(line.supplier) for line in lines) if k), register.suppliers)
        self._dimension("department", "departmentNumber", "departmentNumber",
                        (line.dimensions["department"] for line in lines if "department" in line.dimensions),
                        register.departments)
        self._dimension("project", "number", "number",
                        (line.dimensions["project"] for line in lines if "project" in line.dimensions),
                        register.projects)
        return register

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
            problems.extend(problems_for(voucher, register))
        return problems

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
        problems = problems_for(voucher, register)
        if problems:
            raise DataError(f"Tripletex lacks what voucher {voucher.reference} needs: "
                            + "; ".join(str(p) for p in problems),
                            tenant=self.context.tenant, reference=voucher.reference, connector=NAME,
                            problems=tuple(problems))
        body = voucher_payload(voucher, register)
        answer = self._request("POST", "ledger/voucher", params={"sendToLedger": str(not self.draft).lower()},
                               body=body, reference=voucher.reference)
        return delivery_of(answer["value"], not_accepted=not_accepted(voucher))

    def find(self, reference: str) -> Delivery | None:
        number = external_number(reference)
        # [unverified] whether this search also returns non-posted vouchers; the sandbox does.
        found = self._list("ledger/voucher/>externalVoucherNumber", {
            "externalVoucherNumber": number, "fields": "id,number,tempNumber,year,externalVoucherNumber,url"})
        exact = [v for v in found if v.get("externalVoucherNumber") == number]
        if not exact:
            return None
        first = delivery_of(min(exact, key=lambda v: int(v["id"])))
        if len(exact) > 1:  # a double made outside our ledger: say so rather than pick silently
            first.details["duplicates"] = sorted(int(v["id"]) for v in exact)
        return first

    def check(self) -> dict[str, Any]:
        """A connection test: who the tokens log in as."""
        who = self._request("GET", "token/session/>whoAmI",
                            params={"fields": "employeeId,companyId,company(id,name)"})["value"]
        company = who.get("company") or {}
        return {"target": NAME, "base_url": self.settings.base_url, "company_id": who.get("companyId"),
                "company": company.get("name"), "employee_id": who.get("employeeId"),
                "direct_posting": self.settings.direct_posting}


def close(context: TargetContext) -> None:
    """Close the tenant's HTTP clients (at shutdown; the pipeline otherwise keeps them for reuse)."""
    for client in context.cache.get(NAME, {}).pop("clients", {}).values():
        client.close()


def connect(context: TargetContext, **options: Any) -> TripletexTarget:
    return TripletexTarget(context, **options)
