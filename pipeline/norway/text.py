"""Bytes to text with æ, ø and å intact, whichever of UTF-8, Windows-1252, CP865, CP850 or CP437 wrote them.

Heuristics: reference/norway-standards.md §6.3. A declared encoding wins; a BOM wins; text that is
valid UTF-8 is UTF-8 (Norwegian Windows-1252 practically never is); otherwise each 8-bit candidate is
scored — Nordic letters (æøåäö) count for it, box drawing, Greek and maths symbols against it. A
strict Windows-1252 failure on 0x8F or 0x9D (CP865's Å and Ø) rules Windows-1252 out by itself.

A declaration that real exporters get wrong (SIE's `#FORMAT PC8` over Windows-1252 bytes, as BL
Administration writes it) is weighed against the bytes by `settle`: the bytes overrule it only when
they are plain (the declared code page turns the text into box drawing or Greek, the other into
Nordic letters); when they cannot settle it, the declaration stands and the caller reports the doubt.
"""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO

SNIFF_BYTES = 64 * 1024

ALIASES: dict[str, str] = {
    "utf8": "utf-8", "utf-8": "utf-8", "utf-8-sig": "utf-8-sig",
    "ansi": "cp1252", "windows-1252": "cp1252", "cp1252": "cp1252", "latin-1": "cp1252",
    "iso-8859-1": "cp1252", "iso-8859-15": "iso8859-15",
    "oem": "cp865", "cp865": "cp865", "ibm865": "cp865", "cp850": "cp850", "ibm850": "cp850",
    "cp437": "cp437", "ibm437": "cp437",
    # SIE's "#FORMAT PC8" names CP437, which has no ø/Ø; CP865 equals CP437 for every Swedish
    # letter and also has ø/Ø, so PC8 is read as CP865 (reference §5.4).
    "pc8": "cp865",
}
"""Encoding names as sources declare them, to the Python codec we decode with."""

CANDIDATES = ("cp1252", "cp865", "cp850")
"""The 8-bit code pages we choose between, preferred in this order on a tie."""

DAMAGED = " (damaged)"
"""What detection appends to an encoding for text with a few bytes that are not text in it (UTF-8 with a
broken sequence, Windows-1252 with a byte it has no character for): such text is read with each bad
byte as U+FFFD, for the reader to report on its line, instead of garbling every æ, ø and å of the file."""

_NORDIC = set("æøåÆØÅäöÄÖ")
_SUSPICIOUS_SYMBOLS = set("∞∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■ƒ₧⌐¬")
_FAMILY = {"cp1252": "ansi", "iso8859-15": "ansi", "latin-1": "ansi", "cp865": "oem", "cp850": "oem",
           "cp437": "oem"}
_ALLOWED_CONTROLS = set("\t\n\r\f\x1a")  # 0x1A: the DOS end-of-file mark old exporters append


class UndecodableText(ValueError):
    """Bytes that are not text in any encoding we accept; `offset` is the first bad byte."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at byte offset {offset})")
        self.offset = offset


_DISPLAY = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp1252": "Windows-1252", "cp865": "CP865 (OEM, Nordic)",
            "cp850": "CP850 (OEM)", "cp437": "CP437", "utf-16": "UTF-16", "pc8": "PC8"}


def display_name(encoding: str) -> str:
    """What a person calls an encoding: 'Windows-1252', not 'cp1252'."""
    key = encoding.removesuffix(DAMAGED).strip().lower()
    return _DISPLAY.get(key, encoding)


def canonical_encoding(name: str) -> str:
    """The codec for a declared name ("ANSI", "PC8", "Windows-1252"); raises ValueError if unknown."""
    key = name.strip().lower().replace("_", "-")
    if key in ALIASES:
        return ALIASES[key]
    try:
        return codecs.lookup(key).name
    except LookupError:
        raise ValueError(f"unknown text encoding {name!r}") from None


def _control_at(text: str) -> int | None:
    for i, ch in enumerate(text):
        if (ch < " " and ch not in _ALLOWED_CONTROLS) or "\x7f" <= ch <= "\x9f":
            return i
    return None


@dataclass(frozen=True)
class _Tally:
    score: int
    letters: int  # Nordic letters
    suspicious: int  # box drawing, Greek, maths: what 8-bit bytes look like in the wrong code page


def _tally(text: str) -> _Tally:
    score = letters = suspicious = 0
    for ch in text:
        if ch < "\x80":
            continue
        if ch in _NORDIC:
            score, letters = score + 3, letters + 1
        elif "\u2500" <= ch <= "\u259f" or "\u0370" <= ch <= "\u03ff" or ch in _SUSPICIOUS_SYMBOLS:
            score, suspicious = score - 4, suspicious + 1
        elif ch.isalpha():
            score += 1
    return _Tally(score, letters, suspicious)


def _score(text: str) -> int:
    return _tally(text).score


def _byte_offset(data: bytes, text: str, index: int, encoding: str) -> int:
    encoding = encoding.removesuffix(DAMAGED)
    return len(text[:index].encode(encoding, "replace")) if encoding != "utf-8-sig" else 3 + len(
        text[:index].encode("utf-8", "replace"))



_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_HIGH = bytes(range(0x80, 0x100))


def _damaged_utf8(data: bytes) -> bool:
    """UTF-8 with a few broken bytes, rather than an 8-bit code page: more well-formed multi-byte
    sequences than stray high bytes. Norwegian Windows-1252 or CP865 text practically never holds a
    well-formed sequence (a letter followed by a byte in 0x80-0xBF), so a single damaged byte in a
    UTF-8 file must not turn every æ, ø and å of it into 'Ã¦', 'Ã¸', 'Ã¥'."""
    sequences = _UTF8_SEQUENCE.findall(data)
    high = len(data) - len(data.translate(None, _HIGH))
    stray = high - sum(len(sequence) for sequence in sequences)
    return len(sequences) > stray


def _best_code_page(data: bytes) -> tuple[str, str]:
    """The 8-bit code page whose reading of `data` looks most like Norwegian text.

    A byte a code page has no character for (Windows-1252's holes at 0x81 0x8D 0x8F 0x90 0x9D, which
    are CP865's Å and Ø) counts heavily against it but does not rule it out: one damaged byte in a
    Windows-1252 file must not make every æ, ø and å of it CP865's µ, ° and σ. When the winner has
    such holes it is returned as damaged, and the reader reports the lines they are on.
    """
    best: tuple[int, int, str, str, int] | None = None
    for rank, candidate in enumerate(CANDIDATES):
        text = data.decode(candidate, "replace")
        holes = text.count("\ufffd")
        key = (_score(text) - 10 * holes, -rank, candidate, text, holes)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    return best[2] + (DAMAGED if best[4] else ""), best[3]


def _valid(encoding: str, data: bytes, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(data, final=final)
    except UnicodeDecodeError:
        return False
    return True


def _detect(data: bytes, *, final: bool) -> tuple[str, str]:
    """(encoding, text of `data`); `final` False means `data` may end inside a character."""
    if data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
        if not _valid(encoding, data, final) and _damaged_utf8(data):
            return encoding + DAMAGED, codecs.getincrementaldecoder(encoding)("replace").decode(data, final=final)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        try:
            return "utf-8", codecs.getincrementaldecoder("utf-8")().decode(data, final=final)
        except UnicodeDecodeError:
            if _damaged_utf8(data):
                return "utf-8" + DAMAGED, codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=final)
        return _best_code_page(data)
    try:
        return encoding, codecs.getincrementaldecoder(encoding)().decode(data, final=final)
    except UnicodeDecodeError as exc:
        raise UndecodableText(f"text starts with a {encoding} byte order mark but is not {encoding}",
                              exc.start) from None


def decode(data: bytes, *, declared: str | None = None) -> tuple[str, str]:
    """(text, encoding): the text in NFC with its line ends untouched, and the codec that read it.

    Raises `UndecodableText` for bytes that are not valid in the declared encoding, or that hold
    control characters (binary data) in every encoding we accept.
    """
    if declared is not None:
        encoding = canonical_encoding(declared)
        if encoding == "utf-8" and data.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise UndecodableText(f"text is not {declared} as declared", exc.start) from None
    else:
        encoding, text = _detect(data, final=True)
        if encoding.endswith(DAMAGED):  # whole bytes in hand: name the first bad one
            codec = encoding.removesuffix(DAMAGED)
            try:
                data.decode(codec)
            except UnicodeDecodeError as exc:
                raise UndecodableText(f"text is UTF-8 but for bytes that are not ({exc.reason})",
                                      exc.start) from None
    bad = _control_at(text)
    if bad is not None:
        raise UndecodableText(f"binary data, not text: control character U+{ord(text[bad]):04X}",
                              _byte_offset(data, text, bad, encoding))
    return unicodedata.normalize("NFC", text), encoding


class _Rejoined(io.RawIOBase):
    """The sniffed head followed by the rest of a stream that cannot seek back."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        chunk = self._rest.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def open_text(stream: IO[bytes], declared: str | None = None, *, newline: str | None = None,
              declaration: Callable[[bytes], str | None] | None = None,
              notes: list[str] | None = None) -> tuple[IO[str], str]:
    """(text stream, encoding) for a big byte stream: sniffs the first 64 KiB, never reads it all.

    `declaration` finds an encoding the file declares in its own head (SIE `#FORMAT PC8`, Visma's
    OEM flag). Unlike `declared` (the tenant's choice, which always wins), a file's own declaration
    is checked against its bytes: when it would turn Norwegian letters into Greek and box drawing
    and another code page reads them as æ, ø and å, the bytes win and `notes` gets a sentence
    saying so, for the reader to report. Bytes that turn out undecodable further on raise
    UnicodeDecodeError while reading (the parsers report the line they reached), except in text
    detected as damaged (encoding ending in DAMAGED), where they read as U+FFFD.
    """
    head = stream.read(SNIFF_BYTES)
    final = len(head) < SNIFF_BYTES
    own = None
    if declared is None and declaration is not None:
        declared = own = declaration(head)
    if declared is not None:
        damaged = declared.endswith(DAMAGED)  # as `settle` or `_detect` found it: bad bytes read as U+FFFD
        encoding = canonical_encoding(declared.removesuffix(DAMAGED))
        if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        try:
            sample = codecs.getincrementaldecoder(encoding)("replace" if damaged else "strict").decode(
                head, final=final)
        except UnicodeDecodeError as exc:
            if own is None:
                raise UndecodableText(f"text is not {declared} as declared", exc.start) from None
            sample = ""  # the file's own declaration is wrong: its bytes decide below
        encoding += DAMAGED if damaged else ""
        if own is not None:
            found, reading = _detect(head, final=final)
            if found.removesuffix(DAMAGED) != encoding and (not sample or _score(reading) >= _score(sample) + 6):
                if notes is not None:
                    name = display_name(found)
                    notes.append(f"the file declares its text as {display_name(own)} but its letters read as "
                                 f"{name}: read as {name}; check æ, ø and å in the result")
                encoding, sample = found, reading
    else:
        encoding, sample = _detect(head, final=final)
    bad = _control_at(sample)
    if bad is not None:
        raise UndecodableText(f"binary data, not text: control character U+{ord(sample[bad]):04X}",
                              _byte_offset(head, sample, bad, encoding))
    raw = _Rejoined(head, stream)
    damaged = encoding.endswith(DAMAGED)
    text = io.TextIOWrapper(io.BufferedReader(raw, 1 << 16), encoding=encoding.removesuffix(DAMAGED),
                            errors="replace" if damaged else "strict", newline=newline)
    return text, encoding


@dataclass(frozen=True)
class Settled:
    """The codec to read a file with; `doubt` says why, when declaration and bytes disagree unresolved."""

    encoding: str
    doubt: str | None = None


def settle(head: bytes, declared: str | None, *, final: bool = False) -> Settled:
    """The encoding of a file that declares one, decided from its first bytes as well as the declaration.

    A BOM or valid non-ASCII UTF-8 settles it. Between 8-bit code pages of different families (OEM:
    CP437/PC8, CP865, CP850; ANSI: Windows-1252/ISO-8859-1) the declaration stands unless the other
    family reads strictly better: the declared page yields box drawing, Greek or maths symbols where
    the other yields Nordic letters and none of them. "måltid" in ISO-8859-1 read as PC8 is "mσltid":
    settled. A byte that is a letter either way (0xE6: æ or µ) cannot settle it: the declaration
    stands, with a doubt. `final` says `head` is the whole file (else it may end inside a character).
    """
    try:
        codec = canonical_encoding(declared) if declared else None
    except ValueError:
        codec = None
    if codec is None or head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Settled(_detect(head, final=final)[0])
    if head.isascii():
        return Settled(codec)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=final)
        return Settled("utf-8")  # 8-bit Nordic text is practically never valid UTF-8
    except UnicodeDecodeError:
        pass
    try:
        mine = _tally(head.decode(codec))
    except UnicodeDecodeError:  # the declared page cannot even read these bytes (or UTF-8 declared)
        return Settled(_detect(head, final=final)[0])
    family = _FAMILY.get(codec)
    others: list[tuple[_Tally, str]] = []
    for candidate in CANDIDATES:
        if _FAMILY.get(candidate) == family:
            continue
        try:
            others.append((_tally(head.decode(candidate)), candidate))
        except UnicodeDecodeError:
            continue
    if not others:
        return Settled(codec)
    best, other = max(others, key=lambda pair: pair[0].score)
    if best.score <= mine.score:
        return Settled(codec)
    if mine.suspicious and not best.suspicious and best.letters:
        return Settled(other)
    return Settled(codec, doubt=(
        f"the file declares {declared} but its bytes read about as well as {_LABELS.get(other, other)}; "
        f"it was read as {declared}: check that æ, ø and å came through"))


_LABELS = {"cp1252": "Windows-1252", "cp865": "CP865", "cp850": "CP850"}


def split_head(stream: IO[bytes], size: int = SNIFF_BYTES) -> tuple[bytes, IO[bytes]]:
    """(the first `size` bytes, a stream that reads from the first byte again): peek at any stream."""
    head = stream.read(size)
    return head, io.BufferedReader(_Rejoined(head, stream), 1 << 16)


def unencodable(text: str, encoding: str) -> Iterable[str]:
    """The characters of `text` that `encoding` cannot write (č, đ, ŋ, emoji in Windows-1252)."""
    codec = canonical_encoding(encoding)
    seen: list[str] = []
    for ch in text:
        if ch not in seen:
            try:
                ch.encode(codec)
            except UnicodeEncodeError:
                seen.append(ch)
    return seen


def looks_utf8(head: bytes) -> bool:
    """Whether `head` is UTF-8 with at least one non-ASCII character (so a declaration must be wrong)."""
    if head.startswith(codecs.BOM_UTF8):
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return not head.isascii()


_MOJIBAKE = re.compile("Ã[¦¸¥†˜…]")


def repair_double_encoding(text: str) -> str | None:
    """'LeverandÃ¸rgjeld' → 'Leverandørgjeld': UTF-8 that was read as Windows-1252 once and saved again.

    None when `text` shows no such damage or cannot be repaired; the caller logs that a repair happened.
    """
    if not _MOJIBAKE.search(text):
        return None
    try:
        return text.encode("cp1252").decode("utf-8")
    except UnicodeError:
        return None
