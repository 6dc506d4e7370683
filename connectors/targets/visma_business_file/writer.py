"""Pure writing of one voucher as a Visma Business import file (`@WaBnd`/`@WaVo`), in the tenant's encoding.

As Visma Business documents the format (reference/norway-standards.md §5.1) and as our reader
(connectors/sources/visma_business.py) reads it back:

    @IMPORT_METHOD(3)                                   3: add new rows only
    @CONVERT_FROM_OEM_TO_ANSI(1)                        only for an OEM code page (cp865, cp850)
    @Actor(=CustNo,Nm,Ad1,Pno,Parea,BsNo)               customers named on the lines (suppliers: =SupNo)
    @WaBnd(ValDt,Descr)                                 the batch: the voucher date and its description
    @WaVo(VoNo,VoDt,VoTp,Txt,DbAcNo,DbAcCl,DbTxCd,CrAcNo,CrAcCl,CrTxCd,Am,VatAm,InvoNo,DueDt,CID,R1,R2)

One row per posting: a debit names its account in DbAcNo (CrAcNo 0), a credit in CrAcNo, and `Am` is positive
(reference §5: "side chosen by DbAcNo vs CrAcNo"). A line with a customer or supplier names the party's number as
the account with account type (AcCl) 1 or 2: Visma Business books it on the party's own ledger account, so the
GL account of such a line is the company's set-up, not the file's. Text is quoted with `""` for a quote; a line
break, which a row cannot hold, becomes a space.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

from connectors.targets.visma_business_file.descriptor import VismaBusinessFileSettings
from pipeline.errors import Problem
from pipeline.model import Party, Posting, Voucher

HEADING = ("VoNo", "VoDt", "VoTp", "Txt", "DbAcNo", "DbAcCl", "DbTxCd", "CrAcNo", "CrAcCl", "CrTxCd", "Am",
           "VatAm", "InvoNo", "DueDt", "CID")
OEM = ("cp865", "cp850")
GENERAL, CUSTOMER, SUPPLIER = "3", "1", "2"


def quoted(text: str | None) -> str:
    clean = " ".join((text or "").splitlines())
    return '"' + clean.replace('"', '""') + '"'


def _day(value: dt.date | None) -> str:
    return value.strftime("%Y%m%d") if value is not None else "0"


def _side(line: Posting) -> tuple[str, str]:
    """(account, account type) as the row names it."""
    if line.customer is not None and line.customer.number:
        return line.customer.number, CUSTOMER
    if line.supplier is not None and line.supplier.number:
        return line.supplier.number, SUPPLIER
    return line.account, GENERAL


def _actors(voucher: Voucher) -> Iterator[str]:
    picks: tuple[tuple[str, Callable[[Posting], Party | None]], ...] = (
        ("CustNo", lambda line: line.customer), ("SupNo", lambda line: line.supplier))
    for key, pick in picks:
        parties: dict[str, Party] = {}
        for line in voucher.lines:
            party = pick(line)
            if party is not None and party.number and party.name:
                parties.setdefault(party.number, party)
        if not parties:
            continue
        yield f"@Actor(={key},Nm,Ad1,Pno,Parea,BsNo)"
        for number, party in parties.items():
            address = party.address
            yield " ".join([number, quoted(party.name), quoted(address.lines[0] if address and address.lines else ""),
                            quoted(address.postal_code if address else ""), quoted(address.city if address else ""),
                            quoted(party.organization_number or "")])


def rows(voucher: Voucher, settings: VismaBusinessFileSettings, number: int) -> Iterator[str]:
    """The file's lines (without line ends)."""
    yield "@IMPORT_METHOD(3)"
    if settings.encoding in OEM:
        yield "@CONVERT_FROM_OEM_TO_ANSI(1)"
    yield from _actors(voucher)
    yield "@WaBnd(ValDt,Descr)"
    yield f"{_day(voucher.date)} {quoted(voucher.description or voucher.reference)}"
    units = (settings.department_unit, settings.project_unit)
    yield f"@WaVo({','.join((*HEADING, *units))})"
    for line in voucher.lines:
        account, kind = _side(line)
        vat = str(settings.vat_codes.get(line.vat_code, line.vat_code)) if line.vat_code is not None else "0"
        debit = line.amount >= 0
        amount: Decimal = abs(line.amount)
        vat_amount = abs(line.vat_amount) if line.vat_amount is not None and line.vat_code is not None else Decimal(0)
        sides = [account, kind, vat, "0", "0", "0"] if debit else ["0", "0", "0", account, kind, vat]
        yield " ".join([str(number), _day(voucher.date), str(settings.voucher_type),
                        quoted(line.description or voucher.description), *sides, f"{amount:.2f}", f"{vat_amount:.2f}",
                        quoted(line.invoice_number), _day(line.due_date), quoted(line.kid),
                        quoted(line.dimensions.get("department")), quoted(line.dimensions.get("project"))])


def encode(voucher: Voucher, settings: VismaBusinessFileSettings, number: int) -> bytes:
    """The whole file in the tenant's encoding, CRLF line ends (a Windows program reads it)."""
    return "".join(f"{row}\r\n" for row in rows(voucher, settings, number)).encode(settings.encoding)


def unwritable(voucher: Voucher, settings: VismaBusinessFileSettings) -> list[Problem]:
    """Each text holding a character the tenant's encoding cannot write (nothing is replaced silently)."""
    texts: list[tuple[str, str | None]] = [("description", voucher.description)]
    for i, line in enumerate(voucher.lines):
        texts += [(f"lines[{i}].description", line.description), (f"lines[{i}].kid", line.kid),
                  (f"lines[{i}].invoice_number", line.invoice_number)]
        for kind, party in (("customer", line.customer), ("supplier", line.supplier)):
            if party is not None:
                texts += [(f"lines[{i}].{kind}.name", party.name), (f"lines[{i}].{kind}.number", party.number)]
        texts += [(f"lines[{i}].dimensions.{k}", v) for k, v in line.dimensions.items()]
    found = []
    for where, text in texts:
        bad = sorted({c for c in text or "" if not _writable(c, settings.encoding)})
        if bad:
            found.append(Problem(f"{''.join(bad)!r} cannot be written in {settings.encoding}, the encoding the "
                                 "tenant's Visma Business reads", field=where, reference=voucher.reference,
                                 code="unwritable-character"))
    return found


def _writable(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True
