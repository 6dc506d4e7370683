"""GET /api/v1/export over the in-memory ports: the documents a tenant received in a period, its own only, as JSON lines
with status and delivery or as SAF-T, in pages that cover each document once; parameters checked and named."""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest

import connectors
from api import http as api_http
from api import vendor as api
from pipeline.export import OSLO, Period
from pipeline.export.entries import document_ids
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.names import CONTAINER_DOCUMENTS, QUEUE_TRANSLATED
from pipeline.ports import Stores
from pipeline.shared_form import DOCUMENT
from pipeline.stages import run
from pipeline.tenants import TenantRegistry
from tests.export.saft_support import ROOT, booked, check, comparable, reimport, validate

SAMPLES = [document for name in ("documents.json", "invoices.json")
           for document in json.loads((ROOT / "bilagsbro" / "samples" / name).read_text("utf-8"))]


@pytest.fixture
def shop():
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    registry = TenantRegistry(stores.tables)
    conns = connectors.registry()
    mine = registry.add("Bakeriet på Røa AS", organization_number="999999999")
    other = registry.add("Naboen AS", organization_number="888888888")
    keys = {"mine": registry.issue_key(mine.id), "other": registry.issue_key(other.id)}
    return stores, conns, mine, keys


def _post(stores, conns, key, body):
    request = api_http.Request("POST", {}, {}, {"authorization": f"Bearer {key}", "content-type": "application/json"},
                          json.dumps(body, ensure_ascii=False).encode("utf-8"), "http://x")
    response = api.post_documents(stores, conns, request)
    assert response.status == 202, response.body
    return response


def _drain(stores, conns, response):
    messages = response.messages[QUEUE_TRANSLATED]  # API documents skip translate (decision 0006)
    for stage in ("adapt", "deliver"):
        messages = [m for msg in messages for m in run(stage, stores, conns, msg)]


def _export(stores, conns, key, **query):
    today = dt.datetime.now(OSLO).date().isoformat()
    query = {"from": today, "to": today, **{k: str(v) for k, v in query.items()}}
    return api.get_export(stores, conns, api_http.Request("GET", {}, query, {"authorization": f"Bearer {key}"} if key
                                                     else {}, b"", "http://x"))


def _lines(response):
    return [json.loads(line) for line in response.body.decode("utf-8").splitlines()]


@pytest.fixture
def received(shop):
    """The samples sent and delivered; the first sent again (a duplicate); one more sent and left unprocessed; and the
    neighbour's own document."""
    stores, conns, mine, keys = shop
    _drain(stores, conns, _post(stores, conns, keys["mine"], SAMPLES))
    _drain(stores, conns, _post(stores, conns, keys["mine"], SAMPLES[0]))
    waiting = {**SAMPLES[0], "reference": "venter-1"}
    _post(stores, conns, keys["mine"], waiting)
    _drain(stores, conns, _post(stores, conns, keys["other"], {**SAMPLES[0], "reference": "naboens-1"}))
    return shop


def test_json_lines_hold_every_document_of_the_period_with_its_status_and_delivery(received):
    stores, conns, mine, keys = received
    response = _export(stores, conns, keys["mine"])
    assert response.status == 200 and response.content_type.startswith("application/x-ndjson")
    lines = _lines(response)
    assert sorted(line["reference"] for line in lines) == sorted(
        [d["reference"] for d in SAMPLES] + [SAMPLES[0]["reference"], "venter-1"])
    ids = [line["id"] for line in lines]
    assert ids == sorted(set(ids))  # in id order (receipt order, to the second), each once
    by_reference = {}
    for line in lines:
        by_reference.setdefault(line["reference"], []).append(line)
    # The same reference sent twice: the copy that came second posted nothing (in the same second, ids may sort
    # either way).
    [first, duplicate] = sorted(by_reference[SAMPLES[0]["reference"]], key=lambda x: "duplicate" in x["delivery"])
    [waiting] = by_reference["venter-1"]
    assert first["status"] == "delivered" and first["delivery"]["target"] == "file"
    assert first["delivery"]["remote_id"].startswith(f"deliveries/{mine.id}/drafts/")
    assert first["delivery"]["draft"] is True and first["receipt"].startswith("r-")
    assert duplicate["delivery"]["duplicate"] is True
    # Not adapted yet: an API document is received and translated at intake (decision 0006).
    assert waiting["status"] == "translated" and waiting["delivery"] is None
    for sent in SAMPLES:
        document = DOCUMENT.validate_python(by_reference[sent["reference"]][-1]["document"])
        assert document == DOCUMENT.validate_python(sent).model_copy(update={"origin": document.origin})
        assert document.origin.format == "shared-form"
    assert "Dagsoppgjør kasse 7 – Butikk Trondheim" in response.body.decode("utf-8")  # æøå as they came
    assert response.headers["X-Bilagsbro-Documents"] == str(len(lines)) and "Link" not in response.headers


def test_a_tenant_sees_only_its_own_documents(received):
    stores, conns, _, keys = received
    assert [line["reference"] for line in _lines(_export(stores, conns, keys["other"]))] == ["naboens-1"]


def test_a_period_is_days_of_receipt_in_norway(received):
    stores, conns, _, keys = received
    yesterday = (dt.datetime.now(OSLO) - dt.timedelta(days=1)).date().isoformat()
    response = _export(stores, conns, keys["mine"], **{"from": yesterday, "to": yesterday})
    assert response.status == 200 and response.body == b""


def test_documents_received_around_midnight_belong_to_norways_day():
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    for stamp in ("20261130225959", "20261130230000", "20261031225959", "20261031230000", "20261231230000"):
        stores.blobs.put(CONTAINER_DOCUMENTS, f"t-1/d-{stamp}abcdefabcdef/shared.json", b"{}")
    stores.blobs.put(CONTAINER_DOCUMENTS, "t-1/r-20261115120000abcdefabcdef/documents.jsonl", b"")
    stores.blobs.put(CONTAINER_DOCUMENTS, "t-10/d-20261115120000abcdefabcdef/shared.json", b"{}")
    november = list(document_ids(stores, "t-1", Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))))
    # 23:00 UTC on 31 October is midnight in Oslo (CET): November; 23:00 UTC on 30 November is 1 December.
    assert november == ["d-20261031230000abcdefabcdef", "d-20261130225959abcdefabcdef"]
    across = list(document_ids(stores, "t-1", Period(dt.date(2026, 12, 1), dt.date(2027, 1, 31))))
    assert across == ["d-20261130230000abcdefabcdef", "d-20261231230000abcdefabcdef"]


def _follow(stores, conns, key, **query):
    pages = []
    response = _export(stores, conns, key, **query)
    while True:
        assert response.status == 200, response.body
        pages.append(response)
        link = response.headers.get("Link")
        if link is None:
            return pages
        url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1)
        response = api.get_export(stores, conns, api_http.Request("GET", {}, dict(parse_qsl(urlsplit(url).query)),
                                                             {"authorization": f"Bearer {key}"}, b"", "http://x"))


def test_pages_follow_the_link_and_hold_each_document_once(received):
    stores, conns, _, keys = received
    whole = [line["id"] for line in _lines(_export(stores, conns, keys["mine"]))]
    pages = _follow(stores, conns, keys["mine"], limit=2)
    assert [len(_lines(p)) for p in pages] == [2, 2, 2, 1]
    assert [line["id"] for page in pages for line in _lines(page)] == whole
    saft_pages = _follow(stores, conns, keys["mine"], limit=3, format="saft")
    assert len(saft_pages) == 3
    for page in saft_pages:
        validate(page.body)
        assert check(page.body) == []
    assert sum(int(p.headers["X-Bilagsbro-Transactions"]) for p in saft_pages) == len(SAMPLES)


def test_saft_holds_each_delivered_document_once_and_reads_back_as_its_vouchers(received):
    stores, conns, mine, keys = received
    response = _export(stores, conns, keys["mine"], format="saft")
    assert response.status == 200 and response.content_type.startswith("application/xml")
    assert re.fullmatch(r'attachment; filename="SAF-T Financial_999999999_\d{14}\.xml"',
                        response.headers["Content-Disposition"])
    validate(response.body)
    assert check(response.body) == []
    vouchers, problems = reimport(response.body, {"department", "project"})
    assert problems == []
    def ordered(items):
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))

    assert ordered(comparable(v) for v in vouchers) == ordered(booked(DOCUMENT.validate_python(d) for d in SAMPLES))
    assert (response.headers["X-Bilagsbro-Transactions"], response.headers["X-Bilagsbro-Left-Out"]) == (
        str(len(SAMPLES)), "2")  # the duplicate posted nothing; venter-1 is not delivered yet


def test_saft_needs_the_companys_organisation_number(shop):
    stores, conns, _, _ = shop
    registry = TenantRegistry(stores.tables)
    key = registry.issue_key(registry.add("Uten Orgnr").id)
    response = _export(stores, conns, key, format="saft")
    assert response.status == 422 and response.body["problems"][0]["field"] == "organization_number"
    assert _export(stores, conns, key).status == 200  # JSON lines need no company facts
    # What the accounting system told the connection test about the company will do (Business NXT's facts).
    tenant = next(t for t in registry.all() if t.name == "Uten Orgnr")
    registry.save(tenant.model_copy(update={"target_settings": {"facts": {"organization_number": "912345688"}}}))
    told = _export(stores, conns, key, format="saft")
    assert told.status == 200 and "SAF-T Financial_912345688_" in told.headers["Content-Disposition"]
    validate(told.body)


@pytest.mark.parametrize(("query", "fields"), [
    ({"from": None}, {"from"}),
    ({"from": "2026-02-30"}, {"from"}),
    ({"from": "2026-11-02", "to": "2026-11-01"}, {"to"}),
    ({"format": "pdf", "limit": "0", "currency": "kr", "after": "r-1"}, {"format", "limit", "currency", "after"}),
    ({"to": "i går", "limit": "10001"}, {"to", "limit"}),
])
def test_parameters_are_checked_and_every_problem_names_its_parameter(shop, query, fields):
    stores, conns, _, keys = shop
    base = {"from": "2026-11-01", "to": "2026-11-30"}
    asked = {k: v for k, v in {**base, **query}.items() if v is not None}
    response = api.get_export(stores, conns, api_http.Request("GET", {}, asked, {"authorization": f"Bearer {keys['mine']}"},
                                                         b"", "http://x"))
    assert response.status == 400
    assert {p["field"] for p in response.body["problems"]} == fields


def test_the_export_needs_a_tenant_key(shop):
    stores, conns, _, _ = shop
    assert _export(stores, conns, None).status == 401
    admin = TenantRegistry(stores.tables).issue_key(None, role="admin")
    assert _export(stores, conns, admin).status == 403


def test_the_ends_of_the_calendar_are_a_period_like_any_other(received):
    stores, conns, _, keys = received
    response = _export(stores, conns, keys["mine"], **{"from": "0001-01-01", "to": "9999-12-31"})
    assert response.status == 200 and len(_lines(response)) == len(SAMPLES) + 2
    saft = _export(stores, conns, keys["mine"], **{"from": "0001-01-01", "to": "9999-12-31", "format": "saft"})
    validate(saft.body)


def test_documents_of_receipts_are_found_in_their_receipts_partitions_beside_those_from_before():
    """Since decision 0006 a document lives in its receipt's trace partition (its shared form with its `translated`
    step, or a blob when it was too big for a message). A file's documents are read a thousand at a time, an API
    request's in one go however many of its documents were refused; documents from before are still listed."""
    from pipeline.export.entries import READ_CHUNK, entry
    from pipeline.names import CONTAINER_RECEIVED
    from pipeline.records.history import blob_ref, document_path, original_path
    from pipeline.trace import TraceEntry, TraceLog, child_id

    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    log = TraceLog(stores.tables)
    voucher = json.dumps({"type": "voucher", "reference": "Ærøy-1", "date": "2026-11-20", "lines": [
        {"account": "1920", "amount": "10.00"}, {"account": "3000", "amount": "-10.00", "vat_code": "3"}]})

    def translated(receipt: str, index: int, *, big: bool = False) -> str:
        document_id = child_id(receipt, index)
        detail = {"shared_form": "kept with this step"}
        if big:  # a claim check: the shared form in Blob Storage, named by the step
            stores.blobs.put(CONTAINER_DOCUMENTS, document_path("t-1", document_id), voucher.encode())
            detail = {"shared_form": blob_ref(CONTAINER_DOCUMENTS, document_path("t-1", document_id))}
        log.write_many([TraceEntry("t-1", document_id, "received", {"receipt": receipt}, receipt=receipt),
                        TraceEntry("t-1", document_id, "translated", detail, receipt=receipt,
                                   shared_form=None if big else voucher)])
        return document_id

    file_receipt, request, late = ("r-20261115120000aaaaaaaaaaaa", "r-20261115130000bbbbbbbbbbbb",
                                   "r-20261201120000cccccccccccc")
    log.index_receipt("t-1", file_receipt, {"file": "kasse.csv"})  # a file: listed among the tenant's receipts
    stores.blobs.put(CONTAINER_RECEIVED, original_path("t-1", file_receipt, "kasse.csv"), b"...")
    in_file = [translated(file_receipt, n, big=n == 3) for n in range(READ_CHUNK + 2)]
    stores.blobs.put(CONTAINER_RECEIVED, original_path("t-1", request, "request.json"), b"[...]")
    in_request = [translated(request, n) for n in (0, READ_CHUNK + 5)]  # all between them refused at intake
    stores.blobs.put(CONTAINER_RECEIVED, original_path("t-1", late, "request.json"), b"[...]")
    translated(late, 0)  # received in December
    before = "d-20261115125959abcdefabcdef"  # a document from before decision 0006
    stores.blobs.put(CONTAINER_DOCUMENTS, document_path("t-1", before), voucher.encode())
    log.write(TraceEntry("t-1", before, "received", {"receipt": "r-old"}))

    november = Period(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert list(document_ids(stores, "t-1", november)) == [*in_file, before, *in_request]
    assert list(document_ids(stores, "t-1", november, after=in_file[-1])) == [before, *in_request]
    assert list(document_ids(stores, "t-10", november)) == []
    big, small = entry(stores, "t-1", in_file[3]), entry(stores, "t-1", in_request[1])
    assert big is not None and small is not None and big.document.reference == small.document.reference == "Ærøy-1"
    assert small.status == "translated" and small.receipt == request
