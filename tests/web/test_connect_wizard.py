"""The connect and switch wizards (workspace/pages_connect.py) against the accounting systems' sandboxes on loopback:
green and red in the customer's words, credentials never in a page or the audit row, a Business NXT company picked
from the customer id's list, a switch with its preview, further connections, Fortnox's consent link."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

import connectors
from pipeline.records import platform
from pipeline.records.names import TABLE_AUDIT
from pipeline.records.tenants import TenantRegistry
from sandboxes.registry import SANDBOXES
from tests.web.support import World, world

REASON = "ny klient fra 1. desember"


@pytest.fixture
def w() -> World:
    made = world()
    made.conns = connectors.registry()  # with the descriptors the wizard is built from
    return made


@pytest.fixture
def tripletex() -> Iterator[Any]:
    running = SANDBOXES["tripletex"]()
    yield running
    running.stop()


def _html(answer: Any) -> str:
    return str(answer.encoded().decode("utf-8"))


def _audit(w: World) -> list[dict[str, Any]]:
    return [row for key, row in w.stores.tables.rows.items() if key[0] == TABLE_AUDIT]


def _connect_tripletex(w: World, browser: Any, running: Any, *, employee: str | None = None) -> Any:
    settings, credentials = running.connection()
    return browser.post(f"clients/{w.a2}/connect/tripletex", {
        "s_base_url": settings["base_url"], "s_company_id": "0", "_checks": "1", "reason": REASON,
        "c_consumer_token": credentials["consumer_token"],
        "c_employee_token": employee or credentials["employee_token"]})


def test_the_wizard_offers_every_accounting_system_of_the_registry(w: World) -> None:
    page = _html(w.browser("owner").get(f"clients/{w.a2}/connect"))
    offered = set(re.findall(r'data-system="([^"]+)"', page))
    assert offered == {name for name, d in connectors.CONNECTORS.items() if d.kind == "target"}


def test_each_system_asks_for_its_credentials_in_the_customers_words(w: World) -> None:
    browser = w.browser("owner")
    labels = {}
    for system in ("tripletex", "poweroffice-go", "fiken", "business-nxt", "xledger", "finago-office"):
        page = _html(browser.get(f"clients/{w.a2}/connect/{system}"))
        labels[system] = dict(re.findall(r'<label for="(c_[a-z_]+|s_[a-z_]+)">([^<*]+)', page))
        assert 'type="password"' in page and "Begrunnelse" in page
    assert labels["tripletex"]["c_employee_token"].strip() == "Ansattnøkkel (employee token)"
    assert labels["poweroffice-go"]["c_client_key"].strip() == "Klientnøkkel"
    assert labels["fiken"]["c_api_token"].strip() == "API-nøkkel (personlig)"
    assert labels["business-nxt"]["s_customer_ids"].strip() == "Kundenummer i Business NXT"
    assert labels["xledger"]["c_api_token"].strip() == "API-token"
    assert "s_username" in labels["finago-office"]
    page = _html(browser.get(f"clients/{w.a2}/connect/tripletex", lang="en"))  # remembered by cookie as in a browser
    assert "«API-tilgang»" in _html(browser.get(f"clients/{w.a2}/connect/tripletex"))


def test_tripletex_connects_green_and_its_tokens_go_only_to_the_secret_store(w: World, tripletex: Any) -> None:
    browser = w.browser("accountant")
    w.stores.tables.rows  # noqa: B018
    from workspace.identity import Directory

    Directory(w.stores.tables).set_role(w.users["accountant"], w.a2, "accountant")
    answer = _connect_tripletex(w, w.browser("accountant"), tripletex)
    assert answer.status == 303 and answer.headers["Location"].endswith("notice=connected")
    tenant = TenantRegistry(w.stores.tables).get(w.a2)
    assert tenant.target == "tripletex" and tenant.target_settings["base_url"] == tripletex.connection()[0]["base_url"]
    token = tripletex.connection()[1]["employee_token"]
    assert token in w.stores.secrets.values.values()  # type: ignore[attr-defined]
    page = _html(browser.follow(answer))
    assert "Tilkoblet: testen er grønn" in page and 'data-light="untested"' not in page
    assert token not in page
    [entry] = [r for r in _audit(w) if r["Action"] == "connection changed"]
    assert entry["Why"] == REASON and entry["Client"] == w.a2
    assert json.loads(entry["Detail"])["credentials_changed"] == ["consumer_token", "employee_token"]
    assert token not in json.dumps(_audit(w)) and tripletex.connection()[1]["consumer_token"] not in json.dumps(_audit(w))
    facts = Directory(w.stores.tables).client_facts(w.a2)
    assert facts["check"]["ok"] is True


def test_a_wrong_token_is_red_in_words_keeps_nothing_and_is_not_asked_twice(w: World, tripletex: Any) -> None:
    browser = w.browser("owner")
    answer = _connect_tripletex(w, browser, tripletex, employee="feil-nøkkel-123")
    page = _html(answer)
    assert answer.status == 422 and 'data-result="red"' in page
    assert "Systemet godtok ikke nøklene" in page and "Tripletex refused" in page
    assert "feil-nøkkel-123" not in page
    assert TenantRegistry(w.stores.tables).get(w.a2).target == "file"  # not connected: nothing in force
    assert 'Consumer token (integrasjonens nøkkel)' in page and "En er lagret" in page
    [entry] = [r for r in _audit(w) if r["Action"] == "connection refused by its test"]
    assert "feil-nøkkel-123" not in json.dumps(entry)
    # the right employee token now; the consumer token given a moment ago is not asked for again
    settings, credentials = tripletex.connection()
    again = browser.post(f"clients/{w.a2}/connect/tripletex", {
        "s_base_url": settings["base_url"], "s_company_id": "0", "_checks": "1", "reason": REASON,
        "c_employee_token": credentials["employee_token"]})
    assert again.status == 303, _html(again)[:2000]
    assert TenantRegistry(w.stores.tables).get(w.a2).target == "tripletex"


def test_a_reason_is_required(w: World, tripletex: Any) -> None:
    settings, credentials = tripletex.connection()
    answer = w.browser("owner").post(f"clients/{w.a2}/connect/tripletex", {
        "s_base_url": settings["base_url"], "c_employee_token": credentials["employee_token"], "reason": ""})
    assert answer.status == 400
    assert TenantRegistry(w.stores.tables).get(w.a2).target == "file"


def test_business_nxt_customer_ids_give_the_companies_to_pick_from(w: World) -> None:
    running = SANDBOXES["business-nxt"]()
    try:
        settings, credentials = running.connection()
        browser = w.browser("owner")
        form = {"s_base_url": settings["base_url"], "s_token_url": settings["token_url"],
                "s_client_id": settings["client_id"], "s_voucher_series": "6", "_checks": "1", "reason": REASON,
                "s_customer_ids": f"{settings['customer_ids'][0]}, "}
        listed = browser.post(f"clients/{w.a2}/connect/business-nxt", {**form, "c_client_secret": credentials[
            "client_secret"]})
        page = _html(listed)
        assert listed.status == 200, page[:3000]
        choices = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', page)
        assert str(settings["company_no"]) in [value for value, _ in choices]
        assert credentials["client_secret"] not in page
        assert TenantRegistry(w.stores.tables).get(w.a2).target == "file"  # nothing in force yet
        picked = browser.post(f"clients/{w.a2}/connect/business-nxt", {**form, "s_company_no": str(
            settings["company_no"])})  # the secret is not asked for twice
        assert picked.status == 303, _html(picked)[:3000]
        tenant = TenantRegistry(w.stores.tables).get(w.a2)
        assert tenant.target == "business-nxt" and tenant.target_settings["company_no"] == settings["company_no"]
    finally:
        running.stop()


def test_switch_tripletex_to_fiken_shows_the_preview_then_switches_keeping_tripletex_read_only(
        w: World, tripletex: Any) -> None:
    fiken = SANDBOXES["fiken"]()
    try:
        browser = w.browser("owner")
        assert _connect_tripletex(w, browser, tripletex).status == 303
        form_page = _html(browser.get(f"clients/{w.a2}/connect/fiken"))
        assert f"clients/{w.a2}/switch/fiken/preview" in form_page
        settings, credentials = fiken.connection()
        preview = browser.post(f"clients/{w.a2}/switch/fiken/preview", {
            "s_base_url": settings["base_url"], "s_company_slug": settings["company_slug"], "_checks": "1",
            "c_api_token": credentials["api_token"], "direct_posting": "on"})
        page = _html(preview)
        assert preview.status == 200, page[:3000]
        assert 'data-result="green"' in page and 'id="checked"' in page and credentials["api_token"] not in page
        assert TenantRegistry(w.stores.tables).get(w.a2).target == "tripletex"  # a preview changes nothing
        hidden = dict(re.findall(r'type="hidden" name="(s_[a-z_]+)" value="([^"]*)"', page))
        assert hidden["s_company_slug"] == settings["company_slug"]
        refused = browser.post(f"clients/{w.a2}/switch/fiken", {**hidden, "_checks": "1", "reason": ""})
        assert refused.status == 400 and TenantRegistry(w.stores.tables).get(w.a2).target == "tripletex"
        done = browser.post(f"clients/{w.a2}/switch/fiken", {**hidden, "_checks": "1", "direct_posting": "on",
                                                              "reason": "byrået går over til Fiken"})
        assert done.status == 303, _html(done)[:3000]
        tenant = TenantRegistry(w.stores.tables).get(w.a2)
        assert tenant.target == "fiken" and tenant.connections["tripletex"]["mode"] == "read-only"
        [entry] = [r for r in _audit(w) if r["Action"] == "accounting system switched"]
        assert entry["Why"] == "byrået går over til Fiken" and credentials["api_token"] not in json.dumps(entry)
        client_page = _html(browser.follow(done))
        assert 'id="connections"' in client_page and 'data-system="tripletex"' in client_page
        # the kept connection removed, with a reason
        assert browser.post(f"clients/{w.a2}/connections/tripletex/remove", {"reason": ""}).status == 400
        removed = browser.post(f"clients/{w.a2}/connections/tripletex/remove", {"reason": "avsluttet hos Tripletex"})
        assert removed.status == 303
        assert "tripletex" not in TenantRegistry(w.stores.tables).get(w.a2).connections
        assert any(r["Action"] == "further connection removed" for r in _audit(w))
    finally:
        fiken.stop()


def test_fortnox_gets_a_consent_link_not_a_token_field(w: World) -> None:
    browser = w.browser("owner")
    page = _html(browser.get(f"clients/{w.a2}/connect/fortnox"))
    assert "c_refresh_token" not in page and "c_client_secret" in page
    answer = browser.post(f"clients/{w.a2}/connect/fortnox", {
        "s_client_id": "bilagsbro-app", "s_voucher_series": "A", "_checks": "1", "reason": REASON,
        "c_client_secret": "operatørens-hemmelighet"})
    made = _html(answer)
    assert answer.status == 201, made[:2000]
    link = re.search(r'id="consent-link" href="([^"]+)"', made)
    assert link and "/api/onboarding/fortnox/links/" in link.group(1)
    assert "operatørens-hemmelighet" not in made and "operatørens-hemmelighet" not in json.dumps(_audit(w))


def test_a_viewer_sees_no_wizard_link_and_cannot_open_it(w: World) -> None:
    browser = w.browser("viewer")
    assert 'id="connect-wizard"' not in _html(browser.get(f"clients/{w.a1}"))
    assert browser.get(f"clients/{w.a1}/connect").status == 403


def test_a_missing_credential_is_named_on_its_field_before_anything_is_tested(w: World, tripletex: Any) -> None:
    settings, credentials = tripletex.connection()
    answer = w.browser("owner").post(f"clients/{w.a2}/connect/tripletex", {
        "s_base_url": settings["base_url"], "s_company_id": "0", "_checks": "1", "reason": REASON,
        "c_employee_token": credentials["employee_token"]})
    page = _html(answer)
    assert answer.status == 422 and "Noen felt må rettes" in page
    assert re.search(r'id="c_consumer_token-help">[^<]*<strong class="error">Må fylles ut.</strong>', page)
    assert tripletex.sandbox.count() == 0  # nothing asked of Tripletex
    assert TenantRegistry(w.stores.tables).get(w.a2).target == "file"


# Business NXT (a company picked from the customer id's list) and Fortnox (the consent link) take steps of their own,
# tested above; every other system with a sandbox connects through the same form, green, as a bookkeeper fills it in.
FORM_SYSTEMS = sorted(set(SANDBOXES) - {"business-nxt", "fortnox"})


@pytest.mark.parametrize("system", FORM_SYSTEMS)
def test_every_system_connects_green_through_the_wizards_form(w: World, system: str) -> None:
    running = SANDBOXES[system]()
    try:
        settings, credentials = running.connection()
        form = {"_checks": "1", "reason": REASON, **{f"c_{k}": str(v) for k, v in credentials.items()}}
        for name, value in settings.items():
            if isinstance(value, bool):
                if value:
                    form[name if name == "direct_posting" else f"s_{name}"] = "on"
            else:
                form[f"s_{name}"] = str(value)
        page = _html(w.browser("owner").get(f"clients/{w.a2}/connect/{system}"))
        for field in form:
            if field.startswith(("s_", "c_")):
                assert f'name="{field}"' in page, f"{system}: the form has no field {field}"
        answer = w.browser("owner").post(f"clients/{w.a2}/connect/{system}", form)
        assert answer.status == 303 and answer.headers["Location"].endswith("notice=connected"), _html(answer)[-1500:]
        tenant = TenantRegistry(w.stores.tables).get(w.a2)
        assert tenant.target == system and tenant.target_settings["base_url"] == settings["base_url"]
        for value in credentials.values():
            assert value in w.stores.secrets.values.values()  # type: ignore[attr-defined]
            assert value not in json.dumps(_audit(w))
        [entry] = [r for r in _audit(w) if r["Action"] == "connection changed"]
        assert json.loads(entry["Detail"])["credentials_changed"] == sorted(credentials)
    finally:
        running.stop()


# Fiken's sandbox connects with a personal API token, which is the customer's: none of the integration's own (its
# OAuth app's client id and secret) takes part there.
@pytest.mark.parametrize("system", [s for s in FORM_SYSTEMS if platform.keys(connectors.CONNECTORS[s]) and s != "fiken"])
def test_with_the_integrations_own_set_once_the_form_asks_only_for_the_customers(w: World, system: str) -> None:
    """Bilagsbro's own credentials (Tripletex's consumer token, PowerOffice GO's application and subscription keys,
    an OAuth app's client id and secret) set once by the operator: the bookkeeper gives only the company's, and the
    connection uses the operator's by name."""
    descriptor = connectors.CONNECTORS[system]
    running = SANDBOXES[system]()
    try:
        settings, credentials = running.connection()
        ours = platform.keys(descriptor)
        for key in ours:
            platform.set_value(w.stores.secrets, descriptor, key, str({**settings, **credentials}[key]))
        page = _html(w.browser("owner").get(f"clients/{w.a2}/connect/{system}"))
        for key in (k for k in ours if k in credentials):  # shown among the advanced fields, not required
            field = re.search(rf'<input[^>]*name="c_{key}"[^>]*>', page)
            assert field and "required" not in field.group(0), f"{system}: {key} is still asked for"
            assert re.search(rf'id="c_{key}-help">Bilagsbros egen, allerede satt opp av oss', page)
        form = {"_checks": "1", "reason": REASON,
                **{f"c_{k}": str(v) for k, v in credentials.items() if k not in ours}}
        for name, value in settings.items():
            if name in ours:
                continue
            if isinstance(value, bool):
                if value:
                    form[name if name == "direct_posting" else f"s_{name}"] = "on"
            else:
                form[f"s_{name}"] = str(value)
        answer = w.browser("owner").post(f"clients/{w.a2}/connect/{system}", form)
        assert answer.status == 303 and answer.headers["Location"].endswith("notice=connected"), re.findall(r"<strong class=\"error\">[^<]*|<h2[^>]*>[^<]*</h2>\s*<p>[^<]*", _html(answer))
        in_force = TenantRegistry(w.stores.tables).get(w.a2).target_settings
        for key in ours:
            if key in credentials:
                assert in_force["secrets"][key] == platform.platform_name(system, key)
            else:
                assert in_force[key] == settings[key]
        [entry] = [r for r in _audit(w) if r["Action"] == "connection changed"]
        assert set(json.loads(entry["Detail"])["credentials_changed"]).isdisjoint(ours)
    finally:
        running.stop()


def test_a_company_with_its_own_integration_still_gives_its_own(w: World, tripletex: Any) -> None:
    platform.set_value(w.stores.secrets, connectors.CONNECTORS["tripletex"], "consumer_token", "feil-felles-nøkkel")
    answer = _connect_tripletex(w, w.browser("owner"), tripletex)  # the company's own consumer token, typed in
    assert answer.status == 303, _html(answer)[-1500:]
    names = TenantRegistry(w.stores.tables).get(w.a2).target_settings["secrets"]
    assert names["consumer_token"] != platform.platform_name("tripletex", "consumer_token")
    assert w.stores.secrets.get(names["consumer_token"]) == tripletex.connection()[1]["consumer_token"]


def test_without_the_integrations_own_the_form_still_asks_for_it(w: World, tripletex: Any) -> None:
    page = _html(w.browser("owner").get(f"clients/{w.a2}/connect/tripletex"))
    field = re.search(r'<input[^>]*name="c_consumer_token"[^>]*>', page)
    assert field and "required" in field.group(0)


def test_fortnox_consent_uses_the_operators_client_id_and_secret_set_once(w: World) -> None:
    fortnox = connectors.CONNECTORS["fortnox"]
    platform.set_value(w.stores.secrets, fortnox, "client_id", "bilagsbro-app")
    platform.set_value(w.stores.secrets, fortnox, "client_secret", "operatørens-hemmelighet")
    browser = w.browser("owner")
    answer = browser.post(f"clients/{w.a2}/connect/fortnox", {"s_voucher_series": "A", "_checks": "1",
                                                              "reason": REASON})
    made = _html(answer)
    assert answer.status == 201, made[:2000]
    assert re.search(r'id="consent-link" href="[^"]+/api/onboarding/fortnox/links/', made)
    assert "operatørens-hemmelighet" not in made
