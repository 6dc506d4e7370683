"""The open export: a tenant leaves with all its data — every document of a period as JSON lines in the shared form,
and the delivered ones as a SAF-T Financial 1.30 file (docs/export.md).

    entries.py      which documents a period holds, read from storage a few at a time, with status and delivery
    jsonl.py        one JSON line per document
    saft.py         the SAF-T Financial file: header, transactions, totals
    masterfiles.py  … its master files, and how parties and dimensions are named in it
    spool.py        … its XML text, and the temporary database that keeps memory flat
    bookings.py     what a sales invoice or payment books, as a voucher
    route.py        GET /api/v1/export: parameters, pages, the answer (contract.py: its OpenAPI)

Nothing here holds a period's documents: entries are read, written out and dropped one by one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.model import Document

OSLO = ZoneInfo("Europe/Oslo")
FORMATS = ("jsonl", "saft")


@dataclass(frozen=True)
class Period:
    """Days a document was received on, in Norway's time (Europe/Oslo), both ends included."""

    start: dt.date
    end: dt.date

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[first instant, first instant after) in UTC (the ends of the calendar where a day has no such instant)."""
        try:
            first = dt.datetime.combine(self.start, dt.time(), OSLO).astimezone(dt.UTC)
        except OverflowError:
            first = dt.datetime.min.replace(tzinfo=dt.UTC)
        try:
            after = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), OSLO).astimezone(dt.UTC)
        except OverflowError:
            after = dt.datetime.max.replace(tzinfo=dt.UTC)
        return first, after


@dataclass(frozen=True)
class Delivered:
    """The latest delivery of a document (its trace's last `delivered` or `duplicate` step): where it went and what
    the system said."""

    target: str
    at: dt.datetime
    remote_id: str | None = None
    draft: bool | None = None
    url: str | None = None
    not_accepted: tuple[str, ...] = ()
    # A copy of a reference delivered before: nothing was posted for it (remote_id is the first copy's).
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "at": self.at.isoformat(), "remote_id": self.remote_id, "draft": self.draft,
                **({"url": self.url} if self.url else {}), "not_accepted": list(self.not_accepted),
                **({"duplicate": True} if self.duplicate else {})}


@dataclass(frozen=True)
class Entry:
    """One document of the tenant with what Bilagsbro knows of it."""

    id: str
    document: Document
    received_at: dt.datetime
    status: str
    receipt: str | None = None
    delivered: Delivered | None = None
    problems: tuple[dict[str, Any], ...] = ()  # what blocked it (preflight), when its status is blocked
    error: dict[str, Any] | None = None  # why it failed, when its status is failed
    # Its lines are net and their VAT is booked on lines of its own (a voucher read back from the books): a line's
    # VAT code describes it (SAF-T's TaxInformation) without splitting VAT out of it (pipeline/export/saft.py).
    vat_posted: bool = False


@dataclass(frozen=True)
class Company:
    """The company the export is of (SAF-T's Header/Company)."""

    name: str
    organization_number: str
