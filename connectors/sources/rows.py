"""Rows out of text: decoded lines, delimited rows (plain lists for the fast path, or `Record`s), tokens.

What every tabular format needs before it can be read as vouchers (`connectors.sources.tabular`):
text decoded 64 KiB at a time and split into lines as text iteration splits them; delimited rows split
without the csv module where no quote asks for it; the plain rows of the fast path (a list of stripped
values per row) and the `Record`s of the general path, and the way from one to the other.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import IO, TYPE_CHECKING, Any, NamedTuple, cast

from pipeline.errors import Problem

if TYPE_CHECKING:
    from connectors.sources.tabular import Layout


class Record(NamedTuple):
    """One row of a source file: its first line and its fields by name; `error` spoils its voucher.

    A tuple: a 100 MB file makes a million of them, and a tuple is the cheapest immutable value.
    """

    line: int
    fields: Mapping[str, str]
    error: str | None = None
    error_field: str | None = None

    def get(self, name: str | None) -> str:
        """The field's value; readers strip values once, when they make the record."""
        return self.fields.get(name, "") if name else ""




TEXT_CHUNK = 1 << 16
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines breaks lines here too
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
              "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
"""Every character `str.strip()` removes (str.isspace), line ends included; a test holds it to that."""


def text_lines(text: IO[str]) -> Iterator[str]:
    """The lines of `text` with their line ends, as iterating it would give them, decoded 64 KiB at a time.

    Bytes that are not text raise UnicodeDecodeError after the lines before them: the reader reports
    the line it reached, which is the line of the bad byte. (The lines come a chunk's worth at a time
    through `itertools.chain`, which hands them on without a Python call per line.)
    """
    return chain.from_iterable(_chunks(text))


def _chunks(text: IO[str]) -> Iterator[list[str]]:
    raw = getattr(text, "buffer", None)
    if raw is None:  # already text (a StringIO): its own iteration is exact
        yield list(text)
        return
    encoding, errors = getattr(text, "encoding", "utf-8"), getattr(text, "errors", None) or "strict"
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    carry: list[str] = []  # the start of a line whose end is still to come
    while True:
        data = raw.read(TEXT_CHUNK)
        state = decoder.getstate()
        try:
            chunk = decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            good = codecs.getincrementaldecoder(encoding)(errors)
            good.setstate((b"", state[1]))
            lines = _split("".join(carry) + good.decode(exc.object[:exc.start]))
            if lines and not lines[-1].endswith(("\n", "\r")):
                lines.pop()  # the line the bad byte is on is not read
            yield lines
            raise
        if not data:
            if carry or chunk:
                yield _split("".join(carry) + chunk)
            return
        if "\n" not in chunk and "\r" not in chunk:
            carry.append(chunk)
            continue
        lines = _split("".join(carry) + chunk)
        carry = [lines.pop()] if not lines[-1].endswith("\n") else []  # a lone \r may be half of \r\n
        yield lines


def _split(text: str) -> list[str]:
    """Lines as text iteration with newline="" splits them: at \n, \r\n and a lone \r, ends kept."""
    if any(c in text for c in _OTHER_BREAKS):  # eight `in` scans are far faster than one regex
        return io.StringIO(text, newline="").readlines()
    return text.splitlines(keepends=True)


class Delimited:
    """Rows of a delimited file: positional `columns`, or named by the file's first row when None.

    A line without a quote is split on the delimiter, which is what the csv module does with it; a
    line with a quote (or a NUL, or one longer than a csv value may be) goes to the csv module, which
    reads on over the lines a quoted value spans. `rows` gives plain rows for the fast path; calling
    the reader gives `Record`s.
    """

    def __init__(self, delimiter: str, columns: tuple[str, ...] | None, min_fields: int) -> None:
        self.delimiter, self.columns, self.min_fields = delimiter, columns, min_fields

    def __call__(self, lines: Iterable[str], layout: Layout, options: Mapping[str, Any]) -> Iterator[Record | Problem]:
        read = self.rows(lines, layout, options)
        yield from records_of(read, lambda: read.names)

    def rows(self, lines: Iterable[str], layout: Layout, options: Mapping[str, Any], *,
             start: int = 1) -> DelimitedRows:
        """Plain rows of `lines`, the first of which is the file's line `start`."""
        return DelimitedRows(self, iter(lines), layout, start)


Plain = tuple[int, list[str], int]
"""A plain row: its line, its stripped values padded with "" to one past the last column, its own length."""


def split_quoted(line: str) -> list[str] | None:
    """`a "b c" d` → ['a', 'b c', 'd']: words split at blanks, texts in quotes whole — what the token
    expressions of Visma Business and SIE read in such a line. None where it is not that simple (a
    backslash, a doubled quote, an odd one, a quote touching a word): the expression reads those."""
    if "\\" in line:
        return None
    parts = line.split('"')
    last = len(parts) - 1
    if last % 2:
        return None
    values: list[str] = parts[0].split()
    if last and parts[0] and not parts[0][-1].isspace():
        return None  # a quote touching the word before it: the expression reads it otherwise
    for i in range(1, last, 2):
        between = parts[i + 1]  # after a quoted text, up to the next quote (or the end)
        if between:
            if not between[0].isspace() or (i + 1 < last and not between[-1].isspace()):
                return None  # a quote touching a word
        elif i + 1 < last:
            return None  # "" between two quoted texts: a doubled quote inside one
        values.append(parts[i])
        values += between.split()
    return values


def records_of(rows: Iterable[Record | Problem | Plain], names: Callable[[], tuple[str, ...] | None],
               ) -> Iterator[Record | Problem]:
    """`rows` with each plain row made a `Record` (under the names in force when it came)."""
    for item in rows:
        if type(item) is tuple:
            yield plain_record(cast(Plain, item), names() or ())
        else:
            yield cast("Record | Problem", item)


def plain_record(row: Plain, names: tuple[str, ...]) -> Record:
    """The plain row, read under `names`, as a `Record`: what the general path works on."""
    return Record(row[0], dict(zip(names, row[1][:row[2]], strict=False)))


class DelimitedRows:
    """One file's rows: `Problem`s, `Record`s for rows in error, and `Plain` rows; `names` once known."""

    def __init__(self, shape: Delimited, source: Iterator[str], layout: Layout, start: int = 1) -> None:
        self.names = shape.columns
        self._start = start
        self.pad = [""] * (len(self.names) + 1) if self.names else []
        self._shape, self._source, self._layout = shape, source, layout
        self._feed = _Feed(source)
        self._quoted = csv.reader(self._feed, delimiter=shape.delimiter, quotechar='"', strict=False)
        self._items = self._read()

    def __iter__(self) -> Iterator[Record | Problem | Plain]:
        return self._items

    def _read(self) -> Iterator[Record | Problem | Plain]:
        delimiter, strip, feed, min_fields = self._shape.delimiter, str.strip, self._feed, self._shape.min_fields
        trailing = delimiter + WHITESPACE  # trailing delimiters and blanks: fields the loop below would drop
        number = self._start - 1
        for line in self._source:
            number += 1
            start = number
            if '"' in line or "\0" in line or len(line) > _CSV_FIELD_LIMIT:
                feed.push(line)
                row = next(self._quoted, [])
                number += feed.pulled  # the lines an open quote ran over
                if number > start and any("\n" in value or "\r" in value for value in row):
                    # A line-based format has no value spanning lines: a quote was left open and the
                    # lines after it were swallowed into one value. Say so, for them and for this row.
                    names = self.names
                    where = next(i for i, value in enumerate(row) if "\n" in value or "\r" in value)
                    column = (names[where] if names and where < len(names) else None) or f"column {where + 1}"
                    yield Problem(f"a quote opened on line {start} is not closed before line {number}: lines "
                                  f"{start + 1}-{number} were read as part of one value, not as rows", line=start,
                                  field=column, code="quote")
                    yield Record(start, dict(zip(names or (), map(strip, row), strict=False)),
                                 "a quoted value runs over several lines (a quote is not closed)", column)
                    continue
            else:
                row = line.rstrip(trailing).split(delimiter)
            row = list(map(strip, row))
            while row and not row[-1]:  # trailing delimiters are common and harmless
                row.pop()
            if not row:
                continue
            if self.names is None:
                self.names = tuple(row)
                self.pad = [""] * (len(self.names) + 1)
                continue
            width, length = len(self.names), len(row)
            if not min_fields <= length <= width:
                bound = f"at least {min_fields}" if length < min_fields else f"at most {width}"
                yield Record(start, dict(zip(self.names, row, strict=False)),
                             f"{length} fields where {self._layout.format} has {bound}", "columns")
                continue
            row += self.pad[length:]
            yield start, row, length


def delimited(delimiter: str, columns: tuple[str, ...] | None = None, *, min_fields: int = 1) -> Delimited:
    """Rows of a delimited file: positional `columns`, or named by the file's first row when None."""
    return Delimited(delimiter, columns, min_fields)


_CSV_FIELD_LIMIT = csv.field_size_limit()


class _Feed:
    """What the csv module reads: the line handed to it, then (for a quote left open) the lines after
    it, taken from the reader's own source and counted in `pulled`."""

    def __init__(self, source: Iterator[str]) -> None:
        self._source = source
        self._pushed: str | None = None
        self.pulled = 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if self._pushed is not None:
            line, self._pushed = self._pushed, None
            return line
        line = next(self._source)
        self.pulled += 1
        return line

    def push(self, line: str) -> None:
        self._pushed, self.pulled = line, 0
