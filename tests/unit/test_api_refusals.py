"""What the API refuses, and how: always a 4xx with a JSON body naming the field, never a 500, and
the good documents of a request go on (in-memory ports; the same over HTTP is in tests/e2e)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import connectors
from api import admin as admin_api
from api import http as api_http
from api import rules as rules_api
from api import vendor as api
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records.names import CONTAINER_RECEIVED, QUEUE_TRANSLATED
from pipeline.records.tenants import TenantRegistry

GOOD = {"type": "voucher", "reference": "god-1", "date": "2026-11-20",
        "lines": [{"account": "1920", "amount": "10.00"}, {"account": "3000", "amount": "-10.00", "vat_code": "3"}]}


def invoice(reference: str, **line: object) -> dict:
    return {"type": "sales_invoice", "reference": reference, "date": "2026-11-20", "invoice_number": reference,
            "customer": {"name": "Kunde på Hamar"}, "total": "30.00",
            "lines": [{"description": "Timer", "amount": "30.00", **line}]}


@pytest.fixture
def stack():
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Kiosken på hjørnet AS", organization_number="999999999")
    return stores, connectors.registry(), tenant, registry.issue_key(tenant.id), registry.issue_key(None, role="admin")


def call(stack, handler, body: bytes | object = b"", *, key: str | None = None, path: dict | None = None,
         query: dict | None = None, content_type: str = "application/json") -> api_http.Response:
    stores, conns, _, tenant_key, _ = stack
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")
    request = api_http.Request("POST", path or {}, query or {},
                          {"authorization": f"Bearer {key or tenant_key}", "content-type": content_type}, raw, "http://x")
    return handler(stores, conns, request)


def test_a_quantity_that_is_not_a_number_is_a_422_naming_the_line_and_the_good_documents_go_on(stack):
    response = call(stack, api.post_documents, [GOOD, invoice("f-1", quantity="abc"), invoice("f-2", quantity="1,5"),
                                                invoice("f-3", quantity="2.5", unit_price="12.00")])
    assert response.status == 422
    assert [d["reference"] for d in response.body["documents"]] == ["god-1", "f-3"]
    # Both good documents go on (translated at intake: they are in the shared form), in one envelope.
    assert [d["reference"] for m in response.messages[QUEUE_TRANSLATED] for d in json.loads(m)["documents"]] == \
        ["god-1", "f-3"]
    problems = {p["reference"]: p for p in response.body["problems"]}
    assert set(problems) == {"f-1", "f-2"}
    for reference, text in (("f-1", "'abc'"), ("f-2", "'1,5'")):
        assert problems[reference]["field"] == "lines[0].quantity" and text in problems[reference]["message"]
        assert problems[reference]["line"] > 1


@pytest.mark.parametrize("body, offset", [
    (b'[] {"type": "voucher"}', 3),
    (b'\xef\xbb\xbf{"a": 1}\n{"b": 2}\n', 12),  # JSON lines; the offset counts the BOM
    (json.dumps(GOOD).encode() + b"\n" + json.dumps({**GOOD, "reference": "god-2"}).encode(), None),
])
def test_content_after_the_first_json_value_is_refused_with_its_offset_and_nothing_is_accepted(stack, body, offset):
    response = call(stack, api.post_documents, body)
    assert response.status == 400 and response.body["documents"] == [] and not response.messages[QUEUE_TRANSLATED]
    [problem] = response.body["problems"]
    assert problem["code"] == "malformed-json" and "content after the first JSON value" in problem["message"]
    expected = offset if offset is not None else len(json.dumps(GOOD)) + 1
    assert f"byte offset {expected}" in problem["message"]


def test_an_empty_list_is_refused_not_answered_with_an_empty_success(stack):
    for body in ([], {"documents": []}):
        response = call(stack, api.post_documents, body)
        assert response.status == 400 and response.body["problems"][0]["code"] == "empty"


def test_a_document_with_nulls_everywhere_gets_every_problem(stack):
    nulls = {"type": None, "reference": None, "date": None, "currency": None, "lines": None, "origin": None}
    response = call(stack, api.post_documents, [GOOD, nulls])
    assert response.status == 422 and [d["reference"] for d in response.body["documents"]] == ["god-1"]
    fields = {p["field"] for p in response.body["problems"]}
    assert {"origin", "type", "reference", "date", "currency"} <= fields
    typed = {**nulls, "type": "voucher"}
    fields = {p["field"] for p in call(stack, api.post_documents, typed).body["problems"]}
    assert {"origin", "reference", "date", "currency", "lines"} <= fields


def test_a_bad_line_is_named_once_without_a_misleading_count_of_lines(stack):
    bad = {**GOOD, "lines": [GOOD["lines"][0], {**GOOD["lines"][1], "amount": "ti kroner"}]}
    [problem] = call(stack, api.post_documents, bad).body["problems"]
    assert problem["field"] == "lines[1].amount"


def test_numbers_are_read_exactly_and_where_the_schema_wants_text_a_number_is_refused(stack):
    exact = {**GOOD, "reference": "tall", "lines": [{"account": "1920", "amount": 0.1}, {"account": "3000", "amount": -0.1}]}
    assert call(stack, api.post_documents, exact).status == 202
    for field, value in (("reference", 17), ("date", 20261120)):
        response = call(stack, api.post_documents, {**GOOD, field: value})
        assert response.status == 422 and response.body["problems"][0]["field"] == field
    huge = {**GOOD, "lines": [{"account": "1920", "amount": 1e999999}, {"account": "3000", "amount": "-1.00"}]}
    response = call(stack, api.post_documents, json.dumps(huge).replace("Infinity", "1e999999").encode())
    assert response.status == 422 and "more than 15 digits" in response.body["problems"][0]["message"]


@pytest.mark.parametrize("document, code, field", [
    ({**GOOD, "lines": [GOOD["lines"][0], {**GOOD["lines"][1], "vat_code": "99"}]}, "unknown-vat-code",
     "lines[1].vat_code"),
    ({**GOOD, "lines": [{**GOOD["lines"][0], "kid": "1234567890"}, GOOD["lines"][1]]}, "invalid-kid", "lines[0].kid"),
    ({"type": "payment", "reference": "p", "date": "2026-11-20", "amount": "5.00", "kid": "0000055318"},
     "invalid-kid", "kid"),
    ({**GOOD, "lines": [{"account": "1920", "amount": "0.00"}, {"account": "3000", "amount": "0"}]}, "zero-voucher",
     None),
])
def test_intake_refuses_what_the_shared_form_does_not_allow(stack, document, code, field):
    response = call(stack, api.post_documents, [GOOD, document])
    assert response.status == 422 and [d["reference"] for d in response.body["documents"]] == ["god-1"]
    [problem] = response.body["problems"]
    assert problem["code"] == code and problem.get("field") == field


def test_a_format_outside_latin_1_is_a_400_and_the_file_is_kept(stack):
    stores = stack[0]
    response = call(stack, api.post_file, b"GBAT10;1", query={"format": "日本", "name": "salg\x00/../日.csv"},
                    content_type="application/octet-stream")
    assert response.status == 400 and response.body["problems"][0]["code"] == "unknown-format"
    container, path = response.body["original"].split("/", 1)
    assert container == CONTAINER_RECEIVED and stores.blobs.get(container, path) == b"GBAT10;1"
    from urllib.parse import unquote

    assert unquote(path.rsplit("/", 1)[1]) == "salg__.._日.csv"  # no slash, no control character; æøå/日 kept


def test_every_413_has_a_json_body(stack):
    _, _, _, _, admin = stack
    documents = call(stack, api.post_documents, b" " * (api_http.MAX_DOCUMENTS_BODY + 1))
    admin_body = call(stack, admin_api.create_tenant, b" " * (api_http.MAX_ADMIN_BODY + 1), key=admin)
    for response in (documents, admin_body):
        assert response.status == 413 and json.loads(response.encoded())["error"]


def test_the_file_limit_is_below_the_functions_hosts_so_a_client_meets_ours_first():
    from bilagsbro import localhost

    host_default = 104_857_600  # FUNCTIONS_REQUEST_BODY_SIZE_LIMIT's documented default
    assert api_http.MAX_FILE_BODY < host_default and api_http.MAX_DOCUMENTS_BODY < host_default
    assert localhost.BODY_LIMIT_SETTING == "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
    # The app settings raise the host's limit well above ours, locally and in Azure, so a body a little
    # over our limit gets our JSON 413 and not the host's empty 500.
    from bilagsbro.stack import settings_for

    local = int(settings_for("UseDevelopmentStorage=true")[localhost.BODY_LIMIT_SETTING])
    bicep = (Path(__file__).parents[2] / "infra/modules/function-app.bicep").read_text("utf-8")
    assert f"{localhost.BODY_LIMIT_SETTING}: '{local}'" in bicep
    assert api_http.MAX_FILE_BODY * 2 <= local


def test_the_admin_api_refuses_unknown_fields_and_says_when_json_is_malformed(stack):
    stores, _, tenant, _, admin = stack
    cases = [
        (admin_api.create_tenant, {}, {"name": "Ny AS", "colour": "blå"}, 422, "colour"),
        (admin_api.create_tenant, {}, {"name": "  "}, 422, "name"),
        (admin_api.put_connection, {"id": tenant.id}, {"target": "file", "settings": {}, "secret": "x"}, 422, "secret"),
        (admin_api.put_connection, {"id": tenant.id}, {"target": "file", "settings": [["base_url", "x"]]}, 422, "settings"),
        (admin_api.put_connection, {"id": tenant.id}, {"target": "file", "direct_posting": "yes"}, 422, "direct_posting"),
        (rules_api.put_rules, {"id": tenant.id}, {"vat_map": {"3": "3"}, "acount_map": {}}, 422, "acount_map"),
        (admin_api.put_format_options, {"id": tenant.id, "format": "gbat10"}, {"vat_mapp": {}}, 422, "options.vat_mapp"),
    ]
    for handler, path, body, status, field in cases:
        response = call(stack, handler, body, key=admin, path=path)
        assert response.status == status, (handler.__name__, body, response.body)
        assert field in {p.get("field") for p in response.body["problems"]}, (handler.__name__, response.body)
    for handler, path in ((admin_api.create_tenant, {}), (admin_api.put_connection, {"id": tenant.id}),
                          (rules_api.put_rules, {"id": tenant.id}), (admin_api.put_format_options, {"id": tenant.id, "format": "sie4"})):
        malformed = call(stack, handler, b'{"name": "x",}', key=admin, path=path)
        assert malformed.status == 400 and malformed.body["error"].startswith("malformed JSON"), handler.__name__
        assert call(stack, handler, b"", key=admin, path=path).status == 400
        assert call(stack, handler, b"[]", key=admin, path=path).status == 400
    assert TenantRegistry(stores.tables).get(tenant.id).rules.vat_map == {}  # nothing half-applied


def test_include_takes_only_exchanges(stack):
    stores, conns, _, key, _ = stack
    document_id = call(stack, api.post_documents, GOOD).body["documents"][0]["id"]
    request = api_http.Request("GET", {"id": document_id}, {"include": "everything"}, {"authorization": f"Bearer {key}"}, b"")
    assert api.get_document(stores, conns, request).status == 400


def test_the_saft_check_comes_before_the_rules_so_a_tenant_may_map_to_its_targets_own_codes(stack):
    """vat_map renames SAF-T codes into the target's; the adapted document keeps them to delivery."""
    from pipeline.records.names import CONTAINER_DELIVERIES
    from pipeline.stages import run

    stores, conns, tenant, _, _ = stack
    registry = TenantRegistry(stores.tables)
    registry.save(tenant.model_copy(update={"rules": tenant.rules.model_copy(update={"vat_map": {"3": "99"}})}))
    response = call(stack, api.post_documents, GOOD)
    assert response.status == 202
    messages = response.messages[QUEUE_TRANSLATED]
    for stage in ("adapt", "deliver"):
        messages = [m for message in messages for m in run(stage, stores, conns, message)]
    [path] = [p for (c, p) in stores.blobs.blobs if c == CONTAINER_DELIVERIES]
    delivered = json.loads(stores.blobs.get(CONTAINER_DELIVERIES, path))
    assert delivered["lines"][1]["vat_code"] == "99"


def test_an_empty_format_is_refused_like_an_unknown_one_and_the_file_is_kept(stack):
    """`format=` names no format (the OpenAPI's enum has no empty one): leave the parameter out to have it detected."""
    stores = stack[0]
    response = call(stack, api.post_file, b"\x89PNG\r\n", query={"format": ""}, content_type="application/octet-stream")
    assert response.status == 400 and response.body["problems"][0]["code"] == "unknown-format"
    container, path = response.body["original"].split("/", 1)
    assert stores.blobs.get(container, path) == b"\x89PNG\r\n"
