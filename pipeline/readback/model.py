"""The general ledger read back from an accounting system, in the shared form's terms and whatever the source.

Frozen values, `Decimal` money, account numbers as text (the source's chart). A source (connectors/ledgers)
yields these; the store (store.py) keeps them per tenant and company; the API serves them unchanged.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LedgerAccount(_Value):
    """One account of the chart: number, name, and what the system says of it."""

    number: str
    name: str = ""
    kind: str | None = Field(None, description="e.g. ASSETS, LIABILITY, INCOME, COST, or the source's own word")
    vat_code: str | None = None
    active: bool = True


class LedgerParty(_Value):
    """A customer or a supplier as the ledger names it on postings."""

    kind: Literal["customer", "supplier"]
    number: str
    name: str = ""
    organization_number: str | None = None


class LedgerDimension(_Value):
    """A value of a dimension (department, project, or a source's own object type)."""

    kind: str
    code: str
    name: str = ""


class FiscalYear(_Value):
    """A fiscal year, [start, end] inclusive as accountants write it; its periods are its calendar months."""

    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def periods(self) -> list[Period]:
        found, day = [], self.start
        while day <= self.end:
            following = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
            found.append(Period(start=day, end=min(self.end, following - dt.timedelta(days=1))))
            day = following
        return found


class Period(_Value):
    """An accounting period: a calendar month (or the part of one inside a fiscal year), both ends inclusive."""

    start: dt.date
    end: dt.date

    @property
    def key(self) -> str:
        return self.start.strftime("%Y-%m")


class GlPosting(_Value):
    """One row of the general ledger: what a voucher booked on one account."""

    id: str = Field(..., description="The source's own id of the row (stable between reads)")
    voucher: str = Field(..., description="The voucher's number as the company sees it, e.g. '123' or 'A-17'")
    voucher_id: str | None = Field(None, description="The source's id of the voucher, when it has one apart")
    date: dt.date
    account: str
    amount: Decimal = Field(..., description="Debit positive, credit negative, in the company's currency")
    vat_code: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)
    text: str | None = None
    customer: str | None = None
    supplier: str | None = None
    currency: str | None = None
    amount_currency: Decimal | None = None
    document: str | None = Field(None, description="The source's id of the document attached to the voucher")


class AccountBalance(_Value):
    """The change of one account over one period as we summed it, beside what the system reports."""

    account: str
    period: str = Field(..., description="YYYY-MM")
    change: Decimal
    reported: Decimal | None = Field(None, description="The system's own figure; None when it reports none")
    opening: Decimal | None = None
    closing: Decimal | None = None

    @property
    def matches(self) -> bool | None:
        return None if self.reported is None else self.change == self.reported


class LedgerDocument(_Value):
    """A file attached to a voucher (PDF, image), or waiting in the system's inbox for one (a receipt or a supplier's
    invoice not booked yet): kept in Blob Storage under the tenant and company."""

    id: str
    voucher: str | None = Field(..., description="The voucher it is attached to; None while it is in the inbox")
    file_name: str
    content_type: str
    size: int | None = None
    folder: str | None = Field(None, description="The inbox folder it waits in (e.g. «Kvitton & utlägg»)")


Sources = Literal["tripletex", "fortnox", "sie4", "saft"]
