"""The tabular reader's fast path: a voucher of plain delimited rows built straight into shared-form models.

`tabular.postings` and `tabular._finish` are the reference: they read each value through a `Record`
and let pydantic validate every field. Here a file's columns are looked up once (`Plan`), each row's
values are taken by position in one call, and the models are built with `pipeline.checked.build` —
after checking what the model would check and the values' own parsing does not already guarantee.

What each value is, and why no model check is skipped:
- amounts are `Decimal`s quantized to two places with at most 15 digits before the point (`tabular._amount`);
- accounts, texts and dimension values come out of the row stripped, and empty ones are left out;
  a ledger account from the options is checked like any `Text`;
- VAT codes come from `vat.lookup`, so they are SAF-T standard codes; a VAT amount gets the sign of its
  line and is checked not to exceed it;
- dates come from `strptime`; a KID is checked with `valid_kid`; an organisation number is normalised
  by the model itself (cached); a reference, a currency and the balance are checked as the model does.

Whatever is not ordinary — an amount to be read the Norwegian way, an unknown VAT code, a missing or
bad date, a voucher that does not balance, a repeated reference — makes `Plan.voucher` return None,
and the general path reads the voucher again and says what is wrong, in its own words.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from connectors.sources.rows import Plain, Record, plain_record
from connectors.sources.tabular import _PLAIN, CENT, Layout, RowError, _amount_of, _parse_date
from pipeline import checked
from pipeline.errors import Problem
from pipeline.model import Address, Origin, Party, Posting, Voucher
from pipeline.norway.accounts import STANDARD
from pipeline.norway.kid import valid_kid
from pipeline.norway.vat import UnknownVatCode, lookup
from pipeline.seen import Seen

_POSTING = frozenset({"account", "amount", "vat_code", "description", "kid", "invoice_number", "due_date",
                      "dimensions"})
_PARTY = frozenset({"number", "name", "address", "organization_number"})
_ADDRESS = frozenset({"lines", "postal_code", "city"})
_ORIGIN = frozenset({"format", "file", "line"})
_VOUCHER = frozenset({"reference", "date", "description", "voucher_type", "currency", "lines", "origin"})
_SLOW = object()  # a value only the general path can judge
_ZERO = Decimal(0)
# The fields set of each kind of posting, one set object shared by all of them: the models are frozen,
# and pydantic copies a model's set before it changes a copy's (model_copy), so no one set is ever changed.
_GIVEN = {(customer, supplier, vat): {*_POSTING, *(("customer",) if customer else ()),
                                      *(("supplier",) if supplier else ()), *(("vat_amount",) if vat else ())}
          for customer in (False, True) for supplier in (False, True) for vat in (False, True)}


class Plan:
    """One file's columns as positions in its rows, and what the fast path needs to know of its options."""

    def __init__(self, layout: Layout, names: tuple[str, ...], options: Mapping[str, Any],
                 vat_map: Mapping[str, str], file_name: str) -> None:
        index = {name: i for i, name in enumerate(names)}  # a repeated name: the last wins, as in a dict
        blank = len(names)  # plain rows hold one "" past their last column: where absent columns point

        def at(column: str | None) -> int:
            return index.get(column, blank) if column else blank

        c = layout.columns
        self.names = names
        self.layout, self.vat_map, self.file_name = layout, vat_map, file_name
        self.prefix = str(options.get("reference_prefix", ""))
        self.key = _getter([at(k) for k in layout.voucher_key])
        voucher_line = at(c.voucher_line)
        self.start: Callable[[list[str]], str] = lambda values: values[voucher_line]
        self.head = operator.itemgetter(at(c.voucher_number), at(c.date), at(c.voucher_text), at(c.text),
                                        at(c.voucher_type), at(c.currency))
        self.row = operator.itemgetter(at(c.amount), at(c.text), at(c.voucher_text), at(c.kid), at(c.invoice_number),
                                       at(c.due_date), at(c.customer_number), at(c.supplier_number),
                                       at(c.vat_amount) if c.vat_amount else blank)
        sides: list[tuple[str | None, str | None, str | None, str | None, bool]]
        if layout.sign == "signed":
            sides = [(c.account, None, c.vat_code, c.saft_vat_code, False)]
        else:
            sides = [(c.debit_account, c.debit_account_type, c.debit_vat_code, c.debit_saft_vat_code, False),
                     (c.credit_account, c.credit_account_type, c.credit_vat_code, c.credit_saft_vat_code, True)]
        self.sides = [(operator.itemgetter(at(a), at(t), at(v), at(s)), credit) for a, t, v, s, credit in sides]
        self.dimensions = [(name, at(column)) for name, column in c.dimensions.items()]
        if layout.prefixed_dimensions:  # rows that name their own dimensions ("dimension:project", SIE)
            self.dimensions += [(name.removeprefix("dimension:"), i) for i, name in enumerate(names)
                                if name.startswith("dimension:")]
        self.party = operator.itemgetter(at(c.party_name), at(c.party_address), at(c.party_postal_code),
                                         at(c.party_city), at(c.party_organisation_number))
        self.customer_ledger = options.get("customer_ledger", STANDARD.customer_ledger)
        self.supplier_ledger = options.get("supplier_ledger", STANDARD.supplier_ledger)
        self.point = layout.decimal == "."
        self._vat: dict[tuple[str, str], Any] = {}
        self._dates: dict[str, Any] = {}
        self._parties: dict[tuple[str, ...], Any] = {}
        self._currency = "NOK"  # the last currency and KID found valid
        self._kid = ""
        self._accounts: set[str] = set()  # accounts found to be plain texts (a file uses few)
        self._origin_given, self._voucher_given = set(_ORIGIN), set(_VOUCHER)

    def voucher(self, rows: list[Plain], line: int, seen: Seen) -> Voucher | None:
        """The voucher of these rows, or None when the general path must read it."""
        layout = self.layout
        number, day, voucher_text, text, voucher_type, currency = self.head(rows[0][1])
        reference = f"{self.prefix}{number}" if number else f"{self.prefix}{self.file_name}:{line}"
        date = self.date(day)
        if date is None or reference in seen or not checked.text(reference) or len(reference) > 200:
            return None
        currency = currency or "NOK"
        if currency is not self._currency and currency != self._currency:  # a file keeps to one or a few
            if not checked.currency(currency):
                return None
            self._currency = currency
        lines: list[Posting] = []
        for row in rows:
            if not self.postings(row[1], lines):
                return None
        total, moved = _ZERO, False
        for posting in lines:
            amount = posting.amount
            total += amount
            moved = moved or amount != 0
        if total != 0 or len(lines) < 2 or not moved:
            return None
        seen.add(reference)
        origin = checked.build(Origin, {"format": layout.format, "file": self.file_name, "line": line},
                               self._origin_given)
        return checked.build(Voucher, {
            "reference": reference, "date": date, "description": voucher_text or text or None, "currency": currency,
            "origin": origin, "type": "voucher", "voucher_type": voucher_type or None, "lines": tuple(lines),
        }, self._voucher_given)

    def amount(self, value: str) -> Decimal | None:
        """`tabular._amount_of`: the Decimal, or None where it would raise."""
        if self.point and _PLAIN.fullmatch(value):
            # "1250.00" reads as Decimal("1250.00") already; only "1250" and "1250.5" need quantize
            return Decimal(value) if value[-3:-2] == "." else Decimal(value).quantize(CENT)
        try:
            return _amount_of(value, None, self.layout)
        except RowError:
            return None

    def date(self, value: str) -> dt.date | None:
        if value in self.layout.empty_dates:
            return None
        parsed = self._dates.get(value)
        if parsed is None:
            parsed = _parse_date(value, self.layout.date_formats)
            if len(self._dates) < 4096:
                self._dates[value] = parsed
        return parsed

    def postings(self, values: list[str], out: list[Posting]) -> bool:
        """Append the row's postings to `out`; False when the general path must read it."""
        layout = self.layout
        amount_text, text, voucher_text, kid, invoice_number, due, customer_number, supplier_number, vat_amount_text \
            = self.row(values)
        amount = self.amount(amount_text)
        if amount is None:
            return False
        due_date = None
        if due not in layout.empty_dates:
            due_date = self.date(due)
            if due_date is None:
                return False
        if kid and kid != self._kid:  # a voucher's rows often repeat its KID: checked once
            if not valid_kid(kid):
                return False
            self._kid = kid
        dimensions: dict[str, str] = {}
        for name, i in self.dimensions:
            if values[i]:
                dimensions[name] = values[i]
        description = text or voucher_text or None
        made = False
        for side, credit in self.sides:
            account, kind, own, saft = side(values)
            if layout.sign == "debit_credit" and account in ("", "0"):
                continue
            if not account:
                return False
            customer = supplier = None
            if kind in layout.customer_types:
                customer, account = self.counterparty(values, account), self.customer_ledger
            elif kind in layout.supplier_types:
                supplier, account = self.counterparty(values, account), self.supplier_ledger
            elif customer_number:
                customer = self.counterparty(values, customer_number)
            elif supplier_number:
                supplier = self.counterparty(values, supplier_number)
            if customer is _SLOW or supplier is _SLOW:
                return False
            if account not in self._accounts:
                if not checked.text(account):
                    return False
                if len(self._accounts) < 4096:
                    self._accounts.add(account)
            vat_code = self.vat(own, saft)
            if vat_code is _SLOW:
                return False
            side_amount = -amount if credit else amount
            vat_amount = None
            if vat_code is not None and vat_amount_text:
                vat_amount = self.amount(vat_amount_text)
                if vat_amount is None:
                    return False
                vat_amount = abs(vat_amount)
                if not vat_amount:
                    vat_amount = None
                else:
                    if side_amount != 0 and vat_amount > abs(side_amount):
                        return False
                    if side_amount < 0:
                        vat_amount = -vat_amount
            out.append(checked.build(Posting, {
                "account": account, "amount": side_amount, "description": description, "vat_code": vat_code,
                "vat_amount": vat_amount, "dimensions": dict(dimensions) if made else dimensions,
                "customer": customer, "supplier": supplier, "kid": kid or None,
                "invoice_number": invoice_number or None, "due_date": due_date,
            }, _GIVEN[customer is not None, customer is None and supplier is not None, vat_amount is not None]))
            made = True
        return made

    def counterparty(self, values: list[str], number: str) -> Any:
        """`tabular._party`: the customer or supplier of the row; _SLOW where the model must judge.

        A customer recurs on many rows; the same (immutable) model serves them all."""
        name, street, postal, city, organisation = seen = self.party(values)
        known = self._parties.get((number, *seen))
        if known is not None:
            return known
        party = self._counterparty(number, name, street, postal, city, organisation)
        if len(self._parties) >= 4096:
            self._parties.clear()
        self._parties[(number, *seen)] = party
        return party

    def _counterparty(self, number: str, name: str, street: str, postal: str, city: str, organisation: str) -> Any:
        address = checked.build(Address, {"lines": (street,) if street else (), "postal_code": postal or None,
                                          "city": city or None, "country": "NO"}, set(_ADDRESS)) \
            if (street or postal or city) else None
        digits = None
        if organisation:
            digits = checked.organization_number(organisation)
            if digits is None:
                return _SLOW
        return checked.build(Party, {"number": number, "name": name or None, "organization_number": digits,
                                     "email": None, "phone": None, "address": address, "delivery_method": None},
                             set(_PARTY))

    def vat(self, own: str, saft: str) -> Any:
        """`tabular._vat`: the SAF-T standard code, None for none, _SLOW where it would raise."""
        code = self._vat.get((own, saft), _ZERO)
        if code is not _ZERO:
            return code
        code = _SLOW
        try:
            if saft:
                code = lookup(saft).code
            elif own in self.layout.no_vat and own not in self.vat_map:
                code = None
            elif own in self.vat_map:
                mapped = self.vat_map[own]
                code = lookup(str(mapped)).code if mapped else None
        except UnknownVatCode:
            code = _SLOW
        if len(self._vat) < 1024:
            self._vat[(own, saft)] = code
        return code


class Guesses:
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

    def plain(self, row: Plain, names: tuple[str, ...]) -> list[Problem] | None:
        """The warnings this row brings, or None (most rows: a list is made only when there is one)."""
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
            else:
                if len(memo) >= 4096:  # values that recur (a voucher's number on each of its rows) stay cheap
                    memo.clear()
                memo[seen] = False
        if relying is None:
            return None
        for guess in relying:
            self.pending.remove(guess)
        self._names = None
        return [replace(guess.warning(self.format, row[0]), file=self.file_name) for guess in relying]


class Prepared:
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
