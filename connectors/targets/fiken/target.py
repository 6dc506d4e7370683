"""The Fiken target: shared-form vouchers posted as general journal entries (fri postering) through Fiken API v2.

API: https://api.fiken.no/api/v2/docs/ (spec kept in `../shared/specs/fiken/fiken-api-v2.yaml`); facts and what is
unverified in reference/target-apis.md §5 and docs/fidelity.md. The package, as every target built with the kit:
`descriptor.py` (settings, secrets, what Fiken accepts), `client.py` (dialect and auth), `mapping.py` and
`entry.py` (pure mapping), `amounts.py` (øre and VAT), `notes.py` (where `find` looks), and here the target.

- Company: every path is under `/companies/{companySlug}`.
- Vouchers: `POST /companies/{slug}/generalJournalEntries` → 201, empty body, `Location`. Fiken has no draft for
  it: without the tenant's opt-in to direct posting nothing is sent (preflight names it, delivery and the
  connection test refuse); with it, entries are posted open (deletable without a counter entry) unless the
  setting `open_entries` is false.
- Lookups, per connection and single flight (pipeline.lookups): the company (`accountingStartDate`), each account
  (`GET /accounts/{code}`: 404 is "no such account"), and contacts (`GET /contacts?customerNumber=…`, then
  organisation number, e-mail, phone) for lines on a customer's or supplier's ledger.
- Exactly once: our ledger, and `find`, which lists the journal entries of the dates noted before each POST
  (notes.py) and picks the one whose description opens with our reference's marker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx

from connectors.http import client_for, kept, send
from connectors.targets.fiken import customers, invoicing, notes, payments, sales
from connectors.targets.fiken.client import DIALECT, FikenAuth, OAuth
from connectors.targets.fiken.descriptor import FikenSettings
from connectors.targets.fiken.entry import entry, refusal
from connectors.targets.fiken.mapping import (
    ACCOUNT,
    NAME,
    OPT_IN,
    PAGE_SIZE,
    PAYABLE,
    RECEIVABLE,
    Register,
    carries,
    contact_query,
    encode,
    found_once,
    located,
    marker,
    party_keys,
)
from pipeline.errors import BilagsbroError, ConfigError, DataError, Problem
from pipeline.model import Document, Party, Payment, SalesInvoice, Voucher
from pipeline.ports import Delivery, TargetContext


class FikenTarget:
    """One tenant's Fiken company."""

    name = NAME

    def __init__(self, context: TargetContext) -> None:
        self.context = context
        self.settings = FikenSettings.read(context.settings, tenant=context.tenant, connector=NAME)
        self.company = f"companies/{self.settings.company_slug}"
        self.draft = not self.settings.direct_posting  # invoices: drafts unless the tenant opted in

    # -- HTTP ---------------------------------------------------------------------------------------------------

    def _auth(self) -> FikenAuth:
        names: Mapping[str, str] = self.context.settings.get("secrets") or {}
        settings, context = self.settings, self.context
        if "api_token" in names:
            return kept(context, (NAME, "auth", names["api_token"]),
                        lambda: FikenAuth(token=context.secret("api_token", connector=NAME)))
        if "refresh_token" in names:
            if not settings.client_id:
                raise ConfigError("Fiken OAuth needs the client id of the app the refresh token was issued to "
                                  "(setting client_id)", tenant=context.tenant, connector=NAME)

            def oauth() -> FikenAuth:
                def save(rotated: str) -> None:
                    context.secrets.set(names["refresh_token"], rotated)
                return FikenAuth(oauth=OAuth(settings.token_url, str(settings.client_id),
                                             context.secret("client_secret", connector=NAME),
                                             context.secret("refresh_token", connector=NAME), save))
            return kept(context, (NAME, "auth", names["refresh_token"], settings.client_id), oauth)
        raise ConfigError("the Fiken connection has no key: give a personal API token (--api-token-file), or OAuth "
                          "(--refresh-token-file, --client-secret-file and --client-id)",
                          tenant=context.tenant, connector=NAME)

    @property
    def client(self) -> httpx.Client:
        """The connection's HTTP client (connectors.http): one pool, one access token, one request at a time."""
        return client_for(self.context, DIALECT, base_url=self.settings.base_url, auth=self._auth(),
                          timeout=self.settings.timeout, headers={"Accept": "application/json"})

    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
                 reference: str | None = None) -> httpx.Response:
        content = encode(body) if body is not None else None
        headers = {"Content-Type": "application/json; charset=utf-8"} if content is not None else None
        try:
            return send(self.client, method, path, params=params, content=content, headers=headers, dialect=DIALECT,
                        tenant=self.context.tenant, reference=reference, sleep=self.context.sleep,
                        exchanges=self.context.exchanges)
        except ConfigError as exc:
            if exc.status == 401:
                raise ConfigError("Fiken refused the key (401): the personal API token is wrong or was revoked "
                                  "(Fiken: Rediger konto → API), or the OAuth access was withdrawn",
                                  tenant=exc.tenant, reference=exc.reference, connector=NAME, status=401,
                                  provider_message=exc.provider_message, request_id=exc.request_id) from exc
            if exc.status == 403:
                raise ConfigError(f"Fiken refused {method} {path} (403): the key's user may not do this in the "
                                  f"company «{self.settings.company_slug}», or the company lacks Fiken's API add-on",
                                  tenant=exc.tenant, reference=exc.reference, connector=NAME, status=403,
                                  provider_message=exc.provider_message, request_id=exc.request_id) from exc
            raise

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a paged list (page from 0, at most 100 a page; Fiken-Api-Page-Count says how many)."""
        page = 0
        while True:
            response = self._request("GET", path, params={**params, "page": page, "pageSize": PAGE_SIZE})
            items = response.json() or []
            yield from items
            count = response.headers.get("Fiken-Api-Page-Count")
            last = int(count) - 1 if count and count.isdigit() else page
            if len(items) < PAGE_SIZE or page >= last:
                return
            page += 1

    # -- what a voucher needs ------------------------------------------------------------------------------------

    def _companies(self, slugs: list[str]) -> dict[str, dict[str, Any]]:
        return {slug: self._request("GET", f"companies/{slug}").json() for slug in slugs}

    def _accounts(self, codes: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for code in codes:
            try:
                found[code] = self._request("GET", f"{self.company}/accounts/{code}").json()
            except BilagsbroError as exc:
                if exc.status != 404:
                    raise
        return found

    def _projects(self, numbers: list[str]) -> dict[str, dict[str, Any]]:
        """Projects by number (`GET /projects?number=`); a number two projects share is ambiguous."""
        found: dict[str, dict[str, Any]] = {}
        for number in numbers:
            hits = [p for p in self._pages(f"{self.company}/projects", {"number": number})
                    if str(p.get("number")) == number]
            if len(hits) == 1:
                found[number] = hits[0]
            elif hits:
                found[number] = {"_ambiguous": sorted(int(p["projectId"]) for p in hits)}
        return found

    def project_of(self, invoice: SalesInvoice) -> int | None:
        """The Fiken project id of the invoice's lines' project (one per invoice), None without one or when it is
        missing (preflight says so)."""
        numbers = sorted({line.dimensions["project"] for line in invoice.lines if "project" in line.dimensions})
        if len(numbers) != 1:
            return None
        found = self.context.lookups.fill("projects", numbers, self._projects).get(numbers[0]) or {}
        return int(found["projectId"]) if found.get("projectId") else None

    def _contacts(self, role: str) -> Callable[[list[tuple[str, ...]]], dict[str, dict[str, Any]]]:
        def fetch(batch: list[tuple[str, ...]]) -> dict[str, dict[str, Any]]:
            found: dict[str, dict[str, Any]] = {}
            for keys in batch:
                for key in keys:
                    hits = {int(c["contactId"]): c for c in self._pages(f"{self.company}/contacts",
                                                                         contact_query(key, role)) if c.get(role)}
                    if len(hits) == 1:
                        found[key] = next(iter(hits.values()))
                    elif hits:
                        found[key] = {"_ambiguous": sorted(hits)}
                    if hits:
                        break
            return found
        return fetch

    def _parties(self, role: str, wanted: Iterable[Party]) -> dict[str, Any]:
        by_keys = {keys: party for party in wanted if (keys := party_keys(party))}

        def have(keys: tuple[str, ...], table: Mapping[str, Any]) -> bool:
            record = next((table[k] for k in keys if k in table), None)
            return record is not None and not record.get("_ambiguous") and not record.get("inactive")

        return self.context.lookups.fill(f"{role}s", by_keys, self._contacts(role), have=have)

    def resolve(self, vouchers: Sequence[Voucher]) -> Register:
        """What these vouchers need from Fiken, through the connection's lookups (one fetch per key and burst)."""
        lines = [line for voucher in vouchers for line in voucher.lines]
        lookups = self.context.lookups
        company = lookups.fill("company", [self.settings.company_slug], self._companies)
        plain = [line.account for line in lines if ACCOUNT.match(line.account) and line.account not in (RECEIVABLE, PAYABLE)]
        return Register(
            accounts=lookups.fill("accounts", plain, self._accounts),
            customers=self._parties("customer", [line.customer for line in lines
                                                 if line.customer is not None and line.account == RECEIVABLE]),
            suppliers=self._parties("supplier", [line.supplier for line in lines
                                                 if line.supplier is not None and line.account == PAYABLE]),
            company=company.get(self.settings.company_slug) or {})

    # -- the Target protocol -------------------------------------------------------------------------------------

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        problems: list[Problem] = []
        for document in documents:
            if isinstance(document, SalesInvoice):
                problems.extend(self._invoice_problems(document))
            elif isinstance(document, Payment):
                problems.extend(payments.payment_problems(self, document))
        vouchers = [d for d in documents if isinstance(d, Voucher)]
        if not vouchers:
            return problems
        register = self.resolve(vouchers)
        for voucher in vouchers:
            if not self.settings.direct_posting:
                problems.append(Problem(OPT_IN, field="settings.direct_posting", reference=voucher.reference,
                                        code="direct-posting-required"))
            problems.extend(entry(voucher, register, open_entry=self.settings.open_entries).problems)
        return problems

    def _invoice_problems(self, invoice: SalesInvoice) -> list[Problem]:
        """The checks before posting (invoicing.invoice_problems), the income accounts, the customer, and the
        invoice a credit note credits."""
        problems = invoicing.invoice_problems(invoice, self.settings.due_days)
        wanted = sorted({line.account or self.settings.income_account for line in invoice.lines})
        found = self.context.lookups.fill("accounts", wanted, self._accounts)
        problems += [Problem(f"income account {code} is not in Fiken", field="lines[].account",
                             reference=invoice.reference, code="missing-account") for code in wanted if code not in found]
        contact, _ = customers.customer(self, invoice.customer, invoice.reference, create=False)
        creatable = bool(customers.keys(invoice.customer))
        if contact is None and not (self.settings.create_customers and creatable):
            problems.append(Problem(f"customer {invoice.customer.name or invoice.customer.number} is missing or "
                                    "ambiguous in Fiken" + ("" if self.settings.create_customers else
                                    " (the connection may create missing customers: setting create_customers)"),
                                    field="customer", reference=invoice.reference, code="missing-customer"))
        problems += self._project_problems(invoice)
        if self.settings.invoice_flow == "external_sale" and self.settings.send_invoices:
            problems.append(Problem("Fiken does not send an «Annet salg»: with invoice_flow external_sale the source "
                                    "sends its invoices itself; turn send_invoices off", field="settings.send_invoices",
                                    reference=invoice.reference, code="send-unsupported"))
        if invoice.credits is not None and not self.draft and self.settings.invoice_flow == "invoice":
            credited = sales.locate(self, invoice.credits, None)
            if credited is None or "draft" in credited:
                problems.append(Problem(f"the invoice credited, {invoice.credits}, is " + (
                    "not in Fiken" if credited is None else "still a draft in Fiken"),
                    field="credits", reference=invoice.reference, code="missing-invoice"))
        return problems

    def _project_problems(self, invoice: SalesInvoice) -> list[Problem]:
        numbers = sorted({line.dimensions["project"] for line in invoice.lines if "project" in line.dimensions})
        if len(numbers) > 1:
            return [Problem(f"a Fiken invoice or sale has one project; the lines name {', '.join(numbers)}",
                            field="lines[].dimensions.project", reference=invoice.reference, code="mixed-dimensions")]
        found = self.context.lookups.fill("projects", numbers, self._projects)
        problems = []
        for number in numbers:
            project = found.get(number)
            why = ("is not in Fiken" if project is None else "is in Fiken twice" if project.get("_ambiguous")
                   else "is completed in Fiken" if project.get("completed") else None)
            if why:
                problems.append(Problem(f"project {number} {why}", field="lines[].dimensions.project",
                                        reference=invoice.reference, code="missing-project"))
        return problems

    def accounts_missing(self, numbers: Iterable[str]) -> dict[str, str]:
        """Which of these account codes cannot be booked on in the company's chart, and why (ChartOfAccounts)."""
        numbers = list(numbers)
        found = self.context.lookups.fill("accounts", [n for n in numbers if ACCOUNT.match(n)], self._accounts)
        return dict(sorted({n: "does not exist in Fiken" if ACCOUNT.match(n) else
                            "is no account code Fiken can have (four digits, or four digits, a colon and five)"
                            for n in numbers if n not in found}.items()))

    def render(self, document: Document) -> dict[str, Any]:
        if isinstance(document, SalesInvoice):
            return sales.render_invoice(self, document)
        if isinstance(document, Payment):
            return payments.render_payment(self, document)
        voucher = self._voucher(document)
        return entry(voucher, self.resolve([voucher]), open_entry=self.settings.open_entries).body

    def _voucher(self, document: Document) -> Voucher:
        if not isinstance(document, Voucher):
            raise DataError(f"the Fiken connector does not deliver {document.type}",
                            tenant=self.context.tenant, reference=document.reference, connector=NAME)
        return document

    def deliver(self, document: Document) -> Delivery:
        if isinstance(document, SalesInvoice):
            return replace(sales.deliver_invoice(self, document), not_accepted=invoicing.not_accepted(document))
        if isinstance(document, Payment):
            return replace(payments.deliver_payment(self, document), not_accepted=invoicing.not_accepted(document))
        voucher = self._voucher(document)
        if not self.settings.direct_posting:
            raise ConfigError(OPT_IN, tenant=self.context.tenant, reference=voucher.reference, connector=NAME)
        built = entry(voucher, self.resolve([voucher]), open_entry=self.settings.open_entries)
        if built.problems:
            raise DataError(f"Fiken lacks what voucher {voucher.reference} needs: "
                            + "; ".join(str(p) for p in built.problems), tenant=self.context.tenant,
                            reference=voucher.reference, connector=NAME, problems=built.problems)
        notes.remember(self.context, voucher.reference, voucher.date)
        try:
            response = self._request("POST", f"{self.company}/generalJournalEntries", body=built.body,
                                     reference=voucher.reference)
        except DataError as exc:  # Fiken's refusal, put on our lines where its words say which
            exc.problems = refusal(voucher, exc.provider_message or exc.message) or exc.problems
            raise
        kind, ident = located(response.headers.get("Location"))
        if not ident:  # created, but not said where: look it up rather than record nothing
            found = self.find(voucher.reference)
            ident, kind = (found.remote_id, "transactions") if found else ("", "")
        reference = marker(voucher.reference)[1:-1]
        return Delivery(remote_id=ident, draft=False, url=response.headers.get("Location"),
                        not_accepted=built.not_accepted,
                        details={**built.details, "open": self.settings.open_entries, "location_kind": kind,
                                 **({"target_reference": reference} if reference != voucher.reference else {})})

    def find(self, reference: str) -> Delivery | None:
        mine = sales.find(self, reference)  # an invoice, credit note or payment: by its progress row
        if mine is not False:
            return mine
        note = notes.recall(self.context, reference)
        if note is None:
            return None
        since = (note.since - dt.timedelta(days=1)).isoformat()  # Fiken's day may start before UTC's
        for day in note.dates:
            for items in self._newest_first(f"{self.company}/journalEntries", {"date": day.isoformat(),
                                                                                "createdDateGe": since}):
                ours = [item for item in items if carries(item.get("description"), reference)]
                if ours:
                    return found_once(ours)
        return None

    def _newest_first(self, path: str, params: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """A paged list's pages, the first (which says how many there are), then the last back to the second:
        Fiken lists in the order things were created, and what `find` looks for was made lately."""
        first = self._request("GET", path, params={**params, "page": 0, "pageSize": PAGE_SIZE})
        yield first.json() or []
        count = first.headers.get("Fiken-Api-Page-Count")
        for page in range(int(count) - 1 if count and count.isdigit() else 0, 0, -1):
            yield self._request("GET", path, params={**params, "page": page, "pageSize": PAGE_SIZE}).json() or []

    def check(self) -> dict[str, Any]:
        """The connection test, in the customer's words: wrong key, wrong company, no API add-on, no opt-in."""
        slug = self.settings.company_slug
        companies = list(self._pages("companies", {}))
        company = next((c for c in companies if c.get("slug") == slug), None)
        if company is None:
            reached = ", ".join(f"«{c.get('slug')}» ({c.get('name')})" for c in companies) or "no company at all"
            raise ConfigError(f"the Fiken key does not reach the company «{slug}»; it reaches: {reached}",
                              tenant=self.context.tenant, connector=NAME)
        if company.get("hasApiAccess") is False:
            raise ConfigError(f"{company.get('name')} («{slug}») does not have Fiken's API add-on: order it in Fiken "
                              "(Foretak → Tilleggstjenester → API, 99 kr a month)", tenant=self.context.tenant,
                              connector=NAME)
        detail = self._request("GET", f"companies/{slug}").json()
        try:  # invoices are numbered from Fiken's counter: without one, Fiken makes no invoice [unverified: how it says so]
            counter: Any = self._request("GET", f"{self.company}/invoices/counter").json().get("value")
        except BilagsbroError as exc:
            if exc.status not in (400, 404):
                raise
            counter = ("not set up: Fiken numbers invoices once its invoice counter exists (its first invoice, or "
                       "Innstillinger → Faktura)")
        answer = {"target": NAME, "base_url": self.settings.base_url, "company_slug": slug,
                  "company": detail.get("name"), "organization_number": detail.get("organizationNumber"),
                  "test_company": detail.get("testCompany"), "accounting_start": detail.get("accountingStartDate"),
                  "direct_posting": self.settings.direct_posting}
        if self.settings.direct_posting:
            answer.update({"drafts": "none in Fiken: vouchers are posted as general journal entries",
                           "invoice_counter": counter,
                           "entries": "open: deletable in Fiken without a counter entry" if self.settings.open_entries
                                      else "closed: reversed in Fiken with a counter entry"})
        else:  # green: what it can do without the opt-in, and what it cannot
            answer.update({"vouchers": "not sent: " + OPT_IN, "invoice_counter": counter})
        answer["invoices"] = self._invoice_flow_said()
        return answer

    def _invoice_flow_said(self) -> str:
        """What becomes of a sales invoice, credit note and payment with these settings, in the customer's words."""
        s = self.settings
        if s.invoice_flow == "external_sale":
            return ("«Annet salg» with the source's invoice number and KID: " + (
                "sale drafts someone books in Fiken" if self.draft else "booked as sales at once")
                + "; Fiken sends nothing; credit notes are sales of their own, not linked; payments on the sale")
        said = ("invoice drafts (fakturautkast) someone makes invoices in Fiken; credit notes as credit-note drafts, "
                "not linked to the invoice by Fiken's API" if self.draft else
                "invoices made at once (Fiken's number and KID), credit notes linked to the invoice")
        if s.send_invoices:
            said += "; " + ("sent by Fiken once made" if not self.draft else "not sent: drafts are sent by a person")
        return said + "; payments on the invoice's sale (an invoice still a draft cannot be paid)"


def connect(context: TargetContext) -> FikenTarget:
    return FikenTarget(context)
