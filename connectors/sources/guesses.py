"""The details of a file format we read from documentation and reasoning, not from a customer's real file.

No public real GBAT10 (Extenda Go), Visma Business or Visma Global file exists; where their documents
are silent our readers guess, and docs/formats.md lists every guess with what a sample would settle.
A guess that would read a file *wrongly without a sound* if it were wrong is declared here with the
rows that rely on it; `noting` wraps a format's row reader so that the first such row of a file gets
one `guessed-detail` warning naming the guess. A dry run then says which of our guesses a customer's
file leans on — the moment to ask them for it and settle the guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.sources.rows import Record
from connectors.sources.tabular import Layout, RecordReader
from pipeline.errors import Problem


@dataclass(frozen=True)
class Guess:
    """One unverified detail: what we assumed, what a real file would show, which rows rely on it."""

    key: str  # stable name; the heading in docs/formats.md
    field: str  # the column the guess is about
    assumption: str
    settled_by: str
    relies: Callable[[Record, Mapping[str, Any]], bool]
    reads: tuple[str, ...] = ()  # every column `relies` looks at (rows alike in them rely alike)

    def warning(self, format: str, line: int) -> Problem:
        return Problem(f"this file relies on a guess about {format}: {self.assumption}. Unverified — what "
                       f"would settle it: {self.settled_by} (docs/formats.md, {self.key})", field=self.field,
                       line=line, code="guessed-detail", severity="warning")


class Noting:
    """`reader`'s rows, with a `guessed-detail` warning before the first row that relies on each guess.

    The tabular reader unwraps it (`reader`, `guesses`) and gives the warnings itself, so that plain
    rows need not become `Record`s to be asked; called, it does the same on its own.
    """

    def __init__(self, reader: RecordReader, guesses: tuple[Guess, ...]) -> None:
        self.reader, self.guesses = reader, guesses

    def __call__(self, lines: Iterable[str], layout: Layout, options: Mapping[str, Any]) -> Iterator[Record | Problem]:
        pending = list(self.guesses)
        for item in self.reader(lines, layout, options):
            if pending and isinstance(item, Record) and item.error is None:
                for guess in [g for g in pending if g.relies(item, options)]:
                    pending.remove(guess)
                    yield guess.warning(layout.format, item.line)
            yield item


def noting(reader: RecordReader, guesses: tuple[Guess, ...]) -> Noting:
    """`reader`'s rows, with a `guessed-detail` warning before the first row that relies on each guess."""
    return Noting(reader, guesses)


_NOTHING = re.compile(r"[-+]?[0.,]*")


def filled(record: Record, *names: str) -> bool:
    """Whether any of the columns holds something: not blank, not 0 or 0.00."""
    return any(not _NOTHING.fullmatch(record.get(name)) for name in names)
