"""Files broken the ways real files break, and the oracle that says whether a reader's answer was right.

Two users: the Hypothesis strategy `broken_files` (random bytes, a file cut off anywhere, one value
replaced by any text) for the SAF-T robustness tests, and the fuzzer (bench/fuzz.py, and its CI
version tests/sources/test_fuzz.py), which breaks the generated files of `seeds.py` with one of five
mutations and judges the reader's answer with `judge`.

The mutations, each one contiguous edit of the seed's bytes [start, end):

- flip: 1-4 bytes replaced by 0-4 others (separators, quotes, digits, line ends, high bytes, NUL);
- truncate: the file cut at any byte, sometimes with a little junk after the cut;
- huge: one amount replaced by a number of 16-60 digits, or with a non-zero digit past the 28th decimal;
- encoding: the whole file written in another encoding (UTF-8, with BOM, Windows-1252, CP865, UTF-16),
  its own declaration (XML prolog, SIE #FORMAT, Visma's OEM flag) left as it was;
- quote: one text replaced by a value holding the format's separators and quotes, correctly quoted
  for the format, or with a quote left open.

What `judge` calls a **silent result** (the reader said nothing where something was due), checked in
this order:

1. the reader yields no document and no problem at all;
2. a voucher the mutation did not touch does not come through exactly as from the unbroken file,
   and no error names it (same reference) or stands before it (an error without a reference at or
   before its last line, or one about the whole file). Warnings (`severity="warning"`: something
   noticed in what was delivered) never explain a lost or changed voucher, here and below. A mutation touches the voucher whose bytes it
   edits (for formats that group rows by a key column, also its neighbours, which an edited key can
   join); an edit outside every voucher (a header, the lines between vouchers, a cut) touches every
   voucher after it;
3. huge: the voucher whose amount was replaced comes through, or no problem names it (its reference,
   or a line inside it);
4. quote, correctly quoted: that voucher does not come through with the same bookings and the new
   text in it; with a quote left open: it neither comes through with the same bookings nor is named
   by a problem;
5. encoding: no error and no problem about the encoding, and some voucher differs from the unbroken
   file's (e.g. æøå garbled);
6. an amount of any voucher that is not a number written in the broken file (for SAF-T Financial:
   the line's net amount and VAT each), e.g. a 30-digit amount rounded, or a value read from the
   wrong column. SAF-T Cash Register books sums of receipts, which no file writes: rule 2 covers it.

"Bookings" are a document without its free texts (descriptions, names), origin and reference (SIE's
references hash the texts too; the voucher is found by the line it starts on). Rule 2 compares
whole documents (texts included) but not their origin line, which an inserted line end moves.
A crash — any exception out of the reader — is counted by the caller.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from tests.sources.seeds import Seed


def broken_files(golden: Sequence[bytes], values: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    """`golden` are good files; `values` are byte strings in them worth replacing."""
    truncated = st.tuples(st.sampled_from(list(golden)), st.integers(0, 20_000), st.binary(max_size=8)).map(
        lambda t: t[0][: t[1]] + t[2]
    )
    odd_value = st.tuples(st.sampled_from(list(golden)), st.sampled_from(list(values)), st.text(max_size=40)).map(
        lambda t: t[0].replace(t[1], t[2].encode("utf-8", "replace"), 1)
    )
    return st.one_of(st.binary(max_size=2048), truncated, odd_value)


# -- mutations ----------------------------------------------------------------------------------------

KINDS = ("flip", "truncate", "huge", "encoding", "quote")
# Formats where one edit can move rows into the next or previous voucher: rows join vouchers by key
# columns (the tabular ones), or a voucher ends with a line an edit can remove (SIE's "}").
JOINABLE = frozenset({"gbat10", "visma-global", "visma-business", "sie4"})
WHOLE_FILE = frozenset({"malformed-json", "empty", "too-many", "too-large", "unknown-format"})
_INTERESTING = b';,"\'{}<>&\\\r\n\t \x00\x1a0123456789-.+e\xe6\xf8\xe5\x91\x9b\x86\xc3\xa5\xff'


@dataclass(frozen=True)
class Mutation:
    kind: str
    start: int
    end: int
    data: bytes
    voucher: int | None = None  # the voucher whose value was replaced (huge, quote)
    wellformed: bool = True  # quote: whether the new value is correctly quoted
    expected_text: str | None = None  # quote, correctly quoted: the text that voucher must carry
    note: str = ""

    def apply(self, seed: Seed) -> bytes:
        return seed.data[: self.start] + self.data + seed.data[self.end :]


def mutate(seed: Seed, kind: str, rng: random.Random) -> Mutation:
    return {"flip": flip, "truncate": truncate, "huge": huge, "encoding": encoding, "quote": quote}[kind](seed, rng)


def flip(seed: Seed, rng: random.Random) -> Mutation:
    start = rng.randrange(len(seed.data))
    end = min(len(seed.data), start + rng.randint(0, 4))
    data = bytes(rng.choice(_INTERESTING) if rng.random() < 0.7 else rng.randrange(256)
                 for _ in range(rng.randint(0 if end > start else 1, 4)))
    return Mutation("flip", start, end, data, note=f"bytes {start}-{end} {seed.data[start:end]!r} -> {data!r}")


def truncate(seed: Seed, rng: random.Random) -> Mutation:
    cut = rng.randrange(len(seed.data))
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(0, 8))) if rng.random() < 0.3 else b""
    return Mutation("truncate", cut, len(seed.data), junk, note=f"cut at {cut} + {junk!r}")


def huge(seed: Seed, rng: random.Random) -> Mutation:
    index = rng.choice([i for i, v in enumerate(seed.vouchers) if v.amounts])
    start, end = rng.choice(seed.vouchers[index].amounts)
    sign = rng.choice(("", "-"))
    shape = rng.randrange(4)
    if shape == 0:
        value = sign + str(rng.randint(1, 9)) + "".join(str(rng.randrange(10)) for _ in range(rng.randint(15, 59)))
    elif shape == 1:
        value = sign + "9" * rng.randint(16, 60) + ".99"
    elif shape == 2:
        value = sign + "1" + "0" * rng.randint(26, 40) + ".00"
    else:  # as many digits after the point: exact beyond any context precision
        value = sign + "0." + "0" * rng.randint(27, 40) + str(rng.randint(1, 9))
    return Mutation("huge", start, end, value.encode("ascii"), voucher=index, note=f"amount -> {value}")


def encoding(seed: Seed, rng: random.Random) -> Mutation:
    text = seed.data.decode("utf-8-sig" if seed.encoding in ("utf-8", "utf-8-sig") else seed.encoding)
    choices = [e for e in ("utf-8", "utf-8-sig", "cp1252", "cp865", "utf-16") if e != seed.encoding]
    target = rng.choice(choices)
    return Mutation("encoding", 0, len(seed.data), text.encode(target, "replace"), note=f"{seed.encoding} -> {target}")


_TEXTS = {  # quoting style → (correctly quoted value, the text it stands for, a value with a quote left open)
    "csv": ('"Kaffe{sep} svart ""ekstra"" æøå"', 'Kaffe{sep} svart "ekstra" æøå', '"Kaffe{sep} svart æøå'),
    "visma": ('Kaffe, svart ""ekstra"" æøå', 'Kaffe, svart "ekstra" æøå', 'Kaffe" svart æøå'),
    "sie": ('Kaffe \\"svart\\" {{1 \\"10\\"}} æøå', 'Kaffe "svart" {{1 "10"}} æøå', 'Kaffe" svart æøå'),
    "xml": ('Kaffe; &lt;svart&gt; &amp; "ekstra" æøå', 'Kaffe; <svart> & "ekstra" æøå', "Kaffe <svart & æøå"),
    "json": ('Kaffe, \\"svart\\" }} ] æøå \\\\', 'Kaffe, "svart" }} ] æøå \\', 'Kaffe "svart }} æøå'),
}


def quote(seed: Seed, rng: random.Random) -> Mutation:
    index = rng.choice([i for i, v in enumerate(seed.vouchers) if v.texts])
    start, end = rng.choice(seed.vouchers[index].texts)
    written, meant, open_quote = (t.format(sep=seed.separator) for t in _TEXTS[seed.quoting])
    wellformed = rng.random() < 0.6
    if seed.quoting == "xml" and wellformed and rng.random() < 0.5:
        written, meant = "<![CDATA[Kaffe; <svart> & æøå]]>", "Kaffe; <svart> & æøå"
    value = written if wellformed else open_quote
    return Mutation("quote", start, end, value.encode(seed.encoding if seed.encoding != "utf-8-sig" else "utf-8"),
                    voucher=index, wellformed=wellformed, expected_text=meant if wellformed else None,
                    note=f"text -> {value}")


# -- the oracle ---------------------------------------------------------------------------------------


def _plain(document: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = document.model_dump(mode="json", exclude_none=True)
    dumped.pop("origin", None)
    return dumped


def _bookings(value: Any) -> Any:
    """What a document books: without free texts, and without the reference, which SIE hashes over them."""
    if isinstance(value, dict):
        return {k: _bookings(v) for k, v in value.items() if k not in ("description", "name", "reference")}
    if isinstance(value, list):
        return [_bookings(v) for v in value]
    return value


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def touched(seed: Seed, mutation: Mutation) -> set[int]:
    """Indexes of the vouchers the mutation may change (see the module docstring, rule 2)."""
    a, b = mutation.start, mutation.end
    vouchers = seed.vouchers
    inside = [j for j, v in enumerate(vouchers) if v.start <= a and (b <= v.end if b > a else a < v.end)]
    near = {j + d for j in inside for d in (-1, 1)} if seed.format in JOINABLE else set()
    if inside:
        found = set(inside) | near
    else:
        found = {i for i, v in enumerate(vouchers) if a < v.end}
        within = [j for j, v in enumerate(vouchers) if v.start <= a < v.end]
        if seed.format in JOINABLE:
            found |= {j - 1 for j in within}
    return {i for i in found if 0 <= i < len(vouchers)}


# Read from every place a run of digits starts (lookahead, so "6,73306.28" gives 6.73306 and 73306.28):
_PLAIN = re.compile(rb"(?<!\d)(?=(\d+)(?:[.,](\d+))?)")  # '.' or ',' decimals
_GROUPED = re.compile(rb"(?<!\d)(?=(\d{1,3}(?:(?:'|,| |\xc2\xa0|\xa0)\d{3})+)(?:[.,](\d+))?)")  # 1 234,50


def _numbers(data: bytes) -> set[Decimal]:
    """Every number written in the file, in any encoding we read (digits are ASCII but in UTF-16)."""
    texts = [data]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        texts.append(data.decode("utf-16", "replace").encode("utf-8"))
    found = set()
    for text in texts:
        for pattern in (_PLAIN, _GROUPED):
            for match in pattern.finditer(text):
                whole = re.sub(rb"\D", b"", match.group(1))
                fraction = match.group(2)
                found.add(Decimal(whole.decode()))  # "6826,1," may be a number and a list
                if fraction:
                    found.add(Decimal(f"{whole.decode()}.{fraction.decode()}"))
    return found


def judge(seed: Seed, baseline: dict[str, Any], mutation: Mutation, items: Sequence[Any], data: bytes) -> str | None:
    """None when the reader's answer to the broken file is right; else why it is a silent result.

    `baseline` is the unbroken seed's documents by reference (`_plain`); `items` what the reader
    yielded for `data`, the broken file.
    """
    from pipeline.errors import Problem

    said = [i for i in items if isinstance(i, Problem)]
    problems = [p for p in said if p.is_error]  # a warning tells what was delivered; it explains no loss
    documents = {d.reference: _plain(d) for d in items if not isinstance(d, Problem)}
    # Where a format's reference hashes the voucher's content (SIE), an edited voucher comes back under
    # another reference: find it by the line it starts on (huge and quote edits add no line ends).
    at_line = {d.origin.line: _plain(d) for d in items if not isinstance(d, Problem) and d.origin is not None}
    if not said and not documents:
        return "no document and no problem"
    old = seed.data[mutation.start : mutation.end]
    shift = mutation.data.count(b"\n") - old.count(b"\n")
    changed = touched(seed, mutation)
    named = {p.reference for p in problems if p.reference}

    def stands_before(index: int) -> bool:
        voucher = seed.vouchers[index]
        last = voucher.last_line + (shift if voucher.start >= mutation.start else 0)
        return any(p.reference is None and (p.line is None or p.line <= last or p.code in WHOLE_FILE)
                   for p in problems)

    def inside(index: int) -> bool:
        voucher = seed.vouchers[index]
        return any(p.line is not None and voucher.first_line <= p.line <= voucher.last_line + max(shift, 0)
                   for p in problems)

    if mutation.kind != "encoding":
        for index, voucher in enumerate(seed.vouchers):
            if index in changed:
                continue
            if documents.get(voucher.reference) != baseline[voucher.reference] \
                    and voucher.reference not in named and not stands_before(index):
                got = "missing" if voucher.reference not in documents else "changed"
                return f"untouched voucher {voucher.reference} {got} without a problem"
    if mutation.voucher is not None:
        voucher = seed.vouchers[mutation.voucher]
        reference = voucher.reference
        if mutation.kind == "huge":
            if reference in documents or (voucher.first_line in at_line and seed.format == "sie4"):
                return f"voucher {reference} with a huge amount came through"
            if reference not in named and not inside(mutation.voucher) and not stands_before(mutation.voucher):
                return f"voucher {reference} with a huge amount is missing and no problem names it"
        elif mutation.kind == "quote" and mutation.wellformed:
            got = documents.get(reference) or at_line.get(voucher.first_line)
            if got is None or _bookings(got) != _bookings(baseline[reference]):
                if not (reference in named or inside(mutation.voucher) or stands_before(mutation.voucher)):
                    return f"voucher {reference} {'missing' if got is None else 'changed'} by a quoted text"
                # A reader may refuse a value it cannot place, as long as it says so.
            elif seed.format != "saft-cash-register" and mutation.expected_text not in set(_strings(got)):
                return f"voucher {reference} lost its quoted text {mutation.expected_text!r}"
        elif mutation.kind == "quote":
            got = documents.get(reference) or at_line.get(voucher.first_line)
            ok = got is not None and _bookings(got) == _bookings(baseline[reference])
            if not ok and reference not in named and not inside(mutation.voucher) \
                    and not stands_before(mutation.voucher):
                return f"voucher {reference} {'missing' if got is None else 'changed'} by an open quote, no problem"
    if mutation.kind == "encoding" and not problems and not any(p.code.startswith("encoding") for p in said):
        for reference, expected in baseline.items():
            if documents.get(reference) != expected:
                return f"voucher {reference} {'missing' if reference not in documents else 'changed'} " \
                       "by another encoding, no problem"
    if seed.format != "saft-cash-register":
        numbers = _numbers(data)
        for reference, document in documents.items():
            for line in document.get("lines", ()):
                amount = Decimal(line["amount"])
                vat = Decimal(line.get("vat_amount", "0")) if seed.format == "saft-financial" else Decimal(0)
                for value in (abs(amount - vat), abs(vat)):
                    if value and value not in numbers:
                        return f"voucher {reference}: amount {value} is written nowhere in the file"
    return None
