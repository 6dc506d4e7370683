"""The bookkeepers' workspace in a real browser (headless Debian chromium), on the local host and Azurite, with the
Tripletex sandbox as the accounting system: sign in, the clients, the client whose vouchers are blocked, a resend
with a reason found in the audit log, a viewer who cannot change anything, another organisation's user who sees
nothing. axe-core (node_modules, pinned in package.json) runs on every page: 0 serious or critical violations. Each
page is kept as a screenshot under test-artifacts/workspace/ (the path is printed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bilagsbro.workspace_demo import DemoWorkspace, seed
from pipeline.records.tenants import TenantRegistry
from workspace.identity import Directory

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "workspace"
PASSWORD = "et langt og riktig passord"
OTHER = "eier@andre-tall.example"
VIEWER = "leser@aerlig.example"


@pytest.fixture(scope="module")
def firm(stack: Any) -> Iterator[tuple[DemoWorkspace, Any]]:
    """The demo firm (three clients on the Tripletex sandbox), a viewer of its healthy client, and another
    organisation with a client of its own."""
    import connectors
    from sandboxes.registry import SANDBOXES

    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: `make setup` installs axe-core from package.json")
    system = SANDBOXES["tripletex"]()
    try:
        demo = seed(stack.stores, connectors.registry(), stack.url, system, password=PASSWORD)
        directory = Directory(stack.stores.tables)
        directory.add_user(demo.org, VIEWER, name="Lise Leser", password=PASSWORD)
        directory.set_role(VIEWER, demo.healthy, "viewer")
        other = directory.add_organisation("Andre Tall AS")
        theirs = TenantRegistry(stack.stores.tables).add("Konkurrenten Østfold AS")
        directory.attach_client(other.id, theirs.id)
        directory.add_user(other.id, OTHER, name="Bjørn Annen", password=PASSWORD, org_owner=True)
        yield demo, system
    finally:
        system.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """As conftest's, but the pages' Content-Security-Policy (no inline script) is bypassed for the test's own
    injection of axe-core only; that the app sends the policy is checked in test_the_pages_send_their_security_headers."""
    context = browser.new_context(locale="nb-NO", bypass_csp=True)
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_the_pages_send_their_security_headers(stack: Any, firm: Any) -> None:
    import httpx

    answer = httpx.get(f"{stack.url}/api/app/login", timeout=30)
    assert answer.status_code == 200
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY" and answer.headers["cache-control"] == "no-store"
    css = httpx.get(f"{stack.url}/api/app/static/app.css", timeout=30)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def check_page(page: Any, name: str) -> None:
    """axe-core on the page as it is now (0 serious or critical violations), and its screenshot kept."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))""")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{name}: {serious}"


def sign_in(page: Any, stack: Any, email: str, name: str | None = None) -> None:
    page.goto(f"{stack.url}/api/app/")
    assert page.locator("html").get_attribute("lang") == "nb"
    assert page.locator("h1").inner_text() == "Logg inn"
    if name:
        check_page(page, name)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/api/app/clients")


def test_sign_in_see_the_clients_and_open_the_one_with_blocked_vouchers(stack: Any, page: Any, firm: Any) -> None:
    demo, _ = firm
    sign_in(page, stack, demo.owner, "sign-in")
    cookie = next(c for c in page.context.cookies() if c["name"] == "bb_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    lights = {row.get_attribute("data-client"): row.locator("[data-light]").get_attribute("data-light")
              for row in page.locator("#clients tbody tr").all()}
    assert lights == {demo.healthy: "healthy", demo.blocked: "attention", demo.unconnected: "not_connected"}
    assert "Kafé Blåbær AS" in page.locator("#clients").inner_text()
    check_page(page, "clients")
    page.fill("#q", "blåbær")
    page.click("form.filters button")
    assert [r.get_attribute("data-client") for r in page.locator("#clients tbody tr").all()] == [demo.blocked]

    page.click("text=Kafé Blåbær AS")
    assert page.locator("h1").inner_text() == "Kafé Blåbær AS"
    assert page.locator("#blocked").inner_text() == "1"
    assert page.locator("#light").get_attribute("data-light") == "attention"
    assert page.locator("#organization_number").input_value() == "974760673"
    check_page(page, "client-blocked")
    page.click("nav.sub >> text=Historikk")
    row = page.locator("#documents tbody tr").first
    assert row.get_attribute("data-status") == "blocked"
    check_page(page, "history")
    row.locator("a").click()
    assert page.locator("#status").get_attribute("data-status") == "blocked"
    assert page.locator("#status").inner_text() == "Stoppet"  # the step's name in bokmål
    steps = [s.get_attribute("data-step") for s in page.locator("#steps > li").all()]
    assert steps[0] == "received" and steps[-1] == "blocked"
    assert "3999" in page.locator("#steps").inner_text()
    assert "Salg kaffe og bløtkake" in page.locator("#shared-form").inner_text()  # æøå through every hop
    assert page.locator("#retry-form").is_visible()
    check_page(page, "document-blocked")
    page.click("nav.sub >> text=Feltkart")
    assert "Tripletex" in page.locator("h1").inner_text()
    check_page(page, "field-map")


def _wait_for(page: Any, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while page.locator("#status").get_attribute("data-status") != status:
        assert time.monotonic() < deadline, f"still {page.locator('#status').get_attribute('data-status')}"
        time.sleep(0.5)
        page.reload()


def test_resend_a_delivered_voucher_with_a_reason_and_find_it_in_the_audit_log(stack: Any, page: Any,
                                                                               firm: Any) -> None:
    demo, system = firm
    document = demo.documents[demo.healthy][0]
    sign_in(page, stack, demo.owner)
    page.goto(f"{stack.url}/api/app/clients/{demo.healthy}/documents/{document}")
    assert page.locator("#status").get_attribute("data-status") == "delivered"
    assert page.locator("#status").inner_text() == "Levert"
    reference = page.locator("h1").inner_text().removeprefix("Dokument ")
    assert [t for t in page.locator("#exchanges-title ~ details summary").all_inner_texts() if "POST" in t]
    check_page(page, "document-delivered")
    # Tripletex holds it: without force, the resend is refused and says so — nothing is sent twice.
    page.fill("#resend-reason", "kunden ba om det")
    page.click("#resend")
    assert "holds" in page.locator("#error").inner_text()
    assert len(system.sandbox.vouchers_with(reference)) == 1
    # The customer deleted it in Tripletex; sent again, forced, with the reason.
    [held] = system.sandbox.vouchers_with(reference)
    del system.sandbox.company.vouchers[held["id"]]
    page.fill("#resend-reason", "slettet i Tripletex ved en feil – sendes på nytt")
    page.check("#force")
    page.click("#resend")
    assert page.locator("#notice").inner_text() == "Sendt på nytt."
    _wait_for(page, "delivered")
    steps = [s.get_attribute("data-step") for s in page.locator("#steps > li").all()]
    assert steps[-3:] == ["resubmitted", "adapted", "delivered"]
    assert len(system.sandbox.vouchers_with(reference)) == 1
    page.click("header nav >> text=Revisjonslogg")
    entry = page.locator("#audit tbody tr", has_text=document).first
    assert "document resent" in entry.inner_text()
    assert "slettet i Tripletex ved en feil – sendes på nytt" in entry.inner_text()
    assert demo.owner in entry.inner_text()
    check_page(page, "audit")
    page.click("header nav >> text=Brukere og roller")
    assert VIEWER in page.locator("#users").inner_text()
    check_page(page, "users")
    page.goto(f"{stack.url}/api/app/clients?lang=en")
    assert page.locator("html").get_attribute("lang") == "en" and page.locator("h1").inner_text() == "Clients"
    page.goto(f"{stack.url}/api/app/clients/{demo.healthy}")  # the switch is remembered (cookie)
    assert "Test the connection" in page.locator("#test-connection").inner_text()
    page.click("#test-connection")
    assert "Green" in page.locator("#last-test").inner_text()
    check_page(page, "client-healthy-en")


def test_a_viewer_cannot_change_anything(stack: Any, page: Any, firm: Any) -> None:
    demo, _ = firm
    sign_in(page, stack, VIEWER)
    assert [r.get_attribute("data-client") for r in page.locator("#clients tbody tr").all()] == [demo.healthy]
    assert page.locator("header nav >> text=Revisjonslogg").count() == 0
    page.goto(f"{stack.url}/api/app/clients/{demo.healthy}")
    assert page.locator("#test-connection").count() == 0 and page.locator("#issue-key").count() == 0
    assert page.locator("#save-facts").count() == 0 and page.locator("#name").get_attribute("readonly") is not None
    check_page(page, "client-viewer")
    document = demo.documents[demo.healthy][0]
    page.goto(f"{stack.url}/api/app/clients/{demo.healthy}/documents/{document}")
    assert page.locator("#resend-form").count() == 0 and page.locator("#retry-form").count() == 0
    # A forged form, with the viewer's own CSRF token: refused, nothing changed.
    csrf = page.locator("input[name=csrf]").first.input_value()
    before = TenantRegistry(stack.stores.tables).get(demo.healthy)
    for path, form in ((f"clients/{demo.healthy}/facts", {"name": "Endret av leser AS"}),
                       (f"clients/{demo.healthy}/keys", {"label": "leserens nøkkel"}),
                       (f"clients/{demo.healthy}/documents/{document}/resend", {"reason": "vil sende", "force": "on"}),
                       ("users", {"email": "ny@aerlig.example"})):
        answer = page.request.post(f"{stack.url}/api/app/{path}", form={"csrf": csrf, **form}, max_redirects=0)
        assert answer.status == 403, (path, answer.status)
    after = TenantRegistry(stack.stores.tables).get(demo.healthy)
    assert after == before
    assert Directory(stack.stores.tables).user("ny@aerlig.example") is None
    page.goto(f"{stack.url}/api/app/audit")
    assert page.locator("h1").inner_text() == "Ikke tillatt"
    check_page(page, "forbidden")


def test_a_user_of_another_organisation_sees_nothing(stack: Any, page: Any, firm: Any) -> None:
    demo, _ = firm
    sign_in(page, stack, OTHER)
    listed = page.locator("#clients").inner_text()
    assert "Konkurrenten Østfold AS" in listed
    assert not any(name in listed for name in ("Bakeriet", "Kafé Blåbær", "Fiskehandel"))
    for path in (f"clients/{demo.blocked}", f"clients/{demo.blocked}/documents",
                 f"clients/{demo.blocked}/documents/{demo.documents[demo.blocked][0]}",
                 f"clients/{demo.healthy}/field-map"):
        answer = page.goto(f"{stack.url}/api/app/{path}")
        assert answer is not None and answer.status == 404, path
        assert page.locator("h1").inner_text() == "Finnes ikke"
        assert "Blåbær" not in page.content() and "kafe-2026" not in page.content()
    check_page(page, "not-found")
    page.goto(f"{stack.url}/api/app/audit")
    assert demo.owner not in page.content()  # their own organisation's log: nothing of the firm's
