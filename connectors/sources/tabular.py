"""One reader for every tabular voucher format, driven by a declared `Layout` instead of code per format.

A format module (gbat10, visma_business, visma_global, sie4) declares how rows come out of its text
(`records`), which column holds each shared-form field (`Columns`), its dates, decimals, sign
convention and voucher boundaries. This reader turns rows into postings, groups them into vouchers
as it streams — a voucher is yielded as soon as its last row is seen — and turns every bad row into a
`Problem` with its line, dropping only the voucher that row belongs to.

Speed: text is decoded 64 KiB at a time and split into lines in bulk (`connectors.sources.rows`). Rows
may arrive as plain lists, and a voucher whose rows are all plain goes the fast way (`connectors.sources.plain`):
straight into shared-form models, checked once. Every other voucher — a row with an error, a quirk
for `prepare`, an amount in a Norwegian format, anything the fast path cannot vouch for — goes the
general way below (`general`), which is the reference: tests require both ways to give the same
documents and the same problems. A format may go further with a tight loop of its own (`Layout.fast`,
e.g. `gbat10_fast`), which reads the file's lines itself and hands every voucher it cannot vouch for
to `general`, sharing the file's `Reading` (references seen, guesses warned about).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import IO, Any, Literal

from pydantic import ValidationError

from connectors.sources.rows import Record, plain_record, text_lines
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


RecordReader = Callable[[Iterable[str], "Layout", Mapping[str, Any]], Iterator["Record | Problem"]]
FastReader = Callable[[Iterator[str], "Reading"],
                      Generator["Document | Problem", None, "tuple[Iterator[str], int] | None"]]
"""A format's tight loop: it yields what it reads and returns None at the end of the file, or the lines
it leaves to `general` (from the start of the voucher it could not vouch for) and the first one's number."""


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
    fast: FastReader | None = None  # the format's tight loop over plainly well-formed vouchers (see `Reading`)
    prefixed_dimensions: bool = False  # rows carry "dimension:<name>" fields (SIE object lists)


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
    from connectors.sources.plain import Guesses  # the fast paths lean on this module

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
    reading = Reading(layout, file_name, options, Seen(), vat_map_of(layout, options),
                      Guesses(layout, options, file_name), damaged)
    lines: Iterator[str] = text_lines(text)
    first = 1
    if layout.fast is not None and reading.plain:
        handover = yield from layout.fast(lines, reading)
        if handover is None:
            return
        lines, first = handover
    yield from general(reading, lines, first)


@dataclass
class Reading:
    """One file's reading: what its vouchers share (references seen, VAT map, the guesses still to warn
    about), whichever way each voucher is read — a format's tight loop (`Layout.fast`) or `general`."""

    layout: Layout
    file_name: str
    options: Mapping[str, Any]
    seen: Seen
    vat_map: Mapping[str, str]
    guesses: Any  # plain.Guesses
    damaged: bool
    plans: dict[tuple[str, ...], Any] = field(default_factory=dict)  # plain.Plan per heading, made once

    @property
    def plain(self) -> bool:
        """Whether rows may come as plain lists (the fast paths), not only as `Record`s."""
        return hasattr(self.guesses.reader, "rows") and not self.damaged and self.layout.boundary == "key" \
            and checked.fast()


def general(reading: Reading, lines: Iterable[str], first: int = 1) -> Iterator[Document | Problem]:
    """The general way, the reference: `lines` (the file's from line `first` on) as rows, vouchers and problems."""
    from connectors.sources.plain import Plan, Prepared  # the fast path leans on this module

    layout, file_name, options = reading.layout, reading.file_name, reading.options
    seen, vat_map, guesses, damaged = reading.seen, reading.vat_map, reading.guesses, reading.damaged
    reader = guesses.reader
    plain = reading.plain
    if not plain:
        source: Any = reader(lines, layout, options)
    else:  # only a format with a tight loop (a `Delimited` one) hands over lines from further down
        source = reader.rows(lines, layout, options, start=first) if first != 1 else reader.rows(lines, layout, options)
    rows = iter(source)
    prepared = Prepared(layout)
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
                plan = reading.plans.get(source.names)
                if plan is None or plan.names is not source.names:
                    plan = reading.plans[source.names] = Plan(layout, source.names, options, vat_map, file_name)
            if guesses.pending:
                warnings = guesses.plain(item, plan.names)
                if warnings:
                    yield from warnings
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
