"""Export files as ledger sources: SIE 4 (Fortnox, Visma, BL and most Swedish programs) and SAF-T Financial.

For a company without API access the tenant uploads the file (`POST /api/v1/ledger/files`); it is stored unchanged
in Blob Storage and read from there, streamed, one fiscal year per sync message. The vouchers come from our own
readers (connectors/sources/sie4.py and saft_financial.py) so a file reads the same whether it is delivered or
read back; this module adds what those skip: the fiscal years, the chart and the file's own balances.

SIE 4 (SIE filformat 4B, https://sie.se/format/): `#RAR <index> <start> <end>` (index 0 the file's current year,
-1 the one before), `#KONTO <account> "<name>"`, `#KTYP <account> T|S|K|I`, `#DIM`/`#OBJEKT` (dimensions),
`#IB`/`#UB <index> <account> <amount>` (opening/closing balance), `#RES <index> <account> <amount>` (the year's
result per income-statement account). The check per fiscal year: our sum of an account equals `#RES` (result
accounts) or `#UB − #IB` (balance accounts). Per month, `#PSALDO <index> <yyyymm> <account> {} <amount>` (totals:
rows with an object list are a dimension's share and are not compared) is compared too. [unverified] whether a
program writes a month's change or the balance at its end there (the 4B text could not be read here; Visma's
documentation speaks of monthly changes, other readers take it as a balance): the file itself decides, per kind of
account (balance, result): a reading is chosen when the file's own year figures agree with it (the months summing to
`#UB − #IB` or `#RES` for changes, the last month equalling `#UB` or `#RES` for balances) and not with the other, by
majority over the accounts where the two differ; never from our own sums, so the check can still fail. A month an
account's rows leave out is a month without change. A row's own `#TRANS` date is not kept (the voucher's date is);
SIE has no VAT codes on rows.

SAF-T Financial: read with `vat_accounts: []` so the reader leaves every line as the file books it (its VAT folding
would merge VAT postings into base lines); the VAT code is then not kept either. The file's period is its
`Header/SelectionCriteria` (PeriodStart/PeriodStartYear..PeriodEnd/PeriodEndYear, periods taken as calendar months —
[unverified] for a company whose accounting periods are not months —, or SelectionStartDate..SelectionEndDate); the
check: per account of `MasterFiles/GeneralLedgerAccounts`, closing minus opening balance (debit positive) equals our
sum over that period. A file without selection criteria, or with vouchers dated outside it, is read by calendar
years of its vouchers' dates, unchecked.
The chart comes from the same accounts (AccountDescription), else from the postings.
"""

from __future__ import annotations

import codecs
import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Literal

from lxml import etree

from connectors.sources import saft_common, saft_financial, sie4
from pipeline.errors import ConfigError, Problem
from pipeline.model import Voucher
from pipeline.norway.text import SNIFF_BYTES, UndecodableText, settle, split_head
from pipeline.ports import BlobStore, NotFound
from pipeline.readback.model import FiscalYear, GlPosting, LedgerAccount, LedgerDimension, LedgerParty
from pipeline.readback.ports import Attachment, InboxFile
from pipeline.records.names import CONTAINER_GL

_KINDS = {"T": "ASSETS", "S": "LIABILITY", "K": "COST", "I": "INCOME"}


def _date(text: str) -> dt.date:
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))


class _FileLedger:
    """What SIE and SAF-T share: the blob, the voucher reader, problems kept as values."""

    name = "file"
    slice: Literal["period", "year"] = "year"
    parse: Callable[..., Iterator[Any]]

    def __init__(self, blobs: BlobStore, path: str, options: Mapping[str, Any] | None = None) -> None:
        self.blobs, self.path, self.options = blobs, path, dict(options or {})
        self.problems: list[str] = []
        self.requests = 0

    def _open(self) -> IO[bytes]:
        try:
            return self.blobs.open(CONTAINER_GL, self.path)
        except NotFound:
            raise ConfigError(f"the ledger file {self.path} is gone: upload it again") from None

    def postings(self, start: dt.date, end: dt.date) -> Iterator[GlPosting]:
        with self._open() as data:
            for item in self.parse(data, file_name=self.path.rsplit("/", 1)[-1], options=self._reader_options()):
                if isinstance(item, Problem):
                    if item.is_error:
                        self.problems.append(str(item))
                    continue
                if isinstance(item, Voucher) and start <= item.date <= end:
                    yield from self._rows(item)

    def _reader_options(self) -> dict[str, Any]:
        return dict(self.options)

    def _rows(self, voucher: Voucher) -> Iterator[GlPosting]:
        number = self._number(voucher.reference)
        for index, line in enumerate(voucher.lines, start=1):
            yield GlPosting(id=f"{voucher.reference}.{index}", voucher=number, voucher_id=voucher.reference,
                            date=voucher.date, account=line.account,
                            amount=line.amount, vat_code=line.vat_code, dimensions=dict(line.dimensions),
                            text=line.description or voucher.description,
                            customer=line.customer.number if line.customer else None,
                            supplier=line.supplier.number if line.supplier else None, currency=voucher.currency)

    @staticmethod
    def _number(reference: str) -> str:
        return reference

    def parties(self) -> Iterator[LedgerParty]:
        return iter(())

    def dimensions(self) -> Iterator[LedgerDimension]:
        return iter(())

    def attachment(self, document: str) -> Attachment:
        raise ConfigError("an export file carries no documents")

    def inbox(self) -> Iterator[InboxFile]:
        return iter(())  # an export file has no inbox

    def fingerprint(self, start: dt.date, end: dt.date) -> str:
        return f"file:{self.path}"  # a file never changes: a new one is a new upload (and a new backfill)


class SieLedger(_FileLedger):
    name = "sie4"
    parse = staticmethod(sie4.parse)

    def _lines(self) -> Iterator[list[str]]:
        """The file's tagged lines as tokens, decoded as the voucher reader decodes them (its encoding rules)."""
        with self._open() as data:
            head, stream = split_head(data)
            declared = sie4._FORMAT.search(head)
            name = declared.group(1).decode("ascii", "replace") if declared else None
            try:
                encoding = self.options.get("encoding") or settle(head, name, final=len(head) < SNIFF_BYTES).encoding
            except UndecodableText:
                encoding = "cp865"
            reader = codecs.getreader(encoding)(stream, "replace")
            for line in reader:
                if line.lstrip().startswith("#") and not line.lstrip().startswith(("#TRANS", "#RTRANS", "#BTRANS")):
                    yield sie4.tokens(line.strip())

    @staticmethod
    def _number(reference: str) -> str:
        return reference.rsplit("-", 1)[0]  # `<series>-<number>-<hash>` → `<series>-<number>`

    def _header(self) -> dict[str, Any]:
        cached: dict[str, Any] | None = getattr(self, "_cached", None)
        if cached is not None:
            return cached
        found: dict[str, Any] = {"years": {}, "accounts": {}, "kinds": {}, "dims": {}, "objects": [],
                                 "ib": {}, "ub": {}, "res": {}, "psaldo": {}}
        for parts in self._lines():
            tag = parts[0].upper()
            try:
                if tag == "#RAR" and len(parts) >= 4:
                    found["years"][int(parts[1])] = FiscalYear(start=_date(parts[2]), end=_date(parts[3]))
                elif tag == "#KONTO" and len(parts) >= 2:
                    found["accounts"][parts[1]] = parts[2] if len(parts) > 2 else ""
                elif tag == "#KTYP" and len(parts) >= 3:
                    found["kinds"][parts[1]] = _KINDS.get(parts[2].upper(), parts[2])
                elif tag == "#DIM" and len(parts) >= 3:
                    found["dims"][parts[1]] = parts[2]
                elif tag == "#OBJEKT" and len(parts) >= 4:
                    found["objects"].append((parts[1], parts[2], parts[3]))
                elif tag in ("#IB", "#UB", "#RES") and len(parts) >= 4:
                    found[tag[1:].lower()][(int(parts[1]), parts[2])] = Decimal(parts[3])
                elif tag == "#PSALDO" and len(parts) >= 6 and parts[4].replace(" ", "") == "{}":
                    period = int(parts[2])  # yyyymm
                    month = f"{period // 100:04d}-{period % 100:02d}"
                    found["psaldo"].setdefault((int(parts[1]), parts[3]), {})[month] = Decimal(parts[5])
            except (ValueError, InvalidOperation):
                self.problems.append(f"{self.path}: {tag} line not understood: {' '.join(parts)[:120]}")
        self._cached = found
        return found

    def fiscal_years(self) -> list[FiscalYear]:
        return sorted(self._header()["years"].values(), key=lambda y: y.start)

    def accounts(self) -> Iterator[LedgerAccount]:
        header = self._header()
        for number, name in header["accounts"].items():
            yield LedgerAccount(number=number, name=name, kind=header["kinds"].get(number))

    def dimensions(self) -> Iterator[LedgerDimension]:
        mapping = {str(k): str(v) for k, v in self.options.get("sie_dimensions", sie4.DEFAULT_DIMENSIONS).items()}
        for dim, code, name in self._header()["objects"]:
            yield LedgerDimension(kind=mapping.get(dim, f"sie-{dim}"), code=code, name=name)

    def reported(self, start: dt.date, end: dt.date) -> dict[tuple[str, str], Decimal]:
        """The year's figures per account under the period key `<start>..<end>` of the fiscal year it covers."""
        header = self._header()
        found: dict[tuple[str, str], Decimal] = {}
        for index, year in header["years"].items():
            if year.start != start or year.end != end:
                continue
            for (at, account), amount in header["res"].items():
                if at == index:
                    found[(year.label, account)] = amount
            for (at, account), closing in header["ub"].items():
                if at == index:
                    found[(year.label, account)] = closing - header["ib"].get((index, account), Decimal(0))
            found.update(_monthly(header, index, year))
        return found


def _monthly(header: dict[str, Any], index: int, year: FiscalYear) -> dict[tuple[str, str], Decimal]:
    """A year's `#PSALDO` rows as each month's change per account, read as the file's own year figures say."""
    every = [p.start.strftime("%Y-%m") for p in year.periods()]
    rows = {account: {m: a for m, a in months.items() if m in every}
            for (at, account), months in header["psaldo"].items() if at == index}
    rows = {account: months for account, months in rows.items() if months}
    if not rows:
        return {}

    def figures(account: str) -> tuple[Decimal, Decimal] | None:
        """(opening, the year's figure): `#IB`/`#UB` for a balance account, 0/`#RES` for a result account."""
        if (index, account) in header["ub"]:
            return header["ib"].get((index, account), Decimal(0)), header["ub"][(index, account)]
        if (index, account) in header["res"]:
            return Decimal(0), header["res"][(index, account)]
        return None

    votes: dict[bool, dict[str, int]] = {True: {"change": 0, "balance": 0}, False: {"change": 0, "balance": 0}}
    for account, months in rows.items():
        known = figures(account)
        if known is None:
            continue
        opening, figure = known
        as_change = sum(months.values(), Decimal(0)) == figure - opening
        as_balance = months[max(months)] == figure
        if as_change != as_balance:
            votes[(index, account) in header["ub"]]["change" if as_change else "balance"] += 1
    found: dict[tuple[str, str], Decimal] = {}
    for account, months in rows.items():
        balance_account = (index, account) in header["ub"]
        tally = votes[balance_account]
        if tally["balance"] > tally["change"]:
            known = figures(account)
            previous = known[0] if known else Decimal(0)
            for month in every:
                if month in months:
                    found[(month, account)] = months[month] - previous
                    previous = months[month]
                else:
                    found[(month, account)] = Decimal(0)
        else:
            for month in every:
                found[(month, account)] = months.get(month, Decimal(0))
    return found


class SaftLedger(_FileLedger):
    name = "saft"
    parse = staticmethod(saft_financial.parse)

    def _reader_options(self) -> dict[str, Any]:
        return {**self.options, "vat_accounts": []}

    def _master(self) -> dict[str, Any]:
        """The selection and the chart with its balances: Header and MasterFiles, read up to the entries."""
        cached: dict[str, Any] | None = getattr(self, "_cached", None)
        if cached is not None:
            return cached
        found: dict[str, Any] = {"period": None, "accounts": {}, "movements": {}}
        with self._open() as data:
            try:
                for event, element in saft_common.iterparse(data, ("SelectionCriteria", "Account", "GeneralLedgerEntries"),
                                                            events=("start", "end")):
                    name = saft_common.local(element.tag)
                    if name == "GeneralLedgerEntries":
                        break
                    if event != "end":
                        continue
                    if name == "SelectionCriteria":
                        found["period"] = _selection(element)
                    elif (number := saft_common.text(element, "AccountID")) is not None:
                        found["accounts"][number] = saft_common.text(element, "AccountDescription") or ""
                        movement = _movement(element)
                        if movement is not None:
                            found["movements"][number] = movement
                    saft_common.release(element)
            except (etree.XMLSyntaxError, ValueError, InvalidOperation) as error:
                self.problems.append(f"{self.path}: the header or the chart could not be read: {error}")
        self._cached = found
        return found

    def fiscal_years(self) -> list[FiscalYear]:
        """The file's selection when every voucher is dated inside it (then checked against the chart's balances),
        else calendar years of the vouchers' dates, unchecked (our own document export selects by day received)."""
        cached = getattr(self, "_years", None)
        if cached is None:
            days = {p.date for p in self.postings(dt.date.min, dt.date.max)}
            period: FiscalYear | None = self._master()["period"]
            if period is not None and all(period.start <= day <= period.end for day in days):
                cached = [period]
            else:
                cached = [FiscalYear(start=dt.date(y, 1, 1), end=dt.date(y, 12, 31)) for y in sorted({d.year for d in days})]
            self._years = cached
        return cached

    def accounts(self) -> Iterator[LedgerAccount]:
        chart = self._master()["accounts"]
        if chart:
            for number, name in chart.items():
                yield LedgerAccount(number=number, name=name)
            return
        seen: set[str] = set()
        for posting in self.postings(dt.date.min, dt.date.max):
            if posting.account not in seen:
                seen.add(posting.account)
                yield LedgerAccount(number=posting.account)

    def reported(self, start: dt.date, end: dt.date) -> dict[tuple[str, str], Decimal]:
        master = self._master()
        period: FiscalYear | None = master["period"]
        if period is None or (period.start, period.end) != (start, end):
            return {}
        return {(period.label, account): movement for account, movement in master["movements"].items()}


def _selection(element: Any) -> FiscalYear | None:
    """The period a SAF-T file covers, from its SelectionCriteria (months or dates); None when it names neither."""
    first, last = saft_common.text(element, "SelectionStartDate"), saft_common.text(element, "SelectionEndDate")
    if first and last:
        return FiscalYear(start=dt.date.fromisoformat(first), end=dt.date.fromisoformat(last))
    parts = [saft_common.text(element, n) for n in ("PeriodStart", "PeriodStartYear", "PeriodEnd", "PeriodEndYear")]
    if not all(parts):
        return None
    start_month, start_year, end_month, end_year = (int(str(p)) for p in parts)
    following = dt.date(end_year + end_month // 12, end_month % 12 + 1, 1)
    return FiscalYear(start=dt.date(start_year, start_month, 1), end=following - dt.timedelta(days=1))


def _movement(account: Any) -> Decimal | None:
    """Closing minus opening balance of a MasterFiles account, debit positive; None when it states no closing."""
    def signed(debit: str, credit: str) -> Decimal | None:
        for name, sign in ((debit, 1), (credit, -1)):
            raw = saft_common.text(account, name)
            if raw is not None:
                return sign * Decimal(raw)
        return None

    closing = signed("ClosingDebitBalance", "ClosingCreditBalance")
    if closing is None:
        return None
    return closing - (signed("OpeningDebitBalance", "OpeningCreditBalance") or Decimal(0))
