"""Shared-form models built from values a reader has already checked: as valid as validated ones, ten times cheaper.

Validating a voucher field by field costs pydantic about 30 µs, and a reader streaming a 100 MB file
makes hundreds of thousands of them, almost all from values it has parsed and checked itself (Decimals
of two places, dates, stripped strings). A reader's fast path checks whatever of `pipeline.model`'s
invariants its own parsing does not already guarantee (the helpers below), then builds each model with
`build`, which does what `model_construct` does without its per-call introspection. Anything unusual
goes the general way instead — the models' validating constructors — so an invalid value still raises
the model's own `ValidationError`, with its own message.

`validating()` turns every fast path off: tests run each reader both ways over the golden files and
generated input and require equal documents, with equal fields set, and equal problems.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.model import CENT, Origin, Party, Posting, Voucher
from pipeline.norway.kid import valid_kid
from pipeline.norway.vat import VAT_CODES

M = TypeVar("M", bound=BaseModel)
LIMIT = Decimal("1e15")  # money has at most 15 digits before the point (model._parse_amount)
_fast = True
_new = object.__new__
# The slots every model has (BaseModel.__slots__), set through their own descriptors: a third of the
# cost of object.__setattr__ by name, which looks the name up on the type each time.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


@contextmanager
def validating() -> Iterator[None]:
    """Within this block no reader takes its fast path: every model is validated field by field."""
    global _fast
    before, _fast = _fast, False
    try:
        yield
    finally:
        _fast = before


def fast() -> bool:
    """Whether readers may build models with `build` (False inside `validating()`)."""
    return _fast


def build(cls: type[M], fields: dict[str, Any], given: set[str]) -> M:
    """The model holding `fields` — every field of `cls`, in declaration order, each already valid —
    with `given` as the fields set (what the validating constructor would have been passed)."""
    model = _new(cls)
    _set_dict(model, fields)
    _set_fields_set(model, given)
    _set_extra(model, None)
    _set_private(model, None)
    return model


def money(value: Any) -> Decimal | None:
    """The amount as `Money` validates it (quantized to two places), or None when the model must judge."""
    if type(value) is not Decimal or not value.is_finite() or not -LIMIT < value < LIMIT:
        return None
    quantized = value.quantize(CENT)
    return quantized if quantized == value else None


def text(value: Any) -> bool:
    """Whether the model keeps `value` as a `Text` as it is: a string, not blank, no blanks around it."""
    return type(value) is str and value != "" and value.strip() == value


def currency(value: Any) -> bool:
    """Whether `value` passes the documents' currency pattern ^[A-Z]{3}$."""
    return type(value) is str and len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()


_INVALID = ""


@functools.lru_cache(maxsize=4096)  # customers recur: each number is normalised once
def _organization_number(value: str) -> str:
    try:
        return Party(number="-", organization_number=value).organization_number or _INVALID
    except ValidationError:
        return _INVALID


def organization_number(value: str) -> str | None:
    """`value` as the model keeps it ("NO 988 077 917 MVA" → "988077917"); None where the model refuses it."""
    return _organization_number(value) or None


# -- whole models from values of unknown provenance ---------------------------------------------------
# For readers whose values come from a format that guarantees less (XML text, JSON): every check the
# model makes, in plain Python. None means "only the model can judge": the caller validates the usual
# way, and gets the model's own errors.

_POSTING_FIELDS = frozenset(Posting.model_fields)
_VOUCHER_FIELDS = frozenset(Voucher.model_fields)
_POSTING_ORDER = tuple(Posting.model_fields)
_VOUCHER_ORDER = tuple(Voucher.model_fields)


_POSTING_NONE = dict.fromkeys(_POSTING_ORDER)  # every field, in declaration order, not yet given
_VOUCHER_NONE = dict.fromkeys(_VOUCHER_ORDER)


def posting(values: dict[str, Any]) -> Posting | None:
    """`Posting(**values)` when every value is one the model keeps as it is; else None."""
    if not _fast or not values.keys() <= _POSTING_FIELDS:
        return None
    fields = _POSTING_NONE.copy()
    fields.update(values)  # every key is a field already: declaration order stays
    account = fields["account"]
    if type(account) is not str or account == "" or account.strip() != account:
        return None
    amount = money(fields["amount"])
    if amount is None:
        return None
    vat_code, vat_amount = fields["vat_code"], fields["vat_amount"]
    if vat_code is not None and (type(vat_code) is not str or vat_code not in VAT_CODES):
        return None
    if vat_amount is not None:
        vat_amount = money(vat_amount)
        if vat_amount is None or vat_code is None or (amount != 0 and abs(vat_amount) > abs(amount)) \
                or amount * vat_amount < 0:
            return None
    kid, due_date = fields["kid"], fields["due_date"]
    if kid is not None and not (type(kid) is str and kid.strip() == kid and valid_kid(kid)):
        return None
    if due_date is not None and type(due_date) is not dt.date:
        return None
    customer, supplier = fields["customer"], fields["supplier"]
    if customer is not None and (type(customer) is not Party or supplier is not None):
        return None
    if supplier is not None and type(supplier) is not Party:
        return None
    description, invoice_number = fields["description"], fields["invoice_number"]
    if (description is not None and type(description) is not str) or \
            (invoice_number is not None and type(invoice_number) is not str):
        return None
    dimensions = fields["dimensions"]
    if dimensions is None:
        if "dimensions" in values:
            return None
        dimensions = {}
    elif type(dimensions) is not dict:
        return None
    else:
        for key, value in dimensions.items():
            if type(key) is not str or not text(value):
                return None
        dimensions = dict(dimensions)
    fields["amount"], fields["vat_amount"], fields["dimensions"] = amount, vat_amount, dimensions
    return build(Posting, fields, set(values))


def voucher(values: dict[str, Any]) -> Voucher | None:
    """`Voucher(**values)` from postings already built, when it is valid as it stands; else None."""
    if not _fast or not values.keys() <= _VOUCHER_FIELDS:
        return None
    fields = _VOUCHER_NONE.copy()
    fields.update(values)
    reference, lines = fields["reference"], fields["lines"]
    if type(reference) is not str or reference == "" or reference.strip() != reference or len(reference) > 200:
        return None
    if type(fields["date"]) is not dt.date or values.get("type", "voucher") != "voucher":
        return None
    description, voucher_type = fields["description"], fields["voucher_type"]
    if (description is not None and type(description) is not str) or \
            (voucher_type is not None and type(voucher_type) is not str):
        return None
    if "currency" in values:
        if not currency(values["currency"]):
            return None
    else:
        fields["currency"] = "NOK"
    if fields["origin"] is not None and type(fields["origin"]) is not Origin:
        return None
    if type(lines) is not tuple or len(lines) < 2:
        return None
    total, moved = Decimal(0), False
    for line in lines:
        if type(line) is not Posting:
            return None
        amount = line.amount
        total += amount
        moved = moved or amount != 0
    if total != 0 or not moved:
        return None
    fields["type"] = "voucher"
    return build(Voucher, fields, set(values))


def with_origin(document: M, origin: Origin) -> M:
    """`document.model_copy(update={"origin": origin})`, without pydantic's generic copy."""
    if not _fast:
        return document.model_copy(update={"origin": origin})
    model = _new(type(document))
    _set_dict(model, {**document.__dict__, "origin": origin})
    _set_fields_set(model, {*document.__pydantic_fields_set__, "origin"})
    _set_extra(model, document.__pydantic_extra__)
    private = document.__pydantic_private__
    _set_private(model, None if private is None else dict(private))
    return model


def origin(format: str, file: str | None, line: int | None) -> Origin:
    """`Origin(format=format, file=file, line=line)`."""
    if not _fast or type(format) is not str or (file is not None and type(file) is not str) or \
            (line is not None and type(line) is not int):
        return Origin(format=format, file=file, line=line)
    return build(Origin, {"format": format, "file": file, "line": line}, {"format", "file", "line"})
