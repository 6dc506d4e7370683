"""Fortnox as a ledger source: the SIE 4 export per financial year, balances per account, documents from the archive.

API v3 (reference/target-apis.md §8; fortnox.se/developer). Signs in through the Fortnox target's OAuth client (the
consent link, single-use refresh tokens, the licence check): a tenant connected for delivery is connected for this.
- Years: `GET /3/financialyears` (`Id`, `FromDate`, `ToDate`).
- Postings: `GET /3/sie/4?financialyear=<Id>` — one request for a whole year, read by our SIE reader
  (connectors/sources/sie4.py through files.SieLedger's row shaping), where the voucher API would take one request
  per voucher (its lists carry no rows) under a limit of 25 requests per 5 seconds. The shared HTTP stack reads an
  answer whole, so one year's export (about 0.6 MB per 20,000 postings) is in memory once while it is read (the
  vouchers themselves stream out of it).
- What changed: booked vouchers are never altered in Fortnox (a correction is a new voucher, Bokföringslagen), so a
  year's voucher count (`GET /3/vouchers?financialyear&limit=1` → `@TotalResources`) is its fingerprint.
  [unverified] that Fortnox offers no way to delete a booked voucher through its UI either; if it does, a deletion
  paired with a new voucher would go unseen until the next backfill.
- Check: `GET /3/accounts?financialyear` → `BalanceCarriedForward − BalanceBroughtForward` per account is the
  system's own change for the year [spec-derived field names], compared with our sum per account and year.
- Documents: `GET /3/voucherfileconnections` (FileId per voucher) and `GET /3/archive/{FileId}` (scope `archive`).
- The inbox («Inkorg»: receipts and supplier invoices not booked yet): `GET /3/inbox` → `Folder{Id, Name, Folders[],
  Files[]}` (the root and its folders, e.g. `inbox_ku` «Kvitton & utlägg», `inbox_s` «Leverantörsfakturor»), `GET
  /3/inbox/{FolderId}` → that folder's `Files[{Id, Name, Size}]`, `GET /3/inbox/{FileId}` → the file (scope
  `inbox`). [spec-derived from generated clients: the folder and file field names, and that a file id answers the
  bytes; Fortnox gives inbox files no date.] A consent without the scope answers 403: the rest is read and a problem
  says so, as for customers and suppliers.
- Customers and suppliers: `GET /3/customers` (`CustomerNumber`, `Name`, `OrganisationNumber`; scope `customer`) and
  `GET /3/suppliers` (`SupplierNumber`, …; scope `supplier`), paged. A company that consented before these scopes
  were asked for answers 403: the sync goes on without them and says so among its problems (connect again through
  the consent link to read them). [spec-derived field names]
"""

from __future__ import annotations

import collections
import datetime as dt
import io
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any, Literal

from connectors.http import send
from connectors.ledgers.files import SieLedger
from connectors.targets.fortnox.client import DIALECT
from connectors.targets.fortnox.mapping import PAGE_LIMIT
from connectors.targets.fortnox.target import FortnoxTarget
from pipeline.errors import ConfigError
from pipeline.readback.model import FiscalYear, GlPosting, LedgerAccount, LedgerDimension, LedgerParty
from pipeline.readback.ports import Attachment, InboxFile

NAME = "fortnox"
INBOX = "inbox~"  # an inbox file's document id: the prefix tells `attachment` where to fetch it
PER_WINDOW, WINDOW = 24, 5.0  # Fortnox: 25 requests per 5 s per client and company (one kept spare for the target)


class _Downloaded(SieLedger):
    """The SIE reader over one downloaded export instead of a blob."""

    def __init__(self, content: bytes) -> None:
        super().__init__(None, "fortnox-sie4.se", {})  # type: ignore[arg-type]
        self.content = content

    def _open(self) -> IO[bytes]:
        return io.BytesIO(self.content)


class FortnoxLedger:
    name = NAME
    slice: Literal["period", "year"] = "year"

    def __init__(self, target: FortnoxTarget) -> None:
        self.target = target
        self.requests = 0
        self.problems: list[str] = []
        self._years: dict[FiscalYear, str] | None = None
        self._files: dict[tuple[str, str, str], str] | None = None
        self._sent: collections.deque[float] = collections.deque()

    def _pace(self) -> None:
        """Stay under Fortnox's 25 requests per 5 seconds (sliding window) instead of running into its 429s: a
        backfill fetches hundreds of documents, more than retries with backoff would wait out."""
        now = time.monotonic()
        while self._sent and now - self._sent[0] >= WINDOW:
            self._sent.popleft()
        if len(self._sent) >= PER_WINDOW:
            self.target.context.sleep(WINDOW - (now - self._sent[0]) + 0.05)
            self._sent.popleft()
        self._sent.append(time.monotonic())
        self.requests += 1

    def _pages(self, path: str, key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            self._pace()
            answer = self.target._request("GET", path, params={**params, "page": page, "limit": PAGE_LIMIT}) or {}
            yield from answer.get(key) or []
            if page >= int((answer.get("MetaInformation") or {}).get("@TotalPages") or 1):
                return
            page += 1

    def _raw(self, path: str, params: dict[str, Any] | None = None) -> Any:
        self._pace()
        return send(self.target.client, "GET", path, params=params, dialect=DIALECT, tenant=self.target.context.tenant,
                    sleep=self.target.context.sleep)

    def _ids(self) -> dict[FiscalYear, str]:
        if self._years is None:
            self._years = {FiscalYear(start=dt.date.fromisoformat(y["FromDate"]), end=dt.date.fromisoformat(y["ToDate"])):
                           str(y["Id"]) for y in self._pages("financialyears", "FinancialYears", {})}
        return self._years

    def _year_of(self, start: dt.date, end: dt.date) -> tuple[FiscalYear, str]:
        for year, ident in self._ids().items():
            if year.start <= start and end <= year.end:
                return year, ident
        raise ValueError(f"no Fortnox financial year holds {start}..{end}")

    def fiscal_years(self) -> list[FiscalYear]:
        return sorted(self._ids(), key=lambda y: y.start)

    def accounts(self) -> Iterator[LedgerAccount]:
        latest = self.fiscal_years()[-1]
        for record in self._pages("accounts", "Accounts", {"financialyear": self._ids()[latest]}):
            yield LedgerAccount(number=str(record["Number"]), name=record.get("Description") or "",
                                active=bool(record.get("Active", True)),
                                vat_code=str(record["VATCode"]) if record.get("VATCode") else None)

    def parties(self) -> Iterator[LedgerParty]:
        for kind, path, key, number in (("customer", "customers", "Customers", "CustomerNumber"),
                                        ("supplier", "suppliers", "Suppliers", "SupplierNumber")):
            try:
                for record in self._pages(path, key, {}):
                    yield LedgerParty(kind=kind, number=str(record[number]), name=record.get("Name") or "",
                                      organization_number=record.get("OrganisationNumber") or None)
            except ConfigError as exc:  # the consent predates the scope: the rest of the books are still read
                self.problems.append(f"Fortnox's {path} were not read: {exc.message} (scope {kind}: connect again "
                                     "through the consent link to read them)")

    def dimensions(self) -> Iterator[LedgerDimension]:
        for record in self._pages("costcenters", "CostCenters", {}):
            yield LedgerDimension(kind="department", code=str(record["Code"]), name=record.get("Description") or "")
        for record in self._pages("projects", "Projects", {}):
            yield LedgerDimension(kind="project", code=str(record["ProjectNumber"]), name=record.get("Description") or "")

    def _connections(self) -> dict[tuple[str, str, str], str]:
        if self._files is None:
            self._files = {(str(c.get("VoucherYear")), str(c["VoucherSeries"]), str(c["VoucherNumber"])): str(c["FileId"])
                           for c in self._pages("voucherfileconnections", "VoucherFileConnections", {})}
        return self._files

    def postings(self, start: dt.date, end: dt.date) -> Iterator[GlPosting]:
        year, ident = self._year_of(start, end)
        self._files = None  # read again with every slice: a voucher booked since may have its file connected
        files = self._connections()
        reader = _Downloaded(self._raw("sie/4", {"financialyear": ident}).content)
        for posting in reader.postings(start, end):
            series, _, number = posting.voucher.partition("-")
            document = files.get((ident, series, number))
            yield posting.model_copy(update={"document": document}) if document else posting
        self.problems += reader.problems

    def reported(self, start: dt.date, end: dt.date) -> dict[tuple[str, str], Decimal]:
        year, ident = self._year_of(start, end)
        if (start, end) != (year.start, year.end):
            return {}
        return {(year.label, str(a["Number"])): Decimal(str(a.get("BalanceCarriedForward") or 0))
                - Decimal(str(a.get("BalanceBroughtForward") or 0))
                for a in self._pages("accounts", "Accounts", {"financialyear": ident})}

    def fingerprint(self, start: dt.date, end: dt.date) -> str:
        _, ident = self._year_of(start, end)
        self._pace()
        answer = self.target._request("GET", "vouchers", params={"financialyear": ident, "limit": 1}) or {}
        return f"vouchers:{(answer.get('MetaInformation') or {}).get('@TotalResources')}"

    def inbox(self) -> Iterator[InboxFile]:
        try:
            self._pace()
            root = (self.target._request("GET", "inbox") or {}).get("Folder") or {}
            yield from self._inbox_files(root)
            for folder in root.get("Folders") or []:
                self._pace()
                listed = (self.target._request("GET", f"inbox/{folder['Id']}") or {}).get("Folder") or {}
                yield from self._inbox_files({**folder, **listed})
        except ConfigError as exc:  # the consent predates the scope: the books are still read
            self.problems.append(f"Fortnox's inbox was not read: {exc.message} (scope inbox: connect again through "
                                 "the consent link to read it)")

    @staticmethod
    def _inbox_files(folder: dict[str, Any]) -> Iterator[InboxFile]:
        name = str(folder.get("Name") or folder.get("Id") or "")
        for file in folder.get("Files") or []:
            yield InboxFile(id=f"{INBOX}{file['Id']}", folder=name, file_name=str(file.get("Name") or file["Id"]),
                            size=int(file["Size"]) if str(file.get("Size") or "").isdigit() else None)

    def attachment(self, document: str) -> Attachment:
        if document.startswith(INBOX):
            response = self._raw(f"inbox/{document.removeprefix(INBOX)}")
            kind = response.headers.get("content-type", "application/octet-stream").split(";")[0]
            return Attachment(response.content, kind, document.removeprefix(INBOX))
        response = self._raw(f"archive/{document}")
        kind = response.headers.get("content-type", "application/octet-stream").split(";")[0]
        extension = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}.get(kind, "bin")
        return Attachment(response.content, kind, f"{document}.{extension}")


def open_source(target: Any) -> FortnoxLedger:
    if not isinstance(target, FortnoxTarget):
        raise TypeError(f"the Fortnox ledger reads through the Fortnox target, not {type(target).__name__}")
    return FortnoxLedger(target)
