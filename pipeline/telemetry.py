"""OpenTelemetry across queue hops: each stage continues the trace its envelope carries.

Storage queues carry no trace context of their own, so the envelope's W3C `traceparent` is the link:
a stage opens a consumer span under it and hands its own span on to the next queue. Without an
OpenTelemetry SDK configured (local runs) the API is a no-op and a fresh child id keeps the chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.propagate import extract

from pipeline.envelope import Envelope, child_traceparent

tracer = trace.get_tracer("bilagsbro.pipeline")


@contextmanager
def stage_span(stage: str, env: Envelope) -> Iterator[str]:
    """Yields the traceparent the stage's outgoing messages should carry."""
    with tracer.start_as_current_span(
        stage,
        context=extract({"traceparent": env.traceparent}),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "bilagsbro.tenant": env.tenant,
            "bilagsbro.document": env.document,
            "bilagsbro.receipt": env.receipt,
            "bilagsbro.attempt": env.attempt,
            "messaging.destination.name": stage,
        },
    ) as span:
        context = span.get_span_context()
        if span.is_recording() and context.is_valid:
            yield f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
        else:
            yield child_traceparent(env.traceparent)
