"""A SAF-T Financial 1.30 file of a tenant's delivered documents, valid against Skatteetaten's XSD, written as a stream.

The file (Norwegian_SAF-T_Financial_Schema_v_1.30.xsd; facts: reference/norway-standards.md §1.4–1.6):

- **Header**: the company's name and organisation number (its contact is not known to Bilagsbro: the XSD's
  mandatory contact person is the company's name, FirstName "NotUsed" as the XSD says for an unstructured name),
  the period as SelectionStartDate/EndDate — the days the documents were *received*, said again in OtherCriteria.
- **MasterFiles**: every account the entries use, with its grouping code (pipeline.norway.grouping) and balances
  that are this file's movements (opening 0: Bilagsbro knows no balances); every customer and supplier (an ID
  from its number, else made from what identifies it: `party_id`), with its balance per account; every VAT
  code used (TaxCode = StandardTaxCode = the SAF-T code); the analysis types and IDs of the dimensions.
- **GeneralLedgerEntries**: one journal per accounting system the documents were delivered to (JournalID its
  name): the idempotency ledger delivers a reference once per system, so a TransactionID — the document's
  reference, shortened past 70 characters as `short_id` says — never repeats within a journal. Each delivered
  document is one transaction (sales invoices and payments as the vouchers they book: bookings.py), dated its
  own date, in the calendar month as its period, entered on the day it was received, posted on the day it was
  delivered; its receipt is the BatchID. NumberOfEntries, TotalDebit and TotalCredit add up (Decimal).

VAT, per decision 0001: a line with a VAT code is written net, with TaxInformation (code, rate, base, and the
VAT — its `vat_amount`, or the VAT its gross amount holds at the code's rate), and the VAT is posted on the VAT
account of its code (NS 4102 2700–2716; 2740 where the standard names none), one line per account. Our SAF-T
reader folds these back into the same gross lines. A voucher read back from the books (`Entry.vat_posted`) already
has its VAT on lines of its own: each line with a code is written as it is, with TaxInformation whose TaxAmount is
its base at the code's rate, and no VAT line is added (a line on a VAT account carries none).

Left out, and counted in the header's comment: documents not delivered (the JSON lines export has them), documents
in another currency than the file's (the shared form holds no exchange rate, and SAF-T amounts are in one
currency), documents that book nothing, documents dated outside 1970–2100 (SAF-T's PeriodYear). Texts longer than an element holds are shortened and counted.

Memory stays flat: transactions, parties and their balances are spooled to a private temporary SQLite database
on disk as entries pass; the file is written from it at the end. Accounts, VAT codes and analysis IDs are held
in memory: they grow with the chart, not with the documents.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from pipeline.export import OSLO, Company, Entry, Period
from pipeline.export.bookings import as_voucher
from pipeline.export.masterfiles import analysis_type, master_files, party_id
from pipeline.export.spool import Out, Spool, short_id
from pipeline.model import Posting, Voucher
from pipeline.norway.accounts import STANDARD
from pipeline.norway.grouping import Grouping, grouping
from pipeline.norway.vat import VAT_CODES, vat_of_gross

NAMESPACE = "urn:StandardAuditFile-Taxation-Financial:NO"
VERSION = "1.30"
ZERO = Decimal("0.00")
CHUNK = 256 * 1024


def vat_of(line: Posting) -> Decimal:
    """The VAT a line with a VAT code holds: its `vat_amount`, else what its gross amount holds at the code's rate."""
    assert line.vat_code is not None
    return line.vat_amount if line.vat_amount is not None else vat_of_gross(line.amount, line.vat_code)


_VAT_ACCOUNTS = {*STANDARD.output_vat.values(), *STANDARD.input_vat.values(), STANDARD.vat_settlement}


def _vat_of_net(line: Posting) -> Decimal | None:
    """The VAT on a net line read back from the books: its base at its code's rate (None: no code, or a line on a
    VAT account — the VAT itself)."""
    if line.vat_code is None or line.account in _VAT_ACCOUNTS:
        return None
    code = VAT_CODES[line.vat_code]
    if line.vat_amount is not None:
        return line.vat_amount
    return (line.amount * code.rate / Decimal(100)).quantize(ZERO, rounding=ROUND_HALF_UP) + ZERO


def vat_account(code: str) -> str:
    return STANDARD.vat_account(code) or STANDARD.vat_settlement


@dataclass
class Summary:
    """What went into the file, and what was left out and why."""

    transactions: int = 0
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    not_delivered: int = 0
    other_currency: int = 0
    books_nothing: int = 0
    out_of_range: int = 0  # dated before 1970 or after 2100
    shortened: int = 0
    fallback_accounts: list[str] = field(default_factory=list)

    @property
    def left_out(self) -> int:
        return self.not_delivered + self.other_currency + self.books_nothing + self.out_of_range

    def comment(self) -> str:
        said = [f"{self.transactions} bilag fra Bilagsbro"]
        for count, why in ((self.not_delivered, "ikke levert"), (self.other_currency, "i annen valuta"),
                           (self.books_nothing, "uten beløp"), (self.out_of_range, "datert før 1970 eller etter 2100")):
            if count:
                said.append(f"{count} {why} er utelatt (se JSON-eksporten)")
        if self.shortened:
            said.append(f"{self.shortened} tekster er forkortet")
        if self.fallback_accounts:
            said.append(f"konto {', '.join(self.fallback_accounts[:5])} uten NS 4102-gruppe: grupperingskode 7700")
        return "; ".join(said)[:256]


class SaftFile:
    """A SAF-T Financial file of `entries`; `chunks()` writes it, after which `summary` says what it holds."""

    def __init__(self, entries: Iterable[Entry], *, company: Company, period: Period, currency: str = "NOK",
                 created: dt.date | None = None, titles: Mapping[str, str] | None = None,
                 grouping_codes: Mapping[str, str] | None = None) -> None:
        self.entries = entries
        self.company, self.period, self.currency = company, period, currency
        self.created = created or dt.datetime.now(OSLO).date()
        self.titles = dict(titles or {})
        self.grouping_codes = dict(grouping_codes or {})
        self.summary = Summary()
        self._groups: dict[str, Grouping] = {}

    def chunks(self) -> Iterator[bytes]:
        spool = Spool()
        try:
            for entry in self.entries:
                self._add(spool, entry)
            self._groups = {account: grouping(account, self.grouping_codes) for account in sorted(spool.accounts)}
            self.summary.fallback_accounts = [a for a, g in self._groups.items() if g.how == "fallback"]
            out = Out()
            out.raw('<?xml version="1.0" encoding="UTF-8"?>\n')
            out.raw(f'<AuditFile xmlns="{NAMESPACE}">\n')
            self._header(out)
            yield out.take()
            yield from master_files(out, spool, self._groups)
            yield from self._entries(spool, out)
            out.raw("</AuditFile>\n")
            yield out.take()
        finally:
            spool.close()

    # -- reading the entries ------------------------------------------------------------------------------------

    def _add(self, spool: Spool, entry: Entry) -> None:
        delivered = entry.delivered
        if delivered is None or delivered.duplicate:  # a duplicate posted nothing: its first copy is the voucher
            self.summary.not_delivered += 1
            return
        if entry.document.currency != self.currency:
            self.summary.other_currency += 1
            return
        if not 1970 <= entry.document.date.year <= 2100:  # SAF-T's PeriodYear holds no other year
            self.summary.out_of_range += 1
            return
        voucher = as_voucher(entry.document)
        if voucher is None:
            self.summary.books_nothing += 1
            return
        out = Out(depth=3, counter=self.summary)
        self._transaction(out, spool, voucher, entry)
        spool.transaction(delivered.target, out.take())
        self.summary.transactions += 1

    def _transaction(self, out: Out, spool: Spool, voucher: Voucher, entry: Entry) -> None:
        assert entry.delivered is not None
        out.open("Transaction")
        out.leaf("TransactionID", voucher.reference, 70, identifier=True)
        out.leaf("Period", str(voucher.date.month))
        out.leaf("PeriodYear", str(voucher.date.year))
        out.leaf("TransactionDate", voucher.date.isoformat())
        if voucher.origin is not None:
            out.leaf("SourceID", f"bilagsbro:{voucher.origin.format}", 35)
        if voucher.voucher_type:
            out.leaf("VoucherType", voucher.voucher_type, 70)
        out.leaf("Description", voucher.description or "", 256)
        if entry.receipt:
            out.leaf("BatchID", entry.receipt, 35)
        out.leaf("SystemEntryDate", entry.received_at.astimezone(OSLO).date().isoformat())
        out.leaf("GLPostingDate", entry.delivered.at.astimezone(OSLO).date().isoformat())
        vat_lines: dict[str, Decimal] = {}
        number = 0
        for line in voucher.lines:
            number += 1
            if entry.vat_posted:
                self._line(out, spool, number, line, _vat_of_net(line), net=True)
                continue
            tax = vat_of(line) if line.vat_code is not None else None
            self._line(out, spool, number, line, tax)
            if tax and line.vat_code is not None:
                account = vat_account(line.vat_code)
                vat_lines[account] = vat_lines.get(account, ZERO) + tax
        for account, tax in vat_lines.items():
            if tax:
                number += 1
                self._line(out, spool, number, Posting(account=account, amount=tax, description="Merverdiavgift"),
                           None)
        out.close("Transaction")

    def _line(self, out: Out, spool: Spool, number: int, line: Posting, tax: Decimal | None, *,
              net: bool = False) -> None:
        amount = line.amount - tax if tax is not None and not net else line.amount
        account = short_id(line.account, 70)
        spool.account(account, amount)
        out.open("Line")
        out.leaf("RecordID", str(number))
        out.leaf("AccountID", account)
        for dimension, value in line.dimensions.items():
            kind = analysis_type(dimension)
            spool.analysis(kind, dimension, value)
            out.open("Analysis")
            out.leaf("AnalysisType", kind)
            out.leaf("AnalysisID", value, 35, identifier=True)  # as the AnalysisTypeTable can hold it
            out.close("Analysis")
        for role, party in (("Customer", line.customer), ("Supplier", line.supplier)):
            if party is not None:
                ident = spool.party(role, party_id(party), party, account, amount)
                out.leaf(f"{role}ID", ident)
        out.leaf("Description", line.description or "", 256)
        self._amount(out, "Debit" if amount >= 0 else "Credit", amount, "Amount")
        if line.vat_code is not None and tax is not None:
            code = VAT_CODES[line.vat_code]
            spool.tax_code(line.vat_code)
            out.open("TaxInformation")
            out.leaf("TaxType", "MVA")
            out.leaf("TaxCode", line.vat_code)
            if code.rate_class:
                out.leaf("TaxPercentage", str(code.rate))
            out.leaf("Country", "NO")
            out.leaf("TaxBase", f"{abs(amount):.2f}")
            side = "Debit" if tax > 0 or (tax == 0 and amount >= 0) else "Credit"
            self._amount(out, side, tax, "TaxAmount")
            out.close("TaxInformation")
        if line.invoice_number:
            out.leaf("ReferenceNumber", line.invoice_number, 35)
        if line.kid:
            out.leaf("CID", line.kid, 35)
        if line.due_date:
            out.leaf("DueDate", line.due_date.isoformat())
        out.close("Line")
        if amount >= 0:
            self.summary.debit += amount
        else:
            self.summary.credit -= amount

    @staticmethod
    def _amount(out: Out, side: str, value: Decimal, what: str) -> None:
        out.open(f"{side}{what}")
        out.leaf("Amount", f"{abs(value):.2f}")
        out.close(f"{side}{what}")

    # -- writing the file ---------------------------------------------------------------------------------------

    def _header(self, out: Out) -> None:
        out.depth = 1
        out.open("Header")
        out.leaf("AuditFileVersion", VERSION)
        out.leaf("AuditFileCountry", "NO")
        out.leaf("AuditFileDateCreated", self.created.isoformat())
        out.leaf("SoftwareCompanyName", "Bilagsbro")
        out.leaf("SoftwareID", "Bilagsbro")
        out.leaf("SoftwareVersion", _software_version(), 18)
        out.open("Company")
        out.leaf("RegistrationNumber", self.company.organization_number, 35)
        out.leaf("Name", self.company.name, 256)
        out.open("Contact")
        out.open("ContactPerson")
        out.leaf("FirstName", "NotUsed")
        out.leaf("LastName", self.company.name, 70)
        out.close("ContactPerson")
        out.close("Contact")
        out.close("Company")
        out.leaf("DefaultCurrencyCode", self.currency)
        out.open("SelectionCriteria")
        out.leaf("SelectionStartDate", self.period.start.isoformat())
        out.leaf("SelectionEndDate", self.period.end.isoformat())
        out.leaf("OtherCriteria", f"Bilag mottatt i Bilagsbro {self.period.start} – {self.period.end} (Europe/Oslo) "
                                  f"og levert til et regnskapssystem, i {self.currency}")
        out.close("SelectionCriteria")
        out.leaf("HeaderComment", self.summary.comment(), 256)
        out.leaf("TaxAccountingBasis", "A")
        out.close("Header")

    def _entries(self, spool: Spool, out: Out) -> Iterator[bytes]:
        out.open("GeneralLedgerEntries")
        out.leaf("NumberOfEntries", str(self.summary.transactions))
        out.leaf("TotalDebit", f"{self.summary.debit:.2f}")
        out.leaf("TotalCredit", f"{self.summary.credit:.2f}")
        for journal in spool.journals():
            out.open("Journal")
            out.leaf("JournalID", journal, 18, identifier=True)
            title = self.titles.get(journal, journal)
            out.leaf("Description", f"Bilag levert til {title}", 256)
            out.leaf("Type", "GL")
            yield out.take()
            size = 0
            batch: list[bytes] = []
            for xml in spool.transactions(journal):
                batch.append(xml)
                size += len(xml)
                if size > CHUNK:
                    yield b"".join(batch)
                    batch, size = [], 0
            if batch:
                yield b"".join(batch)
            out.close("Journal")
        out.close("GeneralLedgerEntries")
        yield out.take()


def _software_version() -> str:
    try:
        return importlib.metadata.version("bilagsbro")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout without install
        return "dev"
