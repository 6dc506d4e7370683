"""Time-based one-time passwords (RFC 6238, HMAC-SHA1, 6 digits, 30 s): the workspace's optional second factor.

Thirty lines of hmac instead of a dependency; checked against the RFC's own test vectors (tests/workspace).
A code is accepted one step either side of now (clock drift), and once only (the caller records the step).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote

STEP = 30
DIGITS = 6


def new_secret() -> str:
    """160 random bits in base32, as authenticator apps take them."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    text = secret.strip().replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226 §5.3: dynamic truncation of HMAC(key, counter)."""
    mac = hmac.new(key, struct.pack(">Q", counter), getattr(hashlib, digest)).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def code(secret: str, at: float | None = None) -> str:
    return hotp(_key(secret), int((time.time() if at is None else at) // STEP))


def matching_step(secret: str, given: str, at: float | None = None) -> int | None:
    """The time step whose code `given` is (now, or one step before or after), else None."""
    given = given.strip().replace(" ", "")
    if not (given.isascii() and given.isdigit() and len(given) == DIGITS):
        return None
    step = int((time.time() if at is None else at) // STEP)
    key = _key(secret)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(hotp(key, candidate), given):
            return candidate
    return None


def uri(secret: str, account: str, issuer: str = "Bilagsbro") -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or typed in)."""
    return f"otpauth://totp/{quote(issuer)}:{quote(account)}?secret={secret}&issuer={quote(issuer)}&digits={DIGITS}&period={STEP}"
