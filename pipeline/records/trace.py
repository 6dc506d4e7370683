"""The trace log: per document, per step, what went in, what came out, and why it turned out so.

One Table Storage partition per receipt (`<tenant>|<receipt id>`: an inbound request, file or pull) holds
the rows of the receipt itself (problems that belong to no single document) and of each of its documents,
whose ids carry the receipt's (`d-<receipt>-<n>`). A subject's rows are keyed `<subject>|<time>`, one per
step in time order, so "why did it turn out this way?" is one range read, and a stage writes the steps of
all the documents of one queue message in one entity-group transaction. The envelopes still on their way
have rows of their own there (pipeline/inflight.py, `~msg|<id>`).

Documents and receipts from before this layout (a partition each, rows keyed by time) are read where
they are.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline import redaction
from pipeline.ports import Entity, TableStore
from pipeline.records.names import TABLE_TRACE

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

# Rows from before the per-receipt layout: a document's partition also held where it was headed.
STATE_ROW = "~state"
_CHILD = re.compile(r"d-(.+)-(\d+)")  # a document of a receipt: d-<receipt without r->-<n>

_seq = itertools.count()
_lock = threading.Lock()


def _row_key() -> str:
    # Nanoseconds plus a process-local counter: unique and sortable even within one clock tick.
    with _lock:
        return f"{time.time_ns():020d}-{next(_seq) % 100000:05d}"


def where(tenant: str, subject: str) -> tuple[str, str]:
    """(PartitionKey, RowKey prefix) of a document's or a receipt's trace rows."""
    child = _CHILD.fullmatch(subject)
    if child:
        return f"{tenant}|r-{child.group(1)}", f"{subject}|"
    if subject.startswith("r-"):
        return f"{tenant}|{subject}", f"{subject}|"
    return f"{tenant}|{subject}", ""  # a document from before (its own partition, rows keyed by time)


def partition(tenant: str, subject: str) -> str:
    return where(tenant, subject)[0]


def child_id(receipt: str, index: int) -> str:
    """The id of a receipt's `index`th document: unguessable (the receipt's) and the same on every run."""
    return f"d-{receipt.removeprefix('r-')}-{index:06d}"


@dataclass(frozen=True)
class TraceEntry:
    tenant: str
    document_id: str  # the subject: a document, or a receipt for what concerns it as a whole
    step: str
    detail: dict[str, Any]
    reference: str | None = None
    receipt: str | None = None
    attempt: int = 1
    trace_id: str | None = None
    # The document in the shared form (its JSON), kept with its `translated` step when small enough to travel
    # in queue messages (pipeline/envelope.py): what a retry sends to adapt again. The customer's data as it is,
    # so never scrubbed like `detail`; not shown in the trace.
    shared_form: str | None = None
    # What the document index keeps of the document (pipeline/records/documents.py `listing`): given with the
    # step that first has the whole document (`translated`); not a trace row's property.
    listing: dict[str, Any] | None = None

    def entity(self) -> Entity:
        partition_key, prefix = where(self.tenant, self.document_id)
        return {
            "PartitionKey": partition_key,
            "RowKey": prefix + _row_key(),
            "Step": self.step,
            "At": dt.datetime.now(dt.UTC).isoformat(),
            "Reference": self.reference,
            "Receipt": self.receipt,
            "Attempt": self.attempt,
            "TraceId": self.trace_id,
            "Detail": redaction.scrub_json(self.detail),  # an error echoing a credential keeps it out of the table
            "SharedForm": self.shared_form,
        }


class TraceLog:
    def __init__(self, tables: TableStore) -> None:
        self.tables = tables

    def write(self, entry: TraceEntry) -> None:
        self.tables.insert(TABLE_TRACE, entry.entity())

    def write_many(self, entries: Sequence[TraceEntry]) -> None:
        """In transactions of up to 100 per partition (one, for the documents of one envelope)."""
        self.tables.insert_many(TABLE_TRACE, [e.entity() for e in entries])

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

    def rows(self, tenant: str, subject: str) -> list[Entity]:
        """A document's or receipt's trace rows as stored, oldest first (in either layout)."""
        partition_key, prefix = where(tenant, subject)
        if prefix:
            found = self.tables.query(TABLE_TRACE, partition_key, prefix)
            if found:
                return found
        # Before the per-receipt layout: the subject's own partition, rows keyed by their time alone.
        return [r for r in self.tables.query(TABLE_TRACE, f"{tenant}|{subject}") if r["RowKey"][:1].isdigit()]

    def read(self, tenant: str, document_id: str) -> list[dict[str, Any]]:
        return [shown(r) for r in self.rows(tenant, document_id)]


def shown(row: Entity) -> dict[str, Any]:
    """A trace row as the API shows it."""
    return {
        "step": row["Step"],
        "at": row["At"],
        "attempt": row.get("Attempt", 1),
        **({"reference": row["Reference"]} if row.get("Reference") else {}),
        **({"trace_id": row["TraceId"]} if row.get("TraceId") else {}),
        "detail": row.get("Detail") or {},
    }


def status(trace: list[dict[str, Any]]) -> str:
    steps = [t["step"] for t in trace if t["step"] not in INFORMATIONAL]
    if not steps:
        return "unknown"
    return str(STATUS_OF.get(steps[-1], steps[-1]))
