"""Webhook events: raised where a document or file reaches an outcome, delivered through the webhooks queue, tried
again with backoff for 24 hours, every attempt logged on the delivery's row (visible in the API).

Nothing is lost between the outcome and the queue: `emit` writes one delivery row per subscribed endpoint (an
insert, keyed by event id, so a stage that runs again raises nothing twice) and queues it before the stage writes
its trace step; a stage that dies in between runs again and queues the same row again, and the sender skips a row
already delivered. A receiver may still see an event twice (a lost answer is retried): it deduplicates by the
event id, which every attempt carries.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline import webhooks
from pipeline.names import QUEUE_WEBHOOKS, TABLE_WEBHOOK_DELIVERIES
from pipeline.ports import Conflict, NotFound, Stale, Stores
from pipeline.webhook_endpoints import Endpoint, WebhookEndpoints

if TYPE_CHECKING:
    from pipeline.errors import ConfigError
    from pipeline.records.trace import TraceEntry

log = logging.getLogger(__name__)
# A document's outcomes and the webhook event each raises ("duplicate" raises none: its first delivery did).
OUTCOME_EVENTS = {"delivered": "document.delivered", "blocked": "document.blocked", "failed": "document.failed",
                  "poisoned": "document.failed"}
KEPT_ATTEMPTS = 30  # the last attempts on a row (a table property holds 64 KiB); the count is kept in full


@dataclass(frozen=True)
class Reply:
    """What a receiver answered, or why there was no answer."""

    status: int | None
    body: str = ""
    error: str | None = None


Post = Callable[[str, Mapping[str, str], bytes], Reply]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def emit(stores: Stores, tenant: str, event: str, event_id: str, data: Mapping[str, Any],
         *, now: Callable[[], dt.datetime] = _now, endpoints: Sequence[Endpoint] | None = None) -> int:
    """Raise `event` for every endpoint of the tenant that subscribed to it; returns how many were queued.
    `endpoints`: the tenant's endpoints when the caller has read them already (one read for many events)."""
    if endpoints is None:
        endpoints = WebhookEndpoints(stores.tables, stores.secrets).subscribed(tenant, event)
    else:
        endpoints = [e for e in endpoints if event in e.events]
    if not endpoints:
        return 0
    if stores.queues is None:
        raise RuntimeError("webhooks need a queue sender (Stores.queues)")
    created = now().isoformat()
    body = json.dumps({"id": event_id, "type": event, "created": created, "tenant": tenant, "data": dict(data)},
                      ensure_ascii=False)
    for endpoint in endpoints:
        row = f"{endpoint.id}.{event_id}"
        try:
            stores.tables.insert(TABLE_WEBHOOK_DELIVERIES, {
                "PartitionKey": tenant, "RowKey": row, "Endpoint": endpoint.id, "EventId": event_id, "Event": event,
                "Body": body, "State": "pending", "Created": created, "AttemptCount": 0, "Attempts": "[]"})
        except Conflict:
            pass  # raised before by a run that died before its trace step: queue it again, the sender skips it if done
        stores.queues.send(QUEUE_WEBHOOKS, json.dumps({"tenant": tenant, "delivery": row}))
    return len(endpoints)


def emit_outcomes(stores: Stores, tenant: str, entries: Sequence[TraceEntry]) -> int:
    """The events of a stage's outcomes (OUTCOME_EVENTS) among the trace steps it is about to write, raised before
    they are written: a stage that dies in between raises them again under the same ids. The tenant's endpoints are
    read once for all of them, only when there is an outcome to raise, and kept for a few seconds (`current`)."""
    outcomes = [e for e in entries if e.step in OUTCOME_EVENTS and e.document_id.startswith("d-")]
    if not outcomes:
        return 0
    endpoints = WebhookEndpoints(stores.tables, stores.secrets).current(tenant)
    if not endpoints:
        return 0
    return sum(emit(stores, tenant, OUTCOME_EVENTS[e.step], f"{e.document_id}.{e.step}.{e.attempt}", {
        "document": e.document_id, "reference": e.reference, "receipt": e.receipt, "status": e.step,
        "detail": json.loads(json.dumps(e.detail, default=str))}, endpoints=endpoints) for e in outcomes)


def unhealthy(stores: Stores, tenant: str, target: str, document: str, exc: ConfigError) -> None:
    """Credentials, permissions, company: the connection needs the tenant. One event an hour per tenant and
    system, not one per document that meets it."""
    hour = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H")
    emit(stores, tenant, "connection.unhealthy", f"{tenant}.{target}.unhealthy.{hour}",
         {"target": target, "document": document, "error": exc.context()})


def attempt(stores: Stores, message: str | bytes, post: Post, *, allow_private: bool,
            backoff: tuple[int, ...] = webhooks.BACKOFF, now: Callable[[], dt.datetime] = _now) -> str:
    """One attempt of one delivery (what the queue function calls); returns the row's state after it."""
    wanted = json.loads(message)
    tenant, row_key = str(wanted["tenant"]), str(wanted["delivery"])
    row = stores.tables.get(TABLE_WEBHOOK_DELIVERIES, tenant, row_key)
    if row is None or row["State"] in ("delivered", "failed", "cancelled"):
        return "gone" if row is None else str(row["State"])
    endpoints = WebhookEndpoints(stores.tables, stores.secrets)
    try:
        endpoint = endpoints.get(tenant, str(row["Endpoint"]))
    except NotFound:
        return _save(stores, row, "cancelled", None, {"at": now().isoformat(), "error": "the endpoint was deleted"})
    started, at = time.monotonic(), now()
    record: dict[str, Any] = {"at": at.isoformat(), "attempt": int(row["AttemptCount"]) + 1}
    problem = webhooks.target_problem(endpoint.url, allow_private=allow_private)
    if problem:
        reply = Reply(None, error=problem)
    else:
        body = str(row["Body"]).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Bilagsbro-Webhooks/1",
                   webhooks.EVENT_ID_HEADER: str(row["EventId"]), "Bilagsbro-Event-Type": str(row["Event"]),
                   webhooks.SIGNATURE_HEADER: webhooks.sign(endpoints.signing_secrets(endpoint),
                                                            int(at.timestamp()), body)}
        reply = post(endpoint.url, headers, body)
    record.update({"status": reply.status, "ms": round((time.monotonic() - started) * 1000),
                   **({"error": reply.error} if reply.error else {}),
                   **({"response": reply.body[:300]} if reply.body else {})})
    if reply.status is not None and 200 <= reply.status < 300:
        return _save(stores, row, "delivered", None, record)
    first = dt.datetime.fromisoformat(str(row.get("FirstAttempt") or at.isoformat()))
    due = webhooks.next_attempt(int(row["AttemptCount"]) + 1, first, at, backoff)
    if due is None:
        log.warning("webhook %s to %s gave up after 24 hours", row["EventId"], endpoint.id)
        return _save(stores, row, "failed", None, record)
    state = _save(stores, row, "retrying", due, record)
    assert stores.queues is not None, "webhook retries need a queue sender"
    stores.queues.send(QUEUE_WEBHOOKS, json.dumps(wanted), delay_seconds=max(1, round((due - at).total_seconds())))
    return state


def _save(stores: Stores, row: dict[str, Any], state: str, due: dt.datetime | None, record: dict[str, Any]) -> str:
    attempts = [*json.loads(str(row["Attempts"])), record][-KEPT_ATTEMPTS:]
    updated = {**row, "State": state, "Attempts": json.dumps(attempts, ensure_ascii=False),
               "AttemptCount": int(row["AttemptCount"]) + (1 if "attempt" in record else 0),
               "FirstAttempt": row.get("FirstAttempt") or record["at"], "NextAttempt": due.isoformat() if due else None}
    try:
        stores.tables.update(TABLE_WEBHOOK_DELIVERIES, updated, etag=str(row["etag"]))
    except Stale:
        log.info("webhook delivery %s was updated by another attempt meanwhile", row["RowKey"])
    return state


def deliveries(stores: Stores, tenant: str, endpoint_id: str) -> list[dict[str, Any]]:
    """An endpoint's deliveries with every kept attempt, newest event first (one partition-prefix query)."""
    rows = stores.tables.query(TABLE_WEBHOOK_DELIVERIES, tenant, f"{endpoint_id}.")
    out = [{"event_id": r["EventId"], "event": r["Event"], "state": r["State"], "created": r["Created"],
            "attempt_count": int(r["AttemptCount"]), "next_attempt": r.get("NextAttempt"),
            "attempts": json.loads(str(r["Attempts"])), "payload": json.loads(str(r["Body"]))} for r in rows]
    return sorted(out, key=lambda d: d["created"], reverse=True)
