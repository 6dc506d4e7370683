"""Booking options that name accounts the tenant's accounting system lacks are reported when the source is
added, not at the first delivery. Stores in memory; Omnium and Tripletex are their sandboxes over HTTP."""

from __future__ import annotations

import pytest

import connectors
from connectors.sources.omnium import BookingOptions, accounts_named
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import ChartOfAccounts, Stores
from pipeline.records.connections import change_source, connect
from pipeline.records.tenants import TenantRegistry
from pipeline.rules import Rules
from sandboxes.omnium import OmniumSandbox
from sandboxes.tripletex import TripletexSandbox


@pytest.fixture
def stores() -> Stores:
    return Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())


def test_the_options_name_every_account_they_book_on() -> None:
    named = accounts_named(BookingOptions.from_options({"payment_accounts": {"Vipps": "1925"},
                                                        "discount_account": "3080"}))
    assert named == {
        "3000": ["sales_accounts.25"], "3010": ["sales_accounts.15"], "3020": ["sales_accounts.12"],
        "3100": ["sales_accounts.0"], "1900": ["payment_accounts.Cash"], "1925": ["payment_accounts.Vipps"],
        "1920": ["payment_account"], "2900": ["gift_card_account"], "1500": ["receivable_account"],
        "7790": ["rounding_account"], "3080": ["discount_account"]}


def add(stores: Stores, tenant_id: str, omnium: OmniumSandbox, **booking: object):
    return change_source(stores, connectors.pulled()["omnium"], tenant_id, "omnium",
                         settings={"base_url": omnium.base_url, "client_id": omnium.client_id, "booking": booking},
                         secret_setting="client_secret_name", secret=omnium.client_secret,
                         targets=connectors.registry())


def test_omnium_defaults_are_all_in_a_standard_tripletex_chart_and_a_missing_one_is_named(stores: Stores) -> None:
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Sport og Fritid Ålesund AS")
    with TripletexSandbox() as tripletex, OmniumSandbox() as omnium:
        connect(registry, stores.secrets, tenant.id, "tripletex", settings={"base_url": tripletex.base_url},
                credentials={"consumer_token": tripletex.consumer_token, "employee_token": tripletex.employee_token})
        good = add(stores, tenant.id, omnium)
        assert good.activated and good.check["accounts"]["missing"] == []
        assert good.check["accounts"]["checked"] == sorted(accounts_named(BookingOptions()))

        tripletex.company.remove_account(3020)
        tripletex.company.deactivate_account(7790)
        registry.save(registry.get(tenant.id).model_copy(update={"rules": Rules(account_map={"3010": "3011"})}))
        bad = add(stores, tenant.id, omnium, mode="order", payment_accounts={"Vipps": "1925"})
    assert not bad.activated and not bad.check["ok"]
    assert bad.check["accounts"]["missing"] == [
        {"account": "1925", "options": ["payment_accounts.Vipps"], "why": "does not exist in Tripletex"},
        {"account": "3011", "options": ["sales_accounts.15 (3010 → 3011 by the tenant's account map)"],
         "why": "does not exist in Tripletex"},
        {"account": "3020", "options": ["sales_accounts.12"], "why": "does not exist in Tripletex"},
        {"account": "7790", "options": ["rounding_account"], "why": "is inactive in Tripletex"}]
    message = bad.check["error"]["message"]
    assert message.startswith("the booking options name accounts tripletex cannot book on: 1925 "
                              "(payment_accounts.Vipps) does not exist in Tripletex;")
    kept = TenantRegistry(stores.tables).get(tenant.id)
    assert kept.sources["omnium"]["booking"] == {}  # the working options stay in force
    assert kept.pending["omnium"]["state"] == "failed"


def test_a_target_without_a_chart_or_out_of_reach_leaves_the_accounts_unchecked(stores: Stores) -> None:
    registry = TenantRegistry(stores.tables)
    on_file = registry.add("Filbutikken AS")
    unreachable = registry.add("Nede AS")
    with OmniumSandbox() as omnium:
        filed = add(stores, on_file.id, omnium)
        assert filed.activated and filed.check["accounts"] == {
            "unchecked": "the file target has no chart of accounts to check"}
        with TripletexSandbox() as tripletex:
            connect(registry, stores.secrets, unreachable.id, "tripletex",
                    settings={"base_url": tripletex.base_url, "timeout": 1},
                    credentials={"consumer_token": "feil", "employee_token": "feil"})
        down = add(stores, unreachable.id, omnium)
    assert down.activated and down.check["accounts"]["unchecked"].startswith("could not ask tripletex:")


def test_the_tripletex_target_answers_the_chart_question(stores: Stores) -> None:
    from tests.tripletex.tripletex_support import harness, load_spec_check

    with TripletexSandbox() as tripletex:
        tripletex.company.deactivate_account(6300)
        wired = harness(tripletex, load_spec_check())
        target = wired.target()
        assert isinstance(target, ChartOfAccounts)
        assert target.accounts_missing(["1920", "6300", "9999", "kasse"]) == {
            "6300": "is inactive in Tripletex", "9999": "does not exist in Tripletex",
            "kasse": "is no account number Tripletex can have (its account numbers are integers)"}
        assert "kasse" not in str([e.url for e in wired.exchanges.exchanges])  # not even asked
        wired.close()
        assert wired.transport.violations == []
