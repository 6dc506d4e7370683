"""The Visma Business NXT target: each shared-form voucher as a batch of voucher rows, left unposted as the draft.

API: https://docs.vismasoftware.no/businessnxtapi (GraphQL; no published SDL — our schema file
sandboxes/business_nxt/schema.graphql is written from the documentation); facts in reference/target-apis.md §3.

- A voucher becomes one batch (`batch_create`, voucher series from the connection) whose rows carry a debit and a
  credit account and a positive amount (mapping.rows). The batch is not updated: that is the draft — someone
  reviews and updates it in Business NXT. With direct posting (the opt-in) the connector updates it at once
  (`batch_processings.updateBatch`); a refusal of the update leaves the draft and says why (Delivery.details
  `not_posted`), never a second batch.
- Voucher numbers come from the series' `nextVoucherNo`, read once a minute per connection and counted on
  locally for the vouchers of a burst (Business NXT takes the number we give; it does not check it for
  duplicates unless the company asks it to — doc.visma.net, Bilagsnr).
- Exactly once: our reference is in every row's `additionalText` (Ekstratekst, 200 characters, the field Visma's
  own AutoPay integration keeps its reference in). `find` looks in the unposted rows (`voucher`) and the updated
  ones (`updatedVoucher`); the idempotency ledger asks it before it posts again after an unknown outcome.
- Lookups per connection with single flight (pipeline.lookups): accounts, tax codes, customers, suppliers and
  organisational units, by number, paged.
- Onboarding: the client id and secret, the customer id(s); `companies()` lists what `availableCompanies`
  reaches for each customer id; `check()` reads the chosen company's facts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

import httpx

from connectors.http import client_for, kept, send
from connectors.targets.business_nxt import onboarding, queries
from connectors.targets.business_nxt.client import DIALECT, ConnectToken, graphql_errors
from connectors.targets.business_nxt.descriptor import BusinessNxtSettings
from connectors.targets.business_nxt.mapping import (
    NAME,
    TITLE,
    UNSUPPORTED_DOCUMENTS,
    Register,
    batch_input,
    delivery_of,
    encode,
    not_accepted,
    number,
    org_unit_key,
    problems_for,
)
from pipeline.errors import ConfigError, DataError, OutcomeUnknown, Problem, TransientError
from pipeline.model import Document, Voucher
from pipeline.ports import Delivery, TargetContext

NUMBERS_FRESH = 60.0  # seconds a series' nextVoucherNo read is counted on before it is read again


class _Numbers:
    """Voucher numbers of one series for one connection: the server's next number, counted on locally."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next = 0
        self.read_at = float("-inf")

    def take(self, read: Callable[[], int]) -> int:
        with self.lock:
            if time.monotonic() - self.read_at > NUMBERS_FRESH:
                self.next, self.read_at = max(self.next, read()), time.monotonic()
            taken, self.next = self.next, self.next + 1
            return taken


class BusinessNxtTarget:
    name = NAME

    def __init__(self, context: TargetContext) -> None:
        self.context = context
        self.settings = BusinessNxtSettings.read(context.settings, tenant=context.tenant, connector=NAME)
        self.draft = not self.settings.direct_posting

    # -- HTTP and GraphQL ---------------------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        """The connection's HTTP client and token (connectors.http): one of each per tenant and connection."""
        secret = self.context.secret("client_secret", connector=NAME)
        s = self.settings
        auth = kept(self.context, (NAME, "token", s.token_url, s.client_id, hash(secret)),
                    lambda: ConnectToken(s.token_url, s.client_id, secret))
        return client_for(self.context, DIALECT, base_url=s.base_url, auth=auth, timeout=s.timeout,
                          headers={"Accept": "application/json"})

    def graphql(self, operation: str, document: str, variables: dict[str, Any], *, reference: str | None = None,
                mutation: bool = False) -> dict[str, Any]:
        """One GraphQL request; its `data`, or our error for its `errors`. Reads are idempotent (retried after a
        5xx or a timeout); a mutation after which the answer was lost is an OutcomeUnknown."""
        body = encode({"query": document, "variables": variables, "operationName": operation})
        response = send(self.client, "POST", self.settings.base_url, content=body, headers={"Content-Type": "application/json"},
                        dialect=DIALECT, tenant=self.context.tenant, reference=reference,
                        exchanges=self.context.exchanges, sleep=self.context.sleep, idempotent=not mutation)
        try:
            answer = response.json(parse_float=Decimal)
        except ValueError:
            raise TransientError(f"{TITLE} {operation}: the answer is not JSON", connector=NAME,
                                 tenant=self.context.tenant, reference=reference,
                                 status=response.status_code) from None
        error = graphql_errors(answer, response, tenant=self.context.tenant, reference=reference, operation=operation)
        if error is not None:
            raise error
        return dict(answer.get("data") or {})

    @property
    def company(self) -> int:
        if self.settings.company_no is None:
            raise ConfigError("no Business NXT company is chosen: list them (bilagsbro connect TENANT business-nxt "
                              "without --company-no) and give --company-no", tenant=self.context.tenant,
                              connector=NAME)
        return self.settings.company_no

    def _rows(self, operation: str, document: str, table: str, numbers: list[int]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            data = self.graphql(operation, document, {"cid": self.company, "numbers": numbers,
                                                      "first": queries.PAGE, "after": after})
            page = (data.get("useCompany") or {}).get(table) or {}
            out.extend(page.get("items") or [])
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return out
            after = info.get("endCursor")

    def _lookup(self, operation: str, document: str, table: str, key: str,
                prefix: str = "") -> Callable[[list[str]], dict[str, dict[str, Any]]]:
        def fetch(wanted: list[str]) -> dict[str, dict[str, Any]]:
            numbers = sorted({n for w in wanted if (n := number(w.removeprefix(prefix))) is not None})
            if not numbers:
                return {}
            found = {f"{prefix}{row[key]}": row for row in self._rows(operation, document, table, numbers)}
            return {w: found[w] for w in wanted if w in found}  # "0100" is not account 100
        return fetch

    # -- the register ---------------------------------------------------------------------------------------

    def resolve(self, vouchers: Sequence[Voucher]) -> Register:
        """What these vouchers need, looked up once per connection and burst (pipeline.lookups: single flight)."""
        lines = [line for voucher in vouchers for line in voucher.lines]
        lookups = self.context.lookups
        accounts = lookups.fill("accounts", [line.account for line in lines if not (line.customer or line.supplier)],
                                self._lookup("accounts", queries.ACCOUNTS, "generalLedgerAccount", "accountNo"))
        tax_codes = lookups.fill("tax_codes", [line.vat_code for line in lines if line.vat_code is not None],
                                 self._lookup("tax_codes", queries.TAX_CODES, "taxCode", "taxCode"))
        customers = lookups.fill("customers", [p.number for line in lines if (p := line.customer) and p.number],
                                 self._lookup("customers", queries.CUSTOMERS, "associate", "customerNo"))
        suppliers = lookups.fill("suppliers", [p.number for line in lines if (p := line.supplier) and p.number],
                                 self._lookup("suppliers", queries.SUPPLIERS, "associate", "supplierNo"))
        org_units = lookups.table("org_units")
        for dimension, kind in self.settings.org_units.items():
            wanted = [org_unit_key(kind, line.dimensions[dimension]) for line in lines if dimension in line.dimensions]
            lookups.fill("org_units", wanted, self._lookup(f"org_units_{kind}", queries.org_units(kind),
                                                           f"orgUnit{kind}", "orgUnitNo", prefix=f"{kind}:"))
        return Register(accounts=accounts, tax_codes=tax_codes, customers=customers, suppliers=suppliers,
                        org_units=org_units, locked_until=self._locked_until())

    def _locked_until(self) -> int:
        """The company's period lock (yyyymmdd; 0: none), read once per connection."""
        def fetch(_: list[str]) -> dict[str, Any]:
            data = self.graphql("company_information", queries.COMPANY_INFORMATION, {"cid": self.company})
            items = ((data.get("useCompany") or {}).get("companyInformation") or {}).get("items") or [{}]
            return {"information": items[0] or {}}
        info = self.context.lookups.fill("company", ["information"], fetch).get("information") or {}
        return int(info.get("lockedUntilDate") or 0)

    def _problems(self, voucher: Voucher) -> list[Problem]:
        return problems_for(voucher, self.resolve([voucher]), self.settings.org_units)

    # -- the Target protocol --------------------------------------------------------------------------------

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        problems = [Problem(f"the {TITLE} connector does not deliver {d.type} yet", reference=d.reference,
                            code="unsupported-document") for d in documents if d.type in UNSUPPORTED_DOCUMENTS]
        vouchers = [d for d in documents if isinstance(d, Voucher)]
        if vouchers:
            register = self.resolve(vouchers)
            for voucher in vouchers:
                problems.extend(problems_for(voucher, register, self.settings.org_units))
        return problems

    def accounts_missing(self, numbers: Iterable[str]) -> dict[str, str]:
        """Which account numbers the company's chart cannot book on, and why (pipeline.ports.ChartOfAccounts)."""
        wanted = list(numbers)
        found = self._lookup("accounts", queries.ACCOUNTS, "generalLedgerAccount", "accountNo")(wanted)
        missing = {n: "does not exist in Business NXT" if number(n) is not None
                   else "is no account number Business NXT can have (integers)" for n in wanted if n not in found}
        missing.update({n: "is barred (sperret) in Business NXT" for n, a in found.items() if a.get("barred")})
        return dict(sorted(missing.items()))

    def _voucher(self, document: Document) -> Voucher:
        if not isinstance(document, Voucher):
            raise DataError(f"the {TITLE} connector does not deliver {document.type} yet: only vouchers",
                            tenant=self.context.tenant, reference=document.reference, connector=NAME)
        return document

    def render(self, document: Document) -> dict[str, Any]:
        """The batch deliver() would create; its voucher number is taken only when it is sent (0 here)."""
        voucher = self._voucher(document)
        return batch_input(voucher, reference=voucher.reference, voucher_no=0, series=self.settings.voucher_series,
                           voucher_type=self.settings.voucher_type, org_units=self.settings.org_units)

    def _next_number(self) -> int:
        def read() -> int:
            data = self.graphql("voucher_series", queries.VOUCHER_SERIES,
                                {"cid": self.company, "series": self.settings.voucher_series})
            items = ((data.get("useCompany") or {}).get("voucherSeries") or {}).get("items") or []
            if not items:
                raise ConfigError(f"voucher series {self.settings.voucher_series} does not exist in the Business NXT "
                                  "company: choose another (--voucher-series)", tenant=self.context.tenant,
                                  connector=NAME)
            return int(items[0].get("nextVoucherNo") or 1)
        numbers = kept(self.context, (NAME, "numbers", self.company, self.settings.voucher_series), _Numbers)
        return numbers.take(read)

    def deliver(self, document: Document) -> Delivery:
        voucher = self._voucher(document)
        problems = self._problems(voucher)
        if problems:
            raise DataError(f"{TITLE} lacks what voucher {voucher.reference} needs: "
                            + "; ".join(str(p) for p in problems), tenant=self.context.tenant,
                            reference=voucher.reference, connector=NAME, problems=tuple(problems))
        voucher_no = self._next_number()
        batch = batch_input(voucher, reference=voucher.reference, voucher_no=voucher_no,
                            series=self.settings.voucher_series, voucher_type=self.settings.voucher_type,
                            org_units=self.settings.org_units)
        data = self.graphql("create_batch", queries.CREATE_BATCH, {"cid": self.company, "batch": [batch]},
                            reference=voucher.reference, mutation=True)
        items = ((data.get("useCompany") or {}).get("batch_create") or {}).get("items") or []
        if not items:
            raise OutcomeUnknown(f"{TITLE} create_batch answered without the batch", tenant=self.context.tenant,
                                 reference=voucher.reference, connector=NAME)
        created = {"batchNo": items[0]["batchNo"], "voucherNo": voucher_no}
        skipped = not_accepted(voucher, self.settings.org_units)
        if self.draft:
            return delivery_of(created, draft=True, not_accepted=skipped, company=self.company)
        return self._update(created, voucher.reference, skipped)

    def _update(self, batch: dict[str, Any], reference: str, skipped: Sequence[str] = ()) -> Delivery:
        """Update (post) our batch; a refusal leaves it as the draft it is and says why."""
        try:
            data = self.graphql("update_batch", queries.UPDATE_BATCH, {"cid": self.company,
                                                                       "batchNo": batch["batchNo"]},
                                reference=reference, mutation=True)
        except DataError as exc:
            return delivery_of(batch, draft=True, not_accepted=skipped, company=self.company,
                               not_posted=f"the batch was created but Business NXT refused to update it: "
                                          f"{exc.provider_message or exc.message}")
        except OutcomeUnknown as exc:
            raise OutcomeUnknown(f"{TITLE}: batch {batch['batchNo']} was created; whether its update went through "
                                 "is unknown", tenant=exc.tenant, reference=reference, connector=NAME,
                                 status=exc.status) from exc
        result = ((data.get("useCompany") or {}).get("batch_processings") or {}).get("updateBatch") or {}
        if not result.get("succeeded"):
            return delivery_of(batch, draft=True, not_accepted=skipped, company=self.company,
                               not_posted="the batch was created but its update did not succeed in Business NXT")
        return delivery_of(batch, draft=False, not_accepted=skipped, company=self.company)

    def find(self, reference: str) -> Delivery | None:
        data = self.graphql("find_reference", queries.FIND, {"cid": self.company, "reference": reference})
        company = data.get("useCompany") or {}
        posted = ((company.get("updatedVoucher") or {}).get("items")) or []
        if posted:
            return delivery_of(posted[0], draft=False, company=self.company)
        waiting = ((company.get("voucher") or {}).get("items")) or []
        if not waiting:
            return None
        batch = {"batchNo": waiting[0]["batchNo"], "voucherNo": waiting[0]["voucherNo"]}
        if not self.draft:  # the opted-in update of an earlier attempt may not have happened: finish it
            return self._update(batch, reference)
        return delivery_of(batch, draft=True, company=self.company)

    def companies(self) -> list[dict[str, Any]]:
        """Every company `availableCompanies` reaches for each of the connection's customer ids (onboarding.py)."""
        return onboarding.companies(self)

    def check(self) -> dict[str, Any]:
        """The connection test: the companies the integration reaches, the chosen one among them, its facts."""
        return onboarding.check(self)
