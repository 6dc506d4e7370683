"""Queue messages carry references and the trace context, never the payload."""

from __future__ import annotations

import pytest

from pipeline.envelope import Envelope, new_traceparent, trace_id


def test_round_trip_and_child_span_keeps_the_trace():
    env = Envelope(tenant="t", document="d-1", receipt="r-1", blob="documents/t/d-1/shared.json",
                   traceparent=new_traceparent())
    again = Envelope.from_json(env.to_json())
    assert again == env
    child = env.next(target="file")
    assert trace_id(child.traceparent) == trace_id(env.traceparent)
    assert child.traceparent != env.traceparent
    assert child.target == "file"


def test_an_envelope_is_small_and_refuses_payloads():
    env = Envelope(tenant="t", document="d", receipt="r", blob="x" * 60000, traceparent=new_traceparent())
    with pytest.raises(ValueError, match="references, not payloads"):
        env.to_json()


def test_unknown_version_is_refused():
    with pytest.raises(ValueError, match="unknown envelope version"):
        Envelope.from_json('{"v": 2}')
