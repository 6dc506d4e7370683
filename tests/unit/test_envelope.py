"""Queue messages carry up to 32 small documents of one receipt and the trace context; large ones by reference."""

from __future__ import annotations

import json

import pytest

from pipeline.envelope import (
    INLINE_CHARS,
    MAX_DOCUMENTS,
    MAX_MESSAGE_BYTES,
    MAX_MESSAGE_CHARS,
    Enclosure,
    Envelope,
    new_message_id,
    new_traceparent,
    pack,
    trace_id,
)
from pipeline.memory import MemoryBlobs
from pipeline.model import Voucher
from pipeline.records.history import enclose


def voucher(reference: str, description: str = "Dagsoppgjør æøå") -> Voucher:
    return Voucher.model_validate({"type": "voucher", "reference": reference, "date": "2026-11-20",
                                   "description": description,
                                   "lines": [{"account": "1920", "amount": "1250.00"},
                                             {"account": "3000", "amount": "-1250.00", "vat_code": "3"}]})


def test_round_trip_and_child_span_keeps_the_trace():
    env = Envelope(tenant="t", receipt="r-1", traceparent=new_traceparent(), id=new_message_id(),
                   documents=(Enclosure("d-1-000000", "V-1", body={"type": "voucher", "reference": "V-1"}),
                              Enclosure("d-1-000001", "V-2", attempt=2, blob="documents/t/d-1-000001/shared.json")))
    again = Envelope.from_json(env.to_json())
    assert again == env
    child = env.next(target="file")
    assert trace_id(child.traceparent) == trace_id(env.traceparent)
    assert child.traceparent != env.traceparent
    assert child.target == "file" and child.id != env.id and child.documents == env.documents


def test_an_envelope_too_large_for_its_row_or_the_queue_is_refused():
    big = Enclosure("d-1-000000", body={"description": "x" * MAX_MESSAGE_CHARS})
    env = Envelope(tenant="t", receipt="r-1", traceparent=new_traceparent(), id="m-1", documents=(big,))
    with pytest.raises(ValueError, match="too large"):
        env.to_json()
    wide = Enclosure("d-1-000000", body={"description": "€" * (MAX_MESSAGE_BYTES // 3 + 1)})  # 3 bytes a character
    with pytest.raises(ValueError, match="too large"):
        Envelope(tenant="t", receipt="r-1", traceparent=new_traceparent(), documents=(wide,)).to_json()


def test_unknown_version_is_refused():
    with pytest.raises(ValueError, match="unknown envelope version"):
        Envelope.from_json('{"v": 3}')


def test_a_message_from_before_envelopes_had_ids_is_read_as_one_document_by_reference():
    old = {"tenant": "t", "document": "d-20261120120000abcdef123456", "receipt": "r-1", "traceparent":
           new_traceparent(), "blob": "documents/t/d-1/shared.json", "attempt": 2, "hop": 3, "v": 1}
    env = Envelope.from_json(json.dumps(old))
    assert env.id is None and env.kind == "documents"
    assert env.documents == (Enclosure("d-20261120120000abcdef123456", attempt=2, blob="documents/t/d-1/shared.json"),)
    file = Envelope.from_json(json.dumps({**old, "kind": "file", "format": "gbat10"}))
    assert file.kind == "file" and file.blob == old["blob"] and file.format == "gbat10" and file.documents == ()


def test_small_documents_travel_inside_and_a_large_one_by_reference():
    blobs = MemoryBlobs()
    small, kept = enclose(blobs, "t", "d-1-000000", voucher("V-1"))
    assert small.body is not None and small.blob is None and json.loads(kept or "") == small.body
    assert small.body["description"] == "Dagsoppgjør æøå" and small.body["lines"][0]["amount"] == "1250.00"
    large, kept = enclose(blobs, "t", "d-1-000001", voucher("V-2", "å" * (INLINE_CHARS + 1)))
    assert large.body is None and kept is None
    assert large.blob == "documents/t/d-1-000001/shared.json"
    assert json.loads(blobs.get("documents", "t/d-1-000001/shared.json"))["reference"] == "V-2"


def test_documents_are_packed_in_order_into_as_few_envelopes_as_the_limits_allow():
    template = Envelope(tenant="t", receipt="r-1", traceparent=new_traceparent())
    blobs = MemoryBlobs()
    enclosures = [enclose(blobs, "t", f"d-1-{i:06d}", voucher(f"V-{i}"))[0] for i in range(100)]
    envelopes = pack(template, enclosures)
    assert [len(e.documents) for e in envelopes] == [MAX_DOCUMENTS] * 3 + [100 - 3 * MAX_DOCUMENTS]
    assert [d for e in envelopes for d in e.documents] == enclosures
    assert len({e.id for e in envelopes}) == 4 and all(e.id for e in envelopes)
    assert {trace_id(e.traceparent) for e in envelopes} == {trace_id(template.traceparent)}
    for envelope in envelopes:
        text = envelope.to_json()
        assert len(text) <= MAX_MESSAGE_CHARS and len(text.encode()) <= MAX_MESSAGE_BYTES
    # Documents near the inline limit: as many as fit, never an envelope over it.
    wide = [Enclosure(f"d-1-{i:06d}", body={"description": "o" * (INLINE_CHARS // 2 - 100)}) for i in range(5)]
    packed = pack(template, wide)
    assert [len(e.documents) for e in packed] == [3, 2] and [d for e in packed for d in e.documents] == wide
    # Two bytes a character in UTF-8 (æøå): the queue's limit decides.
    wider = [Enclosure(f"d-1-{i:06d}", body={"description": "ø" * (INLINE_CHARS - 100)}) for i in range(3)]
    assert [len(e.documents) for e in pack(template, wider)] == [1, 1, 1]
    for envelope in [*packed, *pack(template, wider)]:
        text = envelope.to_json()
        assert len(text) <= MAX_MESSAGE_CHARS and len(text.encode()) <= MAX_MESSAGE_BYTES
