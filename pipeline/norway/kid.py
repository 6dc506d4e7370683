"""KID, the Norwegian payment reference: generate and validate MOD10 (Luhn) and MOD11 check digits.

Rules: Nets OCR giro user manual §2.2 (reference/norway-standards.md §3). A KID is a string; leading
zeros matter, so it is never turned into an integer. We accept 2–25 characters, as most ERPs do
(Nets itself requires at least 4).
"""

from __future__ import annotations

MIN_LENGTH = 2
MAX_LENGTH = 25
# Sums over digit strings are taken in C: each digit becomes a byte of its value (or, doubled, of the
# digit sum of twice its value) and `sum` adds the bytes. A KID is checked for every invoice line read.
_VALUE = str.maketrans("0123456789", "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09")
_DOUBLED = str.maketrans("0123456789", "\x00\x02\x04\x06\x08\x01\x03\x05\x07\x09")  # Luhn: 2 × d, digits summed


def _sum(digits: str, table: dict[int, int] = _VALUE) -> int:
    return sum(digits.translate(table).encode("latin-1"))


def _digits(base: str, what: str) -> str:
    text = base.strip()
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{what} {base!r} must be digits only")
    return text


def mod10_check_digit(base: str) -> str:
    """Luhn: weights 2, 1, 2, … from the right, digit sums of the products."""
    digits = _digits(base, "KID base")  # ASCII digits only: the tables cover every character
    total = _sum(digits[::-2], _DOUBLED) + _sum(digits[-2::-2])
    return str((10 - total % 10) % 10)


def mod11_check_digit(base: str) -> str:
    """Weights 2..7 repeated from the right; remainder 0 gives 0, remainder 1 gives '-'."""
    digits = _digits(base, "KID base")[::-1]
    total = sum(weight * _sum(digits[i::6]) for i, weight in enumerate((2, 3, 4, 5, 6, 7)))
    remainder = total % 11
    if remainder == 0:
        return "0"
    if remainder == 1:
        return "-"
    return str(11 - remainder)


def _check_length(base: str) -> str:
    text = _digits(base, "KID base")
    if not MIN_LENGTH - 1 <= len(text) <= MAX_LENGTH - 1:
        raise ValueError(f"KID base {base!r} must have {MIN_LENGTH - 1} to {MAX_LENGTH - 1} digits")
    return text


def kid_mod10(base: str) -> str:
    """A MOD10 KID: `base` followed by its Luhn check digit."""
    text = _check_length(base)
    return text + mod10_check_digit(text)


def kid_mod11(base: str) -> str:
    """A MOD11 KID; may end in '-', which some banks (DNB) refuse: prefer MOD10 when you choose."""
    text = _check_length(base)
    return text + mod11_check_digit(text)


def valid_kid(kid: str, *, algorithm: str | None = None) -> bool:
    """Whether `kid` is a well-formed KID under MOD10 or MOD11 (or only the `algorithm` given).

    The payee's agreement with Nets decides the algorithm; when it is unknown, either counts.
    """
    text = kid.strip()
    if not MIN_LENGTH <= len(text) <= MAX_LENGTH or not text.isascii():
        return False
    base, check = text[:-1], text[-1]
    if not base.isdigit() or not (check.isdigit() or check == "-"):
        return False
    if algorithm == "mod10":
        return check == mod10_check_digit(base)
    if algorithm == "mod11":
        return check == mod11_check_digit(base)
    if algorithm is not None:
        raise ValueError(f"algorithm must be 'mod10', 'mod11' or None, not {algorithm!r}")
    return check == mod10_check_digit(base) or check == mod11_check_digit(base)
