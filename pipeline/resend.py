"""Resend: a document sent again, to the same accounting system or another of the tenant's, as an explicit act.

A tenant has one primary system (`Tenant.target`, where new documents go) and may have more connections
(`Tenant.connections`): another system it is connected to (`active`: may be sent to, e.g. the new system before a
switch), or the old one kept `read-only` after a switch, for lookups and history. A resend names its system by
the registry name (`"tripletex"`); none means the primary.

Never twice by accident: the idempotency ledger (pipeline/ledger.py) has one entry per tenant, system and
reference. A resend to a system whose entry says it holds the document stops and says so (`already_there`);
`force` — after the customer deleted the voucher there — releases that entry (ETag-guarded, the earlier remote
id kept on it) so the delivery claims it anew. Every resend is audited: who (the API key's id, or the operator)
and why, in the ledger table's `<tenant>|resends` partition and as the document's `resubmitted` trace step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pipeline.envelope import Enclosure, Envelope, new_message_id, new_traceparent, pack, trace_id
from pipeline.errors import ConfigError
from pipeline.inflight import Send, commit, open_journey, receipt_of
from pipeline.ledger import ledger_key
from pipeline.ports import Stale, Stores
from pipeline.records.names import QUEUE_TRANSLATED, TABLE_LEDGER
from pipeline.records.tenants import Tenant, through
from pipeline.records.trace import TraceEntry, TraceLog, shown

MAX_BULK = 5000  # documents one bulk request may resend (a larger set: narrow the filter, or page by date)


@dataclass(frozen=True)
class Planned:
    """What a resend of one document would do: `send`, or why not."""

    document_id: str
    reference: str | None
    target: str
    outcome: str  # "send", "already_there", "not_found", "no_shared_form", "refused"
    detail: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1  # the attempt a resend would be

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.document_id, "reference": self.reference, "target": self.target,
                "outcome": self.outcome, **self.detail}


def plan(stores: Stores, tenant: Tenant, document_id: str, target: str, *, force: bool) -> Planned:
    """Whether `document_id` may be resent to `target` now (nothing is written)."""
    rows = TraceLog(stores.tables).rows(tenant.id, document_id) if document_id.startswith("d-") else []
    if not rows:
        return Planned(document_id, None, target, "not_found")
    trace = [shown(r) for r in rows]
    reference = next((t.get("reference") for t in trace if t.get("reference")), None)
    attempt = max(int(t.get("attempt") or 1) for t in trace) + 1
    if not any(r.get("SharedForm") or (r.get("Step") == "translated" and (r.get("Detail") or {}).get("shared_form"))
               for r in rows):
        return Planned(document_id, reference, target, "no_shared_form",
                       {"reason": "it never reached the shared form: there is nothing to send"})
    try:
        through(tenant, target, sending=True)
    except ConfigError as exc:
        return Planned(document_id, reference, target, "refused", {"reason": exc.message})
    if reference is not None:
        entry = stores.tables.get(TABLE_LEDGER, *ledger_key(tenant.id, target, reference))
        if entry is not None and entry.get("State") in ("delivered", "claimed"):
            held = {"remote_id": entry.get("RemoteId"), "delivered_at": entry.get("DeliveredAt"),
                    "by_document": entry.get("DocumentId"), "state": entry.get("State")}
            if entry.get("State") == "claimed" or not force:
                return Planned(document_id, reference, target, "already_there", {
                    "already_there": held,
                    "reason": (f"{target} holds {reference} already" + (
                        f" (id {held['remote_id']})" if held.get("remote_id") else "") +
                        (": resend with force=true once it has been deleted there" if entry.get("State") ==
                         "delivered" else ": a delivery of it is under way"))})
            return Planned(document_id, reference, target, "send", {"replaces": held}, attempt)
    return Planned(document_id, reference, target, "send", attempt=attempt)


def _release(stores: Stores, tenant: str, planned: Planned, *, by: str, reason: str) -> None:
    """Let the ledger claim a delivered reference again (force): its earlier delivery kept on the entry."""
    assert planned.reference is not None
    key = ledger_key(tenant, planned.target, planned.reference)
    entry = stores.tables.get(TABLE_LEDGER, *key)
    if entry is None or entry.get("State") != "delivered":
        return
    released = {**{k: v for k, v in entry.items() if k != "etag"}, "State": "released",
                "ReleasedAt": dt.datetime.now(dt.UTC).isoformat(), "ReleasedBy": by, "ReleaseReason": reason[:500],
                "PreviousRemoteId": entry.get("RemoteId")}
    try:
        stores.tables.update(TABLE_LEDGER, released, etag=str(entry["etag"]))
    except Stale:
        raise ConfigError(f"the ledger entry of {planned.reference} for {planned.target} changed meanwhile: "
                          "look again and resend", tenant=tenant, reference=planned.reference) from None


def send(stores: Stores, tenant: Tenant, chosen: Sequence[Planned], *, by: str, reason: str, force: bool
         ) -> list[Envelope]:
    """Resend the planned documents (outcome `send`): audited, released in the ledger when forced, and on their way
    to adapt in envelopes per receipt. Returns the envelopes for QUEUE_TRANSLATED (the output binding sends them;
    their rows are written already, so the sweeper would send any that never leave)."""
    sent: list[Envelope] = []
    at = dt.datetime.now(dt.UTC).isoformat()
    by_receipt: dict[str, list[Planned]] = {}
    for planned in chosen:
        if planned.outcome == "send":
            by_receipt.setdefault(receipt_of(tenant.id, planned.document_id), []).append(planned)
    for receipt, documents in by_receipt.items():
        audit = []
        for planned in documents:
            if force and planned.detail.get("replaces"):
                _release(stores, tenant.id, planned, by=by, reason=reason)
            audit.append({"PartitionKey": f"{tenant.id}|resends", "RowKey": f"{planned.document_id}|{at}",
                          "Document": planned.document_id, "Reference": planned.reference, "Target": planned.target,
                          "By": by, "Reason": reason[:1000], "Force": force, "At": at,
                          **({"Replaces": planned.detail["replaces"]} if planned.detail.get("replaces") else {})})
        stores.tables.insert_many(TABLE_LEDGER, audit)
        template = Envelope(tenant=tenant.id, receipt=receipt, traceparent=new_traceparent(), id=new_message_id())
        envelopes = []
        for target in sorted({p.target for p in documents}):
            enclosures = [Enclosure(p.document_id, p.reference, p.attempt) for p in documents if p.target == target]
            envelopes += pack(replace(template, to=None if target == tenant.target else target), enclosures)
        open_journey(stores.tables, tenant.id, receipt)
        for envelope in envelopes:
            entries = [TraceEntry(tenant.id, e.id, "resubmitted", {
                "by": by, "reason": reason, "target": envelope.to or tenant.target, "force": force, "next": "adapt",
                "resend": True}, reference=e.reference, receipt=receipt, attempt=e.attempt,
                trace_id=trace_id(envelope.traceparent)) for e in envelope.documents]
            commit(stores.tables, tenant.id, receipt, entries, sends=[Send(QUEUE_TRANSLATED, envelope)])
            sent.append(envelope)
    return sent


