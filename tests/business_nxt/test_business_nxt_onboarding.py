"""Onboarding Business NXT as an accounting firm does it: the client id and secret and the customer id(s), then the
companies the integration reaches to pick one (CLI and admin API), then the connection test, whose facts about the
company (organisation number, fiscal year, VAT term, period type) are kept with the connection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import connectors
from api import admin as admin_api
from api import http as api_http
from bilagsbro import cli
from connectors.targets.business_nxt.descriptor import BusinessNxtSettings
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records.connections import change, describe
from pipeline.records.tenants import TenantRegistry
from sandboxes.business_nxt import BusinessNxtSandbox


@pytest.fixture
def box() -> Iterator[BusinessNxtSandbox]:
    sandbox = BusinessNxtSandbox().start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Stores:
    made = Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())
    monkeypatch.setattr(cli, "_with_stores", lambda fn: fn(made))
    return made


def _settings(box: BusinessNxtSandbox, **more: Any) -> dict[str, Any]:
    return {"base_url": box.base_url, "token_url": box.token_url, "client_id": box.client_id,
            "customer_ids": "5000001, 5000002", "voucher_series": 6, **more}


def _post(stores: Stores, tenant: str, body: dict[str, Any]) -> api_http.Response:
    key = TenantRegistry(stores.tables).issue_key(None, role="admin")
    return admin_api.post_connection_companies(stores, connectors.registry(), api_http.Request(
        "POST", {"id": tenant}, {}, {"authorization": f"Bearer {key}"}, json.dumps(body).encode(), ""))


def test_the_admin_api_lists_the_companies_to_pick_from_and_writes_nothing(stores: Stores,
                                                                           box: BusinessNxtSandbox) -> None:
    tenant = TenantRegistry(stores.tables).add("Regnskapshuset Ørsta AS")
    answer = _post(stores, tenant.id, {"target": "business-nxt", "settings": _settings(box),
                                       "credentials": {"client_secret": box.client_secret}})
    assert answer.status == 200 and answer.body["setting"] == "company_no"
    assert [c["value"] for c in answer.body["companies"]] == [5280001, 5280002, 5290001]
    assert TenantRegistry(stores.tables).get(tenant.id).target == "file" and stores.secrets.values == {}


def test_the_admin_api_says_why_it_cannot_list(stores: Stores, box: BusinessNxtSandbox) -> None:
    tenant = TenantRegistry(stores.tables).add("Regnskapshuset Ørsta AS")
    wrong = _post(stores, tenant.id, {"target": "business-nxt", "settings": _settings(box),
                                      "credentials": {"client_secret": "feil"}})
    assert wrong.status == 422 and "Visma Connect refused the client id and secret" in wrong.body["error"]
    single = _post(stores, tenant.id, {"target": "tripletex", "settings": {}, "credentials": {}})
    assert single.status == 422 and "one company" in single.body["error"]
    bad = _post(stores, tenant.id, {"target": "business-nxt", "settings": _settings(box, customer_ids="12a"),
                                    "credentials": {"client_secret": box.client_secret}})
    assert bad.status == 422 and bad.body["problems"][0]["field"] == "settings.customer_ids"


def test_a_connection_keeps_the_companys_facts_from_its_connection_test(stores: Stores,
                                                                        box: BusinessNxtSandbox) -> None:
    tenant = TenantRegistry(stores.tables).add("Fjordkafé Demo AS")
    outcome = change(stores, connectors.registry(), tenant.id, "business-nxt",
                     settings=_settings(box, company_no=5280002), credentials={"client_secret": box.client_secret})
    assert outcome.activated, outcome.check
    settings = outcome.tenant.target_settings
    assert BusinessNxtSettings.read(settings).customer_ids == [5000001, 5000002]  # as the firm wrote them, read
    assert settings["company_no"] == 5280002
    assert settings["facts"] == {"company": "Bjørnøya Bakeri AS", "organization_number": "923456791",
                                 "fiscal_year": 2026, "vat_term": "bimonthly", "period_type": "12 periods a year",
                                 "locked_until": None}
    assert describe(outcome.tenant)["settings"]["facts"]["organization_number"] == "923456791"
    # A later change (a new secret) keeps the settings, and the test reads the facts again.
    box.companies[5280002].vat_term_months = 12
    rotated = change(stores, connectors.registry(), tenant.id, "business-nxt", settings={},
                     credentials={"client_secret": box.client_secret})
    assert rotated.activated and rotated.tenant.target_settings["facts"]["vat_term"] == "yearly"


def test_the_cli_lists_the_companies_when_none_is_given_and_connects_the_one_given(
        stores: Stores, box: BusinessNxtSandbox, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    tenant = TenantRegistry(stores.tables).add("Regnskapshuset Ørsta AS")
    secret = tmp_path / "secret"
    secret.write_text(box.client_secret)
    secret.chmod(0o600)
    common = ["connect", tenant.id, "business-nxt", "--base-url", box.base_url, "--token-url", box.token_url,
              "--client-id", box.client_id, "--customer-ids", "5000001, 5000002", "--voucher-series", "6",
              "--client-secret-file", str(secret)]
    assert cli.main(common) == 2
    out = capsys.readouterr()
    listed = json.loads(out.out)
    assert [(c["value"], c["name"]) for c in listed["companies"]][:2] == [(5280001, "Fjordkafé Demo AS"),
                                                                          (5280002, "Bjørnøya Bakeri AS")]
    assert "--company-no" in out.err and TenantRegistry(stores.tables).get(tenant.id).target == "file"
    assert cli.main([*common, "--company-no", "5290001"]) == 0
    connected = json.loads(capsys.readouterr().out)
    assert connected["activated"] and connected["check"]["company"] == "Lillehammer Sport AS"
    assert connected["settings"]["facts"]["organization_number"] == "945678909"
    assert box.client_secret not in json.dumps(connected)
