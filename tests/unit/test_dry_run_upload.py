"""Dry run from an upload (issue 14 §6): the one function CLI, workspace and API share — documents a page at a time,
totals per account and per VAT code in exact decimals, problems with file, line and field, the exact payloads for
the tenant's system — nothing delivered, nothing stored (in-memory ports; over HTTP: tests/e2e/test_workbench.py)."""

from __future__ import annotations

import json

import pytest

from api import dry_run as dry_run_api
from pipeline.records.tenants import TenantRegistry
from tests.unit.test_history import call
from tests.unit.test_problem_groups import STATE, make_shop

GBAT10 = (
    "GBAT10;1;20251110;1;11;2025;1920;;1250.00;;;;;;;;;;;;Kortsalg Ærøy;;;;;;;;;\r\n"
    "GBAT10;1;20251110;1;11;2025;3000;3;-1000.00;;;;;;;;;;;;Salg blåbær og søtsaker;;;;;;T;-1250.00;;\r\n"
    "GBAT10;1;20251110;1;11;2025;2700;;-250.00;;;;;;;;;;;;MVA (beregnes av mottaker);;;;;;F;;;\r\n"
    "GBAT10;2;20251111;1;11;2025;1920;;500.00;;;;;;;;;;;;Kortsalg Ørland;;;;;;;;;\r\n"
    "GBAT10;2;20251111;1;11;2025;3999;3;-400.00;;;;;;;;;;;;Salg på Åsen;;;;;;T;-500.00;;\r\n"
    "GBAT10;2;20251111;1;11;2025;2700;;-100.00;;;;;;;;;;;;MVA (beregnes av mottaker);;;;;;F;;;\r\n"
).encode("cp1252")



@pytest.fixture
def shop():
    return make_shop()

def dry(shop, body: bytes, **query: str):
    stores, conns, _, key = shop
    return call(dry_run_api.post_dry_run, stores, conns, key, query=query, body=body,
                headers={"content-type": "application/octet-stream"})


def with_gbat10_options(shop) -> None:
    stores, _, tenant, _ = shop
    registry = TenantRegistry(stores.tables)
    registry.save(registry.get(tenant).model_copy(update={"sources": {"gbat10": {"vat_map": {"3": "3"}}}}))


def test_a_gbat10_upload_gives_totals_problems_with_line_and_field_and_payloads_with_its_text_intact(shop):
    stores = shop[0]
    with_gbat10_options(shop)
    blobs_before, rows_before = set(stores.blobs.blobs), set(stores.tables.rows)
    answer = dry(shop, GBAT10, format="gbat10", name="kasse-november.txt")
    assert answer.status == 200, answer.body
    body = answer.body
    assert body["format"] == "gbat10" and body["delivered"] is False and body["target"] == "regnskap"
    summary = body["summary"]
    assert summary["documents"] == 2 and summary["errors"] == 1 and summary["by_type"] == {"voucher": 2}
    assert {r["account"]: (r["debit"], r["credit"]) for r in summary["totals"]["by_account"]} == {
        "1920": ("1750.00", "0.00"), "3000": ("0.00", "1250.00"), "3999": ("0.00", "500.00")}
    assert summary["totals"]["by_vat_code"] == [{"vat_code": "3", "lines": 2, "gross": "-1750.00",
                                                 "vat_amount": "0.00"}]
    [missing] = [p for p in body["problems"] if p["code"] == "missing-account"]
    assert missing == {"message": "account 3999 does not exist in Regnskap", "field": "lines[1].account",
                       "file": "kasse-november.txt", "line": 4, "reference": "2", "code": "missing-account"}
    first, second = body["documents"]
    assert first["document"]["description"] == "Kortsalg Ærøy"
    assert first["document"]["lines"][1]["description"] == "Salg blåbær og søtsaker"
    assert first["payload"] == {"bilag": "1", "konti": ["1920", "3000"]} and first["problems"] == []
    assert second["problems"][0]["code"] == "missing-account"
    assert "Salg på Åsen".encode() in answer.encoded()  # UTF-8 on the wire, æøå as they were
    assert set(stores.blobs.blobs) == blobs_before  # nothing kept: no original, no document
    assert {k for k in set(stores.tables.rows) - rows_before if k[0] != "apikeys"} == set()
    assert STATE["posted"] == []


def test_documents_come_a_page_at_a_time_and_bad_parameters_are_refused(shop):
    with_gbat10_options(shop)
    page = dry(shop, GBAT10, format="gbat10", offset="1", limit="1").body
    assert [d["index"] for d in page["documents"]] == [1] and page["next_offset"] is None
    assert page["summary"]["documents"] == 2  # the summary is always of the whole file
    first = dry(shop, GBAT10, limit="1").body  # the format detected
    assert first["format"] == "gbat10" and first["next_offset"] == 1
    assert dry(shop, b"", format="gbat10").status == 400
    assert dry(shop, GBAT10, format="wordperfect").status == 400
    assert dry(shop, GBAT10, limit="0").status == 400 and dry(shop, GBAT10, colour="blå").status == 400
    unknown = dry(shop, b"\x00\x01 not a file we know", name="x.bin").body
    assert unknown["summary"]["problems_by_code"] == {"unknown-format": 1} and unknown["documents"] == []
    assert json.loads(dry(shop, GBAT10).encoded())["summary"]["documents"] == 2
