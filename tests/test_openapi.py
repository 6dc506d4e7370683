"""The OpenAPI document describes what the server does: every route function_app.py declares is in it,
and nothing else is; every status, format and document status comes from the code that answers."""

from __future__ import annotations

import json
from pathlib import Path

import connectors
from api import docs as docs_api
from api import http as api_http
from api.openapi import spec
from bilagsbro.stack import load_function_app
from pipeline.records.trace import STATUS_OF

ROOT = Path(__file__).resolve().parents[1]
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _declared_routes() -> set[tuple[str, str, str]]:
    """(path, method, function) of every HTTP function, as the host serves it (host.json routePrefix)."""
    prefix = json.loads((ROOT / "host.json").read_text("utf-8"))["extensions"]["http"].get("routePrefix", "api")
    routes = set()
    for function in load_function_app().app.get_functions():
        trigger = function.get_trigger().get_dict_repr()
        if trigger["type"] != "httpTrigger":
            continue
        for method in trigger["methods"]:
            routes.add((f"/{prefix}/{trigger['route']}", str(getattr(method, "value", method)).lower(),
                        function.get_function_name()))
    return routes


def _document() -> dict:
    return spec("http://localhost", connectors=connectors.registry().descriptors)


def _documented_routes(document: dict) -> set[tuple[str, str, str]]:
    return {(path, method, op["operationId"]) for path, ops in document["paths"].items()
            for method, op in ops.items() if method in METHODS}


def test_every_declared_route_is_documented_and_every_documented_route_is_declared():
    """Path, method and the serving function's name (the operationId), both ways."""
    declared, documented = _declared_routes(), _documented_routes(_document())
    assert declared - documented == set(), "routes function_app.py serves that the OpenAPI document lacks"
    assert documented - declared == set(), "routes the OpenAPI document promises that nothing serves"


def test_the_drift_check_would_catch_a_missing_route():
    document = _document()
    del document["paths"]["/api/v1/receipts"]
    assert ("/api/v1/receipts", "get", "receipt_list") in _declared_routes() - _documented_routes(document)


def test_every_secured_operation_documents_401_and_403_and_each_error_has_a_json_body():
    document = _document()
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if op.get("security", document["security"]):
                assert {"401", "403"} <= set(op["responses"]), f"{method} {path}"
            for status, response in op["responses"].items():
                if status.startswith("4"):
                    assert "application/json" in response["content"], f"{method} {path} {status}"


def test_formats_targets_and_statuses_come_from_the_registries_and_the_trace():
    document = _document()
    files = document["paths"]["/api/v1/files"]["post"]
    [fmt] = [p for p in files["parameters"] if p["name"] == "format"]
    assert fmt["schema"]["enum"] == sorted(connectors.SOURCES) and "shared-form" in fmt["schema"]["enum"]
    assert "api" not in fmt["schema"]["enum"]  # one name for our JSON, in the CLI and the API alike
    status = document["components"]["schemas"]["DocumentStatus"]["properties"]["status"]
    assert set(status["enum"]) == set(STATUS_OF.values()) and "resubmitted" in status["enum"]
    connection = document["paths"]["/api/v1/admin/tenants/{id}/connection"]["put"]
    body = connection["requestBody"]["content"]["application/json"]["schema"]
    schemas = document["components"]["schemas"]
    branches = [schemas[ref["$ref"].rsplit("/", 1)[1]] for ref in body["oneOf"]]
    assert sorted(b["properties"]["target"]["const"] for b in branches) == sorted(connectors.TARGETS)
    assert body["discriminator"]["propertyName"] == "target"


def test_origin_is_not_advertised_because_the_server_refuses_it():
    schemas = _document()["components"]["schemas"]
    for name in ("Voucher", "SalesInvoice", "Payment"):
        assert "origin" not in schemas[name]["properties"]
    assert "Origin" not in schemas


def test_the_served_document_is_the_one_built_here():
    request = api_http.Request("GET", {}, {}, {}, b"", "http://localhost")
    served = docs_api.docs_json(None, connectors.registry(), request)  # type: ignore[arg-type]
    assert served.status == 200 and served.body == _document()


def test_every_link_names_an_operation_and_a_response_that_exists():
    document = _document()
    operations = {op["operationId"] for ops in document["paths"].values() for op in ops.values()}
    for ops in document["paths"].values():
        for op in ops.values():
            for response in op["responses"].values():
                for link in response.get("links", {}).values():
                    assert link["operationId"] in operations


def test_each_target_advertises_its_own_settings_and_secrets_and_each_format_its_own_options():
    """The connection body per system and the options per format come from the descriptors' models."""
    from pipeline import descriptors

    schemas = _document()["components"]["schemas"]
    for name, descriptor in descriptors.targets(connectors.CONNECTORS).items():
        branch = next(s for s in schemas.values() if s.get("properties", {}).get("target", {}).get("const") == name)
        settings = branch["properties"]["settings"]
        assert settings["additionalProperties"] is False
        assert set(settings["properties"]) == set(descriptor.settings.model_fields)
        assert all({"type": "null"} in p["anyOf"] for p in settings["properties"].values())  # null removes one
        credentials = branch["properties"]["credentials"]
        assert set(credentials["properties"]) == {s.name for s in descriptor.secrets}
        assert credentials["additionalProperties"] is False
    tripletex = schemas["TripletexConnection"]["properties"]
    assert "employee_token" in tripletex["credentials"]["properties"] and "base_url" in tripletex["settings"]["properties"]
    options = _document()["paths"]["/api/v1/admin/tenants/{id}/formats/{format}"]["put"]
    body = options["requestBody"]["content"]["application/json"]["schema"]
    named = {ref["$ref"].rsplit("/", 1)[1] for ref in body["anyOf"]}
    assert len(named) == len(descriptors.formats(connectors.CONNECTORS))
    assert set(schemas["Sie4Options"]["properties"]) >= {"vat_map", "sie_dimensions", "currency"}
    assert schemas["Sie4Options"]["additionalProperties"] is False
