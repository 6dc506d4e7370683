"""History you can search: the document index, its filters and cursor, the original, shared form, payload and
exchanges of a document, and 90 days later 410 "expired" and nothing left (in-memory ports; the same over
Azurite and HTTP: tests/e2e/test_history.py)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import pytest

import connectors
from api import history as history_api
from api import http as api_http
from api import vendor as api
from pipeline import retention
from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets, MemoryTables
from pipeline.ports import Exchange, Stores
from pipeline.records import documents
from pipeline.records.history import BlobExchangeLog
from pipeline.records.names import CONTAINER_RECEIVED, QUEUE_RECEIVED, QUEUE_TRANSLATED, TABLE_TRACE
from pipeline.records.tenants import TenantRegistry
from pipeline.records.trace import TraceLog
from pipeline.registry import Connectors
from tests.unit.test_inflight import drain

GBAT10 = "tests/sources/gbat10"


def voucher(reference: str, day: str = "2026-11-20", *, account: str = "3000") -> dict[str, Any]:
    return {"type": "voucher", "reference": reference, "date": day, "description": "Kortsalg på Røros – blåbær",
            "lines": [{"account": "1920", "amount": "100.00"},
                      {"account": account, "amount": "-100.00", "vat_code": "3"}]}


class Scanning(MemoryTables):
    """Counts the requests a search makes."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: Counter[str] = Counter()

    def scan(self, table, partition, **kw):
        self.requests["scan"] += 1
        return super().scan(table, partition, **kw)

    def query(self, table, partition, row_prefix=""):
        self.requests["query"] += 1
        return super().query(table, partition, row_prefix)


@pytest.fixture
def shop():
    stores = Stores(blobs=MemoryBlobs(), tables=Scanning(), secrets=MemorySecrets(), queues=MemoryQueues())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Sykkelbua på Røros AS")
    conns = Connectors(targets=connectors.TARGETS, sources=connectors.SOURCES, sniffers=connectors.SNIFFERS)
    return stores, conns, tenant.id, registry.issue_key(tenant.id)


def call(handler, stores, conns, key, *, path: dict[str, str] | None = None, query: dict[str, str] | None = None,
         body: bytes = b"", headers: dict[str, str] | None = None) -> api_http.Response:
    request = api_http.Request("GET" if not body else "POST", path or {}, query or {},
                          {"authorization": f"Bearer {key}", **(headers or {})}, body, "http://x")
    return handler(stores, conns, request)


def post(stores, conns, key, body: Any, *, deliver: bool = True) -> api_http.Response:
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    response = call(api.post_documents, stores, conns, key, body=raw,
                    headers={"content-type": "application/json; charset=utf-8"})
    if deliver:
        drain(stores, conns, QUEUE_TRANSLATED, response.messages.get(QUEUE_TRANSLATED, []))
    return response


def listed(stores, conns, key, **query: str) -> list[dict[str, Any]]:
    response = call(history_api.list_documents, stores, conns, key, query=query)
    assert response.status == 200, response.body
    return response.body["documents"]


def test_documents_are_listed_newest_first_with_their_status_and_paged_by_cursor(shop, monkeypatch):
    stores, conns, tenant, key = shop
    ids = []
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).replace(microsecond=0)
    for second, batch in enumerate([["A-1", "A-2"], ["B-1"], ["C-1", "C-2", "C-3"]]):
        stamp = f"{yesterday + dt.timedelta(seconds=second):%Y%m%d%H%M%S}"
        monkeypatch.setattr("pipeline.received.new_id", lambda prefix, s=stamp: f"{prefix}{s}{'ab' * 6}")
        ids.append([d["id"] for d in post(stores, conns, key, [voucher(r) for r in batch]).body["documents"]])
    everything = listed(stores, conns, key)
    # Newest receipt first; within one receipt, in the order its documents came.
    assert [d["id"] for d in everything] == ids[2] + ids[1] + ids[0]
    first = everything[0]
    assert first["reference"] == "C-1" and first["status"] == "delivered" and first["target"] == "file"
    assert first["type"] == "voucher" and first["date"] == "2026-11-20" and first["source"] == "shared-form"
    newest = yesterday + dt.timedelta(seconds=2)
    assert first["via"] == "api" and first["receipt"] == f"r-{newest:%Y%m%d%H%M%S}" + "ab" * 6
    assert first["received_at"] == newest.isoformat() and first["status_url"] == f"http://x/api/v1/documents/{ids[2][0]}"
    # A received-at range is to the second: [from, to).
    assert [d["id"] for d in listed(stores, conns, key, received_from=(yesterday + dt.timedelta(seconds=1)).isoformat(),
                                    received_to=newest.isoformat())] == ids[1]
    # Pages of two, each following the last one's cursor, give every document once.
    seen, query = [], {"limit": "2"}
    while True:
        page = call(history_api.list_documents, stores, conns, key, query=query).body
        seen += [d["id"] for d in page["documents"]]
        assert len(page["documents"]) <= 2
        if page["next"] is None:
            break
        assert page["next"].startswith("http://x/api/v1/documents?") and "cursor=" in page["next"]
        query = {**query, "cursor": page["cursor"]}
    assert seen == [d["id"] for d in everything]


def test_every_filter_narrows_the_list_and_a_search_is_one_range_read_of_one_partition(shop, monkeypatch):
    stores, conns, tenant, key = shop
    delivered = post(stores, conns, key, [voucher("KASSE-1", "2026-11-01"), voucher("KASSE-2", "2026-11-15"),
                                          voucher("NETT-1", "2026-11-30")]).body
    # A target that does not exist: the document fails at adapt, for that target.
    registry = TenantRegistry(stores.tables)
    registry.save(registry.get(tenant).model_copy(update={"target": "nowhere"}))
    failed = post(stores, conns, key, [voucher("KASSE-3", "2026-11-02")]).body
    payment = {"type": "payment", "reference": "BET-1", "date": "2026-11-03", "amount": "250.00",
               "invoice_number": "10042", "description": "Innbetaling Ærø"}
    post(stores, conns, key, [payment], deliver=False)

    def refs(**query: str) -> list[str]:
        return sorted(d["reference"] for d in listed(stores, conns, key, **query))

    assert refs() == ["BET-1", "KASSE-1", "KASSE-2", "KASSE-3", "NETT-1"]
    assert refs(status="delivered") == ["KASSE-1", "KASSE-2", "NETT-1"]
    assert refs(status="failed") == ["KASSE-3"]
    assert refs(status="translated") == ["BET-1"]
    assert refs(type="payment") == ["BET-1"]
    assert refs(reference_prefix="KASSE-") == ["KASSE-1", "KASSE-2", "KASSE-3"]
    assert refs(reference_prefix="NETT") == ["NETT-1"]
    assert refs(date_from="2026-11-02", date_to="2026-11-15") == ["BET-1", "KASSE-2", "KASSE-3"]
    assert refs(target="file") == ["KASSE-1", "KASSE-2", "NETT-1"]
    assert refs(target="nowhere") == ["KASSE-3"]
    assert refs(source="shared-form", status="delivered", reference_prefix="KASSE") == ["KASSE-1", "KASSE-2"]
    assert refs(receipt=failed["receipt"]) == ["KASSE-3"]
    assert refs(receipt=delivered["receipt"], date_to="2026-11-01") == ["KASSE-1"]
    now = dt.datetime.now(dt.UTC)
    assert refs(received_from=(now - dt.timedelta(minutes=5)).isoformat()) == refs()
    assert refs(received_to=(now - dt.timedelta(minutes=5)).isoformat()) == []
    assert refs(received_from=(now + dt.timedelta(minutes=5)).isoformat()) == []
    stores.tables.requests.clear()
    listed(stores, conns, key, status="delivered", reference_prefix="KASSE", type="voucher")
    # One range read of the tenant's index partition (plus the API key's point read): no table scan, no trace.
    assert stores.tables.requests == Counter({"scan": 1})


@pytest.mark.parametrize(("query", "field"), [
    ({"status": "lost"}, "status"), ({"type": "kvittering"}, "type"), ({"date_from": "20.11.2026"}, "date_from"),
    ({"received_to": "i går"}, "received_to"), ({"receipt": "d-1"}, "receipt"), ({"limit": "0"}, "limit"),
    ({"limit": "many"}, "limit"), ({"cursor": "not-ours"}, "cursor"), ({"colour": "blue"}, "colour"),
])
def test_a_filter_the_list_cannot_take_is_a_400_naming_it(shop, query, field):
    stores, conns, _, key = shop
    response = call(history_api.list_documents, stores, conns, key, query=query)
    assert response.status == 400 and response.body["problems"][0]["field"] == field


def test_tenants_never_see_each_others_documents(shop):
    stores, conns, tenant, key = shop
    [document] = post(stores, conns, key, [voucher("HEMMELIG-1")]).body["documents"]
    registry = TenantRegistry(stores.tables)
    other = registry.issue_key(registry.add("Konkurrenten AS").id)
    assert listed(stores, conns, other) == []
    for handler in (history_api.get_original, history_api.get_shared_form, history_api.get_payload,
                    history_api.get_exchanges):
        assert call(handler, stores, conns, other, path={"id": document["id"]}).status == 404


def test_the_original_is_the_request_byte_for_byte_and_the_forms_follow_it(shop):
    stores, conns, tenant, key = shop
    raw = json.dumps([voucher("V-ÆØÅ-1"), voucher("V-ÆØÅ-2")], ensure_ascii=False, indent=3).encode("utf-8")
    response = call(api.post_documents, stores, conns, key, body=raw,
                    headers={"content-type": "application/json; charset=utf-8"})
    drain(stores, conns, QUEUE_TRANSLATED, response.messages[QUEUE_TRANSLATED])
    second = response.body["documents"][1]["id"]
    original = call(history_api.get_original, stores, conns, key, path={"id": second})
    assert original.status == 200 and original.encoded() == raw
    assert original.content_type == "application/json; charset=utf-8"
    assert original.headers["X-Bilagsbro-Index"] == "1" and original.headers["X-Bilagsbro-Receipt"] == \
        response.body["receipt"]
    shared = call(history_api.get_shared_form, stores, conns, key, path={"id": second})
    assert shared.status == 200 and json.loads(shared.encoded())["reference"] == "V-ÆØÅ-2"
    assert json.loads(shared.encoded())["description"] == "Kortsalg på Røros – blåbær"
    payload = call(history_api.get_payload, stores, conns, key, path={"id": second})
    assert payload.status == 200 and payload.body["target"] == "file" and payload.body["payload"]


def test_a_files_document_gives_the_whole_file_and_its_line_range(shop):
    stores, conns, tenant, key = shop
    data = ("VoucherNo,VoucherDate,VoucherTypeNo,VoucherText,DepNo,ProjectNo,DebitAccountNo,CreditAccountNo,VATCode,"
            "Amount,DueDate,KID,SuppliersInvoiceNo,SAFTStdVatCode,SAFTStdVatCodeCredit\n"
            "700,20261120,1,Kontantsalg Ålesund,,,1920,3000,,1250.00,,,,,3\n"
            "701,20261121,1,Kortsalg Bodø – blåbær,1,,1920,3000,,399.00,,,,,3\n").encode("cp1252")
    response = call(api.post_file, stores, conns, key, body=data,
                    query={"format": "visma-global", "name": "eksport Ålesund.csv"})
    assert response.status == 202, response.body
    drain(stores, conns, QUEUE_RECEIVED, response.messages[QUEUE_RECEIVED])
    found = sorted(listed(stores, conns, key), key=lambda d: d["id"])
    assert [d["reference"] for d in found] == ["700", "701"] and {d["source"] for d in found} == {"visma-global"}
    assert found[0]["file"] == "eksport Ålesund.csv" and found[0]["via"] == "file"
    first = call(history_api.get_original, stores, conns, key, path={"id": found[0]["id"]})
    assert first.status == 200 and first.encoded() == data and first.content_type == "application/octet-stream"
    assert first.headers["X-Bilagsbro-Lines"] == "2-2"
    assert "filename*=UTF-8''eksport%20%C3%85lesund.csv" in first.headers["Content-Disposition"]
    last = call(history_api.get_original, stores, conns, key, path={"id": found[1]["id"]})
    assert last.headers["X-Bilagsbro-Lines"] == "3-"  # the last document: to the end of the file


def test_exchanges_are_listed_with_the_document_redacted(shop):
    stores, conns, tenant, key = shop
    [document] = post(stores, conns, key, [voucher("V-1")]).body["documents"]
    BlobExchangeLog(stores.blobs, tenant, document["id"]).record(Exchange(
        method="POST", url="https://tripletex.example/v2/token/session/:create",
        request_headers={"Authorization": "Basic MDpzZWNyZXQ=", "Content-Type": "application/json"},
        request_body=b'{"consumerToken": "ct-very-secret-value"}', status=200, response_headers={},
        response_body='{"value": {"token": "session-token-1234567", "kunde": "Bakeriet på Røa"}}'.encode(),
        elapsed_ms=12.5, at=dt.datetime.now(dt.UTC)))
    for response in (call(history_api.get_exchanges, stores, conns, key, path={"id": document["id"]}),
                     call(api.get_document, stores, conns, key, path={"id": document["id"]},
                          query={"include": "exchanges"})):
        assert response.status == 200
        text = json.dumps(response.body, ensure_ascii=False)
        assert "Basic MDpzZWNyZXQ=" not in text and "ct-very-secret-value" not in text
        assert "session-token-1234567" not in text and "Bakeriet på Røa" in text
        assert response.body["exchanges"][0]["request"]["headers"]["Authorization"] == "[redacted]"


def test_after_90_days_the_api_says_expired_and_the_sweep_leaves_nothing(shop, monkeypatch):
    stores, conns, tenant, key = shop
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=91)
    monkeypatch.setattr("pipeline.received.new_id", lambda prefix: f"{prefix}{old:%Y%m%d%H%M%S}{'cd' * 6}")
    [expired] = post(stores, conns, key, [voucher("GAMMEL-1")]).body["documents"]
    monkeypatch.undo()
    [fresh] = post(stores, conns, key, [voucher("NY-1")]).body["documents"]
    for handler in (api.get_document, history_api.get_original, history_api.get_shared_form,
                    history_api.get_payload, history_api.get_exchanges):
        response = call(handler, stores, conns, key, path={"id": expired["id"]})
        assert response.status == 410 and response.body["expired"] is True, handler
        assert "kept 90 days" in response.body["error"]
        assert call(handler, stores, conns, key, path={"id": fresh["id"]}).status == 200
    # A recent id that was never ours is not found; an old one is expired, whether or not it existed.
    assert call(api.get_document, stores, conns, key, path={"id": "d-" + fresh["id"][2:-1] + "9"}).status == 404
    assert [d["reference"] for d in listed(stores, conns, key)] == ["NY-1"]  # past the period: never listed

    # The nightly sweep, run as of 91 days from now on the blob side too (Azurite has no lifecycle rule).
    stores.blobs.created = {k: (old if expired["id"][2:16] in k[1] or "/" + expired["id"] in k[1] else v)
                            for k, v in stores.blobs.created.items()}
    swept = retention.sweep(stores, blobs=True)
    assert swept.documents == 1 and swept.trace_rows > 0
    assert TraceLog(stores.tables).rows(tenant, expired["id"]) == []
    assert stores.tables.get(TABLE_TRACE, documents.partition(tenant), documents.row_key(expired["id"])) is None
    assert not [p for c, p in stores.blobs.blobs if expired["id"][2:16] in p]
    assert swept.blobs[CONTAINER_RECEIVED] >= 1
    # What is younger stays, and its history is whole.
    assert TraceLog(stores.tables).rows(tenant, fresh["id"])
    assert call(history_api.get_original, stores, conns, key, path={"id": fresh["id"]}).status == 200
    everything_later = retention.sweep(stores, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=91), blobs=True)
    assert everything_later.documents == 1 and listed(stores, conns, key) == []


@pytest.mark.parametrize("query", [{"received_to": "0001-01-01T00:00:00"}, {"received_from": "9999-12-31"},
                                   {"received_to": "2000-01-01", "received_from": "1999-01-01"}])
def test_received_ranges_outside_the_retention_period_are_empty_not_errors(shop, query):
    stores, conns, _, key = shop
    post(stores, conns, key, [voucher("V-1")])
    assert listed(stores, conns, key, **query) == []
