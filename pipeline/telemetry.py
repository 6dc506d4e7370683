"""OpenTelemetry across queue hops: each stage continues the trace its envelope carries.

Storage queues carry no trace context of their own, so the envelope's W3C `traceparent` is the link:
a stage opens a consumer span under it and hands its own span on to the next queue. Without an
OpenTelemetry SDK configured (local runs) the API is a no-op and a fresh child id keeps the chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
            "bilagsbro.receipt": env.receipt,
            "bilagsbro.envelope": env.id or "",
            "bilagsbro.documents": env.subjects,
            "messaging.destination.name": stage,
        },
    ) as span:
        context = span.get_span_context()
        if span.is_recording() and context.is_valid:
            yield f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
        else:
            yield child_traceparent(env.traceparent)


_redacted_providers: set[int] = set()


def redact_spans(provider: trace.TracerProvider | None = None) -> bool:
    """Secrets out of span attributes too: the httpx instrumentation that Azure Monitor switches on puts each
    request's full URL in `url.full`, query string and all (Tripletex's session request carries both tokens
    there). A span processor rewrites string attributes through `pipeline.redaction` as each span starts,
    before any exporter sees it. Idempotent; False while no SDK tracer provider is configured (nothing records).
    """
    provider = provider or trace.get_tracer_provider()
    add = getattr(provider, "add_span_processor", None)
    if add is None:
        return False
    if id(provider) in _redacted_providers:
        return True
    from opentelemetry.sdk.trace import SpanProcessor

    from pipeline.redaction import redact

    class RedactingProcessor(SpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            for key, value in dict(span.attributes or {}).items():
                if isinstance(value, str) and (clean := redact(value)) != value:
                    span.set_attribute(key, clean)

    add(RedactingProcessor())
    _redacted_providers.add(id(provider))
    return True
