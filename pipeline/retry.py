"""Retry: documents sent through adapt and deliver again from their shared form, after their cause was fixed.

The one path every retry takes — one document (`POST /api/v1/documents/{id}/retry`) or every document of a
problem group at once (pipeline/problems.py) — so that each is audited alike: a `resubmitted` trace step with
who and why, in envelopes per receipt whose rows are written with that step (the sweeper sends any that never
leave). The idempotency ledger still stands between a retry and the accounting system: never posted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.envelope import Enclosure, Envelope, new_message_id, new_traceparent, pack, trace_id
from pipeline.inflight import Send, commit, open_journey, receipt_of
from pipeline.ports import Entity, Stores
from pipeline.records.names import QUEUE_TRANSLATED
from pipeline.records.trace import TraceEntry


@dataclass(frozen=True)
class Retried:
    """One document to send again: its id, reference and the attempt the retry is."""

    document_id: str
    reference: str | None
    attempt: int


def retried(document_id: str, rows: Sequence[Entity]) -> Retried:
    """A document as its trace rows know it: the reference and the next attempt's number."""
    reference = next((str(r["Reference"]) for r in rows if r.get("Reference")), None)
    attempt = max((int(r.get("Attempt") or 1) for r in rows), default=0) + 1
    return Retried(document_id, reference, attempt)


def resubmit(stores: Stores, tenant: str, chosen: Sequence[Retried], *, by: str, reason: str | None = None,
             extra: dict[str, Any] | None = None) -> list[Envelope]:
    """Send `chosen` to adapt again: per receipt, its journey opened, each envelope's `resubmitted` steps and row
    committed together. Returns the envelopes for QUEUE_TRANSLATED (the output binding sends them)."""
    by_receipt: dict[str, list[Retried]] = {}
    for one in chosen:
        by_receipt.setdefault(receipt_of(tenant, one.document_id), []).append(one)
    sent: list[Envelope] = []
    for receipt, documents in by_receipt.items():
        template = Envelope(tenant=tenant, receipt=receipt, traceparent=new_traceparent(), id=new_message_id())
        envelopes = pack(template, [Enclosure(d.document_id, d.reference, d.attempt) for d in documents])
        open_journey(stores.tables, tenant, receipt)  # a new journey: swept like any other
        for envelope in envelopes:
            detail = {"by": by, **({"reason": reason} if reason else {}), **(extra or {}), "next": "adapt"}
            entries = [TraceEntry(tenant, e.id, "resubmitted", detail, reference=e.reference, receipt=receipt,
                                  attempt=e.attempt, trace_id=trace_id(envelope.traceparent))
                       for e in envelope.documents]
            commit(stores.tables, tenant, receipt, entries, sends=[Send(QUEUE_TRANSLATED, envelope)])
            sent.append(envelope)
    return sent
