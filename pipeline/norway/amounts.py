"""Norwegian amounts as people and programs write them ("1 234,50", "-1.234,50", "1234.50") to exact Decimals.

Rule for the one real ambiguity: without a declared decimal separator, a lone '.' or ',' is the
decimal separator, so "1.234" is 1.234 and "1,234" is 1.234 (machine formats — SIE, GBAT10, Visma —
write '.' decimals and no thousands separator). Where a source writes '.' as the thousands separator,
declare `decimal=","` and "1.234" is 1234. When both appear, the last one is the decimal separator.
Thousands separators must group by three. Never float.
"""

from __future__ import annotations

import re
from decimal import Decimal

_SPACES = " \u00a0\u202f\u2009"  # space, no-break space, narrow no-break space, thin space
_MINUS = "-\u2212"  # hyphen-minus and the typographic minus sign


def parse_amount(text: str, *, decimal: str | None = None) -> Decimal:
    """The exact value of `text`; raises ValueError naming the text when it is not an amount.

    Accepts a leading or trailing minus, a leading '+', and accounting parentheses "(1 234,50)".
    """
    if decimal not in (None, ",", "."):
        raise ValueError(f"decimal separator must be ',' or '.', not {decimal!r}")
    s = text.strip(_SPACES + "\t")
    if not s:
        raise ValueError("amount is empty")
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip(_SPACES)
    if s[:1] in _MINUS or s[:1] == "+":
        if negative and s[0] != "+":
            raise ValueError(f"amount {text!r} has two minus signs")
        negative, s = negative or s[0] != "+", s[1:].lstrip(_SPACES)
    elif s[-1:] in _MINUS:  # "1234,50-" as some ledgers print credits
        negative, s = True, s[:-1].rstrip(_SPACES)
    if decimal is None:
        commas, points = s.rfind(","), s.rfind(".")
        decimal = "," if commas > points else "."
    thousands = ("." if decimal == "," else ",") + _SPACES + "'"
    whole, separator, fraction = s.partition(decimal)
    if decimal in fraction:
        raise ValueError(f"amount {text!r} has more than one decimal separator {decimal!r}")
    if separator and not (fraction.isascii() and fraction.isdigit()):
        raise ValueError(f"amount {text!r} has no digits after the decimal separator")
    grouped = re.fullmatch(r"\d{1,3}(?:[" + re.escape(thousands) + r"]\d{3})+", whole)
    if not (grouped or (whole.isascii() and whole.isdigit())):
        raise ValueError(
            f"amount {text!r} is not a number (expected e.g. \"1 234,50\", \"-1234.50\"; "
            "thousands separators must group by three)"
        )
    digits = re.sub(r"\D", "", whole)
    value = Decimal(digits + ("." + fraction if separator else ""))
    # copy_negate, not unary minus: minus rounds to the context's 28 digits, so a long value would
    # change silently; the caller decides how many digits an amount may have.
    return value.copy_negate() if negative and value else value


def format_amount(value: Decimal, *, places: int = 2, thousands: str = "\u00a0", decimal: str = ",") -> str:
    """Norwegian display form: `format_amount(Decimal("-1234.5"))` → "-1 234,50" (no-break space)."""
    if not value.is_finite():
        raise ValueError("amount must be finite")
    text = f"{value.copy_abs():,.{places}f}"  # copy_abs: abs() rounds to the context's 28 digits
    whole, _, fraction = text.partition(".")
    whole = whole.replace(",", thousands)
    sign = "-" if value < 0 and text.strip("0.,") else ""
    return sign + whole + (decimal + fraction if places else "")
