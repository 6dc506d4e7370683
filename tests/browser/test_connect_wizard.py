"""The connect and switch wizards in a real browser (headless Debian chromium) on the local host and Azurite, with the
accounting systems' sandboxes on loopback: Tripletex connected green from the wizard, a wrong token red in words,
a Business NXT customer id giving the companies to pick from, and a switch Tripletex → Fiken through its preview.
axe-core on every wizard page (0 serious or critical); screenshots under test-artifacts/workspace/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.records.tenants import TenantRegistry
from tests.browser.test_workspace import AXE, check_page
from workspace.identity import Directory

ROOT = Path(__file__).resolve().parents[2]
OWNER = "eier@veiviser.example"
PASSWORD = "et langt og riktig passord for veiviseren"


@dataclass
class Firm:
    org: str
    fresh: str  # not connected: Tripletex from the wizard
    nxt: str  # not connected: Business NXT from the wizard
    shop: str  # on Tripletex with a delivered voucher: switched to Fiken
    systems: dict[str, Any]


def _deliver(base: str, key: str, documents: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        answer = client.post("/api/v1/documents", json=documents)
        answer.raise_for_status()
        ids = [d["id"] for d in answer.json()["documents"]]
        deadline = time.monotonic() + 90
        while any(client.get(f"/api/v1/documents/{i}").json().get("status") != "delivered" for i in ids):
            assert time.monotonic() < deadline, "not delivered in 90 s"
            time.sleep(0.3)


@pytest.fixture(scope="module")
def firm(stack: Any) -> Iterator[Firm]:
    import connectors
    from pipeline.records.connections import change
    from sandboxes.registry import SANDBOXES

    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: `make setup` installs axe-core from package.json")
    systems = {name: SANDBOXES[name]() for name in ("tripletex", "fiken", "business-nxt")}
    try:
        registry, directory = TenantRegistry(stack.stores.tables), Directory(stack.stores.tables)
        org = directory.add_organisation("Veiviser Regnskap AS")
        fresh = registry.add("Fiskebutikken på Hitra AS")
        nxt = registry.add("Grossisten Nærbø AS")
        shop = registry.add("Butikken i Bø AS", organization_number="974760673")
        settings, credentials = systems["tripletex"].connection()
        change(stack.stores, connectors.registry(), shop.id, "tripletex", settings=settings, credentials=credentials)
        samples = json.loads((ROOT / "bilagsbro" / "samples" / "documents.json").read_text("utf-8"))
        _deliver(stack.url, registry.issue_key(shop.id), samples[:2])
        for tenant in (fresh.id, nxt.id, shop.id):
            directory.attach_client(org.id, tenant)
        directory.add_user(org.id, OWNER, name="Vera Veiviser", password=PASSWORD, org_owner=True)
        yield Firm(org.id, fresh.id, nxt.id, shop.id, systems)
    finally:
        for running in systems.values():
            running.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """As in test_workspace: CSP bypassed only so the test can inject axe-core."""
    context = browser.new_context(locale="nb-NO", bypass_csp=True)
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _sign_in(page: Any, stack: Any) -> None:
    page.goto(f"{stack.url}/api/app/login")
    page.fill("#email", OWNER)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/api/app/clients")


def test_connect_tripletex_from_the_wizard_red_with_a_wrong_token_then_green(stack: Any, page: Any,
                                                                             firm: Firm) -> None:
    settings, credentials = firm.systems["tripletex"].connection()
    _sign_in(page, stack)
    page.goto(f"{stack.url}/api/app/clients/{firm.fresh}")
    page.click("#connect-wizard")
    check_page(page, "connect-pick")
    page.click("#systems >> text=Tripletex")
    assert page.locator("label[for=c_employee_token]").inner_text().startswith("Ansattnøkkel (employee token)")
    assert "API-tilgang" in page.locator("#c_employee_token-help").inner_text()
    check_page(page, "connect-tripletex")
    page.fill("#c_consumer_token", credentials["consumer_token"])
    page.fill("#c_employee_token", "feil-nøkkel")
    page.click("summary")  # more settings: the sandbox's address
    page.fill("#s_base_url", settings["base_url"])
    page.fill("#reason", "ny klient i byrået")
    page.click("#connect-submit")
    assert page.locator("#result").get_attribute("data-result") == "red"
    assert "Systemet godtok ikke nøklene" in page.locator("#red-headline").inner_text()
    assert "feil-nøkkel" not in page.content()
    check_page(page, "connect-tripletex-red")
    # the right employee token; the consumer token given a moment ago is kept (the field says so)
    assert "En er lagret" in page.locator("#c_consumer_token-help").inner_text()
    page.fill("#c_employee_token", credentials["employee_token"])
    page.click("#connect-submit")
    page.wait_for_url(f"**/clients/{firm.fresh}?notice=connected")
    assert "Tilkoblet" in page.locator(".notice").inner_text()
    assert page.locator("#system").inner_text() == "Tripletex"
    assert "Grønt" in page.locator("#last-test").inner_text()
    check_page(page, "connect-tripletex-green")
    assert TenantRegistry(stack.stores.tables).get(firm.fresh).target == "tripletex"
    page.goto(f"{stack.url}/api/app/clients")
    row = page.locator(f"#clients tbody tr[data-client='{firm.fresh}'] [data-light]")
    assert row.get_attribute("data-light") == "healthy"


def test_business_nxt_customer_id_gives_the_companies_to_pick(stack: Any, page: Any, firm: Firm) -> None:
    settings, credentials = firm.systems["business-nxt"].connection()
    _sign_in(page, stack)
    page.goto(f"{stack.url}/api/app/clients/{firm.nxt}/connect/business-nxt")
    assert page.locator("label[for=s_customer_ids]").inner_text().startswith("Kundenummer i Business NXT")
    page.fill("#s_client_id", settings["client_id"])
    page.fill("#s_customer_ids", f"{settings['customer_ids'][0]}")
    page.fill("#s_voucher_series", "6")
    page.fill("#c_client_secret", credentials["client_secret"])
    page.click("summary")
    page.fill("#s_base_url", settings["base_url"])
    page.fill("#s_token_url", settings["token_url"])
    page.fill("#reason", "byrået fører Grossisten i Business NXT")
    page.click("#connect-submit")
    assert "Velg selskapet" in page.locator("#pick-notice").inner_text()
    choices = page.locator("#s_company_no option").all_inner_texts()
    assert any(str(settings["company_no"]) in c for c in choices), choices
    check_page(page, "connect-business-nxt-pick")
    page.select_option("#s_company_no", str(settings["company_no"]))
    page.click("#connect-submit")
    page.wait_for_url(f"**/clients/{firm.nxt}?notice=connected")
    tenant = TenantRegistry(stack.stores.tables).get(firm.nxt)
    assert tenant.target == "business-nxt" and tenant.target_settings["company_no"] == settings["company_no"]


def test_switch_tripletex_to_fiken_with_the_preview(stack: Any, page: Any, firm: Firm) -> None:
    settings, credentials = firm.systems["fiken"].connection()
    _sign_in(page, stack)
    page.goto(f"{stack.url}/api/app/clients/{firm.shop}/connect")
    assert "(i bruk nå)" in page.locator("#systems li[data-system=tripletex]").inner_text()
    page.click("#systems >> text=Fiken")
    assert "bytte" in page.locator("#form-title").inner_text()
    page.fill("#s_company_slug", settings["company_slug"])
    page.fill("#c_api_token", credentials["api_token"])
    page.check("#direct_posting")
    page.click("summary")
    page.fill("#s_base_url", settings["base_url"])
    page.click("#connect-submit")
    assert page.locator("#result").get_attribute("data-result") == "green"
    assert int(page.locator("#checked").inner_text()) >= 2  # the delivered vouchers of the last 90 days
    check_page(page, "switch-preview")
    assert TenantRegistry(stack.stores.tables).get(firm.shop).target == "tripletex"  # the preview wrote nothing
    page.fill("#reason", "kunden går over til Fiken")
    page.click("#switch-submit")
    page.wait_for_url(f"**/clients/{firm.shop}?notice=switched")
    assert page.locator("#system").inner_text() == "Fiken"
    assert "Skrivebeskyttet" in page.locator("#connections tr[data-system=tripletex]").inner_text()
    check_page(page, "client-switched")
    tenant = TenantRegistry(stack.stores.tables).get(firm.shop)
    assert tenant.target == "fiken" and tenant.connections["tripletex"]["mode"] == "read-only"
    page.click("header nav >> text=Revisjonslogg")
    entry = page.locator("#audit tbody tr", has_text="accounting system switched").first
    assert "kunden går over til Fiken" in entry.inner_text()
    assert credentials["api_token"] not in page.content()
