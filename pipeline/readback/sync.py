"""Backfill and currency: read a company's ledger slice by slice through the queue, then keep it current on a timer.

- **Backfill** (`start`): the current and the two previous fiscal years, or a chosen range, planned as slices (a
  period for API sources, a fiscal year for files) and read one slice per queue message (`step`), each message
  chaining the next, progress in the state row. Master data (chart, parties, dimensions, years) comes with the
  first slice. A new `start` supersedes a running one: a message of the old run finds another run id and stops.
- **Currency** (`refresh`, the timer): under a lease on the same state row (as the Omnium pull holds its own), the
  periods of the open fiscal years are looked at through the source's cheap fingerprint; a period whose fingerprint
  differs from the watermark's is read again whole (so an edited or deleted voucher is seen too) and the watermark
  advanced, ETag-guarded, after it is stored.
- **Verification**: every slice's sums per account and period are stored beside the system's own balance report;
  a difference is listed in the run's state (`mismatches`) and in the `ledger.synced` webhook, never hidden.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.errors import BilagsbroError, ConfigError, TransientError
from pipeline.ports import Conflict, Entity, Stale, Stores
from pipeline.readback.model import FiscalYear, LedgerDocument
from pipeline.readback.ports import LedgerSource
from pipeline.readback.store import LedgerStore, safe_key
from pipeline.records.names import TABLE_GL_MASTER, TABLE_STATE

log = logging.getLogger("bilagsbro.readback")
LEASE = dt.timedelta(minutes=10)
INDEX = "ledgers"  # TABLE_STATE partition: one row per tenant and company with a ledger source (the timer's list)
MAX_MISMATCHES = 200  # listed in the state row (a property holds 64 KiB); the count is always exact
Opener = Callable[[str, str, str, Mapping[str, Any]], LedgerSource]
"""(source name, tenant, company, the source's settings) → the source, as the composition root builds it."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def state_key(tenant: str, company: str) -> tuple[str, str]:
    return tenant, f"ledger~{safe_key(company)}"


# -- the chosen source ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    source: str
    settings: dict[str, Any]
    since: str


def choose(stores: Stores, tenant: str, company: str, source: str, settings: Mapping[str, Any], *,
           known: Mapping[str, Any], now: Callable[[], dt.datetime] = _now) -> Choice:
    """Record the company's ledger source (an API or files); a switch keeps the earlier choice in the history."""
    if source not in known:
        raise ConfigError(f"unknown ledger source {source!r}; known: {', '.join(sorted(known))}", tenant=tenant)
    ledger = LedgerStore(stores.tables, stores.blobs, tenant, company)
    at = now().isoformat()
    row = {"Source": source, "Settings": json.dumps(dict(settings), ensure_ascii=False), "Since": at}
    partition = ledger.partition("source")
    previous = stores.tables.get(TABLE_GL_MASTER, partition, "current")
    stores.tables.upsert(TABLE_GL_MASTER, {"PartitionKey": partition, "RowKey": f"history~{at}",
                                           "Previous": previous["Source"] if previous else "", **row})
    stores.tables.upsert(TABLE_GL_MASTER, {"PartitionKey": partition, "RowKey": "current", **row})
    stores.tables.upsert(TABLE_STATE, {"PartitionKey": INDEX, "RowKey": f"{safe_key(tenant)}~{safe_key(company)}",
                                       "Tenant": tenant, "Company": company})
    return Choice(source, dict(settings), at)


def chosen(stores: Stores, tenant: str, company: str) -> Choice | None:
    row = stores.tables.get(TABLE_GL_MASTER, LedgerStore(stores.tables, stores.blobs, tenant, company)
                            .partition("source"), "current")
    return Choice(row["Source"], json.loads(row["Settings"]), row["Since"]) if row else None


def history(stores: Stores, tenant: str, company: str) -> list[dict[str, str]]:
    partition = LedgerStore(stores.tables, stores.blobs, tenant, company).partition("source")
    return [{"source": r["Source"], "since": r["Since"], "previous": r.get("Previous", "")}
            for r in stores.tables.query(TABLE_GL_MASTER, partition, "history~")]


def _open(stores: Stores, opener: Opener, tenant: str, company: str) -> tuple[Choice, LedgerSource]:
    choice = chosen(stores, tenant, company)
    if choice is None:
        raise ConfigError(f"{tenant} has chosen no ledger source for company {company!r}", tenant=tenant)
    return choice, opener(choice.source, tenant, company, choice.settings)


# -- planning -------------------------------------------------------------------------------------------


def default_years(years: list[FiscalYear], today: dt.date, count: int = 3) -> list[FiscalYear]:
    """The fiscal year holding today (or the latest before it) and the `count - 1` before it."""
    past = sorted((y for y in years if y.start <= today), key=lambda y: y.start)
    return past[-count:]


def plan(source: LedgerSource, years: list[FiscalYear], start: dt.date | None, end: dt.date | None
         ) -> list[tuple[dt.date, dt.date]]:
    """The slices to read: the source's unit (period or year) clipped to [start, end]."""
    slices = []
    for year in sorted(years, key=lambda y: y.start):
        units = [(p.start, p.end) for p in year.periods()] if source.slice == "period" else [(year.start, year.end)]
        for low, high in units:
            low, high = max(low, start or low), min(high, end or high)
            if low <= high:
                slices.append((low, high))
    return slices


# -- backfill ---------------------------------------------------------------------------------------------


def start(stores: Stores, opener: Opener, tenant: str, company: str, *, start: dt.date | None = None,
          end: dt.date | None = None, now: Callable[[], dt.datetime] = _now) -> tuple[dict[str, Any], str]:
    """Plan a backfill and write its state; returns the state and the first queue message."""
    choice, source = _open(stores, opener, tenant, company)
    years = source.fiscal_years()
    if start is None and end is None:
        chosen_years = default_years(years, now().date())
    else:
        chosen_years = [y for y in years if (end is None or y.start <= end) and (start is None or y.end >= start)]
    if not chosen_years:
        raise ConfigError(f"{choice.source} has no fiscal year in the range asked for", tenant=tenant,
                          connector=choice.source)
    slices = plan(source, chosen_years, start, end)
    run = uuid.uuid4().hex[:12]
    partition, row = state_key(tenant, company)
    previous = stores.tables.get(TABLE_STATE, partition, row) or {}
    state = {**{k: v for k, v in previous.items() if k in ("Fingerprints", "etag")},
             "PartitionKey": partition, "RowKey": row, "Run": run, "Source": choice.source, "Status": "running",
             "Slices": json.dumps([[a.isoformat(), b.isoformat()] for a, b in slices]), "Done": 0,
             "Total": len(slices), "Postings": 0, "Documents": 0, "MismatchCount": 0, "Mismatches": "[]",
             "ProblemCount": 0, "Problems": "[]",
             "Started": now().isoformat(), "Finished": "", "Error": "",
             "Years": json.dumps([y.label for y in chosen_years])}
    state.pop("etag", None)
    stores.tables.upsert(TABLE_STATE, state)
    return progress(state), json.dumps({"tenant": tenant, "company": company, "run": run, "slice": 0})


def progress(state: Mapping[str, Any]) -> dict[str, Any]:
    """A state row as the API shows it."""
    return {"run": state.get("Run"), "source": state.get("Source"), "status": state.get("Status"),
            "slices_done": state.get("Done", 0), "slices": state.get("Total", 0),
            "years": json.loads(state.get("Years") or "[]"), "postings": state.get("Postings", 0),
            "documents": state.get("Documents", 0), "mismatch_count": state.get("MismatchCount", 0),
            "mismatches": json.loads(state.get("Mismatches") or "[]"),
            "problem_count": state.get("ProblemCount", 0), "problems": json.loads(state.get("Problems") or "[]"),
            "started": state.get("Started"),
            "finished": state.get("Finished") or None, "error": state.get("Error") or None,
            "last_refresh": state.get("Refreshed") or None}


def read_state(stores: Stores, tenant: str, company: str) -> dict[str, Any] | None:
    found = stores.tables.get(TABLE_STATE, *state_key(tenant, company))
    return progress(found) if found else None


@dataclass
class SliceResult:
    postings: int
    stale: int
    documents: int
    mismatches: list[dict[str, str]]
    problems: list[str]


def read_slice(stores: Stores, source: LedgerSource, tenant: str, company: str, low: dt.date, high: dt.date
               ) -> SliceResult:
    """Read one slice from the source into the store, its documents too, and check it against the system's report."""
    ledger = LedgerStore(stores.tables, stores.blobs, tenant, company)
    writer = ledger.writer(low, high)
    for posting in source.postings(low, high):
        writer.add(posting)
    stale = writer.finish()
    fetched = 0
    for document, voucher in writer.documents.items():
        if ledger.has_document(document):
            continue
        attachment = source.attachment(document)
        ledger.put_document(LedgerDocument(id=document, voucher=voucher, file_name=attachment.file_name,
                                           content_type=attachment.content_type, size=len(attachment.content)),
                            attachment.content)
        fetched += 1
    mismatches = ledger.put_balances(low, high, writer.sums, source.reported(low, high))
    problems, source.problems[:] = list(source.problems), []
    return SliceResult(writer.count, stale, fetched, [
        {"account": m.account, "period": m.period, "ours": str(m.change), "reported": str(m.reported)}
        for m in mismatches], problems)


def read_inbox(ledger: LedgerStore, source: LedgerSource) -> int:
    """The system's inbox (documents waiting to be booked) as it is now; each file fetched once. Returns how many
    files were fetched."""
    listed, fetched = [], 0
    for found in source.inbox():
        document = LedgerDocument(id=found.id, voucher=None, file_name=found.file_name, content_type="",
                                  size=found.size, folder=found.folder)
        stored = ledger.described(found.id)
        if stored is None:
            attachment = source.attachment(found.id)
            document = document.model_copy(update={"content_type": attachment.content_type,
                                                   "size": len(attachment.content)})
            ledger.put_document(document, attachment.content)
            fetched += 1
        else:
            document = document.model_copy(update={"content_type": stored.content_type, "size": stored.size})
        listed.append(document)
    ledger.put_inbox(listed)
    return fetched


def step(stores: Stores, opener: Opener, message: str | bytes,
         emit: Callable[[Stores, str, str, str, Mapping[str, Any]], Any] | None = None,
         now: Callable[[], dt.datetime] = _now) -> str | None:
    """One queue message: one slice read and stored, progress advanced; returns the next message (None at the end)."""
    wanted = json.loads(message)
    tenant, company, run, index = wanted["tenant"], wanted["company"], wanted["run"], int(wanted["slice"])
    partition, row = state_key(tenant, company)
    state = stores.tables.get(TABLE_STATE, partition, row)
    if state is None or state.get("Run") != run or state.get("Status") != "running" or state.get("Done") != index:
        return None  # superseded by a newer run, or a copy of a message already taken
    try:
        choice, source = _open(stores, opener, tenant, company)
        ledger = LedgerStore(stores.tables, stores.blobs, tenant, company)
        fetched_inbox = 0
        if index == 0:
            ledger.put_years(source.fiscal_years())
            ledger.put_accounts(source.accounts())
            ledger.put_parties(source.parties())
            ledger.put_dimensions(source.dimensions())
            fetched_inbox = read_inbox(ledger, source)
        low, high = (dt.date.fromisoformat(d) for d in json.loads(state["Slices"])[index])
        # Taken before the read: a change made while we read shows as a new fingerprint on the next timer run.
        mark = source.fingerprint(low, high)
        result = read_slice(stores, source, tenant, company, low, high)
    except BilagsbroError as exc:
        if isinstance(exc, TransientError):
            raise  # the queue tries the message again (maxDequeueCount), then its poison handler records it
        state.update({"Status": "failed", "Error": str(exc)[:2000], "Finished": now().isoformat()})
        _save(stores, state)
        return None
    listed = json.loads(state.get("Mismatches") or "[]")
    problems = json.loads(state.get("Problems") or "[]")
    state.update({"Problems": json.dumps((problems + result.problems)[:MAX_MISMATCHES], ensure_ascii=False),
                  "ProblemCount": int(state.get("ProblemCount", 0)) + len(result.problems),"Done": index + 1, "Postings": int(state.get("Postings", 0)) + result.postings,
                  "Documents": int(state.get("Documents", 0)) + result.documents + fetched_inbox,
                  "MismatchCount": int(state.get("MismatchCount", 0)) + len(result.mismatches),
                  "Mismatches": json.dumps((listed + result.mismatches)[:MAX_MISMATCHES])})
    key = low.strftime("%Y-%m") if source.slice == "period" else _year_label(source, low, high)
    if mark and (source.slice == "period" or key == f"{low.isoformat()}..{high.isoformat()}"):  # a whole unit read
        state["Fingerprints"] = json.dumps({**json.loads(state.get("Fingerprints") or "{}"), key: mark})
    last = index + 1 >= int(state["Total"])
    if last:
        state.update({"Status": "done", "Finished": now().isoformat()})
    if not _save(stores, state):
        return None
    if last and emit is not None:
        summary = progress(state)
        emit(stores, tenant, "ledger.synced", f"{tenant}.{safe_key(company)}.{run}",
             {"company": company, "source": choice.source, "kind": "backfill", **{
                 k: summary[k] for k in ("run", "years", "postings", "documents", "mismatch_count", "mismatches",
                                         "problem_count")}})
    return None if last else json.dumps({"tenant": tenant, "company": company, "run": run, "slice": index + 1})


def _year_label(source: LedgerSource, low: dt.date, high: dt.date) -> str:
    """The fiscal year a year slice belongs to (a slice clipped to a range keeps its year's key)."""
    for year in source.fiscal_years():
        if year.start <= low and high <= year.end:
            return year.label
    return f"{low.isoformat()}..{high.isoformat()}"


def _save(stores: Stores, state: Entity) -> bool:
    """ETag-guarded: False when someone else changed the row since we read it (a newer run took over)."""
    etag = state.pop("etag", None)
    try:
        if etag is None:
            stores.tables.upsert(TABLE_STATE, state)
        else:
            state["etag"] = stores.tables.update(TABLE_STATE, state, etag=etag)
        return True
    except Stale:
        return False


def failed(stores: Stores, message: str | bytes, reason: str, now: Callable[[], dt.datetime] = _now) -> None:
    """A slice message poisoned (the source kept failing): the run says so instead of staying 'running'."""
    wanted = json.loads(message)
    state = stores.tables.get(TABLE_STATE, *state_key(wanted["tenant"], wanted["company"]))
    if state is not None and state.get("Run") == wanted["run"] and state.get("Status") == "running":
        state.update({"Status": "failed", "Error": reason, "Finished": now().isoformat()})
        _save(stores, state)


# -- currency: the timer ----------------------------------------------------------------------------------


def open_years(years: list[FiscalYear], today: dt.date) -> list[FiscalYear]:
    """The fiscal year holding today, and the one before while its closing may still change it (six months)."""
    return [y for y in years if y.start <= today and (today <= y.end or today - y.end <= dt.timedelta(days=183))]


@dataclass
class Refresh:
    tenant: str
    company: str
    periods_read: list[str]
    postings: int
    mismatches: list[dict[str, str]]
    skipped: str | None = None
    inbox_fetched: int = 0  # new files in the system's inbox, fetched this run


def refresh(stores: Stores, opener: Opener, tenant: str, company: str, *,
            emit: Callable[[Stores, str, str, str, Mapping[str, Any]], Any] | None = None,
            now: Callable[[], dt.datetime] = _now) -> Refresh:
    """What changed since the watermark, read again period by period, under the lease."""
    partition, row = state_key(tenant, company)
    state = _lease(stores, partition, row, now())
    if state is None:
        return Refresh(tenant, company, [], 0, [], skipped="another run holds the lease, or a backfill is running")
    choice, source = _open(stores, opener, tenant, company)
    fingerprints: dict[str, str] = json.loads(state.get("Fingerprints") or "{}")
    read, postings, mismatches, inbox = [], 0, [], 0
    try:
        # The inbox changes apart from the books (a receipt photographed today): read at every run, its files once.
        inbox = read_inbox(LedgerStore(stores.tables, stores.blobs, tenant, company), source)
        for year in open_years(source.fiscal_years(), now().date()):
            units = [(p.key, p.start, p.end) for p in year.periods()] if source.slice == "period" else [
                (year.label, year.start, year.end)]
            for key, low, high in units:
                mark = source.fingerprint(low, high)
                if mark and fingerprints.get(key) == mark:
                    continue
                result = read_slice(stores, source, tenant, company, low, high)
                read.append(key)
                postings += result.postings
                mismatches += result.mismatches
                if mark:
                    fingerprints[key] = mark
                state.update({"Fingerprints": json.dumps(fingerprints), "LeaseUntil": (now() + LEASE).isoformat()})
                if not _save(stores, state):
                    return Refresh(tenant, company, read, postings, mismatches, skipped="lease lost",
                                   inbox_fetched=inbox)
    finally:
        state.update({"LeaseUntil": "", "Refreshed": now().isoformat()})
        _save(stores, state)
    if read and emit is not None:
        emit(stores, tenant, "ledger.synced", f"{tenant}.{safe_key(company)}.refresh.{now():%Y%m%dT%H%M%S}",
             {"company": company, "source": choice.source, "kind": "refresh", "periods": read,
              "postings": postings, "mismatch_count": len(mismatches), "mismatches": mismatches[:MAX_MISMATCHES]})
    return Refresh(tenant, company, read, postings, mismatches, inbox_fetched=inbox)


def _lease(stores: Stores, partition: str, row: str, now: dt.datetime) -> Entity | None:
    state = stores.tables.get(TABLE_STATE, partition, row)
    if state is None:
        state = {"PartitionKey": partition, "RowKey": row, "LeaseUntil": (now + LEASE).isoformat()}
        try:
            state["etag"] = stores.tables.insert(TABLE_STATE, state)
        except Conflict:
            return None
        return state
    if state.get("Status") == "running" or (state.get("LeaseUntil") or "") > now.isoformat():
        return None
    state["LeaseUntil"] = (now + LEASE).isoformat()
    return state if _save(stores, state) else None


def refresh_all(stores: Stores, opener: Opener, *, emit: Callable[..., Any] | None = None,
                now: Callable[[], dt.datetime] = _now) -> list[Refresh]:
    """Every tenant's and company's ledger with a chosen source, one after another; one failing never stops the rest."""
    reports = []
    for entry in stores.tables.query(TABLE_STATE, INDEX):
        try:
            reports.append(refresh(stores, opener, entry["Tenant"], entry["Company"], emit=emit, now=now))
        except BilagsbroError as exc:
            log.warning("ledger refresh of %s/%s failed: %s", entry["Tenant"], entry["Company"], exc)
            reports.append(Refresh(entry["Tenant"], entry["Company"], [], 0, [], skipped=str(exc)))
    return reports
