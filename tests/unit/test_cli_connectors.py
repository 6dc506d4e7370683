"""The CLI is made from the registry: `bilagsbro connectors` lists it, and `bilagsbro connect TENANT SYSTEM`
takes each system's own settings as flags generated from its settings model, refusing a bad one by name."""

from __future__ import annotations

import json
import secrets

import pytest

import connectors
from bilagsbro import cli
from pipeline import descriptors
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records.tenants import TenantRegistry
from sandboxes.tripletex import TripletexSandbox


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Stores:
    """The CLI's storage, in memory."""
    made = Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())
    monkeypatch.setattr(cli, "_with_stores", lambda fn: fn(made))
    return made


def test_connectors_lists_every_system_and_format_in_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["connectors", "--json"]) == 0
    listed = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert list(listed) == list(connectors.CONNECTORS)
    assert listed["tripletex"]["kind"] == "target" and listed["gbat10"]["kind"] == "file-source"
    assert listed["omnium"]["kind"] == "pulled-source"
    assert [s["name"] for s in listed["tripletex"]["secrets"]] == ["consumer_token", "employee_token"]
    assert listed["tripletex"]["accepts"]["currencies"] == ["NOK"]
    assert cli.main(["connectors"]) == 0
    text = capsys.readouterr().out
    assert "Tripletex" in text and "GBAT10 (Extenda Go)" in text and "Omnium" in text


@pytest.mark.parametrize("name", sorted(descriptors.targets(connectors.CONNECTORS)))
def test_connect_has_a_flag_for_every_setting_and_secret_of_the_system(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    descriptor = connectors.CONNECTORS[name]
    with pytest.raises(SystemExit) as shown:
        cli.main(["connect", "t", name, "--help"])
    assert shown.value.code == 0
    text = capsys.readouterr().out
    for field in descriptor.settings.model_fields:
        assert f"--{field.replace('_', '-')}" in text, field
    for secret in descriptor.secrets:
        assert f"--{secret.flag}-file" in text and f"--{secret.flag}-env" in text
        assert secret.where.split("«")[0].strip()[:20] in " ".join(text.split())  # where the customer finds it


def test_a_setting_the_system_refuses_is_named_and_nothing_changes(
        stores: Stores, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = TenantRegistry(stores.tables).add("Flagg og Fjord AS")
    monkeypatch.setenv("TT_C", "c-" + secrets.token_hex(6))
    monkeypatch.setenv("TT_E", "e-" + secrets.token_hex(6))
    code = cli.main(["connect", tenant.id, "tripletex", "--base-url", "ftp://nei", "--company-id", "12a",
                     "--consumer-token-env", "TT_C", "--employee-token-env", "TT_E"])
    err = capsys.readouterr().err
    assert code == 2 and "settings.base_url" in err and "settings.company_id" in err
    after = TenantRegistry(stores.tables).get(tenant.id)
    assert after.target == "file" and after.pending == {}


def test_the_generated_flags_reach_the_connection(stores: Stores, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = TenantRegistry(stores.tables).add("Flagg og Fjord AS")
    with TripletexSandbox() as box:
        base_url = box.base_url
        monkeypatch.setenv("TT_C", box.consumer_token)
        monkeypatch.setenv("TT_E", box.employee_token)
        code = cli.main(["connect", tenant.id, "tripletex", "--base-url", box.base_url, "--company-id", "0",
                         "--create-customers", "--timeout", "12.5", "--direct-posting",
                         "--consumer-token-env", "TT_C", "--employee-token-env", "TT_E"])
        answer = json.loads(capsys.readouterr().out)
    assert code == 0 and answer["activated"] and answer["check"]["company"] == "Bilagsbro Sandkasse AS"
    settings = TenantRegistry(stores.tables).get(tenant.id).target_settings
    assert settings["create_customers"] is True and settings["timeout"] == 12.5 and settings["direct_posting"] is True
    assert settings["base_url"] == base_url and set(settings["secrets"]) == {"consumer_token", "employee_token"}


def test_further_connects_a_second_system_beside_the_primary_one(stores: Stores, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = TenantRegistry(stores.tables).add("Flagg og Fjord AS")
    with TripletexSandbox() as box:
        base_url = box.base_url
        monkeypatch.setenv("TT_C", box.consumer_token)
        monkeypatch.setenv("TT_E", box.employee_token)
        code = cli.main(["connect", tenant.id, "tripletex", "--further", "--base-url", box.base_url,
                         "--consumer-token-env", "TT_C", "--employee-token-env", "TT_E"])
        answer = json.loads(capsys.readouterr().out)
    assert code == 0 and answer["activated"] and answer["target"] == "file"
    after = TenantRegistry(stores.tables).get(tenant.id)
    assert after.target == "file" and after.connections["tripletex"]["mode"] == "active"
    assert after.connections["tripletex"]["settings"]["base_url"] == base_url
