"""The PowerOffice GO target: shared-form vouchers as manual vouchers through PowerOffice GO API v2.

API: https://developer.poweroffice.net (per-domain OpenAPI files at https://swagger.poweroffice.net/openapispecs/,
not kept in ../shared/specs: built from reference/target-apis.md §2 and the generated clients named there; every
point still unverified is listed in docs/fidelity.md).

- Auth: OAuth 2 client credentials with Bilagsbro's application key and the customer's client key, plus Bilagsbro's
  subscription key on every request (client.py).
- Drafts by default: `POST /JournalEntryVouchers/ManualJournals` puts a manual voucher in GO's journal-entry view
  (role `JournalEntryVoucher_Full`), where someone reviews and posts it. Direct posting, the tenant's opt-in:
  `POST /Vouchers/ManualJournals` (role `ManualVoucher_Full`) with our `ExternalImportReference`. The two shapes
  differ (debit/credit accounts and unsigned amounts versus signed amounts): mapping.py.
- Everything is referenced by GO's ids; numbers are resolved once per connection and burst (register.py), and
  preflight reports every missing or refused account, VAT code, customer, supplier, department, project, sub-ledger
  mismatch and the lock date at once (mapping.problems_for).
- Exactly once: our ledger, and a way to find drafts that GO itself cannot deduplicate (sent.py).
- The connection test names the client the keys reach, its roles, and refuses another company's key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx

from connectors.http import Sleep, client_for, kept, send
from connectors.targets.poweroffice_go import invoicing, payments, preflight, sales, sent
from connectors.targets.poweroffice_go import register as lookups
from connectors.targets.poweroffice_go.client import DIALECT, GoToken, pace_for
from connectors.targets.poweroffice_go.descriptor import PowerOfficeSettings
from connectors.targets.poweroffice_go.mapping import (
    NAME,
    Register,
    delivery,
    direct_payload,
    draft_payload,
    encode,
    external_reference,
    not_accepted,
    problems_for,
)
from pipeline.errors import BilagsbroError, ConfigError, DataError, Problem
from pipeline.model import Document, Payment, SalesInvoice, Voucher
from pipeline.ports import Delivery, ExchangeLog, TargetContext

DRAFT_ROLE, DIRECT_ROLE = "JournalEntryVoucher_Full", "ManualVoucher_Full"
ROLE_WORDS = {DRAFT_ROLE: "send vouchers to the journal-entry view (Bilagsregistrering) as drafts",
              DIRECT_ROLE: "post manual vouchers directly to the ledger (direct posting)",
              "SalesOrders_Full": "make sales orders (invoice drafts) and post and send them as invoices",
              "BankVoucher_Full": "register payments against invoices as bank vouchers",
              "Customer_Full": "create and update customers", "Customer": "read customers",
              "Product": "read products (an invoice line's account and VAT code)",
              "OutgoingInvoices": "read invoices (numbers, KID, open amounts)"}
# The roles invoices need [unverified: Product and OutgoingInvoices are our reading of GO's role names].
INVOICE_ROLES = ("SalesOrders_Full", "BankVoucher_Full", "Product", "OutgoingInvoices")
DUPLICATE = "externalimportreference"  # GO's refusal of a reference it already holds names the field [unverified]


class PowerOfficeTarget:
    name = NAME

    def __init__(self, context: TargetContext, *, transport: httpx.BaseTransport | None = None,
                 sleep: Sleep | None = None) -> None:
        self.context = context
        self.settings = PowerOfficeSettings.read(context.settings, tenant=context.tenant, connector=NAME)
        self.draft = not self.settings.direct_posting
        self._transport = transport
        self._sleep = sleep or context.sleep
        self._client: httpx.Client | None = None

    # -- HTTP -----------------------------------------------------------------------------------------------------

    def _auth(self) -> GoToken:
        keys = [self.context.secret(name, connector=NAME) for name in ("application_key", "client_key",
                                                                       "subscription_key")]
        fingerprint = hashlib.sha256("\x00".join(keys).encode()).hexdigest()[:16]  # new keys, new token
        url = self.settings.oauth_url
        pace = pace_for(keys[2], self.settings.requests_per_second)
        return kept(self.context, (NAME, "token", url, fingerprint), lambda: GoToken(url, *keys, pace=pace))

    @property
    def client(self) -> httpx.Client:
        """The connection's HTTP client: one token and one connection pool per tenant."""
        if self._client is None:
            self._client = client_for(self.context, DIALECT, base_url=self.settings.base_url, auth=self._auth(),
                                      timeout=self.settings.timeout, transport=self._transport,
                                      headers={"Accept": "application/json"})
        return self._client

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
                reference: str | None = None, exchanges: ExchangeLog | None = None, missing_ok: bool = False,
                content_type: str = "application/json", role: str | None = None) -> Any:
        content = encode(body) if body is not None else None
        headers = {"Content-Type": f"{content_type}; charset=utf-8"} if content is not None else None
        try:
            response = send(self.client, method, path.lstrip("/"), params=params, content=content, headers=headers,
                            dialect=DIALECT, tenant=self.context.tenant, reference=reference, sleep=self._sleep,
                            exchanges=exchanges or self.context.exchanges)
        except DataError as exc:
            if missing_ok and exc.status == 404:
                return None
            raise
        except ConfigError as exc:
            if exc.status == 403 and role is not None:
                raise ConfigError(f"PowerOffice GO refused {method} {path.split('/')[0]} for lack of access: the "
                                  f"integration needs the role {role} (to {ROLE_WORDS.get(role, role)}) in this "
                                  "client", tenant=exc.tenant, reference=reference, connector=NAME, status=403,
                                  provider_message=exc.provider_message, request_id=exc.request_id) from exc
            raise
        if response.status_code == 204 or not response.content:
            return None
        return response.json(parse_float=Decimal)

    def records(self, path: str, params: Mapping[str, Any], *, page_size: int | None = None,
                role: str | None = None) -> list[dict[str, Any]]:
        """A list endpoint's records, every page (`PageNumber` from 1 [unverified]); 204 is an empty list."""
        if page_size is None:
            return list(self.request("GET", path, params=params, role=role) or [])
        found: list[dict[str, Any]] = []
        for page in range(1, 1000):
            paged = {**params, "PageNumber": page, "PageSize": page_size}
            rows = list(self.request("GET", path, params=paged, role=role) or [])
            found.extend(rows)
            if len(rows) < page_size:
                break
        return found

    # -- the Target protocol --------------------------------------------------------------------------------------

    def resolve(self, vouchers: Sequence[Voucher]) -> Register:
        return lookups.resolve(self, vouchers)

    # -- what invoices and payments need (sales.py, payments.py) -----------------------------------------------

    def wait(self, seconds: float) -> None:
        self._sleep(seconds)

    def vat_rates(self) -> dict[str, Decimal]:
        """VAT code → rate in per cent (GO's `Rate` is a fraction, 0.25 [unverified]; a whole number is taken as %)."""
        codes = self.context.lookups.fill("vat_codes", ["*"], lambda _: lookups._all_vat_codes(self))
        rates = {}
        for code, vat in codes.items():
            rate = Decimal(str(vat.get("Rate") or 0))
            rates[code] = rate * 100 if rate < 1 else rate
        return rates

    def vat_id(self, code: str) -> int | None:
        self.vat_rates()
        found = self.context.lookups.table("vat_codes").get(code)
        return None if found is None else int(found["Id"])

    def accounts(self, numbers: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self.context.lookups.fill("accounts", [n for n in numbers if n], lookups._by_numbers(
            self, "GeneralLedgerAccounts", "accountNos", "AccountNo"))

    def products(self) -> dict[str, dict[str, Any]]:
        """GO's products by code (`GET /Products`, every page, once per connection)."""
        table = self.context.lookups.fill("products", ["*"], lambda _: {"*": {
            str(p.get("Code")): p for p in self.records("Products", {}, page_size=lookups.PAGE, role="Product")}})
        return dict(table.get("*") or {})

    def sales_account(self, product: dict[str, Any]) -> dict[str, Any] | None:
        number = product.get("StandardSalesAccount")
        return None if number is None else self.accounts([str(number)]).get(str(number))

    def account_vat_code(self, account: dict[str, Any] | None) -> str | None:
        """The VAT code of a GeneralLedgerAccountDto: `VatCode`, else the code of its `VatCodeId`."""
        if account is None:
            return None
        if account.get("VatCode"):
            return str(account["VatCode"])
        self.vat_rates()
        return next((code for code, vat in self.context.lookups.table("vat_codes").items()
                     if vat.get("Id") == account.get("VatCodeId")), None)

    def customer_by_number(self, number: Any) -> dict[str, Any] | None:
        if number is None:
            return None
        rows = self.records("Customers", {"customerNos": str(number)})
        return next((r for r in rows if str(r.get("Number")) == str(number)), None)

    # -- the Target protocol (documents) --------------------------------------------------------------------------

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        problems: list[Problem] = []
        for document in documents:
            if isinstance(document, SalesInvoice):
                problems.extend(preflight.invoice_problems(self, document))
            elif isinstance(document, Payment):
                problems.extend(payments.payment_problems(self, document))
        vouchers = [d for d in documents if isinstance(d, Voucher)]
        if vouchers:
            register = self.resolve(vouchers)
            for voucher in vouchers:
                problems.extend(problems_for(voucher, register))
        return problems

    def accounts_missing(self, numbers: Iterable[str]) -> dict[str, str]:
        """Which of these account numbers cannot be booked on in the tenant's chart, and why (ChartOfAccounts)."""
        numbers = list(numbers)
        usable = sorted({n for n in numbers if n.isdigit()})
        found = {str(a.get("AccountNo")): a for i in range(0, len(usable), lookups.CHUNK)
                 for a in self.records("GeneralLedgerAccounts", {"accountNos": ",".join(usable[i:i + lookups.CHUNK])})}
        missing = {n: "does not exist in PowerOffice GO" if n.isdigit() else
                   "is no account number PowerOffice GO can have (its account numbers are integers)"
                   for n in numbers if n not in found}
        missing.update({n: "is inactive in PowerOffice GO" for n, a in found.items()
                        if n in numbers and not a.get("IsActive", True)})
        return dict(sorted(missing.items()))

    def _voucher(self, document: Document) -> Voucher:
        if not isinstance(document, Voucher):
            raise DataError(f"the PowerOffice GO connector does not deliver {document.type} yet: only vouchers",
                            tenant=self.context.tenant, reference=document.reference, connector=NAME)
        return document

    def render(self, document: Document) -> dict[str, Any]:
        if isinstance(document, SalesInvoice):
            return sales.render_invoice(self, document)
        if isinstance(document, Payment):
            return payments.render_payment(self, document)
        voucher = self._voucher(document)
        register = self.resolve([voucher])
        return draft_payload(voucher, register) if self.draft else direct_payload(voucher, register)

    def deliver(self, document: Document) -> Delivery:
        if isinstance(document, SalesInvoice):
            return replace(sales.deliver_invoice(self, document), not_accepted=invoicing.not_accepted(document))
        if isinstance(document, Payment):
            return replace(payments.deliver_payment(self, document), not_accepted=invoicing.not_accepted(document))
        voucher = self._voucher(document)
        register = self.resolve([voucher])
        problems = problems_for(voucher, register)
        if problems:
            raise DataError(f"PowerOffice GO lacks what voucher {voucher.reference} needs: "
                            + "; ".join(str(p) for p in problems), tenant=self.context.tenant,
                            reference=voucher.reference, connector=NAME, problems=tuple(problems))
        path, role = ("JournalEntryVouchers/ManualJournals", DRAFT_ROLE) if self.draft else \
            ("Vouchers/ManualJournals", DIRECT_ROLE)
        body = draft_payload(voucher, register) if self.draft else direct_payload(voucher, register)
        sent.remember(self, voucher, sent.DRAFT if self.draft else sent.DIRECT)
        try:
            created = self.request("POST", path, body=body, reference=voucher.reference)
        except DataError as exc:
            if not self.draft and DUPLICATE in (exc.provider_message or "").lower():
                found = self.find(voucher.reference)  # GO holds it already: its own duplicate check worked
                if found is not None:
                    return found
            raise
        except ConfigError as exc:
            if exc.status == 403:
                raise ConfigError(f"PowerOffice GO refused voucher {voucher.reference} for lack of access: the "
                                  f"integration needs the role {role} (to {ROLE_WORDS[role]}) in this client",
                                  tenant=exc.tenant, reference=voucher.reference, connector=NAME, status=403,
                                  provider_message=exc.provider_message, request_id=exc.request_id) from exc
            raise
        if self.draft:
            sent.note(self, str(created["Id"]), external_reference(voucher.reference))
        return delivery(created["Id"], draft=self.draft, reference=voucher.reference,
                        not_accepted=not_accepted(voucher), voucher_no=created.get("VoucherNo"))

    def find(self, reference: str) -> Delivery | None:
        mine = sales.find(self, reference)  # an invoice, credit note or payment: by its progress row
        if mine is not False:
            return mine
        return sent.find(self, reference)

    def check(self) -> dict[str, Any]:
        """The connection test in the customer's words: which client the keys reach, whether the integration may
        book the tenant's way, and whether it is the company the tenant named."""
        info = self.request("GET", "ClientIntegrationInformation") or {}
        valid = {str(p) for p in info.get("ValidPrivileges") or ()}
        invalid = {str(p) for p in info.get("InvalidPrivileges") or ()}
        role = DRAFT_ROLE if self.draft else DIRECT_ROLE
        client = info.get("ClientName") or "?"
        if role in invalid or (valid and role not in valid):
            raise ConfigError(f"the Bilagsbro integration in PowerOffice GO client «{client}» lacks the role {role}, "
                              f"needed to {ROLE_WORDS[role]}. The client's GO subscription must include it and the "
                              "integration must be granted it (PowerOffice GO: Innstillinger → Utvidelser)",
                              tenant=self.context.tenant, connector=NAME)
        needed = [role for role in self.invoice_roles() if role in invalid or (valid and role not in valid)]
        if needed and self.settings.products:  # the connection is set up for invoices (their lines need products)
            raise ConfigError(f"the Bilagsbro integration in PowerOffice GO client «{client}» lacks the role"
                              f"{'s' if len(needed) > 1 else ''} " + ", ".join(
                                  f"{role} (to {ROLE_WORDS[role]})" for role in needed)
                              + ", needed for invoices. The client's GO subscription must include invoicing and the "
                                "integration must be granted the roles (PowerOffice GO: Innstillinger → Utvidelser)",
                              tenant=self.context.tenant, connector=NAME)
        organization: dict[str, Any] = {}
        try:
            organization = self.request("GET", "OrganizationSettings") or {}
        except BilagsbroError as exc:
            if self.settings.organization_number or exc.status != 403:
                raise
        wanted, actual = self.settings.organization_number, str(organization.get("OrganizationNumber") or "")
        if wanted and actual.replace(" ", "") != wanted:
            raise ConfigError(f"the client key belongs to «{organization.get('Name') or client}» (organisation number "
                              f"{actual or 'unknown'}), not to the company with organisation number {wanted}: copy the "
                              "client key in that company's PowerOffice GO", tenant=self.context.tenant,
                              connector=NAME)
        return {"target": NAME, "base_url": self.settings.base_url, "client": client, "company": client,
                "client_id": info.get("ClientId"), "organization_number": actual or None,
                "direct_posting": self.settings.direct_posting,
                "roles": {"needed": [role], "checked": bool(valid or invalid),
                          "invoices": list(self.invoice_roles()), "invoices_missing": needed}}

    def invoice_roles(self) -> tuple[str, ...]:
        return (*INVOICE_ROLES, "Customer_Full" if self.settings.create_customers or self.settings.update_customers
                else "Customer")

