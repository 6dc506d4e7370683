"""The trace log: per document, per step, what went in, what came out, and why it turned out so.

One Table Storage partition per document (`<tenant>|<document id>`), one row per step in time order,
so "why did it turn out this way?" is one partition read. A receipt (an inbound request or file) has
its own partition too, for problems that belong to no single document.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline import redaction
from pipeline.names import TABLE_TRACE
from pipeline.ports import Entity, TableStore

# The steps a document passes, in order; anything else is an outcome of one of them.
STEPS = ("received", "translated", "adapted", "delivered")
# What a document's state is after its latest trace row.
STATUS_OF = {
    "received": "received",
    "translated": "translated",
    "adapted": "adapted",
    "delivered": "delivered",
    "duplicate": "delivered",
    "blocked": "blocked",  # preflight found problems: fix the rules or the target, then retry
    "rejected": "rejected",  # the document's data is wrong: the source must send it again
    "failed": "failed",  # a configuration problem or a refusal by the target
    "retrying": "retrying",  # a passing fault: the queue will try again
    "waiting": "retrying",  # another copy of the same reference is being delivered; looking again soon
    "poisoned": "failed",  # retries exhausted
    "resubmitted": "resubmitted",
}
# Notes, not steps: they say what happened around a document without changing its status.
INFORMATIONAL = frozenset({"requeued"})  # the sweeper sent its message again (pipeline/sweeper.py)

# Where a document is headed now (pipeline/inflight.py): a row of its own partition, never a step.
STATE_ROW = "~state"

_seq = itertools.count()
_lock = threading.Lock()


def _row_key() -> str:
    # Nanoseconds plus a process-local counter: unique and sortable even within one clock tick.
    with _lock:
        return f"{time.time_ns():020d}-{next(_seq) % 100000:05d}"


def partition(tenant: str, document_id: str) -> str:
    return f"{tenant}|{document_id}"


@dataclass(frozen=True)
class TraceEntry:
    tenant: str
    document_id: str
    step: str
    detail: dict[str, Any]
    reference: str | None = None
    receipt: str | None = None
    attempt: int = 1
    trace_id: str | None = None

    def entity(self) -> Entity:
        return {
            "PartitionKey": partition(self.tenant, self.document_id),
            "RowKey": _row_key(),
            "Step": self.step,
            "At": dt.datetime.now(dt.UTC).isoformat(),
            "Reference": self.reference,
            "Receipt": self.receipt,
            "Attempt": self.attempt,
            "TraceId": self.trace_id,
            "Detail": redaction.scrub_json(self.detail),  # an error echoing a credential keeps it out of the table
        }


class TraceLog:
    def __init__(self, tables: TableStore) -> None:
        self.tables = tables

    def write(self, entry: TraceEntry, *, state: Entity | None = None) -> None:
        if state is None:
            self.tables.insert(TABLE_TRACE, entry.entity())
        else:
            self.write_many([entry], state=state)

    def write_many(self, entries: Sequence[TraceEntry], *, state: Entity | None = None) -> None:
        """One partition's rows in one transaction; `state` (pipeline/inflight.py) rides along in it."""
        rows = [e.entity() for e in entries]
        if state is not None and rows:
            rows.append({**state, "PartitionKey": rows[0]["PartitionKey"], "RowKey": STATE_ROW})
        self.tables.insert_many(TABLE_TRACE, rows)

    def index_receipt(self, tenant: str, receipt: str, detail: dict[str, Any]) -> None:
        """Files (uploads, SFTP drops) are listed per tenant, newest last, so none goes unseen."""
        self.tables.insert(TABLE_TRACE, {"PartitionKey": f"{tenant}|receipts", "RowKey": receipt,
                                         "At": dt.datetime.now(dt.UTC).isoformat(), "Detail": detail})

    def listed_receipt(self, tenant: str, receipt: str) -> dict[str, Any] | None:
        row = self.tables.get(TABLE_TRACE, f"{tenant}|receipts", receipt)
        return None if row is None else {"at": row["At"], "detail": row.get("Detail") or {}}

    def receipts(self, tenant: str, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.tables.query(TABLE_TRACE, f"{tenant}|receipts")[-limit:]
        return [{"receipt": r["RowKey"], "at": r["At"], **(r.get("Detail") or {})} for r in rows]

    def read(self, tenant: str, document_id: str) -> list[dict[str, Any]]:
        rows = [r for r in self.tables.query(TABLE_TRACE, partition(tenant, document_id))
                if r["RowKey"] != STATE_ROW]
        return [
            {
                "step": r["Step"],
                "at": r["At"],
                "attempt": r.get("Attempt", 1),
                **({"reference": r["Reference"]} if r.get("Reference") else {}),
                **({"trace_id": r["TraceId"]} if r.get("TraceId") else {}),
                "detail": r.get("Detail") or {},
            }
            for r in rows
        ]


def status(trace: list[dict[str, Any]]) -> str:
    steps = [t["step"] for t in trace if t["step"] not in INFORMATIONAL]
    if not steps:
        return "unknown"
    return str(STATUS_OF.get(steps[-1], steps[-1]))
