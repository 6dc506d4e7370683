"""Scheduled pulls into the pipeline: what a timer does for every tenant with a pulled source.

`pipeline.pulls.watermark` decides *what* to take (watermark, lease, overlap); this module decides what happens
to it: every raw record is stored unchanged (the original), then turned into shared-form documents —
one per record, or one daily summary per (store, business day) once that day has closed — which are
queued for the adapt stage **before** the watermark moves past them, so a crash loses nothing.
What was booked is remembered (`pipeline.pulls.bookings`): a record that arrives after its day was summarised,
or changes after it was booked, is booked once more as the difference only. Pulled documents are in the
shared form already: like the API's, they skip the translate stage (pipeline/received.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import BilagsbroError, Problem
from pipeline.model import Document
from pipeline.ports import PulledSource, Stores
from pipeline.pulls.bookings import Books, Received
from pipeline.pulls.watermark import PullResult, pull
from pipeline.received import Intake, accept, send_all
from pipeline.records.history import blob_ref, new_id
from pipeline.records.names import CONTAINER_RECEIVED, QUEUE_TRANSLATED
from pipeline.records.tenants import Tenant, TenantRegistry
from pipeline.records.trace import TraceEntry, TraceLog

log = logging.getLogger("bilagsbro.pipeline")


@dataclass
class PullReport:
    tenant: str
    source: str
    receipt: str
    result: PullResult | None = None
    documents: list[dict[str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    error: dict[str, Any] | None = None


def pull_tenant(stores: Stores, source: PulledSource, tenant: Tenant, *, now: dt.datetime) -> PullReport:
    settings = tenant.sources.get(source.name, {})
    options = dict(settings.get("booking", {}))
    receipt = new_id("r-")
    report = PullReport(tenant.id, source.name, receipt)
    trace = TraceLog(stores.tables)
    intake = Intake(receipt=receipt, original=blob_ref(CONTAINER_RECEIVED, f"{tenant.id}/{source.name}/"))

    def queue(documents: Sequence[Document | Problem]) -> None:
        good: list[tuple[int, Document]] = []
        for item in documents:
            if isinstance(item, Problem):
                report.problems.append(item)
                continue
            good.append((len(intake.accepted) + len(good), item))
        assert stores.queues is not None, "scheduled pulls need a queue sender"
        # Sent before the watermark moves past them; a crash in between leaves their rows for the sweeper.
        send_all(stores.queues, QUEUE_TRANSLATED, accept(stores, tenant.id, intake, good, via="timer",
                                                          detail={"source": source.name}))

    books = Books(stores, source, tenant.id, options, queue)
    try:
        feed = source.feed(settings, stores.secrets, tenant=tenant.id)

        def receive(batch: list[dict[str, Any]]) -> None:
            summed: list[tuple[Received, set[tuple[str, dt.date]]]] = []
            single: list[Received] = []
            for item in batch:
                identity = source.identity(item)
                path = f"{tenant.id}/{source.name}/{identity}.json"
                stores.blobs.put(CONTAINER_RECEIVED, path, source.dump(item),
                                 content_type="application/json; charset=utf-8",
                                 metadata={"tenant": tenant.id, "format": source.name, "receipt": receipt})
                version = Received(item, feed.key(item), identity, path)
                periods = source.periods(item, options)
                if periods:
                    summed.append((version, periods))
                else:
                    single.append(version)
            books.index(summed)
            books.book_records(single)

        def settle(result: PullResult, renew: Callable[[], bool]) -> None:
            # Only here — the whole window received, the lease held — may a day be summarised: a run that
            # was skipped, stopped half way or lost its lease has not seen all of the day's orders.
            assert result.window_end is not None
            books.settle(result.window_end, renew)

        try:
            start = settings.get("start")  # where the very first run begins (an ISO time); default a day back
            report.result = pull(feed, tables=stores.tables, tenant=tenant.id, source=source.name,
                                 receive=receive, now=now, settle=settle,
                                 start=dt.datetime.fromisoformat(start).astimezone(dt.UTC) if start else None)
        finally:
            getattr(feed, "close", lambda: None)()
    except BilagsbroError as exc:
        report.error = exc.context()
    report.documents = intake.accepted
    trace.write(TraceEntry(tenant.id, receipt, "received" if report.error is None else "failed", {
        "source": source.name, "via": "timer",
        "pull": _result_detail(report.result), "documents": report.documents,
        "problems": [p.as_dict() for p in report.problems], **({"error": report.error} if report.error else {}),
    }, receipt=receipt))
    if report.documents or report.problems or report.error:
        trace.index_receipt(tenant.id, receipt, {"file": f"{source.name} pull", "format": source.name,
                                                 "via": "timer", "bytes": 0})
    return report


def _result_detail(result: PullResult | None) -> dict[str, Any]:
    if result is None:
        return {}
    return {"received": result.received, "batches": result.batches, "late": result.late,
            "dropped": result.dropped, "window_start": str(result.window_start), "window_end": str(result.window_end),
            **({"skipped": result.skipped} if result.skipped else {}),
            **({"lease_lost": True} if result.lease_lost else {})}


PULLS_AT_ONCE = 8  # tenants pulled side by side: one slow or unreachable source delays no other tenant's pull


def pull_all(stores: Stores, sources: Mapping[str, PulledSource], *, now: dt.datetime) -> list[PullReport]:
    """What the timer runs: every tenant's every pulled source, side by side (each under its own lease), one
    failing or slow tenant stopping no other. Reports come back in the tenants' order."""
    jobs = [(tenant, name) for tenant in TenantRegistry(stores.tables).all() for name in tenant.sources
            if name in sources]

    def one(job: tuple[Tenant, str]) -> PullReport:
        tenant, name = job
        report = pull_tenant(stores, sources[name], tenant, now=now)
        if report.error:
            log.warning("pull %s for %s failed: %s", name, tenant.id, report.error.get("message"))
        return report

    if len(jobs) <= 1:
        return [one(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(PULLS_AT_ONCE, len(jobs)), thread_name_prefix="pull") as pool:
        return list(pool.map(one, jobs))
