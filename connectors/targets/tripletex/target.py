"""The Tripletex target itself: session, bulk lookups, preflight, delivery, look-up and the connection test."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx

from connectors.http import Sleep, client_for, kept, send
from connectors.http import close as close_clients
from connectors.targets.tripletex import invoicing, parties, periods, permissions, refusals, sales
from connectors.targets.tripletex.client import DIALECT, SessionAuth
from connectors.targets.tripletex.descriptor import DESCRIPTOR, TripletexSettings
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
from pipeline.errors import ConfigError, DataError, Problem
from pipeline.model import Document, Party, Payment, SalesInvoice, Voucher
from pipeline.ports import Delivery, ExchangeLog, TargetContext

Settings = TripletexSettings  # the name this package exported before the kit

__all__ = [
    "DESCRIPTOR", "DIALECT", "DIMENSIONS", "EXTERNAL_NUMBER_MAX", "LOOKUP_CHUNK", "NAME", "NOT_ACCEPTED",
    "PRODUCTION_URL", "SECRET_FIELDS", "SECRET_PARAMS", "SESSION_DAYS", "TEST_URL", "UNSUPPORTED_DOCUMENTS",
    "Delivery", "Register", "SessionAuth", "Settings", "TargetContext", "TripletexSettings", "TripletexTarget",
    "close", "connect", "creatable", "customer_payload", "delivery_of", "encode", "external_number", "matched",
    "not_accepted", "party_key", "party_keys", "posting_payload", "problems_for", "voucher_payload",
]
# The register's tables in the connection's lookups (pipeline.lookups: per connection, single flight).
KINDS = ("accounts", "vat_types", "customers", "suppliers", "departments", "projects")


def _has_vat_id(key: str, table: Mapping[str, dict[str, Any]]) -> bool:
    """Whether the VAT types (by number) hold the one with this id ("id:<id>")."""
    return any(str(record.get("id")) == key.removeprefix("id:") for record in table.values())


# -- the I/O class ----------------------------------------------------------------------------------

class TripletexTarget:
    name = NAME

    def __init__(self, context: TargetContext, *, transport: httpx.BaseTransport | None = None,
                 sleep: Sleep | None = None) -> None:
        self.context = context
        self.settings = TripletexSettings.read(context.settings, tenant=context.tenant, connector=NAME)
        self.draft = not self.settings.direct_posting
        self._transport = transport
        self._sleep = sleep or context.sleep
        self._client: httpx.Client | None = None
        lookups = context.lookups
        self._cache = Register(**{kind: lookups.table(kind) for kind in KINDS})  # views of the shared tables

    # -- plumbing -----------------------------------------------------------------------------------

    def _auth(self) -> SessionAuth:
        """The connection's session, shared by every message and worker: one login, not one per message."""
        consumer = self.context.secret("consumer_token", connector=NAME)
        employee = self.context.secret("employee_token", connector=NAME)
        fingerprint = hashlib.sha256(f"{consumer}\0{employee}".encode()).hexdigest()
        key = (NAME, "session", self.settings.base_url, self.settings.company_id, fingerprint)
        return kept(self.context, key, lambda: SessionAuth(self.settings.base_url, consumer, employee,
                                                          self.settings.company_id))

    @property
    def client(self) -> httpx.Client:
        """The connection's HTTP client (connectors.http): one session and one connection pool per tenant."""
        if self._client is None:
            self._client = client_for(self.context, DIALECT, base_url=self.settings.base_url, auth=self._auth(),
                                      timeout=self.settings.timeout, transport=self._transport,
                                      headers={"Accept": "application/json; charset=utf-8"})
        return self._client

    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                 body: Any = None, reference: str | None = None, exchanges: ExchangeLog | None = None) -> Any:
        content = encode(body) if body is not None else None
        headers = {"Content-Type": "application/json; charset=utf-8"} if content is not None else None
        # Tripletex's actions (`PUT /invoice/{id}/:payment`, `:send`, `:invoice`, `:createCreditNote`) are PUTs that
        # are not idempotent: never repeated blindly after a timeout (sales.py looks up instead).
        action = method == "PUT" and "/:" in path
        response = send(self.client, method, path.lstrip("/"), params=params, content=content,
                        headers=headers, dialect=DIALECT, idempotent=False if action else None, tenant=self.context.tenant, reference=reference,
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

    def _numbers(self, path: str, param: str, key: str) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
        def fetch(numbers: list[str]) -> dict[str, dict[str, Any]]:
            found: dict[str, dict[str, Any]] = {}
            self._by_numbers(path, param, key, numbers, found)
            return found
        return fetch

    def _dimensions(self, path: str, param: str, key: str) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
        def fetch(numbers: list[str]) -> dict[str, dict[str, Any]]:
            found: dict[str, dict[str, Any]] = {}
            self._dimension(path, param, key, numbers, found)
            return found
        return fetch

    def _vat_types_by_id(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        self._by_numbers("ledger/vatType", "id", "number", [k.removeprefix("id:") for k in keys], found)
        return found

    def _parties(self, kind: str, path: str, wanted: Iterable[Party]) -> None:
        """Customers or suppliers into the shared table, one search per party however many workers want it."""
        by_keys = {keys: party for party in wanted if (keys := party_keys(party))}

        def have(keys: tuple[str, ...], table: Mapping[str, dict[str, Any]]) -> bool:
            record = next((table[k] for k in keys if k in table), None)  # as parties.find's `unresolved`
            return record is not None and not record.get("_ambiguous") and not record.get("isInactive")

        def fetch(batch: list[tuple[str, ...]]) -> dict[str, dict[str, Any]]:
            found: dict[str, dict[str, Any]] = {}
            parties.find(self, path, [by_keys[keys] for keys in batch], found)
            return found

        self.context.lookups.fill(kind, by_keys, fetch, have=have)

    def resolve(self, vouchers: Sequence[Voucher]) -> Register:
        """Fill the connection's register with what these vouchers need: one lookup per kind, at most, and
        one for a burst of workers (pipeline.lookups: single flight; only hits are kept)."""
        lines = [line for voucher in vouchers for line in voucher.lines]
        lookups = self.context.lookups
        lookups.fill("accounts", [line.account for line in lines], self._numbers("ledger/account", "number", "number"))
        lookups.fill("vat_types", [line.vat_code for line in lines if line.vat_code is not None],
                     self._numbers("ledger/vatType", "number", "number"))
        # VAT types an account is locked or limited to, by id, to name them in a problem (a search returns
        # only their ids): looked up only where a line breaks the lock or the limit.
        register = self._cache
        lookups.fill("vat_types", [f"id:{i}" for line in lines for i in vat_ids_to_name(line, register)],
                     self._vat_types_by_id, have=_has_vat_id)
        self._parties("customers", "customer", [line.customer for line in lines if line.customer is not None])
        self._parties("suppliers", "supplier", [line.supplier for line in lines if line.supplier is not None])
        lookups.fill("departments", [line.dimensions["department"] for line in lines if "department" in line.dimensions],
                     self._dimensions("department", "departmentNumber", "departmentNumber"))
        lookups.fill("projects", [line.dimensions["project"] for line in lines if "project" in line.dimensions],
                     self._dimensions("project", "number", "number"))
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
        self.context.lookups.clear()

    # -- the Target protocol ------------------------------------------------------------------------

    def _vouchers(self, documents: Sequence[Document]) -> list[Voucher]:
        return [d for d in documents if isinstance(d, Voucher)]

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        problems: list[Problem] = []
        for document in documents:
            if document.type in UNSUPPORTED_DOCUMENTS:
                problems.append(Problem(f"the Tripletex connector does not deliver {document.type} yet",
                                        reference=document.reference, code="unsupported-document"))
            elif isinstance(document, SalesInvoice):
                problems.extend(self._invoice_problems(document))
            elif isinstance(document, Payment):
                problems.extend(sales.payment_problems(self, document))
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

    def _invoice_problems(self, invoice: SalesInvoice) -> list[Problem]:
        """The checks before posting (invoicing.invoice_problems), its customer, and the invoice it credits."""
        self.context.lookups.fill("vat_types", [line.vat_code for line in invoice.lines],
                                  self._numbers("ledger/vatType", "number", "number"))
        problems = invoicing.invoice_problems(invoice, self.register.vat_types, self.settings.due_days)
        found, _ = sales.customer(self, invoice.customer, invoice.reference, create=False)
        if found is None and not (self.settings.create_customers and creatable(invoice.customer) is None):
            problems.append(Problem(f"customer {invoice.customer.name or invoice.customer.number} is missing, ambiguous "
                                    "or inactive in Tripletex" + ("" if self.settings.create_customers else
                                    " (the connection may create missing customers: setting create_customers)"),
                                    field="customer", reference=invoice.reference, code="missing-customer"))
        if invoice.credits is not None and not self.draft:
            credited = sales.locate(self, invoice.credits, None, invoice.date)
            if credited is None or "draft" in credited:
                problems.append(Problem(f"the invoice credited, {invoice.credits}, is " + (
                    "not in Tripletex" if credited is None else "still a draft (an order) in Tripletex"),
                    field="credits", reference=invoice.reference, code="missing-invoice"))
        return problems

    def render(self, document: Document) -> dict[str, Any]:
        if isinstance(document, SalesInvoice):
            self.context.lookups.fill("vat_types", [line.vat_code for line in document.lines],
                                      self._numbers("ledger/vatType", "number", "number"))
            return sales.render_invoice(self, document)
        if isinstance(document, Payment):
            return sales.render_payment(self, document)
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
        if isinstance(document, SalesInvoice):
            problems = self._invoice_problems(document)
            if problems:
                raise DataError(f"invoice {document.reference} cannot be delivered: "
                                + "; ".join(str(p) for p in problems), tenant=self.context.tenant,
                                reference=document.reference, connector=NAME, problems=tuple(problems))
            return replace(sales.deliver_invoice(self, document), not_accepted=invoicing.not_accepted(document))
        if isinstance(document, Payment):
            return replace(sales.deliver_payment(self, document), not_accepted=invoicing.not_accepted(document))
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
        ours = sales.find(self, reference)  # an invoice, credit note or payment: by its progress row
        if ours is not False:
            return ours
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
    """Close the connection's HTTP clients (at shutdown; the pipeline otherwise keeps them for reuse)."""
    close_clients(context)


def connect(context: TargetContext, **options: Any) -> TripletexTarget:
    return TripletexTarget(context, **options)

