"""The one Protocol every ledger source implements (connectors/ledgers), so sync and API never know the system.

A source reads in slices: an API source a period at a time (one queue message each), a file source a fiscal
year at a time (the file is read once per year, streamed). Everything is streamed: never a whole year in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

from pipeline.ports import Stores
from pipeline.readback.model import FiscalYear, GlPosting, LedgerAccount, LedgerDimension, LedgerParty


@dataclass(frozen=True)
class InboxFile:
    """A document in the system's inbox, attached to no voucher yet, as the source lists it."""

    id: str  # what `attachment` takes to fetch it
    folder: str
    file_name: str
    size: int | None = None


@dataclass(frozen=True)
class Attachment:
    """A voucher's document as the source hands it over."""

    content: bytes
    content_type: str
    file_name: str


class LedgerSource(Protocol):
    name: str
    slice: Literal["period", "year"]  # what one sync message reads
    problems: list[str]  # what the source could not read (a file's bad rows), each naming file, line and voucher
    requests: int  # HTTP requests made so far (the benchmark's figure; 0 for files)

    def fiscal_years(self) -> list[FiscalYear]: ...

    def accounts(self) -> Iterator[LedgerAccount]: ...

    def parties(self) -> Iterator[LedgerParty]: ...

    def dimensions(self) -> Iterator[LedgerDimension]: ...

    def postings(self, start: dt.date, end: dt.date) -> Iterator[GlPosting]:
        """Every posting dated start ≤ date ≤ end, streamed page by page."""
        ...

    def reported(self, start: dt.date, end: dt.date) -> Mapping[tuple[str, str], Decimal]:
        """The system's own balance report: (period, account) → the account's change in that period, for the periods
        within [start, end] it reports; the period is `YYYY-MM`, or a fiscal year's label (`<start>..<end>`) for a
        source that reports per year only; an empty mapping when it has none."""
        ...

    def attachment(self, document: str) -> Attachment:
        """The document attached to a voucher, by the id postings carry, or an inbox file by its `InboxFile.id`."""
        ...

    def inbox(self) -> Iterator[InboxFile]:
        """The documents waiting in the system's inbox, attached to no voucher yet (Fortnox's «Inkorg»); nothing
        for a source without one (an export file, a system whose inbox is not read)."""
        ...

    def fingerprint(self, start: dt.date, end: dt.date) -> str:
        """Something that changes whenever a posting in [start, end] changes (the timer's cheap look for what
        changed); the empty string when the source cannot tell more cheaply than by reading the postings."""
        ...


SourceOpener = Callable[[Stores, Any, str, str, Mapping[str, Any]], LedgerSource]
"""(stores, connector registry, tenant, company, the source's settings) → a source ready to read."""
