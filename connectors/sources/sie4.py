"""SIE 4 (the Swedish accounting exchange format): `#VER` blocks of `#TRANS` rows, read by the tabular reader.

Format: SIE filformat 4B/4C (https://sie.se/wp-content/uploads/2020/05/SIE_filformat_ver_4B_ENGLISH.pdf),
reference/norway-standards.md §5.4, docs/formats.md (what we read, and what rests on our reading).
Tagged lines, space- or tab-separated fields, "quoted" text, `{…}` object lists; amounts signed with
'.' decimals; dates YYYYMMDD. Only `#TRANS` rows count; `#RTRANS`/`#BTRANS` are the audit trail of
added/removed rows (an `#RTRANS` is always repeated as a `#TRANS`). SIE has no VAT codes on lines:
VAT lines stay plain postings. Object lists map to dimensions through the `sie_dimensions` option
(default: dimension 1 → department, 6 → project).

As other programs write it:
- Encoding: `#FORMAT PC8` names CP437, which has no ø/Ø, so PC8 is read as CP865 (identical for every
  Swedish letter). BL Administration writes ISO-8859-1/Windows-1252 under the same declaration and
  some programs UTF-8: the bytes decide with the declaration (`pipeline.norway.text.settle`), and a
  disagreement the bytes cannot settle is a warning (`encoding-doubt`).
- A voucher is its block, not its number: BL's asset register writes twelve depreciation vouchers all
  numbered `B 1`, and 4I files may leave the number empty. Every block is read; its reference is
  `<series>-<number>-<hash>`, the hash (8 hex digits) taken over what the voucher books — series,
  number, date, text and each `#TRANS` row's account, objects, amount, date and text, written out or
  left to default to the voucher's, quoted or not — so the same file gives the same references every
  time (a resend is never posted twice), while twelve different `B 1` blocks, or a `B 1` of January and
  another of February in next month's file, never collide. The number alone would collide (and does
  across fiscal years); a position suffix (`B-1#3`) would shift when a re-export adds a voucher. A
  block that repeats an earlier one row for row is a `duplicate`, left out.
- Accounts: a `#TRANS` account must be a number; in an export (4E: the file carries balances, `#IB`,
  `#UB`, `#RES`, …) it must also be in the file's own chart (`#KONTO`). Import files (4I) need not
  declare their accounts, so there the preflight against the accounting system checks them.
- SIE types 1–3 carry balances only: such a file is one `no-vouchers` problem naming its `#SIETYP`.
- Currency: `#VALUTA`'s; without it the `currency` option (e.g. NOK for Norwegian producers), else SEK,
  the SIE default — [unverified: the 4B text that the currency is SEK when `#VALUTA` is missing could
  not be read here; a secondary source (iCalcreator's Sie4Sdk, whose comments quote the 4B labels:
  "Redovisningsvaluta, #VALUTA valutakod, valfri") shows only that `#VALUTA` is optional and names the
  accounting currency] — with an `assumed-currency` warning. A `#VALUTA` that is no currency code is
  one problem, and no voucher is read unless the option says the currency.
- An empty voucher (no rows, or one row of 0.00), common in year-end exports, is a warning, not an error.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any, NamedTuple

from connectors.sources.options import SieOptions
from connectors.sources.rows import Plain, Record, records_of, split_quoted
from connectors.sources.tabular import Columns, Layout, read
from pipeline.descriptors import FormatDescriptor
from pipeline.errors import Problem
from pipeline.model import Document
from pipeline.norway.text import SNIFF_BYTES, UndecodableText, settle, split_head
from pipeline.seen import Seen

NAME = "sie4"
DEFAULT_DIMENSIONS = {"1": "department", "6": "project"}
DEFAULT_CURRENCY = "SEK"
SIE_TYPES = {"1": "type 1 (year-end balances)", "2": "type 2 (period balances)",
             "3": "type 3 (balances per object)", "4": "type 4 (vouchers)"}
BALANCES = frozenset({"#IB", "#UB", "#OIB", "#OUB", "#RES", "#PSALDO", "#PBUDGET"})

_TOKEN = re.compile(r'("((?:\\.|[^"\\])*)")|(\{[^}]*\})|(\S+)')
_ESCAPE = re.compile(r'\\(["\\])')  # only \" and \\: BL writes "1110\1002 Hus 1:1" and means the backslash
_FORMAT = re.compile(rb"^[ \t]*#FORMAT[ \t]+\"?([\w-]+)", re.MULTILINE | re.IGNORECASE)
_CURRENCY = re.compile(r"[A-Z]{3}")
_CENT = Decimal("0.01")
_CENTS = re.compile(r"-?(?:0|[1-9]\d*)\.\d\d")  # amounts as str(Decimal) writes them to the cent


def tokens(line: str) -> list[str]:
    """`#TRANS 1930 {1 "10"} -25.00 "Kaffe \\"svart\\""` → ['#TRANS', '1930', '{1 "10"}', '-25.00', 'Kaffe "svart"']."""
    if '"' not in line and "{" not in line:
        return line.split()
    head, brace, rest = line.partition("{")
    if not brace:
        split = split_quoted(line)
        if split is not None:
            return split
    elif '"' not in head and (not head or head[-1].isspace()) and "\\" not in line:
        inside, close, tail = rest.partition("}")  # an object list: up to its first }
        if close and "{" not in tail:
            after = split_quoted(tail) if '"' in tail else tail.split()
            if after is not None:
                return [*head.split(), "{" + inside + "}", *after]
    return [(_ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted) if quote else objects or bare
            for quote, quoted, objects, bare in _TOKEN.findall(line)]


def objects(text: str) -> dict[str, str]:
    """`{1 "10" 6 "P1"}` → {'1': '10', '6': 'P1'}."""
    inner = tokens(text.strip()[1:-1])
    if len(inner) % 2:
        raise ValueError(f"object list {text!r} does not pair dimensions with objects")
    return dict(zip(inner[::2], inner[1::2], strict=True))


# -- one #VER block ---------------------------------------------------------------------------------


@dataclass
class _Block:
    """The voucher being read: its heading, its rows (one voucher's worth) and the hash of its content."""

    line: int
    series: str
    number: str
    date: str
    text: str
    currency: str
    opened: bool = False
    rows: list[Record | _Good] = field(default_factory=list)
    content: Any = None  # hashlib.blake2b over the heading and the #TRANS rows
    base: dict[str, str] = field(default_factory=dict)  # the fields every row of the block carries

    def __post_init__(self) -> None:
        self.content = hashlib.blake2b(digest_size=16)
        self._feed(self.series, self.number, self.date, self.text)
        self.base = {"_line": str(self.line), "_key": str(self.line), "_name": self.name, "date": self.date,
                     "text": self.text, "currency": self.currency}

    def _feed(self, *values: str) -> None:
        self.content.update("\x1f".join(values).encode("utf-8") + b"\x1e")

    def add(self, line: int, parts: list[str], row: Record | _Good, inner: list[str] | None = None) -> None:
        """Take the row in, its content into the hash; `inner`: its object list's tokens, when known."""
        amount = parts[3] if len(parts) > 3 else ""
        if not _CENTS.fullmatch(amount):  # "-25.00" is its own quantized text already
            try:
                amount = str(Decimal(amount).quantize(_CENT))  # 100 and 100.00 are one amount
            except (InvalidOperation, ValueError):
                pass
        if inner is None:
            inner = tokens(parts[2][1:-1]) if len(parts) > 2 and parts[2] != "{}" else []
        objects_ = " ".join(sorted(inner))
        day, text = (parts[4] if len(parts) > 4 else ""), (parts[5] if len(parts) > 5 else "")
        # A row's date and text default to the voucher's: writing them out or leaving them is one voucher
        self._feed(parts[1] if len(parts) > 1 else "", objects_, amount, "" if day == self.date else day,
                   "" if text == self.text else text)
        self.rows.append(row)

    @property
    def name(self) -> str:
        """How a bookkeeper names it: "A 70", "A 70 of 2017-12-31"."""
        name = " ".join(p for p in (self.series, self.number) if p) or "without a number"
        if re.fullmatch(r"\d{8}", self.date):
            name += f" of {self.date[:4]}-{self.date[4:6]}-{self.date[6:]}"
        return name

    def reference(self) -> str:
        digest = self.content.copy().hexdigest()[:8]
        return "-".join(p for p in (self.series, self.number, digest) if p)

    def fields(self) -> dict[str, str]:
        return dict(self.base)

    def record(self, row: Record | _Good, reference: str) -> Record:
        """A row of the block as the tabular reader's `Record`, carrying the voucher's reference."""
        if type(row) is Record:
            return Record(row.line, {**row.fields, "voucher": reference}, row.error, row.error_field)
        line, account, amount, text, dimensions = row  # type: ignore[misc]
        return Record(line, {**self.base, "account": account, "amount": amount, "row_text": text, **dimensions,
                             "voucher": reference})


class _Good(NamedTuple):
    """A #TRANS row with nothing wrong in it: what it books (its dimensions by `dimension:<name>`)."""

    line: int
    account: str
    amount: str
    text: str
    dimensions: dict[str, str]


# -- rows out of text -------------------------------------------------------------------------------


@dataclass
class _File:
    """What the file has said about itself before its vouchers: type, currency, chart, balances."""

    sie_type: str = ""
    currency: str | None = None
    unreadable_currency: str | None = None  # a #VALUTA that is no currency code: no voucher can be read
    accounts: set[str] = field(default_factory=set)
    balances: bool = False  # an export (4E): #KONTO is the whole chart
    vouchers: int = 0
    seen: Seen = field(default_factory=Seen)  # 64 bits of each block's content hash: 12–24 bytes a voucher


class _Records:
    """The rows of a file's #VER blocks as `Record`s, or (`rows`) as plain rows for the fast path."""

    def __call__(self, lines: Iterable[str], layout: Layout, options: Mapping[str, Any]) -> Iterator[Record | Problem]:
        return records_of(_records(lines, options, None), lambda: ())  # no plain rows come without a shape

    def rows(self, lines: Iterable[str], layout: Layout, options: Mapping[str, Any]) -> _Rows:
        return _Rows(lines, options)


class _Rows:
    def __init__(self, lines: Iterable[str], options: Mapping[str, Any]) -> None:
        self.shape = _Shape(_dimensions(options))
        self.names = self.shape.names
        self._items = _records(lines, options, self.shape)

    def __iter__(self) -> Iterator[Record | Problem | Plain]:
        return self._items


def _dimensions(options: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in options.get("sie_dimensions", DEFAULT_DIMENSIONS).items()}


def _records(text: Iterable[str], options: Mapping[str, Any], shape: _Shape | None,
             ) -> Iterator[Record | Problem | Plain]:
    dimensions = _dimensions(options)
    file = _File()
    block: _Block | None = None
    for number, raw in enumerate(text, start=1):
        line = raw.strip()
        if not line:
            continue
        parts = list(map(str.strip, tokens(line)))
        label = parts[0].upper() if parts else ""
        if block is not None and block.opened and label not in ("}", "#TRANS", "#RTRANS", "#BTRANS"):
            if label == "#VER":
                yield from _broken(block, "the voucher's rows are not closed with } before the next #VER")
                block = None
            else:
                block.rows.append(Record(number, {**block.fields(), "voucher": block.reference()},
                                         f"unexpected {line[:30]!r} inside a voucher", "#VER"))
                continue
        # The labels of a voucher's rows first: they are most of a file. Each branch is one label's.
        if label == "#TRANS" and block is not None and block.opened:
            _row(block, number, parts, file, dimensions)
        elif label == "}" and block is not None and block.opened:
            if file.currency or file.unreadable_currency is None:
                yield from _finish(block, file, shape)
            block = None
        elif label == "{" and block is not None and not block.opened:
            block.opened = True
        elif label == "#SIETYP" and len(parts) > 1:
            file.sie_type = parts[1]
        elif label == "#VALUTA" and len(parts) > 1 and file.vouchers == 0:
            if _CURRENCY.fullmatch(parts[1].upper()):
                file.currency = parts[1].upper()
            elif not options.get("currency"):  # the tenant's option stands in for it
                file.unreadable_currency = parts[1]
                yield Problem(f"the file's currency #VALUTA {parts[1]!r} is not a currency code (ISO 4217, "
                              "e.g. SEK or NOK): no voucher was read; the format option currency can say it",
                              field="#VALUTA", line=number, code="invalid")
        elif label == "#KONTO" and len(parts) > 1:
            file.accounts.add(parts[1])
        elif label in BALANCES:
            file.balances = True
        elif label == "#VER":
            if block is not None:
                yield from _broken(block, "#VER without its { … } block of rows")
            if file.vouchers == 0:
                yield from _currency(file, options, number)
            file.vouchers += 1
            series, vernr, date, text_ = (parts[1:] + [""] * 4)[:4]
            block = _Block(number, series, vernr, date, text_, file.currency or DEFAULT_CURRENCY)
        elif label in ("#RTRANS", "#BTRANS") and block is not None and block.opened:
            continue
        elif label in ("{", "}") or (label and not label.startswith("#")):
            yield Problem(f"unexpected {line[:30]!r} outside a voucher", line=number, code="invalid")
    if block is not None and (file.currency or file.unreadable_currency is None):
        yield from _broken(block, "the file ends inside this voucher (truncated?)")
    if file.vouchers == 0:
        yield _no_vouchers(file.sie_type)


def _no_vouchers(sie_type: str) -> Problem:
    kind = SIE_TYPES.get(sie_type)
    if kind is None:
        said = f"its #SIETYP is {sie_type!r}" if sie_type else "it does not say its SIE type (#SIETYP)"
        message = f"the file holds no vouchers (#VER), and {said}"
    elif sie_type == "4":
        message = "the file holds no vouchers: it is SIE type 4 but has no #VER"
    else:
        message = f"the file holds no vouchers: it is SIE {kind}, which carries balances only"
    return Problem(message, field="#SIETYP", code="no-vouchers")


def _currency(file: _File, options: Mapping[str, Any], line: int) -> Iterator[Problem]:
    if file.currency is None and options.get("currency"):
        file.currency = str(options["currency"]).upper()
    elif file.currency is None and file.unreadable_currency is None:
        yield Problem(f"the file does not state its currency: amounts are read as "
                      f"{DEFAULT_CURRENCY}, the SIE default; set the format option currency (e.g. NOK) "
                      "if they are in another currency", field="#VALUTA", line=line,
                      code="assumed-currency", severity="warning")


def _row(block: _Block, number: int, parts: list[str], file: _File, dimensions: Mapping[str, str]) -> None:
    account = parts[1] if len(parts) > 1 else ""
    amount, text = (parts[3] if len(parts) > 3 else ""), (parts[5] if len(parts) > 5 else "")
    good = _Good(number, account, amount, text, {})
    if len(parts) < 4 or not parts[2].startswith("{"):
        block.add(number, parts, _bad(block, good, "a #TRANS row needs an account, an object list {…} and an amount",
                                      "#TRANS"))
        return
    if not (account.isascii() and account.isdigit()):  # what \d+ under re.ASCII matches, without a regex
        block.add(number, parts, _bad(block, good, f"account {account!r} is not an account number", "account"))
        return
    if file.balances and file.accounts and account not in file.accounts:
        block.add(number, parts, _bad(block, good, f"account {account} is not in the file's chart of accounts "
                                                   "(#KONTO)", "account"))
        return
    found: dict[str, str] = {}
    inner: list[str] = []
    if parts[2] != "{}":
        inner = tokens(parts[2][1:-1])
        if len(inner) % 2:
            block.add(number, parts, _bad(block, good, f"object list {parts[2]!r} does not pair dimensions with "
                                                       "objects", "objects"), inner)
            return
        for dimension, value in zip(inner[::2], inner[1::2], strict=True):  # `objects`, tokens read once
            if dimension in dimensions:
                found[f"dimension:{dimensions[dimension]}"] = value
    block.add(number, parts, _Good(number, account, amount, text, found), inner)


def _bad(block: _Block, row: _Good, message: str, where: str) -> Record:
    """The row as a `Record` marked with what is wrong with it: its voucher is reported, not booked."""
    return Record(row.line, {**block.base, "account": row.account, "amount": row.amount, "row_text": row.text},
                  message, where)


def _finish(block: _Block, file: _File, shape: _Shape | None = None) -> Iterator[Record | Problem | Plain]:
    """The block's rows, with their voucher's reference; or why there is nothing to book.

    With a `shape`, a block of good rows comes as plain rows, for the tabular reader's fast path."""
    reference = block.reference()
    where: dict[str, Any] = {"line": block.line, "reference": reference}
    if not block.rows:
        yield Problem(f"voucher {block.name} has no lines", code="empty-voucher", severity="warning", **where)
        return
    first = block.rows[0]
    if len(block.rows) == 1 and type(first) is _Good and _zero(first.amount):
        yield Problem(f"voucher {block.name} has only one line of 0.00", code="empty-voucher",
                      severity="warning", **where)
        return
    digest = int.from_bytes(block.content.digest()[:8], "big")
    if digest in file.seen:
        yield Problem(f"voucher {block.name} repeats an earlier one row for row; "
                      "the copy is left out", code="duplicate", **where)
        return
    file.seen.add(digest)
    if shape is not None and all(type(row) is _Good and shape.fits(row) for row in block.rows):
        yield from shape.plain(block, reference)
        return
    for row in block.rows:
        yield block.record(row, reference)


def _broken(block: _Block, message: str) -> Iterator[Record]:
    for row in block.rows:
        yield block.record(row, block.reference())
    yield Record(block.line, {**block.fields(), "voucher": block.reference()}, message, "#VER")


class _Shape:
    """The columns of a file's plain rows: a block's fields, the row's, one per dimension name, the reference."""

    def __init__(self, dimensions: Mapping[str, str]) -> None:
        self.dimensions = tuple(f"dimension:{name}" for name in dict.fromkeys(dimensions.values()))
        self.names = ("_line", "_key", "_name", "date", "text", "currency", "account", "amount", "row_text",
                      *self.dimensions, "voucher")
        self._order = {name: i for i, name in enumerate(self.dimensions)}

    def fits(self, row: _Good) -> bool:
        """Whether the row's dimensions, in the order the file gives them, are in the columns' order
        (the order of a posting's dimensions is kept): a plain row cannot say another."""
        order = [self._order[k] for k, v in row.dimensions.items() if v]
        return order == sorted(order)

    def plain(self, block: _Block, reference: str) -> Iterator[Plain]:
        base = list(block.base.values())
        width = len(self.names)
        for line, account, amount, text, found in block.rows:  # type: ignore[misc]
            values = [*base, account, amount, text, *[found.get(k, "") for k in self.dimensions], reference, ""]
            yield line, values, width


def _zero(amount: str) -> bool:
    try:
        return Decimal(amount) == 0
    except (InvalidOperation, ValueError):
        return False


LAYOUT = Layout(
    format=NAME,
    columns=Columns(voucher_number="voucher", date="date", amount="amount", account="account",
                    voucher_text="text", text="row_text", currency="currency", voucher_line="_line",
                    voucher_name="_name"),
    records=_Records(),
    voucher_key=("_key",),
    prefixed_dimensions=True,
)


def sniff(head: bytes, file_name: str) -> bool:
    return head.lstrip(b"\xef\xbb\xbf").startswith(b"#FLAGGA") or b"\n#SIETYP" in head


def parse(data: IO[bytes], *, file_name: str, options: Mapping[str, Any]) -> Iterator[Document | Problem]:
    if options.get("encoding"):  # the tenant knows better than the file and the bytes
        yield from read(LAYOUT, data, file_name=file_name, options=options)
        return
    head, data = split_head(data)
    declared = _FORMAT.search(head)
    name = declared.group(1).decode("ascii", "replace") if declared else None
    try:
        settled = settle(head, name, final=len(head) < SNIFF_BYTES)
    except UndecodableText:  # the reader says so, with the byte offset
        yield from read(LAYOUT, data, file_name=file_name, options=options)
        return
    if settled.doubt and declared:
        yield Problem(settled.doubt, field="#FORMAT", file=file_name, line=head.count(b"\n", 0, declared.start()) + 1,
                      code="encoding-doubt", severity="warning")
    yield from read(LAYOUT, data, file_name=file_name, options={**options, "encoding": settled.encoding})


FORMAT = FormatDescriptor(
    name=NAME,
    title="SIE 4",
    settings=SieOptions,
    parse=parse,
    sniff=sniff,
    notes="`#VER`/`#TRANS`, object lists → dimensions; encoding from the bytes and `#FORMAT PC8` (BL's ISO-8859-1 read right); references `<series>-<number>-<content hash>`; SEK unless `#VALUTA` or the `currency` option says otherwise",
)
