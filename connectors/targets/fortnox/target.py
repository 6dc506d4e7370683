"""The Fortnox target: shared-form vouchers booked as Fortnox vouchers through API v3 (`POST /3/vouchers`).

Facts and what is unverified: reference/target-apis.md §8, docs/fidelity.md. The package: `descriptor.py`
(settings, secrets, what Fortnox accepts), `client.py` (error body, OAuth with rotated refresh tokens),
`mapping.py` and `voucher.py` (pure mapping: VAT on rows of its own), `notes.py` (where `find` looks),
`consent.py` (the hosted onboarding link), and here the target.

- No draft: without the tenant's opt-in to direct posting nothing is sent (preflight names it; delivery and the
  connection test refuse).
- Lookups, per connection and single flight (pipeline.lookups): the financial year of each date
  (`GET /3/financialyears?date=`), the voucher series, each account in its financial year, cost centres, projects.
- Exactly once: our ledger, and `find`, which lists the series' vouchers of the noted financial year and date
  (notes.py) and picks the one whose description opens with our reference's marker.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx

from connectors.http import client_for, kept, send
from connectors.targets.fortnox import notes, payments, sales
from connectors.targets.fortnox.client import DIALECT, FortnoxAuth, OAuth
from connectors.targets.fortnox.descriptor import FortnoxSettings
from connectors.targets.fortnox.invoicing import not_accepted
from connectors.targets.fortnox.mapping import (
    ACCOUNT,
    NAME,
    OPT_IN,
    PAGE_LIMIT,
    Register,
    carries,
    encode,
    vat_account,
)
from connectors.targets.fortnox.voucher import Built, build
from pipeline.errors import BilagsbroError, ConfigError, DataError, Problem
from pipeline.model import Document, Payment, SalesInvoice, Voucher
from pipeline.ports import Delivery, TargetContext

NOT_FOUND_WORDS = ("kunde inte hitta", "hittades inte", "finns inte")


class FortnoxTarget:
    """One tenant's Fortnox company."""

    name = NAME

    def __init__(self, context: TargetContext) -> None:
        self.context = context
        self.settings = FortnoxSettings.read(context.settings, tenant=context.tenant, connector=NAME)
        self.vat_accounts = {k: str(v) for k, v in self.settings.vat_accounts.items()}
        # invoices, credit notes and payments: booked on opt-in (book_invoices, else direct_posting), else drafts
        book = self.settings.book_invoices
        self.book = self.settings.direct_posting if book is None else book

    # -- HTTP ---------------------------------------------------------------------------------------------------

    def _auth(self) -> FortnoxAuth:
        names: Mapping[str, str] = self.context.settings.get("secrets") or {}
        context, settings = self.context, self.settings
        if "refresh_token" not in names or "client_secret" not in names:
            raise ConfigError("the Fortnox connection has no consent yet: send the customer the onboarding link "
                              "(POST /api/v1/admin/tenants/{id}/onboarding/fortnox)",
                              tenant=context.tenant, connector=NAME)

        def made() -> FortnoxAuth:
            return FortnoxAuth(OAuth(settings.token_url, settings.client_id,
                                     context.secret("client_secret", connector=NAME),
                                     lambda: context.secrets.get(names["refresh_token"]) or "",
                                     lambda rotated: context.secrets.set(names["refresh_token"], rotated)))
        return kept(context, (NAME, "auth", names["refresh_token"], settings.client_id), made)

    @property
    def client(self) -> httpx.Client:
        return client_for(self.context, DIALECT, base_url=self.settings.base_url, auth=self._auth(),
                          timeout=self.settings.timeout, headers={"Accept": "application/json"})

    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
                 reference: str | None = None, idempotent: bool | None = None) -> Any:
        content = encode(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = send(self.client, method, path, params=params, content=content, headers=headers,
                            dialect=DIALECT, tenant=self.context.tenant, reference=reference,
                            sleep=self.context.sleep, exchanges=self.context.exchanges, idempotent=idempotent)
        except ConfigError as exc:
            if exc.status == 401:
                raise ConfigError("Fortnox refused Bilagsbro's access (401): the permission was withdrawn in "
                                  "Fortnox (Integrationer → Bilagsbro), so the customer must approve it again "
                                  "through the onboarding link", tenant=exc.tenant, reference=exc.reference,
                                  connector=NAME, status=401, provider_message=exc.provider_message,
                                  request_id=exc.request_id) from exc
            said = (exc.provider_message or "").lower()
            if exc.status in (400, 403) and any(w in said for w in ("licens", "behörighet", "scope")):
                raise ConfigError(f"Fortnox refused {method} /3/{path}: {exc.provider_message}. The company's "
                                  "administrator adds the licence in Fortnox (Mina sidor → Licenser) [unverified "
                                  "menu], or gives Bilagsbro permission again through the onboarding link",
                                  tenant=exc.tenant, reference=exc.reference, connector=NAME, status=exc.status,
                                  provider_message=exc.provider_message, request_id=exc.request_id) from exc
            raise
        return response.json() if response.content else None

    def _found(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """One resource, or None where Fortnox says it has none (404, or 400 in its words [unverified which])."""
        try:
            answer = self._request("GET", path, params=params)
        except BilagsbroError as exc:
            said = (exc.provider_message or "").lower()
            if exc.status == 404 or (exc.status == 400 and any(w in said for w in NOT_FOUND_WORDS)):
                return None
            raise
        found = (answer or {}).get(key)
        return found if isinstance(found, dict) else None

    def _pages(self, path: str, key: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            answer = self._request("GET", path, params={**params, "page": page, "limit": PAGE_LIMIT}) or {}
            yield from answer.get(key) or []
            meta = answer.get("MetaInformation") or {}
            if page >= int(meta.get("@TotalPages") or 1):
                return
            page += 1

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
                reference: str | None = None, idempotent: bool | None = None) -> Any:
        """Fortnox's answer to one call (sales.py, payments.py, customers.py). Fortnox's actions — bookkeep, credit,
        and the e-mail and e-invoice sends, a GET — are `idempotent=False`: never sent again on a lost answer."""
        return self._request(method, path, params=params, body=body, reference=reference, idempotent=idempotent)

    def found(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        return self._found(path, key, params)

    def pages(self, path: str, key: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        return self._pages(path, key, params)

    # -- what an invoice needs -----------------------------------------------------------------------------------

    def year_of(self, day: str) -> dict[str, Any] | None:
        """The financial year holding `day`, once per connection."""
        found: dict[str, Any] | None = self.context.lookups.fill("financial_years", [day], self._years).get(day)
        return found

    def account(self, year: Mapping[str, Any], number: str) -> dict[str, Any] | None:
        key = f"{year['Id']}:{number}"
        found: dict[str, Any] | None = self.context.lookups.fill(
            "accounts", [key], self._one("accounts", "Account", with_year=True)).get(key)
        return found

    def mode_of_payment(self, code: str) -> dict[str, Any] | None:
        """The company's mode of payment `code` (`GET /3/modesofpayments/{Code}`), once per connection."""
        found: dict[str, Any] | None = self.context.lookups.fill(
            "modes_of_payment", [code], self._one("modesofpayments", "ModeOfPayment")).get(code)
        return found

    # -- what a voucher needs ------------------------------------------------------------------------------------

    def _years(self, days: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for day in days:
            years = (self._request("GET", "financialyears", params={"date": day}) or {}).get("FinancialYears") or []
            if years:
                found[day] = years[0]
        return found

    def _one(self, path: str, key: str, with_year: bool = False) -> Any:
        def fetch(keys: list[str]) -> dict[str, dict[str, Any]]:
            found = {}
            for k in keys:
                year, _, ident = k.rpartition(":") if with_year else ("", "", k)
                hit = self._found(f"{path}/{ident}", key, {"financialyear": year} if year else None)
                if hit is not None:
                    found[k] = hit
            return found
        return fetch

    def resolve(self, vouchers: Sequence[Voucher]) -> dict[str, Register]:
        """What these vouchers need from Fortnox, by voucher reference (one fetch per key and burst)."""
        lookups = self.context.lookups
        years = lookups.fill("financial_years", [v.date.isoformat() for v in vouchers], self._years)
        series = lookups.fill("voucher_series", [self.settings.voucher_series],
                              self._one("voucherseries", "VoucherSeries"))
        wanted: dict[str, list[str]] = {}
        for v in vouchers:
            year = years.get(v.date.isoformat())
            numbers = {line.account for line in v.lines if ACCOUNT.match(line.account)}
            numbers |= {a for line in v.lines if line.vat_code and (a := vat_account(line.vat_code, self.vat_accounts))}
            wanted[v.reference] = [f"{year['Id']}:{n}" for n in sorted(numbers)] if year else []
        accounts = lookups.fill("accounts", [k for keys in wanted.values() for k in keys],
                                self._one("accounts", "Account", with_year=True))
        dims = [line.dimensions for v in vouchers for line in v.lines]
        centres = lookups.fill("cost_centers", [d["department"] for d in dims if d.get("department")],
                               self._one("costcenters", "CostCenter"))
        projects = lookups.fill("projects", [d["project"] for d in dims if d.get("project")],
                                self._one("projects", "Project"))
        return {v.reference: Register(
            accounts={k.rpartition(":")[2]: accounts[k] for k in wanted[v.reference] if k in accounts},
            cost_centers=centres, projects=projects, years=years, series=series) for v in vouchers}

    def _built(self, voucher: Voucher, register: Register) -> Built:
        return build(voucher, register, series=self.settings.voucher_series, vat_accounts=self.vat_accounts)

    # -- the Target protocol -------------------------------------------------------------------------------------

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        problems: list[Problem] = []
        for document in documents:
            if isinstance(document, SalesInvoice):
                problems.extend(sales.invoice_problems(self, document))
            elif isinstance(document, Payment):
                problems.extend(payments.payment_problems(self, document))
        vouchers = [d for d in documents if isinstance(d, Voucher)]
        if not vouchers:
            return problems
        registers = self.resolve(vouchers)
        for voucher in vouchers:
            if not self.settings.direct_posting:
                problems.append(Problem(OPT_IN, field="settings.direct_posting", reference=voucher.reference,
                                        code="direct-posting-required"))
            problems.extend(self._built(voucher, registers[voucher.reference]).problems)
        return problems

    def accounts_missing(self, numbers: Iterable[str]) -> dict[str, str]:
        """Which of these account numbers cannot be booked on in today's financial year, and why."""
        import datetime as dt

        numbers = list(numbers)
        today = dt.date.today().isoformat()
        year = self.context.lookups.fill("financial_years", [today], self._years).get(today)
        if year is None:
            return {n: "Fortnox has no financial year for today" for n in numbers}
        keys = [f"{year['Id']}:{n}" for n in numbers if ACCOUNT.match(n)]
        found = self.context.lookups.fill("accounts", keys, self._one("accounts", "Account", with_year=True))
        missing = {}
        for n in numbers:
            hit = found.get(f"{year['Id']}:{n}")
            if not ACCOUNT.match(n):
                missing[n] = "is no Fortnox account number (four digits)"
            elif hit is None:
                missing[n] = "does not exist in Fortnox"
            elif hit.get("Active") is False:
                missing[n] = "is inactive in Fortnox"
        return dict(sorted(missing.items()))

    def render(self, document: Document) -> dict[str, Any]:
        if isinstance(document, SalesInvoice):
            return sales.render_invoice(self, document)
        if isinstance(document, Payment):
            return payments.render_payment(self, document)
        voucher = self._voucher(document)
        return self._built(voucher, self.resolve([voucher])[voucher.reference]).body

    def _voucher(self, document: Document) -> Voucher:
        if not isinstance(document, Voucher):
            raise DataError(f"the Fortnox connector does not deliver {document.type}",
                            tenant=self.context.tenant, reference=document.reference, connector=NAME)
        return document

    def deliver(self, document: Document) -> Delivery:
        if isinstance(document, SalesInvoice):
            problems = sales.invoice_problems(self, document)
            if problems:
                raise DataError(f"invoice {document.reference} cannot be delivered: "
                                + "; ".join(str(p) for p in problems), tenant=self.context.tenant,
                                reference=document.reference, connector=NAME, problems=tuple(problems))
            return replace(sales.deliver_invoice(self, document), not_accepted=not_accepted(document))
        if isinstance(document, Payment):
            return replace(payments.deliver_payment(self, document), not_accepted=not_accepted(document))
        voucher = self._voucher(document)
        if not self.settings.direct_posting:
            raise ConfigError(OPT_IN, tenant=self.context.tenant, reference=voucher.reference, connector=NAME)
        built = self._built(voucher, self.resolve([voucher])[voucher.reference])
        if built.problems or built.year is None:
            raise DataError(f"Fortnox lacks what voucher {voucher.reference} needs: "
                            + "; ".join(str(p) for p in built.problems), tenant=self.context.tenant,
                            reference=voucher.reference, connector=NAME, problems=built.problems)
        year = int(built.year["Id"])
        notes.remember(self.context, voucher.reference,
                       notes.Where(self.settings.voucher_series, year, voucher.date.isoformat()))
        answer = self._request("POST", "vouchers", params={"financialyear": year}, body=built.body,
                               reference=voucher.reference) or {}
        made = answer.get("Voucher") or {}
        return _delivery(made, not_accepted=built.not_accepted, details=built.details)

    def find(self, reference: str) -> Delivery | None:
        sold = sales.find(self, reference)  # an invoice, credit note or payment: by its progress row
        if sold is not False:
            return sold
        for where in notes.recall(self.context, reference):
            ours = [v for v in self._pages(f"vouchers/sublist/{where.series}", "Vouchers",
                                           {"financialyear": where.year, "fromdate": where.day, "todate": where.day})
                    # fromdate/todate may be ignored for vouchers [unverified]: the date is checked here too
                    if v.get("TransactionDate") == where.day and carries(v.get("Description"), reference)]
            if ours:
                ours.sort(key=lambda v: int(v.get("VoucherNumber") or 0))
                found = _delivery(ours[0], details={"voucher_series": where.series, "financial_year": where.year})
                if len(ours) > 1:  # a double made outside our ledger: say so rather than pick silently
                    found.details["duplicates"] = [f"{v.get('VoucherSeries')}{v.get('VoucherNumber')}" for v in ours]
                return found
        return None

    def check(self) -> dict[str, Any]:
        """The connection test, in the customer's words: consent, licence, financial year, series, opt-in."""
        import datetime as dt

        company = (self._request("GET", "companyinformation") or {}).get("CompanyInformation") or {}
        today = dt.date.today().isoformat()
        years = (self._request("GET", "financialyears", params={"date": today}) or {}).get("FinancialYears") or []
        series = self._found(f"voucherseries/{self.settings.voucher_series}", "VoucherSeries")
        name = company.get("CompanyName") or "the company"
        if series is None:
            raise ConfigError(f"{name} has no voucher series «{self.settings.voucher_series}» in Fortnox: create it "
                              "(Inställningar → Bokföring → Verifikationsserier) or choose another in the "
                              "connection", tenant=self.context.tenant, connector=NAME)
        if not self.settings.direct_posting and not self.settings.invoicing:  # nothing it could send: red
            raise ConfigError(OPT_IN, tenant=self.context.tenant, connector=NAME)
        year = years[0] if years else None
        # A tenant that invoices without the opt-in: green, its invoices go as unbooked drafts; vouchers wait.
        vouchers = {} if self.settings.direct_posting else {"vouchers": "not sent: " + OPT_IN}
        return {"target": NAME, "base_url": self.settings.base_url, "company": company.get("CompanyName"),
                "organization_number": company.get("OrganizationNumber"),
                "voucher_series": f"{series.get('Code')} ({series.get('Description')})",
                "financial_year": f"{year['FromDate']} – {year['ToDate']}" if year else
                                  "none for today: create it in Fortnox before vouchers of today are sent",
                "direct_posting": self.settings.direct_posting,
                "drafts": "none in Fortnox: vouchers are booked when created", **vouchers,
                **({"invoices": self._invoicing()} if self.settings.invoicing else {}),
                "facts": {k: v for k, v in {"organization_number": company.get("OrganizationNumber"),
                                            "fiscal_year_start": year.get("FromDate") if year else None,
                                            "fiscal_year_end": year.get("ToDate") if year else None}.items() if v}}


    def _invoicing(self) -> dict[str, Any]:
        """What invoices need beyond vouchers: the invoice scope and licence (a 403 or licence refusal is the
        ConfigError `_request` words), and the modes of payment the tenant's payment methods name."""
        self._request("GET", "invoices", params={"limit": 1})
        codes = {str(m.get("Code")) for m in self._pages("modesofpayments", "ModesOfPayments", {})}
        wanted = self.settings.modes_of_payment
        return {"booking": "booked by Bilagsbro (book_invoices)" if self.book else
                           "unbooked drafts: someone books them in Fortnox",
                "modes_of_payment": {method: code for method, code in sorted(wanted.items()) if code in codes},
                "modes_of_payment_missing": {method: code for method, code in sorted(wanted.items())
                                             if code not in codes}}


def _delivery(made: Mapping[str, Any], *, not_accepted: tuple[str, ...] = (),
              details: Mapping[str, Any] | None = None) -> Delivery:
    series, number, year = made.get("VoucherSeries"), made.get("VoucherNumber"), made.get("Year")
    return Delivery(remote_id=f"{series}{number}/{year}", draft=False, not_accepted=not_accepted,
                    url=made.get("@url"), details={**(details or {}), "voucher_series": series,
                                                   "voucher_number": number, "year": year})


def connect(context: TargetContext) -> FortnoxTarget:
    return FortnoxTarget(context)
