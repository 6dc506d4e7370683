"""The admin API checks a connection's settings and a format's options against the system's own model (its
descriptor): a 422 naming each refused field, and nothing written — no pending change, no secret stored."""

from __future__ import annotations

import json

import pytest

import connectors
from api import admin as admin_api
from api import http as api_http
from pipeline import descriptors
from pipeline.errors import ConfigError
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records.connections import connect, refusals
from pipeline.records.tenants import TenantRegistry


@pytest.fixture
def stack():
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Innstillinger på Ål AS")
    return stores, tenant, registry.issue_key(None, role="admin")


def put(stack, handler, body: object, **path: str) -> api_http.Response:
    stores, tenant, admin = stack
    request = api_http.Request("PUT", {"id": tenant.id, **path}, {}, {"authorization": f"Bearer {admin}",
                          "content-type": "application/json"}, json.dumps(body).encode(), "http://x")
    return handler(stores, connectors.registry(), request)


def fields(response: api_http.Response) -> set[str]:
    return {p.get("field") for p in response.body.get("problems", [])}


def test_each_refused_setting_and_credential_is_named_and_nothing_is_written(stack) -> None:
    stores, tenant, _ = stack
    response = put(stack, admin_api.put_connection, {"target": "tripletex", "settings": {
        "base_url": "tripletex.no", "company_id": True, "timeout": -1, "create_customer": True,
        "create_customers": "yes"}, "credentials": {"employee_token": "e", "consumer_token": "c", "api_key": "x"}})
    assert response.status == 422
    assert fields(response) == {"settings.base_url", "settings.company_id", "settings.timeout",
                                "settings.create_customer", "settings.create_customers", "credentials.api_key"}
    assert "Tripletex" in response.body["error"]
    after = TenantRegistry(stores.tables).get(tenant.id)
    assert after.target == "file" and after.pending == {}
    assert isinstance(stores.secrets, MemorySecrets) and stores.secrets.values == {}  # no token stored


def test_the_file_target_takes_no_setting_but_direct_posting(stack) -> None:
    response = put(stack, admin_api.put_connection, {"target": "file", "settings": {"base_url": "https://x.test"}})
    assert response.status == 422 and fields(response) == {"settings.base_url"}
    assert put(stack, admin_api.put_connection, {"target": "file", "direct_posting": True}).status == 200


def test_settings_direct_posting_of_the_wrong_kind_is_refused_even_beside_the_flag(stack) -> None:
    """Found by schemathesis: the top-level flag wins, but it must not hide a settings value the model refuses."""
    response = put(stack, admin_api.put_connection, {"target": "file", "settings": {"direct_posting": [True]},
                                               "direct_posting": True})
    assert response.status == 422 and fields(response) == {"settings.direct_posting"}
    both = put(stack, admin_api.put_connection, {"target": "file", "settings": {"direct_posting": False},
                                           "direct_posting": True})
    assert both.status == 200 and both.body["settings"]["direct_posting"] is True


def test_values_are_taken_as_json_gives_them_and_nothing_is_coerced() -> None:
    """What the OpenAPI document advertises (a company id as string or integer) is what the server takes; a
    "true" for a yes/no setting is refused, as the document says."""
    tripletex = connectors.CONNECTORS["tripletex"]
    assert refusals(tripletex, {"company_id": 4711, "timeout": 5, "direct_posting": True}, {}) == []
    refused = refusals(tripletex, {"create_customers": "true", "company_id": "-1", "timeout": "5"}, {})
    assert {p.field for p in refused} == {"settings.create_customers", "settings.company_id", "settings.timeout"}


@pytest.mark.parametrize(("format", "options", "field"), [
    ("gbat10", {"vat_map": {"3": ["3"]}}, "options.vat_map.3"),
    ("gbat10", {"encoding": "klingon-8"}, "options.encoding"),
    ("sie4", {"currency": "kroner"}, "options.currency"),
    ("saft-cash-register", {"group_by": "week"}, "options.group_by"),
    ("saft-cash-register", {"skip_transaction_types": "11007"}, "options.skip_transaction_types"),
    ("saft-financial", {"vat_accounts": "2700"}, "options.vat_accounts"),
    ("shared-form", {"vat_map": {}}, "options.vat_map"),
])
def test_each_format_takes_only_its_own_options(stack, format: str, options: dict, field: str) -> None:
    response = put(stack, admin_api.put_format_options, options, format=format)
    assert response.status == 422 and field in fields(response), fields(response)


def test_good_options_are_kept_as_given(stack) -> None:
    stores, tenant, _ = stack
    options = {"vat_map": {"3": "3", "1": 1}, "sie_dimensions": {"1": "department"}, "currency": "NOK"}
    assert put(stack, admin_api.put_format_options, options, format="sie4").status == 200
    assert TenantRegistry(stores.tables).get(tenant.id).sources["sie4"] == options


def test_set_up_code_is_held_to_the_same_model(stack) -> None:
    stores, tenant, _ = stack
    with pytest.raises(ConfigError) as refused:
        connect(TenantRegistry(stores.tables), stores.secrets, tenant.id, "tripletex", settings={"colour": "blå"},
                credentials={}, descriptor=connectors.CONNECTORS["tripletex"])
    assert [p.field for p in refused.value.problems] == ["settings.colour"]


REQUIRED = {"username": "regnskap@example.no", "customer_ids": "1234567", "voucher_series": 6,
            "tenant_id": "0b2f4c3e-1111-4a5b-8c9d-0123456789ab"}  # what the other required settings take


def addresses(descriptor) -> list[str]:
    """The settings typed `descriptors.Url` (pydantic keeps a plain one as str with its metadata)."""
    return [k for k, f in descriptor.settings.model_fields.items()
            if f.annotation == descriptors.Url | None
            or any(getattr(m, "func", None) is descriptors._without_trailing_slash for m in f.metadata)]


@pytest.mark.parametrize("name", sorted(n for n, d in connectors.CONNECTORS.items()
                                        if hasattr(d, "settings") and addresses(d)))
def test_every_address_setting_is_kept_without_a_trailing_slash_and_checked_as_an_address(name):
    descriptor = connectors.CONNECTORS[name]
    fields = addresses(descriptor)
    required = {k: REQUIRED.get(k, "x") for k, f in descriptor.settings.model_fields.items()
                if f.is_required() and k not in fields}
    read = descriptor.settings.read({**required, **{k: "https://api.example.no/v2/" for k in fields}})
    assert all(getattr(read, k) == "https://api.example.no/v2" for k in fields), name
    schema = descriptor.settings.model_json_schema()["properties"]
    for k in fields:
        said = json.dumps(schema[k])
        assert descriptors.URL_PATTERN.replace("\\", "\\\\") in said and '"maxLength": 300' in said, (name, k)
    with pytest.raises(ConfigError) as refused:
        descriptor.settings.read({**required, fields[0]: "https://api.example.no/æøå bad"})
    assert refused.value.problems[0].field == f"settings.{fields[0]}"
