"""Norwegian organisation numbers and bank account numbers: normalise and check their MOD11 digits.

Rules: brreg.no (organisation number, weights 3 2 7 6 5 4 3 2) and the bank-account check (weights
5 4 3 2 7 6 5 4 3 2), both in reference/norway-standards.md §4. Remainder 1 makes either invalid.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s.\u00a0-]")
_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
_ACCOUNT_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _mod11(digits: str, weights: tuple[int, ...]) -> str | None:
    """The check digit, or None where the remainder is 1 (no valid check digit exists)."""
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    if remainder == 0:
        return "0"
    if remainder == 1:
        return None
    return str(11 - remainder)


def normalise_organisation_number(value: str) -> str:
    """'NO 988 077 917 MVA' → '988077917'; the digits only, without checking them."""
    text = _SEPARATORS.sub("", value).upper()
    text = text.removeprefix("NO").removesuffix("MVA")
    return text


def valid_organisation_number(value: str) -> bool:
    """Whether `value` (spaces, dots, 'NO' and 'MVA' allowed) is a valid organisation number."""
    digits = normalise_organisation_number(value)
    if len(digits) != 9 or not digits.isascii() or not digits.isdigit():
        return False
    return _mod11(digits[:8], _ORG_WEIGHTS) == digits[8]


def normalise_bank_account(value: str) -> str:
    """'8601.11.17947' or '8601 11 17947' → '86011117947'."""
    return _SEPARATORS.sub("", value)


def valid_bank_account(value: str) -> bool:
    """Whether `value` is a valid 11-digit Norwegian bank account number (all zeros is refused)."""
    digits = normalise_bank_account(value)
    if len(digits) != 11 or not digits.isascii() or not digits.isdigit() or digits == "0" * 11:
        return False
    return _mod11(digits[:10], _ACCOUNT_WEIGHTS) == digits[10]
