"""Telephone numbers: one form to match a customer by, however a till or a web shop wrote the number.

Norwegian numbers are eight digits after the country code +47; mobile numbers begin with 4 or 9 (Nkom's
numbering plan, https://nkom.no/telefoni-og-telefonnummer/telefonnummer-og-den-norske-nummerplan). We
write every number as E.164: `+`, the country code and the subscriber number, no spaces (`+4791234567`).
A number without a country code is read as Norwegian only when it has exactly eight digits.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s().\u00a0/-]")


def normalise_phone(value: str) -> str | None:
    """'+47 912 34 567', '0047 91234567', '912 34 567' → '+4791234567'; None when it is no phone number."""
    text = _SEPARATORS.sub("", value)
    if text.startswith("00"):
        text = "+" + text[2:]
    if text.startswith("+"):
        digits = text[1:]
        if not (digits.isascii() and digits.isdigit()) or not 8 <= len(digits) <= 15:
            return None
        if digits.startswith("47") and len(digits) != 10:
            return None  # +47 is always followed by eight digits
        return "+" + digits
    if text.isascii() and text.isdigit() and len(text) == 8:
        return "+47" + text
    return None


def national_number(phone: str) -> str | None:
    """The eight digits of a Norwegian E.164 number, as most Norwegians write (and type) it."""
    return phone[3:] if phone.startswith("+47") and len(phone) == 11 else None


def is_mobile(phone: str) -> bool:
    """Whether a normalised Norwegian number is a mobile number (begins with 4 or 9)."""
    national = national_number(phone)
    return national is not None and national[0] in "49"
