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

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pipeline.model import CENT, Party

M = TypeVar("M", bound=BaseModel)
LIMIT = Decimal("1e15")  # money has at most 15 digits before the point (model._parse_amount)
_fast = True
_new = object.__new__
_set = object.__setattr__


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
    _set(model, "__dict__", fields)
    _set(model, "__pydantic_fields_set__", given)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
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
