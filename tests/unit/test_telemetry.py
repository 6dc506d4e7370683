"""One trace across every queue hop: each stage's span is the child of the one before."""

from __future__ import annotations

import json

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import connectors
from api import http as api_http
from api import vendor as api
from pipeline import telemetry
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records.names import QUEUE_TRANSLATED
from pipeline.records.tenants import TenantRegistry
from pipeline.stages import run


@pytest.fixture
def spans(monkeypatch):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "tracer", provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


def test_stages_continue_one_trace(spans):
    stores = Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())
    registry = TenantRegistry(stores.tables)
    key = registry.issue_key(registry.add("Spor AS").id)
    body = {"type": "voucher", "reference": "spor-1", "date": "2026-11-20",
            "lines": [{"account": "1920", "amount": "1.00"}, {"account": "3000", "amount": "-1.00"}]}
    response = api.post_documents(stores, connectors.registry(), api_http.Request(
        "POST", {}, {}, {"authorization": f"Bearer {key}"}, json.dumps(body).encode(), ""))
    messages = response.messages[QUEUE_TRANSLATED]  # in the shared form already: translated at intake
    first = json.loads(messages[0])["traceparent"]
    for stage in ("adapt", "deliver"):
        messages = [m for msg in messages for m in run(stage, stores, connectors.registry(), msg)]
    finished = {s.name: s for s in spans.get_finished_spans()}
    assert list(finished) == ["adapt", "deliver"]
    assert {f"{s.context.trace_id:032x}" for s in finished.values()} == {first.split("-")[1]}
    assert finished["adapt"].parent.span_id == int(first.split("-")[2], 16)
    assert finished["deliver"].parent.span_id == finished["adapt"].context.span_id
    assert finished["deliver"].attributes["bilagsbro.documents"] == (response.body["documents"][0]["id"],)
    assert finished["adapt"].kind == trace.SpanKind.CONSUMER
