"""Tripletex as a ledger source: `/ledger/posting` by period with paging, `/ledger/account`, `/balanceSheet`, documents.

API: https://tripletex.no/v2-docs/ (official spec ../shared/specs/tripletex/openapi.json, 2.72.00). The session,
dialect and retries are the Tripletex target's (connectors/targets/tripletex): one login per connection.
- `GET /ledger/posting?dateFrom&dateTo` (to excl.), `from`/`count` ≤ 1000; nested objects are expanded only as far
  as `fields` asks (the posting's account number, VAT type number, voucher number and attachment, ...).
- Fiscal years from `GET /ledger/annualAccount` (`start`, `end`: [unverified] whether `end` is the last day or the
  day after; both are read right — a year ending on the 1st of its start month is taken as exclusive).
- Verification against `GET /balanceSheet` (saldobalanse): `balanceChange` per account over the period.
- What changed: Tripletex has no changed-since filter on postings or vouchers in 2.72.00, so the timer's fingerprint
  is the period's vouchers' (id, version) pairs from `GET /ledger/voucher?fields=id,version` — one page for a month
  of a small company instead of the ~12 pages of its postings. [unverified] that editing a posting raises its
  voucher's `version`; a deleted or added voucher changes the fingerprint either way.
- Documents: the voucher's `attachment` (a Document: id, fileName, mimeType asked for with the postings, so one
  request per document) → `GET /document/{id}/content`; `GET /document/{id}` only when the page did not say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, Literal

from connectors.http import send
from connectors.targets.tripletex.client import DIALECT
from connectors.targets.tripletex.target import TripletexTarget
from pipeline.readback.model import FiscalYear, GlPosting, LedgerAccount, LedgerDimension, LedgerParty
from pipeline.readback.ports import Attachment, InboxFile
from pipeline.readback.store import months

NAME = "tripletex"
PAGE = 1000  # the spec's default and the most a page holds
POSTING_FIELDS = ("id,version,date,description,amount,amountCurrency,currency(code),account(number),vatType(number),"
                  "voucher(id,number,year,attachment(id,fileName,mimeType)),customer(customerNumber),supplier(supplierNumber),"
                  "department(departmentNumber),project(number),row")


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def posting(record: Mapping[str, Any]) -> GlPosting:
    """One `Posting` of the API as a row of the ledger."""
    voucher = record.get("voucher") or {}
    dimensions = {}
    if (record.get("department") or {}).get("departmentNumber"):
        dimensions["department"] = str(record["department"]["departmentNumber"])
    if (record.get("project") or {}).get("number"):
        dimensions["project"] = str(record["project"]["number"])
    currency = (record.get("currency") or {}).get("code")
    attachment = (voucher.get("attachment") or {}).get("id")
    return GlPosting(
        id=str(record["id"]), voucher=f"{voucher.get('year')}-{voucher.get('number')}",
        voucher_id=_text(voucher.get("id")), date=dt.date.fromisoformat(record["date"]),
        account=str((record.get("account") or {}).get("number")), amount=Decimal(str(record["amount"])),
        vat_code=_text((record.get("vatType") or {}).get("number")), dimensions=dimensions,
        text=_text(record.get("description")),
        customer=_text((record.get("customer") or {}).get("customerNumber")),
        supplier=_text((record.get("supplier") or {}).get("supplierNumber")), currency=_text(currency),
        amount_currency=Decimal(str(record["amountCurrency"])) if currency and currency != "NOK"
        and record.get("amountCurrency") is not None else None,
        document=_text(attachment))


def fiscal_year(record: Mapping[str, Any]) -> FiscalYear:
    start, end = dt.date.fromisoformat(record["start"][:10]), dt.date.fromisoformat(record["end"][:10])
    if end.day == start.day and end.month == start.month and end > start:
        end -= dt.timedelta(days=1)  # the day after the year (as /ledger/accountingPeriod's `end`)
    return FiscalYear(start=start, end=end)


class TripletexLedger:
    name = NAME
    slice: Literal["period", "year"] = "period"

    def __init__(self, target: TripletexTarget) -> None:
        self.target = target
        self.requests = 0
        self.problems: list[str] = []
        self._documents: dict[str, dict[str, Any]] = {}  # what postings said of their vouchers' attachments

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        self.requests += 1
        # Reads are not kept as exchanges (that log is per delivered document); errors still carry the request id.
        response = send(self.target.client, "GET", path, params=params, dialect=DIALECT,
                        tenant=self.target.context.tenant, sleep=self.target._sleep)
        return response

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        start = 0
        while True:
            page = self._get(path, {**params, "from": start, "count": PAGE}).json(parse_float=Decimal)
            values = page.get("values") or []
            yield from values
            start += len(values)
            if not values or start >= int(page.get("fullResultSize") or 0):
                return

    @staticmethod
    def _range(start: dt.date, end: dt.date) -> dict[str, str]:
        return {"dateFrom": start.isoformat(), "dateTo": (end + dt.timedelta(days=1)).isoformat()}

    def fiscal_years(self) -> list[FiscalYear]:
        return sorted((fiscal_year(r) for r in self._pages("ledger/annualAccount", {"fields": "id,year,start,end"})),
                      key=lambda y: y.start)

    def accounts(self) -> Iterator[LedgerAccount]:
        for record in self._pages("ledger/account", {"fields": "number,name,type,isInactive,vatType(number)"}):
            yield LedgerAccount(number=str(record["number"]), name=record.get("name") or "",
                                kind=_text(record.get("type")), vat_code=_text((record.get("vatType") or {}).get("number")),
                                active=not record.get("isInactive"))

    def parties(self) -> Iterator[LedgerParty]:
        for record in self._pages("customer", {"fields": "customerNumber,name,organizationNumber"}):
            yield LedgerParty(kind="customer", number=str(record["customerNumber"]), name=record.get("name") or "",
                              organization_number=_text(record.get("organizationNumber")))
        for record in self._pages("supplier", {"fields": "supplierNumber,name,organizationNumber"}):
            yield LedgerParty(kind="supplier", number=str(record["supplierNumber"]), name=record.get("name") or "",
                              organization_number=_text(record.get("organizationNumber")))

    def dimensions(self) -> Iterator[LedgerDimension]:
        for record in self._pages("department", {"fields": "departmentNumber,name"}):
            yield LedgerDimension(kind="department", code=str(record["departmentNumber"]), name=record.get("name") or "")
        for record in self._pages("project", {"fields": "number,name"}):
            yield LedgerDimension(kind="project", code=str(record["number"]), name=record.get("name") or "")

    def postings(self, start: dt.date, end: dt.date) -> Iterator[GlPosting]:
        for record in self._pages("ledger/posting", {**self._range(start, end), "fields": POSTING_FIELDS}):
            found = posting(record)
            if found.document and found.document not in self._documents:
                self._documents[found.document] = (record.get("voucher") or {}).get("attachment") or {}
            yield found

    def reported(self, start: dt.date, end: dt.date) -> dict[tuple[str, str], Decimal]:
        found: dict[tuple[str, str], Decimal] = {}
        for month in months(start, end):
            low = max(start, dt.date.fromisoformat(month + "-01"))
            high = min(end, (low.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1))
            for line in self._pages("balanceSheet", {**self._range(low, high),
                                                     "fields": "account(number),balanceIn,balanceChange,balanceOut"}):
                found[(month, str(line["account"]["number"]))] = Decimal(str(line["balanceChange"]))
        return found

    def fingerprint(self, start: dt.date, end: dt.date) -> str:
        digest = hashlib.sha256()
        pairs = sorted((int(v["id"]), int(v.get("version") or 0))
                       for v in self._pages("ledger/voucher", {**self._range(start, end), "fields": "id,version"}))
        for pair in pairs:
            digest.update(f"{pair[0]}:{pair[1]};".encode())
        return f"{len(pairs)}:{digest.hexdigest()[:32]}"

    def inbox(self) -> Iterator[InboxFile]:
        # Tripletex's own inbox (Bilagsmottak, `GET /ledger/voucher/>voucherReception`) is not read yet: its documents
        # reach the read model once they are attached to a voucher.
        return iter(())

    def attachment(self, document: str) -> Attachment:
        meta = self._documents.pop(document, None) or {}
        if not meta.get("fileName"):  # the posting's page did not say: ask the document itself
            meta = self._get(f"document/{document}", {"fields": "id,fileName,mimeType"}).json().get("value") or {}
        response = self._get(f"document/{document}/content")
        kind = meta.get("mimeType") or response.headers.get("content-type", "application/octet-stream")
        return Attachment(response.content, kind.split(";")[0], meta.get("fileName") or f"{document}.pdf")


def open_source(target: Any) -> TripletexLedger:
    if not isinstance(target, TripletexTarget):
        raise TypeError(f"the Tripletex ledger reads through the Tripletex target, not {type(target).__name__}")
    return TripletexLedger(target)
