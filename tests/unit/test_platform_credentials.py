"""Bilagsbro's own credentials for a system, set once by the operator (pipeline.records.platform): `bilagsbro
platform set/list` never shows or takes a value on the command line, a connection made without them uses the
operator's by name, a company's own wins, and the customer's credentials can never be set for every tenant."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import bilagsbro.cli
import connectors
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.records import platform
from pipeline.records.tenants import TenantRegistry
from sandboxes.registry import SANDBOXES


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Stores:
    made = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    TenantRegistry(made.tables).add("Fjellbakeriet på Røros AS", tenant_id="bakeriet")
    monkeypatch.setattr(bilagsbro.cli, "_with_stores", lambda fn: fn(made))
    return made


@pytest.fixture
def tripletex() -> Iterator[Any]:
    running = SANDBOXES["tripletex"]()
    yield running
    running.stop()


def test_the_operator_sets_the_consumer_token_once_by_environment_never_on_the_command_line(
        stores: Stores, tripletex: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    settings, credentials = tripletex.connection()
    monkeypatch.setenv("TT_CONSUMER", credentials["consumer_token"])
    assert bilagsbro.cli.main(["platform", "set", "tripletex", "consumer_token", "--value-env", "TT_CONSUMER"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["secret_name"] == "platform--tripletex--consumer-token"
    assert credentials["consumer_token"] not in out.out + out.err
    assert bilagsbro.cli.main(["platform", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["tripletex"] == {"consumer_token": True}
    assert listed["poweroffice-go"] == {"application_key": False, "subscription_key": False}

    monkeypatch.setenv("TT_EMPLOYEE", credentials["employee_token"])
    code = bilagsbro.cli.main(["connect", "bakeriet", "tripletex", "--base-url", settings["base_url"],
                               "--employee-token-env", "TT_EMPLOYEE"])
    out = capsys.readouterr()
    assert code == 0, out.err
    connected = json.loads(out.out)
    assert connected["activated"] is True and connected["check"]["ok"] is True
    names = TenantRegistry(stores.tables).get("bakeriet").target_settings["secrets"]
    assert names["consumer_token"] == "platform--tripletex--consumer-token"
    assert names["employee_token"] == "bakeriet--tripletex--employee-token--a"


def test_without_the_operators_value_the_connection_still_needs_it(
        stores: Stores, tripletex: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    settings, credentials = tripletex.connection()
    monkeypatch.setenv("TT_EMPLOYEE", credentials["employee_token"])
    code = bilagsbro.cli.main(["connect", "bakeriet", "tripletex", "--base-url", settings["base_url"],
                               "--employee-token-env", "TT_EMPLOYEE"])
    assert code == 2 and "tripletex needs consumer_token" in capsys.readouterr().err
    assert tripletex.sandbox.count() == 0


def test_a_company_with_its_own_integration_keeps_its_own_after_the_operator_sets_one(
        stores: Stores, tripletex: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, credentials = tripletex.connection()
    monkeypatch.setenv("TT_CONSUMER", credentials["consumer_token"])
    monkeypatch.setenv("TT_EMPLOYEE", credentials["employee_token"])
    assert bilagsbro.cli.main(["connect", "bakeriet", "tripletex", "--base-url", settings["base_url"],
                               "--consumer-token-env", "TT_CONSUMER", "--employee-token-env", "TT_EMPLOYEE"]) == 0
    platform.set_value(stores.secrets, connectors.CONNECTORS["tripletex"], "consumer_token", "operatørens-nøkkel")
    assert bilagsbro.cli.main(["connect", "bakeriet", "tripletex", "--employee-token-env", "TT_EMPLOYEE"]) == 0
    names = TenantRegistry(stores.tables).get("bakeriet").target_settings["secrets"]
    assert stores.secrets.get(names["consumer_token"]) == credentials["consumer_token"]


def test_the_customers_own_credential_cannot_be_set_for_every_tenant(
        stores: Stores, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VALUE", "en-ansattnøkkel")
    assert bilagsbro.cli.main(["platform", "set", "tripletex", "employee_token", "--value-env", "VALUE"]) == 2
    assert "not one of Tripletex's own" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not one of"):
        platform.set_value(stores.secrets, connectors.CONNECTORS["fiken"], "api_token", "x")
    assert stores.secrets.values == {}  # type: ignore[attr-defined]


def test_a_value_on_the_command_line_is_refused() -> None:
    with pytest.raises(SystemExit):
        bilagsbro.cli.main(["platform", "set", "tripletex", "consumer_token", "--value", "hemmelig"])


def test_the_integrations_own_are_declared_per_system() -> None:
    declared = {name: platform.keys(d) for name, d in connectors.CONNECTORS.items() if platform.keys(d)}
    assert declared == {
        "tripletex": ("consumer_token",), "poweroffice-go": ("application_key", "subscription_key"),
        "finago-office": ("application_id",), "visma-net": ("client_secret", "client_id"),
        "business-nxt": ("client_secret", "client_id"), "fortnox": ("client_secret", "client_id"),
        "fiken": ("client_secret", "client_id")}
