"""Visma Business batch voucher import (`@WaBnd` / `@WaVo`): header-driven sections read by the tabular reader.

Format: Visma Business user docs, "Import data in batch" and "Import file commands"
(http://doc.visma.net/userdoc/business/15.10/nb-no/products/business/reference/r_import_file_commands.html),
reference/norway-standards.md §5.1. `@Table(Field,…)` names the fields of the rows that follow;
values are separated by spaces or commas, text in quotes. Amounts are positive with DbAcNo/CrAcNo
choosing the side; DbAcCl/CrAcCl 1 = customer, 2 = supplier, 3 = general ledger; a customer or
supplier named in an earlier `@Actor(=CustNo, Nm, Ad1, …, BsNo)` section gets its name and address. VAT codes are the
company's own (DbTxCd/CrTxCd): map them with `vat_map`; 0 means none.

Encoding: ANSI (Windows-1252) unless `@CONVERT_FROM_OEM_TO_ANSI(1)` says OEM; OEM is read as CP865
(Nordic; CP850 shares æøå) unless the `oem_codepage` option says otherwise. Variants handled: Moment's
`@WaVo` on its own line followed by a comma-separated field line, and `@FIRM_BEGIN`/`@FIRM_END`.
The guesses a file relies on are warned about (`GUESSES`, docs/formats.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import IO, Any

from connectors.sources.guesses import Guess, filled, noting
from connectors.sources.options import VismaBusinessOptions
from connectors.sources.rows import Plain, Record, records_of, split_quoted
from connectors.sources.tabular import Columns, Layout, read
from pipeline.descriptors import FormatDescriptor
from pipeline.errors import Problem
from pipeline.model import Document
from pipeline.norway.text import looks_utf8

NAME = "visma-business"

_COMMAND = re.compile(r"@\s*(\w+)\s*(?:\((.*)\))?\s*$")
_TOKEN = re.compile(r'"((?:[^"]|"")*)"|([^\s,"]+)|^(?=\s*,)|,(?=\s*,)|,\s*$')
_OEM = re.compile(rb"@CONVERT_FROM_OEM_TO_ANSI\s*\(\s*1\s*\)", re.IGNORECASE)


def tokens(line: str) -> list[str]:
    """`1 20181002 "Blåbær, 1 kg" 0` → ['1', '20181002', 'Blåbær, 1 kg', '0']; ",," keeps a blank field.

    "0 or blank can be left out": with commas a row may also start or end with a blank field.
    Rows separated by blanks alone, their texts quoted whole, are split without the regular expression
    (a comma inside a quoted text, "Blåbær, 1 kg", separates nothing).
    """
    if "," not in line:
        if '"' not in line:
            return line.split()
        split = split_quoted(line)
        if split is not None:
            return split
    elif '"' in line and "," not in "".join(line.split('"')[::2]):  # every comma inside a quoted text
        split = split_quoted(line)
        if split is not None:
            return split
    values: list[str] = []
    for match in _TOKEN.finditer(line):
        quoted, bare = match.group(1), match.group(2)
        if quoted is not None:
            values.append(quoted.replace('""', '"'))
        elif bare is not None:
            values.append(bare)
        else:
            values.append("")
    return values


def _declaration(head: bytes) -> str | None:
    if _OEM.search(head) and not looks_utf8(head):
        return "cp865"
    return None


_EXTRA = ("_name", "_address", "_postal_code", "_city", "_organisation_number", "_VoDt_from_batch")


def _units() -> tuple[str, ...]:
    return tuple(LAYOUT.columns.dimensions.values())  # R1, R2: organisational units


class _Records:
    """The rows of @WaVo sections: plain rows for the tabular reader's fast path (`rows`), or `Record`s.

    A plain row holds the heading's fields and after them those this reader adds: the customer's or
    supplier's name and address from @Actor, and the batch's date where a row has none.
    """

    def __call__(self, lines: Iterable[str], layout: Layout, options: Mapping[str, Any]) -> Iterator[Record | Problem]:
        source = self.rows(lines, layout, options)
        return records_of(source, lambda: source.names)

    def rows(self, lines: Iterable[str], layout: Layout, options: Mapping[str, Any]) -> _Rows:
        return _Rows(lines)


class _Rows:
    def __init__(self, lines: Iterable[str]) -> None:
        self.names: tuple[str, ...] = ()  # the current @WaVo section's, with the added fields after them
        self._items = self._read(lines)

    def __iter__(self) -> Iterator[Record | Problem | Plain]:
        return self._items

    def _read(self, lines: Iterable[str]) -> Iterator[Record | Problem | Plain]:
        table: str | None = None
        names: tuple[str, ...] | None = None
        batch_date = ""
        actors: dict[str, dict[str, str]] = {}  # @Actor rows by customer or supplier number
        shape: _Shape | None = None
        strip = str.strip
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("@"):
                command = _COMMAND.match(line)
                if command is None:
                    yield Problem(f"unreadable command {line[:40]!r}", line=number, code="invalid")
                    table = None
                    continue
                name, arguments = command.group(1), command.group(2)
                if arguments is not None and name in ("WaBnd", "WaVo", "Actor"):
                    table, names = name, tuple(f.strip().lstrip("=") for f in arguments.split(","))
                elif arguments is None and name != table:
                    table, names = name, None  # Moment: the field list comes on the next line
                elif arguments is not None:
                    table = None  # a file command: @IMPORT_METHOD(3), @FIRM_BEGIN(1), ...
                shape = None
                continue
            if table is None:
                yield Problem(f"row outside a table section: {line[:40]!r}", line=number, code="invalid")
                continue
            if names is None:
                names = tuple(f.strip().lstrip("=") for f in line.split(","))
                continue
            values = list(map(strip, tokens(line)))
            if table == "WaBnd":
                batch_date = dict(zip(names, values, strict=False)).get("ValDt", "")
                continue
            if table == "Actor":
                actor = dict(zip(names, values, strict=False))
                actors[actor.get("CustNo") or actor.get("SupNo") or ""] = actor
                continue
            if table != "WaVo":
                continue  # other associates: not vouchers
            if len(values) != len(names):
                yield Record(number, _fields(names, values, actors, batch_date),
                             f"{len(values)} values where the @WaVo heading names {len(names)}", "columns")
                continue
            if shape is None or shape.names is not names:
                shape = _Shape(names)
                if shape.plain:
                    self.names = shape.extended
            if not shape.plain:
                yield Record(number, _fields(names, values, actors, batch_date))
                continue
            yield number, shape.fill(values, actors, batch_date), len(shape.extended)


class _Shape:
    """Where a @WaVo heading's fields are, for filling plain rows the way `_fields` fills a record."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        index = {name: i for i, name in enumerate(names)}  # a repeated name: the last, as in a dict
        self.plain = not set(_EXTRA) & set(names)  # a heading that names them itself: records only
        self.extended = names + _EXTRA + (() if "VoDt" in names else ("VoDt",))
        width = len(names)
        self.units = [index[u] for u in _units() if u in index]
        self.sides = [(index.get(f"{side}AcNo"), index.get(f"{side}AcCl")) for side in ("Db", "Cr")]
        self.date = index.get("VoDt", width + len(_EXTRA))
        self.batch = width + 5
        self.width = width

    def fill(self, values: list[str], actors: dict[str, dict[str, str]], batch_date: str) -> list[str]:
        for i in self.units:
            if values[i] == "0":
                values[i] = ""  # "Fields that are 0 or blank can be left out": 0 is no unit, not unit 0
        values += ["", "", "", "", "", ""] if "VoDt" in self.names else ["", "", "", "", "", "", "0"]
        for account_at, kind_at in self.sides:
            account = values[account_at] if account_at is not None else ""
            if kind_at is not None and values[kind_at] in ("1", "2") and account and account in actors:
                actor = actors[account]
                values[self.width:self.width + 5] = [
                    actor.get("Nm", ""), actor.get("Ad1", ""), actor.get("PNo", actor.get("Pno", "")),
                    actor.get("PArea", actor.get("Parea", "")), actor.get("BsNo", "")]
        if values[self.date] in ("", "0") and batch_date:
            values[self.date] = batch_date  # the batch's value date stands in for a missing voucher date
            values[self.batch] = "1"
        elif "VoDt" not in self.names:
            values[self.date] = ""  # the row has no date and neither has its batch: not a value of "0"
        values.append("")  # where absent columns point (tabular.Plain)
        return values


def _fields(names: tuple[str, ...], values: list[str], actors: dict[str, dict[str, str]],
            batch_date: str) -> dict[str, str]:
    """A row's fields by name, with the unit, @Actor and batch-date rules applied."""
    fields = dict(zip(names, values, strict=False))
    for unit in _units():
        if fields.get(unit) == "0":
            fields[unit] = ""  # "Fields that are 0 or blank can be left out": 0 is no unit, not unit 0
    for side in ("Db", "Cr"):
        account = fields.get(f"{side}AcNo", "")
        if fields.get(f"{side}AcCl") in ("1", "2") and account and account in actors:
            actor = actors[account]
            fields.update({"_name": actor.get("Nm", ""), "_address": actor.get("Ad1", ""),
                           "_postal_code": actor.get("PNo", actor.get("Pno", "")),
                           "_city": actor.get("PArea", actor.get("Parea", "")),
                           "_organisation_number": actor.get("BsNo", "")})
    if fields.get("VoDt", "0") in ("", "0") and batch_date:
        fields["VoDt"] = batch_date  # the batch's value date stands in for a missing voucher date
        fields["_VoDt_from_batch"] = "1"
    return fields


GUESSES = (
    Guess("visma-business-r1-r2", "R1",
          "organisational unit R1 is the department and R2 the project",
          "the customer's set-up of organisational units (each company sets its own)",
          lambda r, options: filled(r, "R1", "R2"), reads=("R1", "R2")),
    Guess("visma-business-batch-date", "VoDt",
          "a row without VoDt is dated by its batch's value date (@WaBnd ValDt)",
          "a real file with rows without VoDt, and the voucher Visma Business books from it",
          lambda r, options: r.get("_VoDt_from_batch") == "1", reads=("_VoDt_from_batch",)),
    Guess("visma-business-currency", "Cur",
          "Am is in the company's currency; Cur, ExRt and CurAm are not read",
          "a real file with foreign-currency rows",
          lambda r, options: filled(r, "Cur", "CurAm"), reads=("Cur", "CurAm")),
)


LAYOUT = Layout(
    format=NAME,
    columns=Columns(
        voucher_number="VoNo", date="VoDt", amount="Am", debit_account="DbAcNo", credit_account="CrAcNo",
        debit_account_type="DbAcCl", credit_account_type="CrAcCl", debit_vat_code="DbTxCd",
        credit_vat_code="CrTxCd", vat_amount="VatAm", voucher_type="VoTp", text="Txt",
        invoice_number="InvoNo", kid="CID", due_date="DueDt", party_name="_name", party_address="_address",
        party_postal_code="_postal_code", party_city="_city", party_organisation_number="_organisation_number",
        # R1, R2, …: the company's organisational units; which is which is set up per company.
        dimensions={"department": "R1", "project": "R2"},
    ),
    records=noting(_Records(), GUESSES),
    sign="debit_credit",
    voucher_key=("VoNo", "VoDt"),
    no_vat=frozenset({"", "0"}),
    declaration=_declaration,
)


def sniff(head: bytes, file_name: str) -> bool:
    return b"@WaVo" in head or b"@WABND" in head.upper()


def parse(data: IO[bytes], *, file_name: str, options: Mapping[str, Any]) -> Iterator[Document | Problem]:
    layout = LAYOUT
    oem = options.get("oem_codepage")
    if oem:
        layout = replace(LAYOUT, declaration=lambda head: str(oem) if _declaration(head) else None)
    return read(layout, data, file_name=file_name, options=options)


FORMAT = FormatDescriptor(
    name=NAME,
    title="Visma Business import",
    settings=VismaBusinessOptions,
    parse=parse,
    sniff=sniff,
    notes="`@WaBnd`/`@WaVo` sections, header-driven, debit/credit accounts, OEM flag (CP865/CP850)",
)
