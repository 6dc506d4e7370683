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

records() holds each row's fields by name (what render() shows and the field map names); rows() writes the text
from them, so the two cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator

from connectors.targets.visma_business_file.descriptor import VismaBusinessFileSettings
from pipeline.errors import Problem
from pipeline.model import Party, Posting, Voucher

HEADING = ("VoNo", "VoDt", "VoTp", "Txt", "DbAcNo", "DbAcCl", "DbTxCd", "CrAcNo", "CrAcCl", "CrTxCd", "Am",
           "VatAm", "InvoNo", "DueDt", "CID")
ACTOR = ("Nm", "Ad1", "Pno", "Parea", "BsNo")
TEXTS = {*ACTOR, "Descr", "Txt", "InvoNo", "CID"}  # quoted; so are the organisational units (R1, R2, …)
BLANK = {"VatAm": "0.00"}  # what a row leaves out is written 0, a text ""
OEM = ("cp865", "cp850")
GENERAL, CUSTOMER, SUPPLIER = "3", "1", "2"


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())  # a row cannot hold a line break


def quoted(text: str | None) -> str:
    return '"' + _one_line(text or "").replace('"', '""') + '"'


def _day(value: dt.date | None) -> str:
    return value.strftime("%Y%m%d") if value is not None else "0"


def _side(line: Posting) -> tuple[str, str]:
    """(account, account type) as the row names it."""
    if line.customer is not None and line.customer.number:
        return line.customer.number, CUSTOMER
    if line.supplier is not None and line.supplier.number:
        return line.supplier.number, SUPPLIER
    return line.account, GENERAL


def _actors(voucher: Voucher) -> Iterator[dict[str, str]]:
    picks: tuple[tuple[str, Callable[[Posting], Party | None]], ...] = (
        ("CustNo", lambda line: line.customer), ("SupNo", lambda line: line.supplier))
    for key, pick in picks:
        parties: dict[str, Party] = {}
        for line in voucher.lines:
            party = pick(line)
            if party is not None and party.number and party.name:
                parties.setdefault(party.number, party)
        for number, party in parties.items():
            address = party.address
            yield {key: number, "Nm": party.name or "", "Ad1": address.lines[0] if address and address.lines else "",
                   "Pno": address.postal_code or "" if address else "", "Parea": address.city or "" if address else "",
                   "BsNo": party.organization_number or ""}


def _postings(voucher: Voucher, settings: VismaBusinessFileSettings, number: int) -> Iterator[dict[str, str]]:
    for line in voucher.lines:
        account, kind = _side(line)
        side = "Db" if line.amount >= 0 else "Cr"
        row = {"VoNo": str(number), "VoDt": _day(voucher.date), "VoTp": str(settings.voucher_type)}
        text = line.description or voucher.description
        if text:
            row["Txt"] = text
        row |= {f"{side}AcNo": account, f"{side}AcCl": kind}
        if line.vat_code is not None:
            row[f"{side}TxCd"] = str(settings.vat_codes.get(line.vat_code, line.vat_code))
        row["Am"] = f"{abs(line.amount):.2f}"
        if line.vat_amount is not None and line.vat_code is not None:
            row["VatAm"] = f"{abs(line.vat_amount):.2f}"
        for name, value in (("InvoNo", line.invoice_number), ("DueDt", line.due_date and _day(line.due_date)),
                            ("CID", line.kid), (settings.department_unit, line.dimensions.get("department")),
                            (settings.project_unit, line.dimensions.get("project"))):
            if value:
                row[name] = value
        yield row


def records(voucher: Voucher, settings: VismaBusinessFileSettings, number: int) -> dict[str, list[dict[str, str]]]:
    """The file's rows by section (@Actor, @WaBnd, @WaVo), each holding the fields it says, unquoted; a field a row
    leaves out is written 0 (a text: ""). What the target's render() shows, and what rows() writes."""
    found = {"Actor": list(_actors(voucher)),
             "WaBnd": [{"ValDt": _day(voucher.date), "Descr": voucher.description or voucher.reference}],
             "WaVo": list(_postings(voucher, settings, number))}
    return {section: [{name: _one_line(value) if _is_text(name) else value for name, value in row.items()}
                      for row in found_rows] for section, found_rows in found.items()}


def _is_text(name: str) -> bool:
    return name in TEXTS or re.fullmatch(r"R[1-9]", name) is not None


def _row(names: tuple[str, ...], fields: dict[str, str]) -> str:
    return " ".join(quoted(fields.get(name)) if _is_text(name) else fields.get(name, BLANK.get(name, "0"))
                    for name in names)


def rows(voucher: Voucher, settings: VismaBusinessFileSettings, number: int) -> Iterator[str]:
    """The file's lines (without line ends), written from records()."""
    written = records(voucher, settings, number)
    yield "@IMPORT_METHOD(3)"
    if settings.encoding in OEM:
        yield "@CONVERT_FROM_OEM_TO_ANSI(1)"
    for key in ("CustNo", "SupNo"):
        actors = [actor for actor in written["Actor"] if key in actor]
        if actors:
            yield f"@Actor(={key},{','.join(ACTOR)})"
            yield from (_row((key, *ACTOR), actor) for actor in actors)
    yield "@WaBnd(ValDt,Descr)"
    yield from (_row(("ValDt", "Descr"), batch) for batch in written["WaBnd"])
    heading = (*HEADING, settings.department_unit, settings.project_unit)
    yield f"@WaVo({','.join(heading)})"
    yield from (_row(heading, row) for row in written["WaVo"])


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
