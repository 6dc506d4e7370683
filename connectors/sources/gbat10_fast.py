"""GBAT10's tight loop: the plainly well-formed vouchers of a file read in one loop, everything else by the general reader.

The general tabular reader (`tabular.general`) is the reference, and it is slow by its layers: every
row passes a row reader, guesses, `prepare`, a voucher boundary and per-value checks. This loop does the
same for GBAT10 with local variables and no per-row call: it splits each line as `rows.DelimitedRows`
does, groups rows into vouchers by (Bilagsnummer, Bilagsdato), and builds each voucher's models once,
with `checked.build`, after every check the models and the general path make. It hands over:

- a voucher that is not plainly well-formed — a row with the wrong number of fields, another first
  field than GBAT10, a Brutto flag (T, or a bad one), no voucher number, an amount not written
  `-1234.56`, a bad date, KID or VAT code, a voucher that does not balance or
  whose reference came before — to `tabular.general`, from its first line, so that every problem keeps
  its file, line, voucher and field exactly as the general path words it; then it reads on;
- at a line with a quote, a NUL or an over-long value (the csv module reads those, and a quoted value
  may run over lines), or bytes that are not text: the voucher in hand and the rest of the file.

Rows with Brutto F are dropped, as `gbat10._brutto` drops them. The `guessed-detail` warnings are
given where the general path gives them (before the voucher that ends at that row): a row this loop
builds has a Bilagsnummer and no Brutto flag, so which guesses it relies on depends on its VAT code
alone (a test holds the guesses to that), and each code is asked about once.
tests/sources/test_gbat10_fast.py and test_fast_path.py require this loop and the general path to give
equal documents and problems on the golden, generated, odd, mutated and benchmark files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator, Iterator
from decimal import Decimal
from itertools import chain
from typing import Any

from connectors.sources.rows import _CSV_FIELD_LIMIT, WHITESPACE
from connectors.sources.tabular import _PLAIN, CENT, Reading, _parse_date, general
from pipeline import checked
from pipeline.checked import _new, _set_dict, _set_extra, _set_fields_set, _set_private
from pipeline.errors import Problem
from pipeline.model import Address, Document, Origin, Party, Posting, Voucher
from pipeline.norway.kid import _DOUBLED, _VALUE, MAX_LENGTH, valid_kid
from pipeline.norway.vat import UnknownVatCode, lookup

WIDTH, MIN_FIELDS = 30, 9  # gbat10.FIELDS, and the fewest a row may have (up to Saldo)
# Columns (gbat10.FIELDS, 0-based)
IDENT, NUMBER, DATE, KIND, ACCOUNT, VAT, AMOUNT, CUSTOMER, SUPPLIER, NAME, STREET, POSTAL, CITY = \
    0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14
INVOICE, KID, DUE, TEXT, PROJECT, DEPARTMENT, BRUTTO = 15, 16, 17, 20, 23, 24, 26

_POSTING = frozenset({"account", "amount", "vat_code", "description", "kid", "invoice_number", "due_date",
                      "dimensions"})
# One fields set per kind of posting, shared as `plain._GIVEN` shares it: the models are frozen, and
# pydantic copies a model's set before it changes a copy's.
_GIVEN = {None: set(_POSTING), "customer": {*_POSTING, "customer"}, "supplier": {*_POSTING, "supplier"}}
_VOUCHER = {"reference", "date", "description", "voucher_type", "currency", "lines", "origin"}
_ORIGIN = {"format", "file", "line"}
_EMPTY_DATES = ("", "0")
_SLOW = object()  # a value only the general path can judge
_ZERO = Decimal(0)

Handover = tuple[Iterator[str], int]


def read(lines: Iterator[str], reading: Reading) -> Generator[Document | Problem, None, Handover | None]:
    """The file's vouchers and problems; returns the lines left to the general path, or None at the end."""
    from connectors.sources.gbat10 import FIELDS

    names, guesses = FIELDS, reading.guesses
    build = Builder(reading)
    trailing, strip, pad, limit = ";" + WHITESPACE, str.strip, [""] * (WIDTH + 1), _CSV_FIELD_LIMIT
    asked: set[str] = set()  # VAT codes of built rows the guesses have been asked about
    pending = guesses.pending  # the guesses not yet warned about (the list `guesses` removes them from)
    number = first = 0  # the line read, and the first line of the voucher in hand
    rows: list[list[str]] = []  # the voucher in hand: its rows, split
    buffer: list[str] = []  # and every line from its first on, for the general path
    slow = False  # a row of it this loop does not build
    key_number = key_date = ""
    try:
        for line in lines:
            number += 1
            if '"' in line or "\0" in line or len(line) > limit:  # the csv module's: the rest goes general
                return chain(buffer, (line,), lines), first if rows else number
            text = line.rstrip(trailing)
            parts = text.split(";")
            length = len(parts)
            if length == 1 and not parts[0]:  # blank, or only delimiters
                if rows:
                    buffer.append(line)
                continue
            # Values are stripped as `DelimitedRows` strips them. A printable line has no blank but " "
            # (every other character `str.strip` removes is not printable), so without " ;", "; " and a
            # leading " " no value has a blank to strip.
            if text.isprintable() and "; " not in text and " ;" not in text and text[0] != " ":
                row = parts + pad[length:]
            else:
                row = [*map(strip, parts), *pad[length:]]
            if length < MIN_FIELDS or length > WIDTH:
                odd = True  # the general path reports the count and asks no guess
            elif row[BRUTTO] or not row[NUMBER] or row[IDENT] != "GBAT10":
                odd = True  # as the general path: guesses first, then `gbat10._brutto`
                if pending:
                    warnings = guesses.plain((number, row, length), names)
                    if warnings:
                        yield from warnings
                if row[BRUTTO].upper() == "F" and row[IDENT].upper() == "GBAT10":
                    if rows:
                        buffer.append(line)
                    continue  # not imported: no voucher of its own, no voucher boundary
            else:
                odd = False
                if pending and row[VAT] not in asked:
                    warnings = guesses.plain((number, row, length), names)
                    asked.add(row[VAT])
                    if warnings:
                        yield from warnings
            if row[NUMBER] == key_number and row[DATE] == key_date and rows:
                rows.append(row)
                buffer.append(line)
                if odd:
                    slow = True
                continue
            if rows:
                voucher = None if slow else build.voucher(rows, first)
                if voucher is None:
                    yield from general(reading, iter(buffer), first)
                else:
                    yield voucher
            rows, buffer, first, slow = [row], [line], number, odd
            key_number, key_date = row[NUMBER], row[DATE]
    except UnicodeDecodeError as exc:  # the general path says where the text stops, and what it lost
        return chain(buffer, _raising(exc)), first if rows else number + 1
    if rows:
        voucher = None if slow else build.voucher(rows, first)
        if voucher is None:
            yield from general(reading, iter(buffer), first)
        else:
            yield voucher
    return None


def _luhn(kid: str) -> bool:
    """`valid_kid` for the common case, in one call: ASCII digits with a MOD10 check digit. False says
    only "not that": `valid_kid` has the last word (MOD11, or not a KID at all)."""
    if not (2 <= len(kid) <= MAX_LENGTH and kid.isdigit() and kid.isascii()):
        return False
    base = kid[:-1]
    total = sum(base[::-2].translate(_DOUBLED).encode("latin-1")) + sum(base[-2::-2].translate(_VALUE).encode("latin-1"))
    return (10 - total % 10) % 10 == ord(kid[-1]) - 48


def _raising(exc: Exception) -> Iterator[str]:
    raise exc
    yield ""  # pragma: no cover  (a generator: it raises when read, where the lines stopped)


class Builder:
    """A voucher of well-formed rows as models, or None where the general path must judge it.

    What each value is, and why no model check is skipped: amounts match `-?\\d{1,15}(\\.\\d{1,2})?`
    and are quantized to two places; accounts, texts and dimension values are stripped and not empty
    (`Text`); dates come from `strptime` (`tabular._parse_date`); a KID passes `valid_kid`; VAT codes
    come from `vat.lookup`; a reference is a `Text` of at most 200 characters, not seen before; the
    voucher balances, has two lines or more and moves an amount. GBAT10 has no VAT amount, currency,
    organisation number or account type columns.
    """

    def __init__(self, reading: Reading) -> None:
        options = reading.options
        self.seen, self.file_name, self.vat_map = reading.seen, reading.file_name, reading.vat_map
        self.no_vat = reading.layout.no_vat
        self.formats = reading.layout.date_formats
        self.prefix = str(options.get("reference_prefix", ""))
        self.dates: dict[str, dt.date | None] = {}
        self.vat: dict[str, Any] = {}
        self.parties: dict[str, tuple[tuple[str, ...], Party]] = {}  # by number: its values, its model
        self.valid: set[str] = set()  # KIDs found valid lately: a voucher's rows often repeat its KID

    def voucher(self, rows: list[list[str]], line: int) -> Voucher | None:
        head = rows[0]
        reference = self.prefix + head[NUMBER]
        if len(reference) > 200 or (self.prefix and not checked.text(reference)):
            return None
        dates = self.dates
        date = dates.get(head[DATE]) or self.date(head[DATE])
        if date is None:
            return None
        fullmatch, vat, given, valid = _PLAIN.fullmatch, self.vat, _GIVEN, self.valid
        new, set_dict, set_fields, set_extra, set_private = _new, _set_dict, _set_fields_set, _set_extra, _set_private
        lines: list[Posting] = []
        total, moved = _ZERO, False
        for row in rows:
            text = row[AMOUNT]
            if not fullmatch(text):
                return None
            amount = Decimal(text) if text[-3:-2] == "." else Decimal(text).quantize(CENT)
            total += amount
            moved = moved or amount != 0
            due = row[DUE]
            due_date = None
            if due and due != "0":
                due_date = dates.get(due) or self.date(due)
                if due_date is None:
                    return None
            kid = row[KID]
            if kid and kid not in valid:
                if not (_luhn(kid) or valid_kid(kid)):
                    return None
                if len(valid) > 64:
                    valid.clear()
                valid.add(kid)
            code = row[VAT]
            vat_code = vat.get(code, _SLOW)
            if vat_code is _SLOW:
                vat_code = self.vat_code(code)
                if vat_code is _SLOW:
                    return None
            dimensions = {}
            if row[PROJECT]:
                dimensions["project"] = row[PROJECT]
            if row[DEPARTMENT]:
                dimensions["department"] = row[DEPARTMENT]
            customer = supplier = None
            if row[CUSTOMER]:
                customer = self.party(row, row[CUSTOMER])
                fields = given["customer"]
            elif row[SUPPLIER]:
                supplier = self.party(row, row[SUPPLIER])
                fields = given["supplier"]
            else:
                fields = given[None]
            posting = new(Posting)  # checked.build, inline: every field in declaration order, each valid
            set_dict(posting, {
                "account": row[ACCOUNT], "amount": amount, "description": row[TEXT] or None, "vat_code": vat_code,
                "vat_amount": None, "dimensions": dimensions, "customer": customer, "supplier": supplier,
                "kid": kid or None, "invoice_number": row[INVOICE] or None, "due_date": due_date})
            set_fields(posting, fields)
            set_extra(posting, None)
            set_private(posting, None)
            lines.append(posting)
        if total != 0 or len(lines) < 2 or not moved or not self.seen.claim(reference):
            return None  # the general path says what is wrong (unbalanced, a repeat...)
        origin = new(Origin)
        set_dict(origin, {"format": "gbat10", "file": self.file_name, "line": line})
        set_fields(origin, _ORIGIN)
        set_extra(origin, None)
        set_private(origin, None)
        return checked.build(Voucher, {  # looked up on the module: tests count the vouchers built fast
            "reference": reference, "date": date, "description": head[TEXT] or None, "currency": "NOK",
            "origin": origin, "type": "voucher", "voucher_type": head[KIND] or None, "lines": tuple(lines)},
            _VOUCHER)

    def date(self, value: str) -> dt.date | None:
        if value in _EMPTY_DATES:
            return None
        parsed = self.dates.get(value, _SLOW)
        if parsed is _SLOW:
            parsed = _parse_date(value, self.formats)
            if len(self.dates) < 4096:
                self.dates[value] = parsed
        return parsed  # type: ignore[return-value]

    def vat_code(self, code: str) -> Any:
        """`tabular._vat` for a format without SAF-T codes: the standard code, None, or _SLOW where it raises."""
        result: Any = _SLOW
        try:
            if code in self.no_vat and code not in self.vat_map:
                result = None
            elif code in self.vat_map:
                mapped = self.vat_map[code]
                result = lookup(str(mapped)).code if mapped else None
        except UnknownVatCode:
            result = _SLOW
        if len(self.vat) < 1024:
            self.vat[code] = result
        return result

    def party(self, row: list[str], number: str) -> Party:
        """`tabular._party` (GBAT10 has no organisation number column, so the model refuses none).

        A customer recurs on many rows: the last model made for each number serves again while its
        name and address stay the same. One per number, replaced rather than added to: models kept
        for long would be carried from one garbage-collector generation to the next, at a cost."""
        seen = (row[NAME], row[STREET], row[POSTAL], row[CITY])
        last = self.parties.get(number)
        if last is not None and last[0] == seen:
            return last[1]
        name, street, postal, city = seen
        address = None
        if street or postal or city:
            if last is not None and last[0][1:] == seen[1:]:
                address = last[1].address
            else:
                address = checked.build(Address, {"lines": (street,) if street else (), "postal_code": postal or None,
                                                  "city": city or None, "country": "NO"},
                                        {"lines", "postal_code", "city"})
        party = checked.build(Party, {"number": number, "name": name or None, "organization_number": None,
                                      "email": None, "phone": None, "address": address, "delivery_method": None},
                              {"number", "name", "address", "organization_number"})
        if last is None and len(self.parties) >= 4096:
            self.parties.clear()
        self.parties[number] = (seen, party)
        return party
