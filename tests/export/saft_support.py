"""What the SAF-T export tests share: the official XSD, our own checks of what the XSD cannot check, the samples, and
the re-import through our SAF-T Financial reader compared with what each document books.

The XSD's key/keyref constraints select elements without a namespace, so validators never apply them
(reference/norway-standards.md §1.6): `check` holds every line to the master files, every transaction to its
balance, every account and party to its lines, and the totals to the lines.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import connectors
from pipeline.errors import Problem
from pipeline.export import Company, Delivered, Entry, Period
from pipeline.export.bookings import as_voucher
from pipeline.export.masterfiles import ANALYSIS_TYPES, analysis_type, party_as_exported, party_id
from pipeline.export.saft import NAMESPACE, SaftFile, vat_of
from pipeline.export.spool import short_id
from pipeline.model import Document, Voucher
from pipeline.shared_form import DOCUMENT

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / ".." / "shared" / "specs"
XSD = SPECS / "saf-t" / "Norwegian_SAF-T_Financial_Schema_v_1.30.xsd"
COMPANY = Company(name="Bakeriet på Røa AS", organization_number="999999999")
PERIOD = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
AT = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
NS = {"s": NAMESPACE}


def specs_needed(what: str) -> None:
    """Skip, saying why, when ../shared/specs is absent — but never in CI, where its absence is a failure."""
    if SPECS.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"../shared/specs is absent in CI: {what} cannot be checked")
    pytest.skip(f"../shared/specs absent: {what} cannot be checked")


@functools.cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def validate(data: bytes) -> None:
    """The file against Skatteetaten's SAF-T Financial 1.30 XSD, with lxml."""
    specs_needed("the SAF-T Financial 1.30 XSD")
    schema = _schema()
    if not schema.validate(etree.fromstring(data)):
        raise AssertionError("not valid SAF-T Financial 1.30:\n" + "\n".join(
            f"line {e.line}: {e.message}" for e in list(schema.error_log)[:20]))


def entry(document: Document, number: int = 0, *, target: str = "file", delivered: bool = True) -> Entry:
    return Entry(id=f"d-20261125120000{number:012x}", document=document, received_at=AT, status="delivered",
                 receipt="r-20261125120000abcdefabcdef", delivered=Delivered(target=target, at=AT) if delivered else None)


def export(documents: Iterable[Document], *, currency: str = "NOK", **options: Any) -> tuple[bytes, SaftFile]:
    saft = SaftFile((entry(d, i) for i, d in enumerate(documents)), company=COMPANY, period=PERIOD,
                    currency=currency, created=dt.date(2026, 12, 1), **options)
    return b"".join(saft.chunks()), saft


def reimport(data: bytes, dimensions: Iterable[str] = ()) -> tuple[list[Voucher], list[Problem]]:
    """The file read back with our SAF-T Financial reader (the analysis types of other dimensions named)."""
    analysis_map = {code: name for name, (code, _) in ANALYSIS_TYPES.items()}
    analysis_map.update({analysis_type(d): d for d in dimensions})
    items = list(connectors.SOURCES["saft-financial"](io.BytesIO(data), file_name="eksport.xml",
                                                      options={"analysis_map": analysis_map}))
    return [i for i in items if isinstance(i, Voucher)], [i for i in items if isinstance(i, Problem)]


def reference_back(reference: str, journal: str = "file") -> str:
    """The reference our reader gives a transaction of this file (connectors/sources/saft_financial.py)."""
    raw = f"saft-{COMPANY.organization_number}-{journal}-{short_id(reference, 70)}"
    safe = re.sub(r"[^\w.\-]+", "-", raw)
    return raw if safe == raw else f"{safe[:191]}-{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:8]}"


def booked(documents: Iterable[Document]) -> list[dict[str, Any]]:
    """What re-importing the file of `documents` must give: the vouchers they book, with every value the file
    states explicitly — each VAT amount (a derived one included), each party as its master record names it (the
    first seen under its ID: SAF-T keeps party details in MasterFiles, not per line) — and the journal's type
    where a document has no series. Reference and origin are the reader's own."""
    masters: dict[tuple[str, str], Any] = {}
    out = []
    for document in documents:
        voucher = as_voucher(document)
        if voucher is None:
            continue
        lines = []
        for line in voucher.lines:
            update: dict[str, Any] = {}
            if line.vat_code is not None:
                update["vat_amount"] = vat_of(line)
            for role in ("customer", "supplier"):
                party = getattr(line, role)
                if party is not None:
                    update[role] = masters.setdefault((role, party_id(party)), party_as_exported(party))
            lines.append(line.model_copy(update=update))
        out.append(comparable(voucher.model_copy(update={"lines": tuple(lines),
                                                         "voucher_type": voucher.voucher_type or "GL"})))
    return out


def comparable(voucher: Voucher) -> dict[str, Any]:
    return voucher.model_copy(update={"reference": "-", "origin": None}).model_dump(mode="json")


def dimensions_of(documents: Iterable[Document]) -> set[str]:
    found: set[str] = set()
    for document in documents:
        for line in getattr(document, "lines", ()):
            found.update(line.dimensions)
    return found


# -- our own checks ---------------------------------------------------------------------------------------------


def _money(node: Any, path: str) -> Decimal:
    found = node.find(path, NS)
    return Decimal(found.text) if found is not None else Decimal("0.00")


def check(data: bytes) -> list[str]:
    """What the XSD cannot check: references to master files, balances, movements and totals."""
    root = etree.fromstring(data)
    wrong: list[str] = []
    master = root.find("s:MasterFiles", NS)
    accounts = {a.findtext("s:AccountID", namespaces=NS): a for a in master.iterfind(
        "s:GeneralLedgerAccounts/s:Account", NS)} if master is not None else {}
    parties = {role: {p.findtext(f"s:{role}ID", namespaces=NS): p for p in master.iterfind(f"s:{role}s/s:{role}", NS)}
               for role in ("Customer", "Supplier")} if master is not None else {"Customer": {}, "Supplier": {}}
    codes = {t.findtext("s:TaxCode", namespaces=NS) for t in root.iterfind(".//s:TaxTable//s:TaxCodeDetails", NS)}
    analyses = {(a.findtext("s:AnalysisType", namespaces=NS), a.findtext("s:AnalysisID", namespaces=NS))
                for a in root.iterfind(".//s:AnalysisTypeTable/s:AnalysisTypeTableEntry", NS)}
    moved: dict[str, Decimal] = defaultdict(Decimal)
    party_moved: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    debit = credit = Decimal("0.00")
    count = 0
    ids: set[tuple[str, str]] = set()
    for journal in root.iterfind("s:GeneralLedgerEntries/s:Journal", NS):
        journal_id = journal.findtext("s:JournalID", namespaces=NS)
        for transaction in journal.iterfind("s:Transaction", NS):
            count += 1
            tid = transaction.findtext("s:TransactionID", namespaces=NS)
            if (journal_id, tid) in ids:
                wrong.append(f"TransactionID {tid} twice in journal {journal_id}")
            ids.add((journal_id, tid))
            total = Decimal("0.00")
            for line in transaction.iterfind("s:Line", NS):
                value = _money(line, "s:DebitAmount/s:Amount") - _money(line, "s:CreditAmount/s:Amount")
                total += value
                debit += _money(line, "s:DebitAmount/s:Amount")
                credit += _money(line, "s:CreditAmount/s:Amount")
                account = line.findtext("s:AccountID", namespaces=NS)
                moved[account] += value
                if account not in accounts:
                    wrong.append(f"{tid}: account {account} is not in MasterFiles")
                for role in ("Customer", "Supplier"):
                    ident = line.findtext(f"s:{role}ID", namespaces=NS)
                    if ident is not None:
                        party_moved[(role, ident, account)] += value
                        if ident not in parties[role]:
                            wrong.append(f"{tid}: {role} {ident} is not in MasterFiles")
                for tax in line.iterfind("s:TaxInformation", NS):
                    if tax.findtext("s:TaxCode", namespaces=NS) not in codes:
                        wrong.append(f"{tid}: tax code {tax.findtext('s:TaxCode', namespaces=NS)} not in TaxTable")
                for analysis in line.iterfind("s:Analysis", NS):
                    key = (analysis.findtext("s:AnalysisType", namespaces=NS),
                           analysis.findtext("s:AnalysisID", namespaces=NS))
                    if key not in analyses:
                        wrong.append(f"{tid}: analysis {key} not in AnalysisTypeTable")
            if total != 0:
                wrong.append(f"{tid}: debit − credit = {total}")
    entries = root.find("s:GeneralLedgerEntries", NS)
    if int(entries.findtext("s:NumberOfEntries", namespaces=NS)) != count:
        wrong.append("NumberOfEntries differs from the transactions")
    if _money(entries, "s:TotalDebit") != debit or _money(entries, "s:TotalCredit") != credit:
        wrong.append(f"totals {_money(entries, 's:TotalDebit')}/{_money(entries, 's:TotalCredit')} ≠ lines {debit}/{credit}")
    for account, node in accounts.items():
        closing = _money(node, "s:ClosingDebitBalance") - _money(node, "s:ClosingCreditBalance")
        opening = _money(node, "s:OpeningDebitBalance") - _money(node, "s:OpeningCreditBalance")
        if opening + moved.pop(account, Decimal("0.00")) != closing:
            wrong.append(f"account {account}: opening + movements ≠ closing")
    for role, by_id in parties.items():
        for ident, node in by_id.items():
            for balance in node.iterfind("s:BalanceAccount", NS):
                account = balance.findtext("s:AccountID", namespaces=NS)
                closing = _money(balance, "s:ClosingDebitBalance") - _money(balance, "s:ClosingCreditBalance")
                if party_moved.pop((role, ident, account), Decimal("0.00")) != closing:
                    wrong.append(f"{role} {ident} on {account}: balance ≠ its lines")
    wrong.extend(f"{role} {ident} moves {account} but has no balance there"
                 for (role, ident, account), value in party_moved.items())
    return wrong


# -- the samples --------------------------------------------------------------------------------------------------


def _documents(items: Iterable[Any]) -> list[Document]:
    return [i for i in items if not isinstance(i, Problem)]


def samples() -> dict[str, list[Document]]:
    """Every sample file we have, as shared-form documents: bilagsbro/samples, the shared-form test files, every
    golden file's documents (each reader's output from its test files), and Skatteetaten's SAF-T examples read
    through our readers."""
    found: dict[str, list[Document]] = {}
    for path in sorted((ROOT / "bilagsbro" / "samples").glob("*.json")):
        found[f"bilagsbro/samples/{path.name}"] = [DOCUMENT.validate_python(d) for d in json.loads(path.read_text())]
    sources = ROOT / "tests" / "sources"
    for path in sorted((sources / "shared_form").glob("*.json")):
        if not path.name.endswith(".expected.json"):
            with path.open("rb") as data:
                found[f"tests/sources/shared_form/{path.name}"] = _documents(
                    connectors.SOURCES["shared-form"](data, file_name=path.name, options={}))
    for path in sorted(sources.glob("*/*.expected.json")):
        documents = json.loads(path.read_text("utf-8"))["documents"]
        if documents:
            found[str(path.relative_to(ROOT))] = [DOCUMENT.validate_python(d) for d in documents]
    if SPECS.exists():
        for name, format in (("financial-example-888888888.xml", "saft-financial"),
                             ("financial-1.30-xmlspy-example.xml", "saft-financial"),
                             ("cash-register-example-999999999.xml", "saft-cash-register")):
            with (SPECS / "saf-t" / "examples" / name).open("rb") as data:
                found[f"../shared/specs/saf-t/examples/{name}"] = _documents(
                    connectors.SOURCES[format](data, file_name=name, options={}))
    return found
