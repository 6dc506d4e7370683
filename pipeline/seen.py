"""What a file has shown so far (its references, its vouchers' content hashes) at 12–24 bytes each.

A reader must notice a voucher that comes back further down a file, so it remembers every reference
it has met. A Python set of strings costs about 85 bytes a reference: 70 MB for the 800,000 vouchers a
100 MB file can hold, more than the whole reader may use. `Seen` keeps a 64-bit fingerprint of each in
an open-addressing table instead. Two different references share a fingerprint with odds of about
n² / 2⁶⁵ — for a million references, once in some 35 million files — and the reader would then call
the second a repeat: a problem someone reads, never a voucher booked twice.
"""

from __future__ import annotations

from array import array

_MASK = (1 << 64) - 1


def _fingerprint(value: str | int) -> int:
    """64 bits of `value`: an int (already a digest) as it is, a string by Python's own 64-bit hash."""
    return ((value if type(value) is int else hash(value)) & _MASK) or 1  # 0 marks an empty slot


class Seen:
    """A set of strings (or 64-bit digests) that supports `in` and `add`, at 12–24 bytes an entry; with
    `numbered`, each remembers a number too (`first`: where a reference was met first), at twice that."""

    def __init__(self, *, numbered: bool = False) -> None:
        self._slots = array("Q", bytes(8 * 1024))
        self._numbers = array("Q", bytes(8 * 1024)) if numbered else None
        self._mask = 1023
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, value: str | int) -> bool:
        key = _fingerprint(value)
        slots, mask = self._slots, self._mask
        i = key & mask
        while True:
            slot = slots[i]
            if slot == key:
                return True
            if slot == 0:
                return False
            i = (i + 1) & mask

    def add(self, value: str | int, number: int = 0) -> None:
        self._insert(_fingerprint(value), number)

    def claim(self, value: str) -> bool:
        """Add `value` unless it is in already; whether it was added (`value not in self` before)."""
        key = (hash(value) & _MASK) or 1
        slots, mask = self._slots, self._mask
        i = key & mask
        while True:
            slot = slots[i]
            if slot == key:
                return False
            if slot == 0:
                slots[i] = key
                if self._numbers is not None:
                    self._numbers[i] = 0
                self._count += 1
                if self._count * 3 > mask * 2:
                    self._grow()
                return True
            i = (i + 1) & mask

    def first(self, value: str | int) -> int | None:
        """The number `value` was added with first; None when it was not."""
        assert self._numbers is not None, "a Seen made without numbered=True keeps no numbers"
        key = _fingerprint(value)
        slots, mask = self._slots, self._mask
        i = key & mask
        while True:
            slot = slots[i]
            if slot == key:
                return self._numbers[i]
            if slot == 0:
                return None
            i = (i + 1) & mask

    def _insert(self, key: int, number: int) -> None:
        slots, mask = self._slots, self._mask
        i = key & mask
        while True:
            slot = slots[i]
            if slot == key:
                return
            if slot == 0:
                slots[i] = key
                if self._numbers is not None:
                    self._numbers[i] = number
                self._count += 1
                if self._count * 3 > mask * 2:  # at most two thirds full: probes stay short (about 3)
                    self._grow()
                return
            i = (i + 1) & mask

    def _grow(self) -> None:
        old, numbers = self._slots, self._numbers
        self._slots = array("Q", bytes(16 * len(old)))
        self._numbers = array("Q", bytes(16 * len(old))) if numbers is not None else None
        self._mask = 2 * len(old) - 1
        self._count = 0
        for i, key in enumerate(old):
            if key:
                self._insert(key, numbers[i] if numbers is not None else 0)
