"""One queue message through one stage: what the stage made of it recorded, its next messages handed back.

The steps that fill the queues are modules of their own — received (pipeline/received.py), translated,
adapted, delivered — and the failure path (pipeline/failed.py). `run` is what the trigger functions call:
it drops a copy that another has overtaken, runs the stage under its lease and span, and records what became
of every document — its step in the trace, and the envelopes that carry the documents on — in one
entity-group transaction with the end of the envelope it took (pipeline/inflight.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import replace

from pipeline.adapted import adapt
from pipeline.delivered import deliver
from pipeline.envelope import Envelope
from pipeline.errors import BilagsbroError, ConfigError
from pipeline.failed import poisoned, trace_retry
from pipeline.inflight import Done, Overtaken, Send, overtaken, settle, stage_lease
from pipeline.ports import Stores
from pipeline.records.names import QUEUE_ADAPTED, QUEUE_TRANSLATED
from pipeline.registry import Connectors
from pipeline.telemetry import stage_span
from pipeline.translated import translate
from pipeline.webhook_events import emit_outcomes

__all__ = ["Connectors", "poisoned", "run"]  # Connectors and poisoned: where code from before the split looks
log = logging.getLogger("bilagsbro.pipeline")


STAGES: dict[str, Callable[..., Done]] = {"translate": translate, "adapt": adapt, "deliver": deliver}
OUTPUT = {"translate": QUEUE_TRANSLATED, "adapt": QUEUE_ADAPTED}


def run(stage: str, stores: Stores, connectors: Connectors, message: str | bytes,
        *, dequeue_count: int | None = None) -> list[str]:
    """Run one stage on one queue message; what the trigger functions call.

    Returns the next stage's messages (for the output binding). A failure of the whole envelope is written
    to the trace and re-raised so the queue redelivers the message (after maxDequeueCount it goes to the
    poison queue).
    """
    env = Envelope.from_json(message)
    if overtaken(stores.tables, env, dequeue_count):
        # A copy (the sweeper's, or the original back after its host died) already moved it on.
        log.info("dropped a %s message %s of %s/%s: a copy of it was taken first", stage, env.id, env.tenant,
                 env.receipt)
        return []
    try:
        with stage_lease(stores.tables, env), stage_span(stage, env) as traceparent:
            done = STAGES[stage](stores, connectors, env, dequeue_count=dequeue_count)
            # Every envelope a stage sends on continues its documents' trace; the stage's own span is the
            # parent of whatever it sends on.
            onward = [replace(e, traceparent=traceparent) for e in done.onward]
            sends = [Send(OUTPUT[stage], e) for e in onward] + done.sends
            emit_outcomes(stores, env.tenant, done.entries)  # before the steps: a stage run again raises them again
            settle(stores.tables, env, done.entries, sends, ended=not (sends or done.recorded))
    except Overtaken as exc:
        log.info("dropped the %s of envelope %s of %s/%s: %s", stage, env.id, env.tenant, env.receipt, exc)
        return []
    except BilagsbroError as exc:
        trace_retry(stores, env, stage, exc.context(), dequeue_count)
        raise
    except Exception as exc:
        trace_retry(stores, env, stage, {"kind": type(exc).__name__, "message": str(exc)[:500]}, dequeue_count)
        raise
    for send in done.sends:
        if stores.queues is None:
            raise ConfigError(f"a {stage} stage must send to {send.queue} and no queue sender is configured",
                              tenant=env.tenant)
        stores.queues.send(send.queue, send.envelope.to_json(), delay_seconds=math.ceil(send.delay))
    return [e.to_json() for e in [*onward, *done.recorded]]
