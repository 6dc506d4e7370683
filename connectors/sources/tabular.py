"""One reader for every tabular voucher format, driven by a declared `Layout` instead of code per format.

A format module (gbat10, visma_business, visma_global, sie4) declares how rows come out of its text
(`records`), which column holds each shared-form field (`Columns`), its dates, decimals, sign
convention and voucher boundaries. This reader turns rows into postings, groups them into vouchers
as it streams — a voucher is yielded as soon as its last row is seen — and turns every bad row into a
`Problem` with its line, dropping only the voucher that row belongs to.

Speed: text is decoded 64 KiB at a time and split into lines in bulk. A delimited file's rows arrive as
plain lists, and a voucher whose rows are all plain goes the fast way (`connectors.sources.plain`):
straight into shared-form models, checked once. Every other voucher — a row with an error, a quirk
for `prepare`, an amount in a Norwegian format, anything the fast path cannot vouch for — goes the
general way below, which is the reference: tests require both ways to give the same documents and
the same problems.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import io
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import IO, Any, Literal, NamedTuple, cast

from pydantic import ValidationError

from pipeline import checked
from pipeline.errors import ConfigError, Problem
from pipeline.errors import shown as _shown
from pipeline.model import Address, Document, Origin, Party, Posting, Voucher
from pipeline.norway.accounts import STANDARD
from pipeline.norway.amounts import parse_amount
from pipeline.norway.text import UndecodableText, open_text
from pipeline.norway.vat import UnknownVatCode, lookup
from pipeline.seen import Seen

CENT = Decimal("0.01")
LIMIT = Decimal("1e15")  # the shared form's amounts have at most 15 digits before the point


class Record(NamedTuple):
    """One row of a source file: its first line and its fields by name; `error` spoils its voucher.

    A tuple: a 100 MB file makes a million of them, and a tuple is the cheapest immutable value.
    """

    line: int
    fields: Mapping[str, str]
    error: str | None = None
    error_field: str | None = None

    def get(self, name: str | None) -> str:
        """The field's value; readers strip values once, when they make the record."""
        return self.fields.get(name, "") if name else ""


RecordReader = Callable[[Iterable[str], "Layout", Mapping[str, Any]], Iterator["Record | Problem"]]


@dataclass(frozen=True)
class Columns:
    """Which source column holds each shared-form field; None where the format has no such column."""

    voucher_number: str | None
    date: str
    amount: str
    account: str | None = None  # signed formats: one account per row
    debit_account: str | None = None  # debit/credit formats: a row may hold both sides
    credit_account: str | None = None
    debit_account_type: str | None = None  # Visma's AcCl: 1 customer, 2 supplier, 3 general ledger
    credit_account_type: str | None = None
    vat_code: str | None = None
    debit_vat_code: str | None = None
    credit_vat_code: str | None = None
    debit_saft_vat_code: str | None = None  # formats that already carry the SAF-T standard code
    credit_saft_vat_code: str | None = None
    saft_vat_code: str | None = None
    vat_amount: str | None = None
    voucher_type: str | None = None
    voucher_text: str | None = None
    text: str | None = None
    customer_number: str | None = None
    supplier_number: str | None = None
    party_name: str | None = None
    party_address: str | None = None
    party_postal_code: str | None = None
    party_city: str | None = None
    party_organisation_number: str | None = None
    invoice_number: str | None = None
    kid: str | None = None
    due_date: str | None = None
    currency: str | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)  # dimension name → column
    voucher_line: str | None = None  # where the voucher starts, when a heading line precedes its rows (SIE)
    voucher_name: str | None = None  # how messages name the voucher, when not by its reference (SIE: "A 70")


@dataclass(frozen=True)
class Layout:
    """Everything the generic reader needs to know about one tabular format."""

    format: str
    columns: Columns
    records: RecordReader
    date_formats: tuple[str, ...] = ("%Y%m%d",)
    decimal: str | None = "."
    sign: Literal["signed", "debit_credit"] = "signed"
    boundary: Literal["key", "balance"] = "key"  # key: a new voucher where voucher_key changes
    voucher_key: tuple[str, ...] = ()
    default_vat_map: Mapping[str, str] = field(default_factory=dict)
    no_vat: frozenset[str] = frozenset({""})  # format VAT codes meaning "no VAT code on this line"
    customer_types: frozenset[str] = frozenset({"1"})
    supplier_types: frozenset[str] = frozenset({"2"})
    empty_dates: frozenset[str] = frozenset({"", "0"})
    declaration: Callable[[bytes], str | None] | None = None  # the file's own encoding declaration
    prepare: Callable[[Record], Record | None] | None = None  # format quirks; None drops the row
    prepare_reads: tuple[str, ...] = ()  # the columns `prepare` looks at: rows alike in them are prepared alike
    prefixed_dimensions: bool = False  # rows carry "dimension:<name>" fields (SIE object lists)


# -- rows out of text ---------------------------------------------------------------------------

TEXT_CHUNK = 1 << 16
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines breaks lines here too
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
              "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
"""Every character `str.strip()` removes (str.isspace), line ends included; a test holds it to that."""


def text_lines(text: IO[str]) -> Iterator[str]:
    """The lines of `text` with their line ends, as iterating it would give them, decoded 64 KiB at a time.

    Bytes that are not text raise UnicodeDecodeError after the lines before them: the reader reports
    the line it reached, which is the line of the bad byte.
    """
    raw = getattr(text, "buffer", None)
    if raw is None:  # already text (a StringIO): its own iteration is exact
        yield from text
        return
    encoding, errors = getattr(text, "encoding", "utf-8"), getattr(text, "errors", None) or "strict"
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    carry: list[str] = []  # the start of a line whose end is still to come
    while True:
        data = raw.read(TEXT_CHUNK)
        state = decoder.getstate()
        try:
            chunk = decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            good = codecs.getincrementaldecoder(encoding)(errors)
            good.setstate((b"", state[1]))
            lines = _split("".join(carry) + good.decode(exc.object[:exc.start]))
            if lines and not lines[-1].endswith(("\n", "\r")):
                lines.pop()  # the line the bad byte is on is not read
            yield from lines
            raise
        if not data:
            if carry or chunk:
                yield from _split("".join(carry) + chunk)
            return
        if "\n" not in chunk and "\r" not in chunk:
            carry.append(chunk)
            continue
        lines = _split("".join(carry) + chunk)
        carry = [lines.pop()] if not lines[-1].endswith("\n") else []  # a lone \r may be half of \r\n
        yield from lines


def _split(text: str) -> list[str]:
    """Lines as text iteration with newline="" splits them: at \n, \r\n and a lone \r, ends kept."""
    if any(c in text for c in _OTHER_BREAKS):  # eight `in` scans are far faster than one regex
        return io.StringIO(text, newline="").readlines()
    return text.splitlines(keepends=True)


class Delimited:
    """Rows of a delimited file: positional `columns`, or named by the file's first row when None.

    A line without a quote is split on the delimiter, which is what the csv module does with it; a
    line with a quote (or a NUL, or one longer than a csv value may be) goes to the csv module, which
    reads on over the lines a quoted value spans. `rows` gives plain rows for the fast path; calling
    the reader gives `Record`s.
    """

    def __init__(self, delimiter: str, columns: tuple[str, ...] | None, min_fields: int) -> None:
        self.delimiter, self.columns, self.min_fields = delimiter, columns, min_fields

    def __call__(self, lines: Iterable[str], layout: Layout, options: Mapping[str, Any]) -> Iterator[Record | Problem]:
        read = self.rows(lines, layout, options)
        yield from records_of(read, lambda: read.names)

    def rows(self, lines: Iterable[str], layout: Layout, options: Mapping[str, Any]) -> DelimitedRows:
        return DelimitedRows(self, iter(lines), layout)


Plain = tuple[int, list[str], int]
"""A plain row: its line, its stripped values padded with "" to one past the last column, its own length."""


def split_quoted(line: str) -> list[str] | None:
    """`a "b c" d` → ['a', 'b c', 'd']: words split at blanks, texts in quotes whole — what the token
    expressions of Visma Business and SIE read in such a line. None where it is not that simple (a
    backslash, a doubled quote, an odd one, a quote touching a word): the expression reads those."""
    if "\\" in line:
        return None
    parts = line.split('"')
    last = len(parts) - 1
    if last % 2:
        return None
    values: list[str] = []
    for i, part in enumerate(parts):
        if i % 2:
            values.append(part)
            continue
        if part and ((i > 0 and not part[0].isspace()) or (i < last and not part[-1].isspace())):
            return None  # a quote touching a word: the expression reads it otherwise
        if not part and 0 < i < last:
            return None  # "" between two quoted texts: a doubled quote inside one
        values.extend(part.split())
    return values


def records_of(rows: Iterable[Record | Problem | Plain], names: Callable[[], tuple[str, ...] | None],
               ) -> Iterator[Record | Problem]:
    """`rows` with each plain row made a `Record` (under the names in force when it came)."""
    for item in rows:
        if type(item) is tuple:
            yield plain_record(cast(Plain, item), names() or ())
        else:
            yield cast("Record | Problem", item)


def plain_record(row: Plain, names: tuple[str, ...]) -> Record:
    """The plain row, read under `names`, as a `Record`: what the general path works on."""
    return Record(row[0], dict(zip(names, row[1][:row[2]], strict=False)))


class DelimitedRows:
    """One file's rows: `Problem`s, `Record`s for rows in error, and `Plain` rows; `names` once known."""

    def __init__(self, shape: Delimited, source: Iterator[str], layout: Layout) -> None:
        self.names = shape.columns
        self.pad = [""] * (len(self.names) + 1) if self.names else []
        self._shape, self._source, self._layout = shape, source, layout
        self._feed = _Feed(source)
        self._quoted = csv.reader(self._feed, delimiter=shape.delimiter, quotechar='"', strict=False)
        self._items = self._read()

    def __iter__(self) -> Iterator[Record | Problem | Plain]:
        return self._items

    def _read(self) -> Iterator[Record | Problem | Plain]:
        delimiter, strip, feed, min_fields = self._shape.delimiter, str.strip, self._feed, self._shape.min_fields
        trailing = delimiter + WHITESPACE  # trailing delimiters and blanks: fields the loop below would drop
        number = 0
        for line in self._source:
            number += 1
            start = number
            if '"' in line or "\0" in line or len(line) > _CSV_FIELD_LIMIT:
                feed.push(line)
                row = next(self._quoted, [])
                number += feed.pulled  # the lines an open quote ran over
                if number > start and any("\n" in value or "\r" in value for value in row):
                    # A line-based format has no value spanning lines: a quote was left open and the
                    # lines after it were swallowed into one value. Say so, for them and for this row.
                    names = self.names
                    where = next(i for i, value in enumerate(row) if "\n" in value or "\r" in value)
                    column = (names[where] if names and where < len(names) else None) or f"column {where + 1}"
                    yield Problem(f"a quote opened on line {start} is not closed before line {number}: lines "
                                  f"{start + 1}-{number} were read as part of one value, not as rows", line=start,
                                  field=column, code="quote")
                    yield Record(start, dict(zip(names or (), map(strip, row), strict=False)),
                                 "a quoted value runs over several lines (a quote is not closed)", column)
                    continue
            else:
                row = line.rstrip(trailing).split(delimiter)
            row = list(map(strip, row))
            while row and not row[-1]:  # trailing delimiters are common and harmless
                row.pop()
            if not row:
                continue
            if self.names is None:
                self.names = tuple(row)
                self.pad = [""] * (len(self.names) + 1)
                continue
            width, length = len(self.names), len(row)
            if not min_fields <= length <= width:
                bound = f"at least {min_fields}" if length < min_fields else f"at most {width}"
                yield Record(start, dict(zip(self.names, row, strict=False)),
                             f"{length} fields where {self._layout.format} has {bound}", "columns")
                continue
            row += self.pad[length:]
            yield start, row, length


def delimited(delimiter: str, columns: tuple[str, ...] | None = None, *, min_fields: int = 1) -> Delimited:
    """Rows of a delimited file: positional `columns`, or named by the file's first row when None."""
    return Delimited(delimiter, columns, min_fields)


_CSV_FIELD_LIMIT = csv.field_size_limit()


class _Feed:
    """What the csv module reads: the line handed to it, then (for a quote left open) the lines after
    it, taken from the reader's own source and counted in `pulled`."""

    def __init__(self, source: Iterator[str]) -> None:
        self._source = source
        self._pushed: str | None = None
        self.pulled = 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if self._pushed is not None:
            line, self._pushed = self._pushed, None
            return line
        line = next(self._source)
        self.pulled += 1
        return line

    def push(self, line: str) -> None:
        self._pushed, self.pulled = line, 0


# -- values -------------------------------------------------------------------------------------


class RowError(ValueError):
    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.field = field


def _date(record: Record, column: str | None, layout: Layout, *, required: bool) -> dt.date | None:
    value = record.get(column)
    if value in layout.empty_dates:
        if required:
            raise RowError("date is missing", column)
        return None
    parsed = _parse_date(value, layout.date_formats)
    if parsed is not None:
        return parsed
    raise RowError(f"{_shown(value)} is not a date ({' or '.join(layout.date_formats)})", column)


@functools.lru_cache(maxsize=4096)  # a file holds few distinct dates; strptime is slow
def _parse_date(value: str, formats: tuple[str, ...]) -> dt.date | None:
    for date_format in formats:
        try:
            return dt.datetime.strptime(value, date_format).date()
        except ValueError:
            continue
    return None


_PLAIN = re.compile(r"-?\d{1,15}(?:\.\d{1,2})?")  # what machine formats write: the fast path


def _amount(record: Record, column: str, layout: Layout) -> Decimal:
    return _amount_of(record.get(column), column, layout)


def _amount_of(value: str, column: str | None, layout: Layout) -> Decimal:
    if layout.decimal == "." and _PLAIN.fullmatch(value):
        return Decimal(value).quantize(CENT)
    try:
        amount = parse_amount(value, decimal=layout.decimal)
    except ValueError as exc:
        raise RowError(str(exc), column) from None
    # Size first: quantize fails (InvalidOperation) past the context's 28 digits, and money never
    # needs 16 digits before the point (the shared form's limit).
    if amount.copy_abs() >= LIMIT:
        raise RowError(f"amount {_shown(value)} is too large (at most 15 digits before the decimal point)", column)
    if amount != amount.quantize(CENT):
        raise RowError(f"amount {_shown(value)} has more than two decimals", column)
    return amount.quantize(CENT)





def _vat(record: Record, own: str | None, saft: str | None, layout: Layout,
         vat_map: Mapping[str, str]) -> str | None:
    standard = record.get(saft)
    if standard:
        try:
            return lookup(standard).code
        except UnknownVatCode as exc:
            raise RowError(str(exc), saft) from None
    code = record.get(own)
    if code in layout.no_vat and code not in vat_map:
        return None
    if code not in vat_map:
        raise RowError(f"VAT code {code!r} has no SAF-T standard code: add it to the vat_map option", own)
    mapped = vat_map[code]
    if not mapped:
        return None
    try:
        return lookup(str(mapped)).code
    except UnknownVatCode as exc:
        raise RowError(f"vat_map maps {code!r} to {mapped!r}: {exc}", own) from None


def _party(record: Record, c: Columns, number: str) -> Party:
    street, postal, city = record.get(c.party_address), record.get(c.party_postal_code), record.get(c.party_city)
    address = Address(lines=(street,) if street else (), postal_code=postal or None, city=city or None) \
        if (street or postal or city) else None
    try:
        return Party(number=number, name=record.get(c.party_name) or None, address=address,
                     organization_number=record.get(c.party_organisation_number) or None)
    except ValidationError as exc:
        raise RowError("; ".join(str(e["msg"]) for e in exc.errors()), c.party_organisation_number) from None


def vat_map_of(layout: Layout, options: Mapping[str, Any]) -> dict[str, str]:
    """The format's default VAT map overlaid with the tenant's `vat_map` option."""
    given = options.get("vat_map", {})
    if not isinstance(given, Mapping) or not all(v is None or isinstance(v, (str, int)) for v in given.values()):
        raise ConfigError(f"{layout.format} option vat_map must map the format's VAT codes to SAF-T standard "
                          'codes, e.g. {"3": "3", "1": "1"}', connector=layout.format)
    return {**layout.default_vat_map, **given}


def postings(record: Record, layout: Layout, options: Mapping[str, Any],
             vat_map: Mapping[str, str] | None = None) -> list[Posting]:
    """The postings one row stands for: one (signed) or up to two (debit and credit accounts)."""
    c = layout.columns
    if vat_map is None:
        vat_map = vat_map_of(layout, options)
    amount = _amount(record, c.amount, layout)
    sides: list[tuple[str | None, str | None, str | None, str | None, Decimal]]
    if layout.sign == "signed":
        sides = [(c.account, None, c.vat_code, c.saft_vat_code, amount)]
    else:
        sides = [(c.debit_account, c.debit_account_type, c.debit_vat_code, c.debit_saft_vat_code, amount),
                 (c.credit_account, c.credit_account_type, c.credit_vat_code, c.credit_saft_vat_code, -amount)]
    common: dict[str, Any] = {
        "description": record.get(c.text) or record.get(c.voucher_text) or None,
        "kid": record.get(c.kid) or None,
        "invoice_number": record.get(c.invoice_number) or None,
        "due_date": _date(record, c.due_date, layout, required=False),
        "dimensions": {name: record.get(col) for name, col in c.dimensions.items() if record.get(col)},
    }
    if layout.prefixed_dimensions:  # formats whose rows name their own dimensions ("dimension:project")
        common["dimensions"] |= {k.removeprefix("dimension:"): v for k, v in record.fields.items()
                                 if k.startswith("dimension:") and v}
    result: list[Posting] = []
    for account_column, type_column, vat_column, saft_column, side_amount in sides:
        account = record.get(account_column)
        if layout.sign == "debit_credit" and account in ("", "0"):
            continue
        if not account:
            raise RowError("account is missing", account_column)
        extra: dict[str, Any] = {}
        kind = record.get(type_column)
        if kind in layout.customer_types:
            extra["customer"] = _party(record, c, account)
            account = options.get("customer_ledger", STANDARD.customer_ledger)
        elif kind in layout.supplier_types:
            extra["supplier"] = _party(record, c, account)
            account = options.get("supplier_ledger", STANDARD.supplier_ledger)
        elif record.get(c.customer_number):
            extra["customer"] = _party(record, c, record.get(c.customer_number))
        elif record.get(c.supplier_number):
            extra["supplier"] = _party(record, c, record.get(c.supplier_number))
        vat_code = _vat(record, vat_column, saft_column, layout, vat_map)
        if vat_code is not None and c.vat_amount and record.get(c.vat_amount):
            vat_amount = abs(_amount(record, c.vat_amount, layout))
            if vat_amount:
                extra["vat_amount"] = -vat_amount if side_amount < 0 else vat_amount
        try:
            result.append(Posting(account=account, amount=side_amount, vat_code=vat_code, **common, **extra))
        except ValidationError as exc:
            raise RowError("; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}"
                                     for e in exc.errors()), None) from None
    if layout.sign == "debit_credit" and not result:
        raise RowError("neither a debit nor a credit account", c.debit_account)
    return result


# -- vouchers -----------------------------------------------------------------------------------


@dataclass
class _Pending:
    first: Record
    rows: list[Record] = field(default_factory=list)
    total: Decimal = Decimal("0")
    line: int = 0  # the voucher's first line in the file


def _reference(pending: _Pending, layout: Layout, file_name: str, options: Mapping[str, Any]) -> str:
    number = pending.first.get(layout.columns.voucher_number)
    prefix = str(options.get("reference_prefix", ""))
    return f"{prefix}{number}" if number else f"{prefix}{file_name}:{pending.line}"


def _finish(pending: _Pending, layout: Layout, file_name: str, options: Mapping[str, Any],
            seen: Seen, vat_map: Mapping[str, str]) -> Iterator[Document | Problem]:
    reference = _reference(pending, layout, file_name, options)
    name = pending.first.get(layout.columns.voucher_name) or reference
    where: dict[str, Any] = {"file": file_name, "reference": reference}
    problems: list[Problem] = []
    lines: list[Posting] = []
    for record in pending.rows:
        if record.error:
            problems.append(Problem(record.error, field=record.error_field, line=record.line, **where))
            continue
        try:
            lines.extend(postings(record, layout, options, vat_map))
        except RowError as exc:
            problems.append(Problem(str(exc), field=exc.field, line=record.line, **where))
    date: dt.date | None = None
    try:
        date = _date(pending.first, layout.columns.date, layout, required=True)
    except RowError as exc:
        problems.append(Problem(str(exc), field=exc.field, line=pending.line, **where))
    if problems or date is None:
        yield from problems
        return
    if reference in seen:
        yield Problem(f"voucher {name} appears again further down the file; vouchers must be "
                      "contiguous", line=pending.line, code="duplicate", **where)
        return
    seen.add(reference)
    total = sum((p.amount for p in lines), Decimal("0"))
    if total != 0:
        larger, smaller = ("debits", "credits") if total > 0 else ("credits", "debits")
        yield Problem(f"voucher {name} does not balance: {larger} exceed {smaller} by {abs(total):.2f}",
                      line=pending.line, code="unbalanced", **where)
        return
    if len(lines) == 1:  # balanced, so its one line is 0.00: nothing to book (year-end exports have these)
        yield Problem(f"voucher {name} has only one line of 0.00", line=pending.line, code="empty-voucher",
                      severity="warning", **where)
        return
    first = pending.first
    try:
        yield Voucher(
            reference=reference, date=date,
            description=first.get(layout.columns.voucher_text) or first.get(layout.columns.text) or None,
            voucher_type=first.get(layout.columns.voucher_type) or None,
            currency=first.get(layout.columns.currency) or "NOK",
            lines=tuple(lines),
            origin=Origin(format=layout.format, file=file_name, line=pending.line),
        )
    except ValidationError as exc:
        yield Problem("; ".join(f"{'.'.join(map(str, e['loc'])) or 'voucher'}: {e['msg']}"
                                for e in exc.errors()), line=pending.line, **where)


def read(layout: Layout, data: IO[bytes], *, file_name: str, options: Mapping[str, Any],
         ) -> Iterator[Document | Problem]:
    """Stream `data` as `layout` says: each voucher (or its problems) as soon as its last row is read.

    A file that yields nothing at all — empty, only headings, cut off before its first voucher —
    gets a problem saying so: silence would look like success.
    """
    said = False
    for item in _read(layout, data, file_name=file_name, options=options):
        said = True
        yield item
    if not said:
        yield Problem(f"no vouchers in this {layout.format} file: it is empty or holds only headings "
                      "(cut short?)", file=file_name, code="empty")


def _read(layout: Layout, data: IO[bytes], *, file_name: str, options: Mapping[str, Any],
          ) -> Iterator[Document | Problem]:
    from connectors.sources.plain import Plan  # the fast path leans on this module

    notes: list[str] = []
    try:
        text, _ = open_text(data, options.get("encoding"), newline="", declaration=layout.declaration,
                            notes=notes)
    except (UndecodableText, ValueError) as exc:
        yield Problem(str(exc), file=file_name, code="encoding")
        return
    for note in notes:  # the bytes overruled the file's own declaration: read, and said
        yield Problem(note, file=file_name, code="encoding", severity="warning")
    damaged = getattr(text, "errors", "strict") != "strict"  # a few bytes that are not text: read as U+FFFD
    seen = Seen()
    vat_map = vat_map_of(layout, options)
    guesses = _Guesses(layout, options, file_name)
    reader = guesses.reader
    plain = hasattr(reader, "rows") and not damaged and layout.boundary == "key" and checked.fast()
    lines = text_lines(text)
    source: Any = reader.rows(lines, layout, options) if plain else reader(lines, layout, options)
    rows = iter(source)
    prepared = _Prepared(layout)
    plan: Plan | None = None
    pending: _Pending | None = None
    key: tuple[str, ...] | None = None
    broken = False  # reading stopped early: the voucher in hand may be missing rows
    while True:
        try:
            item = next(rows, None)
        except UnicodeDecodeError as exc:
            line = pending.rows[-1][0] + 1 if pending and pending.rows else None
            yield Problem(f"text stops being {exc.encoding} at or after this line ({exc.reason}); "
                          "nothing after it was read", file=file_name, line=line, code="encoding")
            item, broken = None, True
        except csv.Error as exc:
            line = pending.rows[-1][0] + 1 if pending and pending.rows else None
            yield Problem(f"not a readable {layout.format} file at or after this line: {exc}; nothing after it "
                          "was read", file=file_name, line=line, code="invalid")
            item, broken = None, True
        if item is None:
            break
        if type(item) is tuple:  # a plain row (the fast path): made a Record only where it must be
            if plan is None or plan.names is not source.names:  # a new heading: the rows in hand become Records
                if pending is not None and plan is not None:
                    _as_records(pending, plan.names)
                plan = Plan(layout, source.names, options, vat_map, file_name)
            if guesses.pending:
                yield from guesses.plain(item, plan.names)
            record: Any = prepared.plain(item, plan.names) if prepared.prepare else item
            if record is None:
                continue
            record_key = plan.key(item[1]) if record is item else tuple(record.get(k) for k in layout.voucher_key)
        else:
            if isinstance(item, Problem):
                yield item if item.file else replace(item, file=file_name)
                continue
            if item.error is None and guesses.pending:
                yield from guesses.record(item)
            if damaged and item.error is None:
                item = _undecoded(item)
            record = layout.prepare(item) if layout.prepare and item.error is None else item
            if record is None:
                continue
            record_key = tuple(record.get(k) for k in layout.voucher_key)
        if pending is not None and layout.boundary == "key" and record_key != key:
            yield from _finish_any(pending, plan, layout, file_name, options, seen, vat_map)
            pending = None
        if pending is None:
            start = plan.start(record[1]) if plan is not None and type(record) is tuple else \
                record.get(layout.columns.voucher_line)
            pending, key = _Pending(record, line=int(start) if start.isdigit() else record[0]), record_key
        pending.rows.append(record)
        if layout.boundary == "balance" and record.error is None:
            try:
                pending.total += sum((p.amount for p in postings(record, layout, options, vat_map)), Decimal(0))
            except RowError:
                pass
            if pending.total == 0 and len(pending.rows) > 1:
                yield from _finish(pending, layout, file_name, options, seen, vat_map)
                pending = None
    if pending is not None and broken:
        if plan is not None:
            _as_records(pending, plan.names)
        yield Problem(f"voucher {_reference(pending, layout, file_name, options)} was not read to its end",
                      file=file_name, line=pending.line, code="incomplete",
                      reference=_reference(pending, layout, file_name, options))
    elif pending is not None:
        yield from _finish_any(pending, plan, layout, file_name, options, seen, vat_map)


def _finish_any(pending: _Pending, plan: Any, layout: Layout, file_name: str, options: Mapping[str, Any],
                seen: Seen, vat_map: Mapping[str, str]) -> Iterator[Document | Problem]:
    """The voucher the fast way when every row of it is plain and it is ordinary; else the general way."""
    if plan is not None and all(type(row) is tuple for row in pending.rows):
        voucher = plan.voucher(pending.rows, pending.line, seen)
        if voucher is not None:
            yield voucher
            return
    if plan is not None:
        _as_records(pending, plan.names)
    yield from _finish(pending, layout, file_name, options, seen, vat_map)


def _as_records(pending: _Pending, names: tuple[str, ...]) -> None:
    """The voucher's plain rows made `Record`s, for the general path."""
    if type(pending.first) is tuple:
        pending.first = plain_record(pending.first, names)  # type: ignore[arg-type]
    if any(type(row) is tuple for row in pending.rows):
        pending.rows = [plain_record(row, names) if type(row) is tuple else row  # type: ignore[arg-type]
                        for row in pending.rows]


class _Guesses:
    """The `guessed-detail` warnings of a records reader wrapped by `guesses.noting`, given here instead.

    A plain row is asked about on a `Record` of the columns each guess reads, and only for values not
    met before: a file holds few distinct values there (a voucher number once per voucher)."""

    def __init__(self, layout: Layout, options: Mapping[str, Any], file_name: str) -> None:
        self.guesses: tuple[Any, ...] = tuple(getattr(layout.records, "guesses", ()))
        self.pending = list(self.guesses)
        self.reader: Any = getattr(layout.records, "reader", layout.records)
        self.format, self.options, self.file_name = layout.format, options, file_name
        self._names: tuple[str, ...] | None = None
        self._checks: list[tuple[Any, Callable[[list[str]], tuple[str, ...]], dict[tuple[str, ...], bool]]] = []
        self._memo: dict[str, dict[tuple[str, ...], bool]] = {}  # per guess: values that do not rely on it

    def record(self, record: Record) -> Iterator[Problem]:
        if not self.pending:
            return
        relying = [g for g in self.pending if g.relies(record, self.options)]
        for guess in relying:
            self.pending.remove(guess)
            yield replace(guess.warning(self.format, record.line), file=self.file_name)
        if relying:
            self._names = None  # the pending guesses changed: ask anew

    def plain(self, row: Plain, names: tuple[str, ...]) -> Iterator[Problem]:
        if self._names is not names:  # new columns, or fewer guesses: where each guess's columns are
            self._names = names
            index = {name: i for i, name in enumerate(names)}
            self._checks = [(g, _getter([index.get(c, len(names)) for c in g.reads]), self._memo.setdefault(g.key, {}))
                            for g in self.pending]
        values = row[1]
        relying = None
        for guess, get, memo in self._checks:
            seen = get(values)
            if seen in memo:
                continue
            if guess.relies(Record(row[0], dict(zip(guess.reads, seen, strict=True))), self.options):
                relying = [*(relying or ()), guess]
            elif len(memo) < 4096:
                memo[seen] = False
        if relying is None:
            return
        for guess in relying:
            self.pending.remove(guess)
            yield replace(guess.warning(self.format, row[0]), file=self.file_name)
        self._names = None


class _Prepared:
    """`layout.prepare` for plain rows: a row it would leave as it is stays plain. It is asked once per
    distinct value of the columns it reads (`prepare_reads`), on the row made a `Record`."""

    def __init__(self, layout: Layout) -> None:
        self.prepare = layout.prepare
        self.reads = layout.prepare_reads
        self._memo: dict[Any, bool] = {}
        self._get: Callable[[list[str]], Any] | None = None
        self._names: tuple[str, ...] | None = None

    def plain(self, row: Plain, names: tuple[str, ...]) -> Plain | Record | None:
        if self.prepare is None:
            return row
        if self._get is None or self._names is not names:
            self._names = names
            index = {name: i for i, name in enumerate(names)}
            self._get = _getter([index.get(c, len(names)) for c in self.reads])
            self._memo.clear()
        seen = self._get(row[1])
        if self._memo.get(seen):
            return row
        record = plain_record(row, names)
        prepared = self.prepare(record)
        if prepared is record:
            if len(self._memo) > 4096:
                self._memo.clear()
            self._memo[seen] = True
            return row
        return prepared


def _getter(indices: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """The values at `indices` of a row, always as a tuple."""
    if not indices:
        return lambda row: ()
    if len(indices) == 1:
        i = indices[0]
        return lambda row: (row[i],)
    return operator.itemgetter(*indices)
def _undecoded(record: Record) -> Record:
    """The row marked bad when a byte of it was not text (read as U+FFFD): never book a guess."""
    for name, value in record.fields.items():
        if "\ufffd" in value:
            return with_error(record, f"bytes that are not text in {value[:40]!r} (shown as \ufffd), in a "
                                      "file that reads as text elsewhere: fix or re-export it", name)
    return record


def with_error(record: Record, message: str, field: str | None = None) -> Record:
    """The same row, marked bad: its voucher is reported, not delivered."""
    return record._replace(error=message, error_field=field)
