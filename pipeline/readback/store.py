"""Where the ledger read back lives: Table Storage keyed for range reads without a scan, documents in Blob Storage.

Layout and the cost of each query: docs/decisions/0010-ledger-read-model.md. In short:
- `glbydate`: PartitionKey `<tenant>~<company>~<YYYY-MM>`, RowKey `<date>~<posting id>` — a date range is a RowKey
  range in each month's partition;
- `glbyaccount`: PartitionKey `<tenant>~<company>~<account>`, RowKey `<date>~<posting id>` — an account's postings
  over any dates are one RowKey range in one partition;
- `glbalances`: PartitionKey `<tenant>~<company>`, RowKey `<YYYY-MM>~<account>`;
- `glmaster`: PartitionKey `<tenant>~<company>~<kind>` (accounts, parties, dimensions, years, documents, source).
Postings are written in entity-group transactions of up to 100 per partition; a slice read again replaces its
months (rows the source no longer has are deleted), so a re-read equals the source.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from pipeline.ports import MAX_TRANSACTION, BlobStore, Condition, Entity, NotFound, Operation, TableStore
from pipeline.readback.model import (
    AccountBalance,
    FiscalYear,
    GlPosting,
    LedgerAccount,
    LedgerDimension,
    LedgerDocument,
    LedgerParty,
)
from pipeline.records.names import (
    CONTAINER_GL,
    TABLE_GL_BALANCES,
    TABLE_GL_BY_ACCOUNT,
    TABLE_GL_BY_DATE,
    TABLE_GL_MASTER,
)

_UNSAFE = str.maketrans({c: "_" for c in "/\\#?~\t\n\r"})
_HIGH = "\uffff"


def safe_key(text: str) -> str:
    """Text fit for a PartitionKey or RowKey part (Table Storage forbids / \\ # ? and control characters;
    `~` is our separator)."""
    return str(text).translate(_UNSAFE)


def month_of(day: dt.date) -> str:
    return day.strftime("%Y-%m")


def months(start: dt.date, end: dt.date) -> list[str]:
    found, day = [], start.replace(day=1)
    while day <= end:
        found.append(month_of(day))
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return found


def _row(posting: GlPosting) -> str:
    return f"{posting.date.isoformat()}~{safe_key(posting.id)}"


def _entity(partition: str, posting: GlPosting) -> Entity:
    entity: Entity = {"PartitionKey": partition, "RowKey": _row(posting), "Id": posting.id,
                      "Voucher": posting.voucher, "Date": posting.date.isoformat(), "Account": posting.account,
                      "Amount": str(posting.amount)}
    optional = {"VoucherId": posting.voucher_id, "VatCode": posting.vat_code, "Text": posting.text,
                "Customer": posting.customer, "Supplier": posting.supplier, "Currency": posting.currency,
                "AmountCurrency": None if posting.amount_currency is None else str(posting.amount_currency),
                "Document": posting.document,
                "Dimensions": json.dumps(posting.dimensions, ensure_ascii=False) if posting.dimensions else None}
    entity.update({k: v for k, v in optional.items() if v is not None})
    return entity


def posting_of(entity: Mapping[str, Any]) -> GlPosting:
    return GlPosting(
        id=entity["Id"], voucher=entity["Voucher"], voucher_id=entity.get("VoucherId"),
        date=dt.date.fromisoformat(entity["Date"]), account=entity["Account"], amount=Decimal(entity["Amount"]),
        vat_code=entity.get("VatCode"), text=entity.get("Text"), customer=entity.get("Customer"),
        supplier=entity.get("Supplier"), currency=entity.get("Currency"),
        amount_currency=Decimal(entity["AmountCurrency"]) if entity.get("AmountCurrency") else None,
        document=entity.get("Document"), dimensions=json.loads(entity["Dimensions"]) if entity.get("Dimensions") else {})


class _Batches:
    """Entities buffered per partition and written 100 at a time: memory holds at most 100 per open partition."""

    def __init__(self, tables: TableStore, table: str) -> None:
        self.tables, self.table = tables, table
        self.pending: dict[str, list[Operation]] = defaultdict(list)
        self.transactions = 0

    def add(self, kind: str, entity: Entity) -> None:
        bucket = self.pending[entity["PartitionKey"]]
        bucket.append((kind, entity))  # type: ignore[arg-type]
        if len(bucket) >= MAX_TRANSACTION:
            self._flush(entity["PartitionKey"])

    def _flush(self, partition: str) -> None:
        operations = self.pending.pop(partition, [])
        if operations:
            self.tables.transact(self.table, operations)
            self.transactions += 1

    def flush(self) -> None:
        for partition in list(self.pending):
            self._flush(partition)


class SliceWriter:
    """Writes one slice's postings (both tables) and sums them per period and account as they stream by;
    `finish()` deletes the rows of the slice's months that this read did not see."""

    def __init__(self, ledger: LedgerStore, start: dt.date, end: dt.date) -> None:
        self.ledger, self.start, self.end = ledger, start, end
        self.by_date = _Batches(ledger.tables, TABLE_GL_BY_DATE)
        self.by_account = _Batches(ledger.tables, TABLE_GL_BY_ACCOUNT)
        self.seen: dict[str, set[str]] = defaultdict(set)  # month → RowKeys written (keys only, never postings)
        self.sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.count = 0
        self.documents: dict[str, str] = {}  # document id → voucher, for the documents the slice refers to

    def add(self, posting: GlPosting) -> None:
        if not self.start <= posting.date <= self.end:
            return  # a source that answers beyond the asked range: the row belongs to another slice
        month = month_of(posting.date)
        self.by_date.add("upsert", _entity(self.ledger.partition(month), posting))
        self.by_account.add("upsert", _entity(self.ledger.partition("a", posting.account), posting))
        self.seen[month].add(_row(posting))
        self.sums[(month, posting.account)] += posting.amount
        self.count += 1
        if posting.document:
            self.documents.setdefault(posting.document, posting.voucher)

    def finish(self) -> int:
        """Flush, then remove what the source no longer has; returns how many stale rows went."""
        self.by_date.flush()
        self.by_account.flush()
        stale = 0
        for month in months(self.start, self.end):
            partition = self.ledger.partition(month)
            after = ""
            while True:
                rows = self.ledger.tables.scan(TABLE_GL_BY_DATE, partition, after=after, limit=1000)
                for row in rows:
                    day = dt.date.fromisoformat(row["Date"])
                    if self.start <= day <= self.end and row["RowKey"] not in self.seen.get(month, ()):
                        self.by_date.add("delete", {"PartitionKey": partition, "RowKey": row["RowKey"]})
                        self.by_account.add("delete", {"PartitionKey": self.ledger.partition("a", row["Account"]),
                                                       "RowKey": row["RowKey"]})
                        stale += 1
                if len(rows) < 1000:
                    break
                after = rows[-1]["RowKey"]
        self.by_date.flush()
        self.by_account.flush()
        return stale


class LedgerStore:
    """One tenant's and company's ledger: write slices, read ranges, keep documents."""

    def __init__(self, tables: TableStore, blobs: BlobStore, tenant: str, company: str = "main") -> None:
        self.tables, self.blobs, self.tenant, self.company = tables, blobs, tenant, company

    def partition(self, *parts: str) -> str:
        return "~".join(safe_key(p) for p in (self.tenant, self.company, *parts))

    # -- writing ------------------------------------------------------------------------------------

    def writer(self, start: dt.date, end: dt.date) -> SliceWriter:
        return SliceWriter(self, start, end)

    def put_balances(self, start: dt.date, end: dt.date, sums: Mapping[tuple[str, str], Decimal],
                     reported: Mapping[tuple[str, str], Decimal]) -> list[AccountBalance]:
        """Store our sums beside the system's figures for the slice's months (and, where the system reports a fiscal
        year only, the year's: period `<start>..<end>`); returns the rows that disagree."""
        wanted = set(months(start, end))
        batches = _Batches(self.tables, TABLE_GL_BALANCES)
        partition = self.partition()
        keys = {k for k in set(sums) | set(reported) if k[0] in wanted}
        yearly = {k for k in reported if len(k[0]) != 7}
        for month in sorted(wanted):
            for row in self.tables.scan(TABLE_GL_BALANCES, partition, after=f"{month}~", below=f"{month}~{_HIGH}",
                                        limit=100_000):
                if (month, row["Account"]) not in keys:
                    batches.add("delete", {"PartitionKey": partition, "RowKey": row["RowKey"]})
        mismatches = []
        for period, account in sorted(keys) + sorted(yearly):
            ours = sums.get((period, account), Decimal(0)) if (period, account) in keys else sum(
                (sums.get((m, account), Decimal(0)) for m in wanted), Decimal(0))
            balance = AccountBalance(account=account, period=period, change=ours, reported=reported.get((period, account)))
            if balance.reported is not None and not balance.matches:
                mismatches.append(balance)
            entity: Entity = {"PartitionKey": partition, "RowKey": f"{period}~{safe_key(account)}", "Account": account,
                              "Period": period, "Change": str(balance.change)}
            if balance.reported is not None:
                entity["Reported"] = str(balance.reported)
            batches.add("upsert", entity)
        batches.flush()
        return mismatches

    def _put_master(self, kind: str, rows: Iterable[tuple[str, dict[str, Any]]]) -> int:
        batches, count = _Batches(self.tables, TABLE_GL_MASTER), 0
        for key, properties in rows:
            batches.add("upsert", {"PartitionKey": self.partition(kind), "RowKey": safe_key(key), **properties})
            count += 1
        batches.flush()
        return count

    def put_accounts(self, accounts: Iterable[LedgerAccount]) -> int:
        return self._put_master("accounts", ((a.number, {"Json": a.model_dump_json()}) for a in accounts))

    def put_parties(self, parties: Iterable[LedgerParty]) -> int:
        return self._put_master("parties", ((f"{p.kind}~{p.number}", {"Json": p.model_dump_json()}) for p in parties))

    def put_dimensions(self, dimensions: Iterable[LedgerDimension]) -> int:
        return self._put_master("dimensions", ((f"{d.kind}~{d.code}", {"Json": d.model_dump_json()})
                                               for d in dimensions))

    def put_years(self, years: Iterable[FiscalYear]) -> int:
        return self._put_master("years", ((y.start.isoformat(), {"Json": y.model_dump_json()}) for y in years))

    def put_document(self, document: LedgerDocument, content: bytes) -> None:
        """The file first, then its row: a row always has its file."""
        self.blobs.put(CONTAINER_GL, self._document_path(document.id), content, content_type=document.content_type)
        self._put_master("documents", [(document.id, {"Json": document.model_dump_json()})])

    def put_inbox(self, listed: Iterable[LedgerDocument]) -> int:
        """The system's inbox as it is now: what is listed is kept (its files already put), what left it (booked onto
        a voucher, or deleted in the system) is dropped from the listing; its file stays with the documents."""
        listed = list(listed)  # an inbox holds what waits to be booked: tens or hundreds of files, not a ledger
        count = self._put_master("inbox", ((d.id, {"Json": d.model_dump_json()}) for d in listed))
        keep = {safe_key(d.id) for d in listed}
        batches = _Batches(self.tables, TABLE_GL_MASTER)
        after = ""
        while rows := self.tables.scan(TABLE_GL_MASTER, self.partition("inbox"), after=after, limit=1000):
            for row in rows:
                if row["RowKey"] not in keep:
                    batches.add("delete", {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"]})
            if len(rows) < 1000:
                break
            after = rows[-1]["RowKey"]
        batches.flush()
        return count

    def inbox(self) -> Iterator[LedgerDocument]:
        """The documents waiting in the system's inbox at the last sync."""
        return (LedgerDocument.model_validate_json(j) for j in self._master("inbox"))

    def _document_path(self, document: str) -> str:
        return f"{safe_key(self.tenant)}/{safe_key(self.company)}/documents/{safe_key(document)}"

    # -- reading ------------------------------------------------------------------------------------

    def _master(self, kind: str) -> Iterator[str]:
        after = ""
        while True:
            rows = self.tables.scan(TABLE_GL_MASTER, self.partition(kind), after=after, limit=1000)
            yield from (row["Json"] for row in rows)
            if len(rows) < 1000:
                return
            after = rows[-1]["RowKey"]

    def accounts(self) -> Iterator[LedgerAccount]:
        return (LedgerAccount.model_validate_json(j) for j in self._master("accounts"))

    def parties(self) -> Iterator[LedgerParty]:
        return (LedgerParty.model_validate_json(j) for j in self._master("parties"))

    def dimensions(self) -> Iterator[LedgerDimension]:
        return (LedgerDimension.model_validate_json(j) for j in self._master("dimensions"))

    def years(self) -> list[FiscalYear]:
        return [FiscalYear.model_validate_json(j) for j in self._master("years")]

    def document(self, document: str) -> tuple[LedgerDocument, bytes] | None:
        row = self.tables.get(TABLE_GL_MASTER, self.partition("documents"), safe_key(document))
        if row is None:
            return None
        try:
            return LedgerDocument.model_validate_json(row["Json"]), self.blobs.get(CONTAINER_GL,
                                                                                   self._document_path(document))
        except NotFound:
            return None

    def described(self, document: str) -> LedgerDocument | None:
        """A stored document's description, without its file."""
        row = self.tables.get(TABLE_GL_MASTER, self.partition("documents"), safe_key(document))
        return LedgerDocument.model_validate_json(row["Json"]) if row else None

    def has_document(self, document: str) -> bool:
        return self.tables.get(TABLE_GL_MASTER, self.partition("documents"), safe_key(document)) is not None

    def transactions(self, start: dt.date, end: dt.date, *, account: str | None = None, voucher: str | None = None,
                     after: str = "", limit: int = 100) -> tuple[list[GlPosting], str | None]:
        """Up to `limit` postings dated start ≤ date ≤ end in (date, id) order, from the cursor `after`;
        returns them and the cursor of the next page (None on the last)."""
        where: list[Condition] = [("Voucher", "eq", voucher)] if voucher else []
        low, high = f"{start.isoformat()}~", f"{end.isoformat()}~{_HIGH}"
        if account is not None:
            partitions = [("a", self.partition("a", account))]
        else:
            partitions = [(m, self.partition(m)) for m in months(start, end)]
        found: list[GlPosting] = []
        cursor_label, _, cursor_row = after.partition("|")
        last = ""
        for label, partition in partitions:
            if cursor_label and label < cursor_label:
                continue  # months before the cursor's were read on earlier pages
            row_after = cursor_row if label == cursor_label and cursor_row else low  # `low` sorts before its day
            rows = self.tables.scan(TABLE_GL_BY_DATE if account is None else TABLE_GL_BY_ACCOUNT, partition,
                                    after=row_after, below=high, where=where, limit=limit - len(found) + 1)
            for row in rows:
                if len(found) == limit:
                    return found, f"{label}|{last}"
                found.append(posting_of(row))
                last = row["RowKey"]
        return found, None

    def balances(self, start: str = "", end: str = _HIGH, account: str | None = None) -> Iterator[AccountBalance]:
        """Per account and period (YYYY-MM) from start to end inclusive."""
        after = f"{start}~" if start else ""
        while True:
            rows = self.tables.scan(TABLE_GL_BALANCES, self.partition(), after=after, below=f"{end}~{_HIGH}",
                                    where=[("Account", "eq", account)] if account else (), limit=1000)
            for row in rows:
                yield AccountBalance(account=row["Account"], period=row["Period"], change=Decimal(row["Change"]),
                                     reported=Decimal(row["Reported"]) if "Reported" in row else None)
            if len(rows) < 1000:
                return
            after = rows[-1]["RowKey"]
