"""The failure path: a document that failed with a passing fault tried again, one that gave up poisoned.

A stage never retries by itself. When every document of an envelope fails with a passing fault (a
`TransientError`, or anything unexpected), the envelope propagates the error so the queue redelivers it
(host.json's visibilityTimeout later, at most maxDequeueCount times, then `<queue>-poison`); when only some
of its documents fail so, the others go on and each failing one is sent back alone after RETRY_SECONDS, to
be retried on its own. A `DataError` or `ConfigError` ends the document's journey in its trace until
someone fixes the cause and asks for a retry. What a crash leaves behind is the sweeper's (pipeline/sweeper.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from pipeline.envelope import Envelope
from pipeline.errors import BilagsbroError
from pipeline.inflight import Done, Overtaken, Send, alone, note_failure, pending, settle
from pipeline.ports import Stores
from pipeline.records.trace import TraceLog
from pipeline.webhook_events import emit_outcomes

log = logging.getLogger("bilagsbro.pipeline")
RETRY_SECONDS = 5  # host.json's visibilityTimeout: how long a failed message waits before its next try


def retry_alone(env: Envelope, done: Done, stage: str, queue: str, dequeue_count: int | None) -> None:
    """Documents that failed with a passing fault while others went on: each is tried again on its own.

    When every document failed, the whole envelope is the queue's to retry (and, in the end, to poison).
    """
    if not done.failures:
        return
    if len(done.failures) == len(env.documents):
        raise done.failures[0][1]
    for enclosure, exc in done.failures:
        error = exc.context() if isinstance(exc, BilagsbroError) else {"kind": type(exc).__name__,
                                                                        "message": str(exc)[:500]}
        log.warning("stage %s failed for %s/%s: %s; it is tried again on its own", stage, env.tenant, enclosure.id,
                    error.get("message"))
        done.step(env, enclosure, "retrying", {"stage": stage, "try": dequeue_count or 1, "error": error,
                                               "next": f"on its own, in {RETRY_SECONDS} s"})
        done.sends.append(Send(queue, alone(env, enclosure), delay=RETRY_SECONDS))


def trace_retry(stores: Stores, env: Envelope, stage: str, error: dict[str, Any], dequeue_count: int | None) -> None:
    log.warning("stage %s failed for envelope %s of %s/%s (try %s): %s", stage, env.id, env.tenant, env.receipt,
                dequeue_count, error.get("message"))
    done = Done()
    if env.kind == "file":
        done.step(env, None, "retrying", {"stage": stage, "try": dequeue_count, "error": error})
    for enclosure in env.documents:
        done.step(env, enclosure, "retrying", {"stage": stage, "try": dequeue_count, "error": error})
    try:  # the queue brings this very message back: its row stays, with the error on it
        note_failure(stores.tables, env, done.entries, error)
    except Exception:  # the trace must never hide the original failure
        log.exception("could not write the trace for envelope %s", env.id)


def poisoned(stores: Stores, queue: str, message: str | bytes, *, dequeue_count: int | None = None) -> None:
    """A message gave up after maxDequeueCount tries: say so, with the last error, in its documents' traces."""
    try:
        env = Envelope.from_json(message)
    except (ValueError, TypeError):
        log.error("unreadable message in %s-poison: %r", queue, message[:200])
        return
    row = pending(stores.tables, env)
    if row is None:  # a later copy got it further: nothing to report
        log.info("ignored a poisoned copy of envelope %s of %s/%s: it has moved on", env.id, env.tenant, env.receipt)
        return
    last_error: Any = json.loads(row["LastError"]) if row.get("LastError") else None
    if last_error is None:  # a message from before envelopes had rows: the last retry in its trace
        trace = TraceLog(stores.tables).read(env.tenant, env.subjects[0]) if env.subjects else []
        last = next((r for r in reversed(trace) if r["step"] == "retrying"), None)
        last_error = (last or {}).get("detail", {}).get("error", "unknown")
    done = Done()
    detail = {"queue": queue, "gave_up_at": dt.datetime.now(dt.UTC).isoformat(), "last_error": last_error,
              "remedy": "fix the cause, then POST /api/v1/documents/{id}/retry"}
    if env.kind == "file":
        done.step(env, None, "poisoned", detail)
    for enclosure in env.documents:
        done.step(env, enclosure, "poisoned", detail)
    try:
        emit_outcomes(stores, env.tenant, done.entries)
        settle(stores.tables, env, done.entries)
    except Overtaken:
        return
    log.error("envelope %s of %s/%s poisoned in %s", env.id, env.tenant, env.receipt, queue)
