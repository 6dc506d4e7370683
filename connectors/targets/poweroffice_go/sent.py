"""How a voucher we may have created in PowerOffice GO is found again: the design behind `find` (exactly once).

PowerOffice's own duplicate check, `ExternalImportReference` ("only one instance of the reference can exist on the
client"), exists on direct posting only; a journal-entry draft has no field the API can search by. So:

1. **Before every POST** the connector writes a *sent* record in the ledger table (partition
   `<tenant>|poweroffice-go|sent`, one row per reference, insert-only so the first attempt's time is kept):
   the way it books (draft or direct), when (`Since`) and the voucher date. The idempotency ledger
   (pipeline/ledger.py) still decides who may post; this record only says where and since when to look.
   After a draft is created its id is recorded too (partition `<tenant>|poweroffice-go|drafts`, row = GO's id),
   so a later search skips the drafts it knows are other references' without reading them from GO.
2. Every voucher carries our reference: in `ExternalImportReference` when posted directly, and — both ways — as
   the marker `[<reference>]` that ends the header `Description` (mapping.marker).
3. `find(reference)`, which the ledger calls before posting again after an unknown outcome (a timeout, a 500 after
   commit, a worker that died), looks where that record says, from a few minutes before `Since`:
   - drafts: `GET /JournalEntryVouchers?createdDateTimeOffsetGreaterThan=…` lists what this integration created
     since (light items, `IsCreatedByCurrentIntegration`), each read with `GET /JournalEntryVouchers/ManualJournals/{id}`
     to compare the marker; and, for a draft someone posted meanwhile, the posted transactions (below) by
     `VoucherDescription`;
   - direct: `GET /AccountTransactions?fromDate=&toDate=&createdDateTimeOffsetGreaterThan=` by
     `ExternalImportReference` (AccountTransactionDto carries it and the `VoucherId`).
   Without a record (written by a version before this design, or lost) it looks both ways over the last
   `FALLBACK_DAYS` days, so a lost record costs requests, never a double.
4. Direct posting has a second net: if GO answers a POST with its duplicate refusal, the voucher is already there,
   and `find` names it.

[unverified] that GO's lists see a voucher as soon as its POST has committed (read-after-write), that a posted draft
keeps its `Id` (the docs say it does) and its header description, and that nobody edits the description of a draft
between a failed answer and our retry a few seconds later — the one way this design could post twice.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from connectors.http import kept
from connectors.targets.poweroffice_go.mapping import NAME, delivery, external_reference, is_ours
from pipeline.model import Voucher
from pipeline.names import TABLE_LEDGER
from pipeline.ports import Conflict, Delivery

if TYPE_CHECKING:
    from connectors.targets.poweroffice_go.target import PowerOfficeTarget

SKEW = dt.timedelta(minutes=5)  # our clock against GO's: look this much before the first attempt
FALLBACK_DAYS = 3
KNOWN = 10_000  # drafts remembered per connection (ids and references: a few hundred kB at most)
DRAFT, DIRECT = "draft", "direct"
_noting = threading.Lock()
_MARKER = re.compile(r"\[([^\[\]]+)\]\s*$")  # mapping.marker at the end of a description


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key(target: PowerOfficeTarget, reference: str) -> tuple[str, str]:
    return f"{target.context.tenant}|{NAME}|sent", quote(reference, safe=" -_.:@+()[]æøåÆØÅ")


def remember(target: PowerOfficeTarget, voucher: Voucher, mode: str) -> None:
    """Record, before the POST, that this reference is being sent and how; the first attempt's record stays."""
    tables = target.context.tables
    if tables is None:
        return  # no ledger table (a connection test, a bare unit test): find looks over the fallback window
    partition, row = _key(target, voucher.reference)
    entity = {"PartitionKey": partition, "RowKey": row, "Reference": voucher.reference, "Mode": mode,
              "Since": _now().isoformat(), "Date": voucher.date.isoformat()}
    try:
        tables.insert(TABLE_LEDGER, entity)
    except Conflict:
        existing = tables.get(TABLE_LEDGER, partition, row) or {}
        if existing.get("Mode") != mode:  # the tenant changed the way it books between attempts: look both ways
            tables.upsert(TABLE_LEDGER, {**{k: v for k, v in existing.items() if k != "etag"}, "Mode": "both"})


def find(target: PowerOfficeTarget, reference: str) -> Delivery | None:
    record = None
    if target.context.tables is not None:
        record = target.context.tables.get(TABLE_LEDGER, *_key(target, reference))
    if record is not None:
        since = dt.datetime.fromisoformat(str(record["Since"])) - SKEW
        day = dt.date.fromisoformat(str(record["Date"]))
        days: tuple[dt.date, dt.date] = (day, day)
        modes = (DRAFT, DIRECT) if record.get("Mode") == "both" else (str(record.get("Mode")),)
    else:
        since = _now() - dt.timedelta(days=FALLBACK_DAYS)
        days = (dt.date(1900, 1, 1), dt.date(9999, 12, 31))
        modes = (DRAFT, DIRECT)
    if DRAFT in modes:
        found = _draft(target, reference, since)
        if found is not None:
            return found
    return _posted(target, reference, since, days)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def created(target: PowerOfficeTarget) -> dict[str, str]:
    """Drafts this process created for the connection lately: id → our reference (bounded, newest kept)."""
    known: dict[str, str] = kept(target.context, (NAME, "created"), dict)
    return known


def note(target: PowerOfficeTarget, voucher_id: str, reference: str) -> None:
    """A draft's id → the reference it carries (as GO keeps it: mapping.external_reference), in this process and in
    the ledger table (partition `<tenant>|poweroffice-go|drafts`, row = GO's id), so that a find by any worker skips
    it without asking GO. Noted when a draft is created, and when a search reads one (a draft whose answer was lost
    is known from then on)."""
    known = created(target)
    with _noting:
        known[voucher_id] = reference
        while len(known) > KNOWN:
            known.pop(next(iter(known)))
    if target.context.tables is not None:
        target.context.tables.upsert(TABLE_LEDGER, {"PartitionKey": f"{target.context.tenant}|{NAME}|drafts",
                                                    "RowKey": voucher_id, "Reference": reference})


def _owner(target: PowerOfficeTarget, voucher_id: str) -> str | None:
    """Which reference a draft was created for, as far as we recorded it (None: not by us, or not recorded)."""
    theirs = created(target).get(voucher_id)
    if theirs is None and target.context.tables is not None:
        row = target.context.tables.get(TABLE_LEDGER, f"{target.context.tenant}|{NAME}|drafts", voucher_id)
        theirs = str(row["Reference"]) if row else None
    return theirs


def _draft(target: PowerOfficeTarget, reference: str, since: dt.datetime) -> Delivery | None:
    """The draft of ours among those this integration created since: the ones created closest to our first attempt
    are read first, and drafts recorded as another reference's (note) are not read from GO at all — so a find in the
    middle of a burst costs the list, a table read per draft and a GO read or two, not a GO read per draft (at GO's
    ten requests a second, that would be a minute for a burst of 600)."""
    items = target.records("JournalEntryVouchers", {"createdDateTimeOffsetGreaterThan": _stamp(since)})
    mine = [i for i in items if i.get("IsCreatedByCurrentIntegration") is not False
            and str(i.get("VoucherType") or "ManualVoucher") == "ManualVoucher"]
    first = since + SKEW

    def distance(item: dict[str, Any]) -> float:
        try:
            return abs((dt.datetime.fromisoformat(str(item["CreatedDateTimeOffset"])) - first).total_seconds())
        except (KeyError, ValueError, TypeError):
            return float("inf")

    wanted = external_reference(reference)
    for item in sorted(mine, key=distance):
        theirs = _owner(target, str(item["Id"]))
        if theirs is not None and theirs != wanted:
            continue
        voucher = target.request("GET", f"JournalEntryVouchers/ManualJournals/{item['Id']}", missing_ok=True)
        if voucher is None:
            continue
        carried = _MARKER.search(str(voucher.get("Description") or ""))
        if carried and theirs is None:
            note(target, str(voucher["Id"]), carried.group(1))
        if is_ours(voucher.get("Description"), reference):
            return delivery(voucher["Id"], draft=not item.get("IsPosted"), reference=reference)
    return None


def _posted(target: PowerOfficeTarget, reference: str, since: dt.datetime,
            days: tuple[dt.date, dt.date]) -> Delivery | None:
    """A posted voucher of ours: posted directly (its ExternalImportReference) or a draft someone posted."""
    wanted = external_reference(reference)
    transactions: Iterable[dict[str, Any]] = target.records("AccountTransactions", {
        "fromDate": days[0].isoformat(), "toDate": days[1].isoformat(),
        "createdDateTimeOffsetGreaterThan": _stamp(since)})
    for row in transactions:
        if row.get("ExternalImportReference") == wanted or is_ours(row.get("VoucherDescription"), reference):
            return delivery(row["VoucherId"], draft=False, reference=reference, voucher_no=row.get("VoucherNo"))
    return None
