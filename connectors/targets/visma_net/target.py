"""The Visma.net target: shared-form vouchers as journal transactions in Visma.net ERP, on hold unless released.

API: Visma.net ERP API (spec `../shared/specs/visma-net/swagger.json`, server https://api.finance.visma.net); facts
and what is unverified in reference/target-apis.md §7 and docs/fidelity.md. The package, as every target built with
the kit (docs/connect/adding-a-system.md): `descriptor.py`, `client.py` (dialect, Visma Connect auth), `mapping.py`
(pure mapping), `rules.py` (what preflight checks), `register.py` (lookups), `sent.py` (our note per reference),
`refusals.py` (Visma.net's refusal on our lines).

- Drafts: `POST /v2/journaltransaction` with `hold: true` — status Hold, nothing in the ledger until someone takes it
  off hold and releases it. Direct posting (the tenant's opt-in): `hold: false`, then
  `POST /v2/journaltransaction/{number}/action/release`; a refused release leaves it balanced and says so in the
  delivery (`release_refused`).
- The created transaction's number is read from the 201's `Location` header (what Visma's own examples read;
  [unverified] for this endpoint); without one, the transaction is looked up as `find` does.
- Exactly once: our ledger (pipeline/ledger.py) and `find`, which lists the period's journal transactions modified
  since the first attempt (sent.py) and keeps those whose lines carry our reference in `referenceNumber`. A
  direct-posting transaction found not yet released (its release answer was lost) is released then.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from connectors.http import Sleep, client_for, kept, send
from connectors.targets.visma_net import invoicing, payments, refusals, register, sales, sent
from connectors.targets.visma_net.client import DIALECT, VismaConnectAuth
from connectors.targets.visma_net.descriptor import VismaNetSettings
from connectors.targets.visma_net.mapping import (
    CREATE,
    DRAFT_STATUSES,
    NAME,
    READ,
    TITLE,
    UPDATE,
    Options,
    Register,
    delivery_of,
    encode,
    journal_transaction,
    not_accepted,
    period_id,
    short_reference,
)
from connectors.targets.visma_net.rules import problems_for
from pipeline.errors import ConfigError, DataError, OutcomeUnknown, Problem
from pipeline.model import Document, Payment, SalesInvoice, Voucher
from pipeline.ports import Delivery, ExchangeLog, TargetContext

PAGE_SIZE = 1000  # journal lines per page of a search; Visma.net caps it at its maxPageSize anyway


class VismaNetTarget:
    name = NAME

    def __init__(self, context: TargetContext, *, transport: httpx.BaseTransport | None = None,
                 sleep: Sleep | None = None) -> None:
        self.context = context
        self.settings = VismaNetSettings.read(context.settings, tenant=context.tenant, connector=NAME)
        self.draft = not self.settings.direct_posting
        self.options = Options(draft=self.draft, branch=self.settings.branch,
                               department_segment=self.settings.department_segment)
        self._transport = transport
        self._sleep = sleep or context.sleep
        self._client: httpx.Client | None = None

    # -- plumbing -------------------------------------------------------------------------------------------------

    def auth(self) -> VismaConnectAuth:
        """The connection's token, shared by every message and worker: one token request, not one per message."""
        secret = self.context.secret("client_secret", connector=NAME)
        # Releasing and updating customers change what exists: the update scope only for a tenant that does either.
        scopes = (READ, CREATE) if self.draft and not self.settings.update_customers else (READ, CREATE, UPDATE)
        fingerprint = hashlib.sha256(secret.encode()).hexdigest()
        s = self.settings
        return kept(self.context, (NAME, "token", s.token_url, s.tenant_id, s.client_id, scopes, fingerprint),
                    lambda: VismaConnectAuth(s.token_url, s.client_id, secret, s.tenant_id, scopes))

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = client_for(self.context, DIALECT, base_url=self.settings.base_url, auth=self.auth(),
                                      timeout=self.settings.timeout, transport=self._transport,
                                      headers={"Accept": "application/json"})
        return self._client

    def send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
             reference: str | None = None, exchanges: ExchangeLog | None = None) -> httpx.Response:
        content = encode(body) if body is not None else None
        headers = {"Content-Type": "application/json; charset=utf-8"} if content is not None else None
        try:
            return send(self.client, method, path, params=params, content=content, headers=headers, dialect=DIALECT,
                        tenant=self.context.tenant, reference=reference, sleep=self._sleep,
                        exchanges=exchanges or self.context.exchanges)
        except ConfigError as exc:
            raise _in_customer_words(exc) from exc

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self.send("GET", path, params=params)
        return response.json(parse_float=Decimal) if response.content else None

    # -- the Target protocol --------------------------------------------------------------------------------------

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        problems: list[Problem] = []
        for document in documents:
            if isinstance(document, SalesInvoice):
                problems.extend(sales.invoice_problems(self, document))
            elif isinstance(document, Payment):
                problems.extend(payments.payment_problems(self, document))
        vouchers = [d for d in documents if isinstance(d, Voucher)]
        if vouchers:
            found = register.resolve(self, vouchers)
            for voucher in vouchers:
                problems.extend(problems_for(voucher, found))
        return problems

    def register_for_invoices(self, invoice: SalesInvoice) -> Register:
        """What an invoice needs from the company: VAT IDs, every VAT category, accounts, departments, projects,
        inventory items, financial periods (register.py: one lookup per kind and connection)."""
        lines = invoice.lines
        lookups = self.context.lookups
        found = register.register(self)
        lookups.fill("vats", [line.vat_code for line in lines], register._all(self, "v1/vat", "vatId"))
        lookups.fill("vat_categories", ["*"], lambda _: {"*": {}, **register._all(self, "v1/vatCategory",
                                                                                  "vatCategoryId")([])})
        lookups.fill("accounts", [line.account for line in lines if line.account],
                     register._all(self, "v1/account", "accountCD"))
        lookups.fill("departments", [line.dimensions["department"] for line in lines if "department" in line.dimensions],
                     register._segment(self))
        lookups.fill("projects", [line.dimensions["project"] for line in lines if "project" in line.dimensions],
                     register._projects(self))
        lookups.fill("items", [line.product for line in lines if line.product], register._items(self))
        found.vat_categories = {k: v for k, v in found.vat_categories.items() if k != "*"}
        found.periods = register.periods(self)
        return found

    def payment_methods(self) -> dict[str, dict[str, Any]]:
        """The company's payment methods by ID (`GET /v1/paymentmethod`), read once per connection."""
        table = self.context.lookups.fill("payment_methods", ["*"], lambda _: {
            "*": {}, **register._all(self, "v1/paymentmethod", "paymentMethodID")([])})
        return {k: v for k, v in table.items() if k != "*"}

    def cash_accounts(self) -> set[str]:
        """The company's cash accounts by number (`GET /v1/cashaccount`), read once per connection."""
        table = self.context.lookups.fill("cash_accounts", ["*"], lambda _: {
            "*": {}, **register._all(self, "v1/cashaccount", "number")([])})
        return {k for k in table if k != "*"}

    def accounts_missing(self, numbers: Iterable[str]) -> dict[str, str]:
        """Which of these account numbers cannot be booked on in the company's chart, and why (pipeline.ports
        `ChartOfAccounts`): asked when a source that names accounts is added."""
        wanted = list(numbers)
        table = self.context.lookups.fill("accounts", wanted, register._all(self, "v1/account", "accountCD"))
        missing = {n: "does not exist in Visma.net" for n in wanted if n not in table}
        missing.update({n: "is inactive in Visma.net" for n in wanted if n in table and not table[n].get("active", True)})
        return dict(sorted(missing.items()))

    def render(self, document: Document) -> dict[str, Any]:
        if isinstance(document, SalesInvoice):
            return sales.render_invoice(self, document)
        if isinstance(document, Payment):
            return payments.render_payment(self, document)
        voucher = self._voucher(document)
        return journal_transaction(voucher, register.resolve(self, [voucher]), self.options)

    def _voucher(self, document: Document) -> Voucher:
        if not isinstance(document, Voucher):
            raise DataError(f"the Visma.net connector does not deliver {document.type}", tenant=self.context.tenant,
                            reference=document.reference, connector=NAME)
        return document

    def deliver(self, document: Document) -> Delivery:
        if isinstance(document, SalesInvoice):
            problems = sales.invoice_problems(self, document)
            if problems:
                raise DataError(f"invoice {document.reference} cannot be delivered: "
                                + "; ".join(str(p) for p in problems), tenant=self.context.tenant,
                                reference=document.reference, connector=NAME, problems=tuple(problems))
            return replace(sales.deliver_invoice(self, document), not_accepted=invoicing.not_accepted(document))
        if isinstance(document, Payment):
            return replace(payments.deliver_payment(self, document), not_accepted=invoicing.not_accepted(document))
        voucher = self._voucher(document)
        found = register.resolve(self, [voucher])
        problems = problems_for(voucher, found)
        if problems:
            raise DataError(f"Visma.net lacks or refuses what voucher {voucher.reference} needs: "
                            + "; ".join(str(p) for p in problems), tenant=self.context.tenant,
                            reference=voucher.reference, connector=NAME, problems=tuple(problems))
        body = journal_transaction(voucher, found, self.options)
        period = body.get("financialPeriod", {}).get("value")
        sent.remember(self.context, voucher.reference, period)  # before the POST: where `find` will look
        try:
            response = self.send("POST", "v2/journaltransaction", body=body, reference=voucher.reference)
        except DataError as exc:  # Visma.net's refusal, put on our lines where its words say which
            exc.problems = refusals.problems(voucher, exc.provider_message) or exc.problems
            raise
        number = _created(response)
        batch: dict[str, Any] | None = {"batchNumber": number, "status": "Hold" if self.draft else "Balanced",
                                        "financialPeriod": period} if number else None
        if batch is None:  # no Location to read the number from: look it up as a retry would
            batch = self._first(self._search(voucher.reference, period, sent.since(sent.recall(self.context,
                                                                                              voucher.reference) or {})))
            if batch is None:  # created, yet not listed (yet): the retry looks it up again before posting
                raise OutcomeUnknown(f"Visma.net answered {response.status_code} to journal transaction "
                                     f"{voucher.reference} but does not list it yet", tenant=self.context.tenant,
                                     reference=voucher.reference, connector=NAME, status=response.status_code)
        if not self.draft and batch.get("status") in DRAFT_STATUSES:
            batch = self._release(batch, voucher.reference)
        return delivery_of(batch, reference=voucher.reference, not_accepted=not_accepted(voucher))

    def _release(self, batch: dict[str, Any], reference: str) -> dict[str, Any]:
        """Release a balanced journal transaction (direct posting). A refusal leaves it balanced in Visma.net — created,
        not posted — and is said in the delivery (`release_refused`), not raised: raising would mark the voucher
        failed, and the retry after a fix would create it a second time. A passing error is raised: the retry finds
        the transaction and releases it then."""
        number = str(batch["batchNumber"])
        try:
            answer = self.send("POST", f"v2/journaltransaction/{quote(number, safe='')}/action/release",
                               reference=reference).json() or {}
        except (ConfigError, DataError) as exc:
            return {**batch, "status": "Balanced", "release": "Refused",
                    "release_refused": exc.provider_message or exc.message}
        result = str(answer.get("actionResult") or "")
        if result == "Failed":
            return {**batch, "status": "Balanced", "release": "Failed",
                    "release_refused": answer.get("errorInfo") or "Visma.net gave no reason"}
        # Done, or Queued/InProcess: Visma.net releases it in the background [unverified how often it queues].
        return {**batch, "status": "Released", "release": result or "Done"}

    def find(self, reference: str) -> Delivery | None:
        ours = sales.find(self, reference)  # an invoice, credit note or payment: by its progress row
        if ours is not False:
            return ours
        note = sent.recall(self.context, reference)
        if note is None:
            return None  # nothing was ever sent for this reference through this connector
        period = str(note.get("Period") or "") or None
        batch = self._first(self._search(reference, period, sent.since(note)))
        if batch is None:
            return None
        if not self.draft and batch.get("status") == "Balanced":  # created for direct posting, release answer lost
            batch = self._release(batch, reference)
        return delivery_of(batch, reference=reference)

    def _search(self, reference: str, period: str | None, since: dt.date) -> list[dict[str, Any]]:
        """Journal transactions of the period modified since `since` whose lines carry our reference.

        Pages count lines, in batch order; the search stops after the first page that holds our reference (a
        batch split over pages is named by its number all the same), so a find costs the pages up to ours, not
        the period's — a double further on is not named."""
        number = short_reference(reference)
        params: dict[str, Any] = {"lastModifiedDateTime": since.isoformat(), "module": "GL", "pageSize": PAGE_SIZE}
        if period:
            params["periodId"] = period
        batches: dict[str, dict[str, Any]] = {}
        seen, page = 0, 1
        while True:
            rows = [r for r in self.get("v2/journaltransaction", {**params, "pageNumber": page}) or ()
                    if isinstance(r, dict)]
            for row in rows:
                lines = row.get("journalTransactionLines") or []
                seen += len(lines)
                kept_batch = batches.setdefault(str(row.get("batchNumber")), {**row, "journalTransactionLines": []})
                kept_batch["journalTransactionLines"].extend(lines)
            found = [b for b in batches.values()
                     if any(line.get("referenceNumber") == number for line in b["journalTransactionLines"])]
            total = max((int((r.get("metadata") or {}).get("totalCount") or 0) for r in rows), default=0)
            if found or not rows or seen >= total:
                return found
            page += 1

    def _first(self, batches: list[dict[str, Any]]) -> dict[str, Any] | None:
        if not batches:
            return None
        first = min(batches, key=lambda b: (len(str(b["batchNumber"])), str(b["batchNumber"])))
        if len(batches) > 1:  # a double made outside our ledger: say so rather than pick silently
            first = {**first, "duplicates": sorted(str(b["batchNumber"]) for b in batches)}
        return first

    def check(self) -> dict[str, Any]:
        """A connection test: which company and branch the tenant id reaches, what was granted, which periods are open."""
        auth = self.auth()
        branches = [b for b in self.get("v1/branch") or () if isinstance(b, dict)]
        lacking = [s for s in auth.scopes if s not in auth.granted]
        if lacking:
            raise ConfigError(f"Visma.net's token lacks the scope(s) {', '.join(lacking)}: the company's administrator "
                              "grants them to Bilagsbro's integration in Visma App Store", tenant=self.context.tenant,
                              connector=NAME)
        chosen = _branch(branches, self.settings.branch)
        if self.settings.branch and chosen is None:
            known = ", ".join(str(b.get("number")) for b in branches) or "none"
            raise ConfigError(f"the company has no active branch {self.settings.branch} in Visma.net (branches: "
                              f"{known}): correct the connection's branch", tenant=self.context.tenant, connector=NAME)
        rows = register.periods(self)
        open_ids = sorted(period_id(p) for p in rows if p.get("active", True) and not p.get("closedInGeneralLedger"))
        return {"target": NAME, "base_url": self.settings.base_url, "tenant_id": self.settings.tenant_id,
                "company": (chosen or {}).get("name"), "branch": (chosen or {}).get("number"),
                "branches": len(branches), "scopes": list(auth.granted),
                "open_periods": f"{open_ids[0]}–{open_ids[-1]}" if open_ids else None,
                "drafts": "on hold (released in Visma.net)" if self.draft else "released at once (direct posting)",
                "direct_posting": self.settings.direct_posting, "payments": self._payment_setup()}

    def _payment_setup(self) -> dict[str, str]:
        """Per payment method of the settings: the Visma.net payment method and cash account payments take, or
        what is missing — said in the connection test, not first at a payment's preflight."""
        methods, cash = self.payment_methods(), self.cash_accounts()
        answer = {}
        for method, method_id in sorted(self.settings.payment_methods.items()):
            account = self.settings.cash_accounts.get(method)
            missing = [f"payment method {method_id}"] if method_id not in methods else []
            missing += [f"cash account {account}"] if account is not None and account not in cash else []
            answer[method] = (f"{method_id}" + (f" → {account}" if account else "")) if not missing else \
                "missing in Visma.net: " + ", ".join(missing)
        return answer



def _created(response: httpx.Response) -> str | None:
    """The new journal transaction's number: the last segment of the 201's `Location`."""
    location = response.headers.get("Location") or ""
    number = location.rstrip("/").rsplit("/", 1)[-1] if location else ""
    return number or None


def _branch(branches: list[dict[str, Any]], number: str | None) -> dict[str, Any] | None:
    active = [b for b in branches if b.get("isActive", True)]
    if number:
        return next((b for b in active if str(b.get("number")) == number), None)
    return next((b for b in active if b.get("isMainBranch")), active[0] if active else None)


def _in_customer_words(exc: ConfigError) -> ConfigError:
    """Visma.net's refusals of access, said the way a customer can act on them (token errors already are)."""
    said = exc.provider_message or ""
    if not exc.message.startswith(TITLE):
        return exc
    if "no license" in said.lower():
        words = ("Visma.net answered 'No license for this company.': the tenant id reaches no licensed Visma.net "
                 "company — give the company's own tenant id (Visma App Store → the company), not the customer "
                 "agreement's")
    elif exc.status == 401:
        words = "Visma.net refused Bilagsbro's token: the company's approval of Bilagsbro may have been withdrawn"
    elif exc.status == 403:
        words = (f"Visma.net refused {exc.message.removeprefix(TITLE).split(' failed')[0].strip()}: Bilagsbro's "
                 "integration lacks access to it — the company's administrator grants it in Visma App Store "
                 "(the integration's scopes) and Visma.net (User roles)")
    else:
        return exc
    return ConfigError(words, tenant=exc.tenant, reference=exc.reference, connector=NAME, status=exc.status,
                       provider_message=exc.provider_message, request_id=exc.request_id)


def connect(context: TargetContext, **options: Any) -> VismaNetTarget:
    return VismaNetTarget(context, **options)

