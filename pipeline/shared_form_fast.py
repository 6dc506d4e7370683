"""Shared-form JSON documents built without pydantic validating each field, when they are plainly valid.

A voucher decoded from JSON is dicts, lists, strings and Decimals. `document` turns one into the
model by the checks of `pipeline.checked` (the model's own invariants, in plain Python) when every
value has the shape the model keeps as it is: amounts as "1250.00" or exact numbers, dates as
"2025-01-31", texts without blanks around them. Anything else — a sales invoice, a blank, a float, a
key the model does not know — returns None, and the model validates it the usual way, so a document's
problems are always the model's own.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from pipeline import checked
from pipeline.model import CENT, Address, Party, Posting, Voucher

_AMOUNT = re.compile(r"-?\d{1,15}(?:\.\d{1,2})?")  # model._AMOUNT, without the blanks it strips
_VOUCHER = frozenset(Voucher.model_fields) - {"origin"}
_PARTY = frozenset(Party.model_fields)
_ADDRESS = frozenset(Address.model_fields)
_PARTY_ORDER = tuple(Party.model_fields)


def document(item: dict[str, Any]) -> Voucher | None:
    """The voucher `item` describes, built in one step; None when the model must validate it."""
    if not checked.fast() or item.get("type") != "voucher" or not item.keys() <= _VOUCHER:
        return None
    lines = item.get("lines")
    if type(lines) is not list or len(lines) < 2:
        return None
    postings = []
    for line in lines:
        posting = _posting(line)
        if posting is None:
            return None
        postings.append(posting)
    day = _day(item.get("date"))
    if day is None:
        return None
    return checked.voucher({**item, "date": day, "lines": tuple(postings)})


def _money(value: Any) -> Decimal | None:
    if type(value) is str:
        return Decimal(value).quantize(CENT) if _AMOUNT.fullmatch(value) else None
    return checked.money(value)


def _day(value: Any) -> dt.date | None:
    """An ISO date "YYYY-MM-DD" exactly; None for anything else (pydantic judges other spellings)."""
    if type(value) is not str or len(value) != 10 or value[4] != "-" or value[7] != "-" or not value.isascii():
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _posting(line: Any) -> Posting | None:
    if type(line) is not dict:
        return None
    values = dict(line)
    for name in ("amount", "vat_amount"):
        if name in values and values[name] is not None:
            values[name] = _money(values[name])
            if values[name] is None:
                return None
    if values.get("due_date") is not None:
        values["due_date"] = _day(values["due_date"])
        if values["due_date"] is None:
            return None
    for name in ("customer", "supplier"):
        if values.get(name) is not None:
            values[name] = _party(values[name])
            if values[name] is None:
                return None
    return checked.posting(values)


def _party(value: Any) -> Party | None:
    if type(value) is not dict or not value.keys() <= _PARTY:
        return None
    fields = {name: value.get(name) for name in _PARTY_ORDER}
    for name in ("number", "name"):
        if fields[name] is not None and not checked.text(fields[name]):
            return None
    if fields["email"] is not None and type(fields["email"]) is not str:
        return None
    for name, normalise in (("organization_number", checked.organization_number), ("phone", _phone)):
        given = fields[name]
        if given is not None:
            fields[name] = normalise(given) if type(given) is str else None
            if fields[name] is None:
                return None
    if fields["delivery_method"] not in (None, "email", "ehf", "paper"):
        return None  # the model says why
    if fields["address"] is not None:
        fields["address"] = _address(fields["address"])
        if fields["address"] is None:
            return None
    if not (fields["number"] or fields["name"] or fields["organization_number"] or fields["email"] or fields["phone"]):
        return None
    return checked.build(Party, fields, set(value))


def _address(value: Any) -> Address | None:
    if type(value) is not dict or not value.keys() <= _ADDRESS:
        return None
    lines = value.get("lines", ())
    if type(lines) not in (list, tuple) or not all(type(line) is str for line in lines):
        return None
    fields = {"lines": tuple(lines), "postal_code": value.get("postal_code"), "city": value.get("city"),
              "country": value.get("country", "NO")}
    if any(fields[n] is not None and type(fields[n]) is not str for n in ("postal_code", "city")) or \
            type(fields["country"]) is not str:
        return None
    return checked.build(Address, fields, set(value))


_INVALID = ""


@functools.lru_cache(maxsize=4096)  # customers recur: each number is normalised once, by the model
def _phone_of(value: str) -> str:
    try:
        return Party(phone=value).phone or _INVALID
    except ValidationError:
        return _INVALID


def _phone(value: str) -> str | None:
    return _phone_of(value) or None
