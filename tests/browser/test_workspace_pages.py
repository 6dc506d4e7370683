"""The Problems, Rules and Dry-run pages in a real browser (headless Debian chromium) on the local host and Azurite,
the Tripletex sandbox as the accounting system: a bookkeeper fixes a blocked voucher by adding an account rule from
the problems page (previewed first), retries it and sees it arrive in the sandbox; rolls the rule back; dry-runs a
GBAT10 file whose texts have æøå and reads its totals with the text intact. axe-core on every page (0 serious or
critical); screenshots under test-artifacts/workspace/ (docs/img keeps some of them).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_workspace import AXE, PASSWORD, check_page, sign_in

KARI = "kari@byraa-sider.example"
REFERENCE = "maken-2026-11-21"
GBAT10 = (
    "GBAT10;1;20251110;1;11;2025;1920;;1250.00;;;;;;;;;;;;Kortsalg Ærøy;;;;;;;;;\r\n"
    "GBAT10;1;20251110;1;11;2025;3000;3;-1000.00;;;;;;;;;;;;Salg blåbær og søtsaker;;;;;;T;-1250.00;;\r\n"
    "GBAT10;1;20251110;1;11;2025;2700;;-250.00;;;;;;;;;;;;MVA (beregnes av mottaker);;;;;;F;;;\r\n"
    "GBAT10;2;20251111;1;11;2025;1920;;500.00;;;;;;;;;;;;Kortsalg Ørland;;;;;;;;;\r\n"
    "GBAT10;2;20251111;1;11;2025;3000;3;-400.00;;;;;;;;;;;;Salg på Åsen;;;;;;T;-500.00;;\r\n"
    "GBAT10;2;20251111;1;11;2025;2700;;-100.00;;;;;;;;;;;;MVA (beregnes av mottaker);;;;;;F;;;\r\n"
).encode("cp1252")


@pytest.fixture(scope="module")
def bureau(stack: Any) -> Iterator[tuple[str, Any]]:
    """An accounting firm of its own (the demo firm's state stays test_workspace.py's), one client on the Tripletex
    sandbox whose voucher is blocked on account 3999, and Kari, its accountant."""
    import connectors
    from bilagsbro.workspace_demo import BLOCKED_VOUCHER, _send
    from pipeline.records.connections import change
    from pipeline.records.tenants import TenantRegistry
    from sandboxes.registry import SANDBOXES
    from workspace.identity import Directory

    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: `make setup` installs axe-core from package.json")
    system = SANDBOXES["tripletex"]()
    try:
        registry = TenantRegistry(stack.stores.tables)
        directory = Directory(stack.stores.tables)
        settings, credentials = system.connection()
        cafe = registry.add("Kafé Måken AS", organization_number="974760673")
        change(stack.stores, connectors.registry(), cafe.id, "tripletex", settings=settings, credentials=credentials)
        registry.save(registry.get(cafe.id).model_copy(update={"sources": {"gbat10": {"vat_map": {"3": "3"}}}}))
        voucher = {**BLOCKED_VOUCHER, "reference": REFERENCE, "description": "Dagsoppgjør Kafé Måken – Ørsta"}
        [sent] = _send(stack.url, registry.issue_key(cafe.id), [voucher], 90)
        org = directory.add_organisation("Byrået på Sidene AS")
        directory.attach_client(org.id, cafe.id)
        directory.add_user(org.id, KARI, name="Kari Regnskap", password=PASSWORD)
        directory.set_role(KARI, cafe.id, "accountant")
        yield cafe.id, system
        assert sent
    finally:
        system.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """As test_workspace.py's: the CSP is bypassed for the test's own injection of axe-core only."""
    context = browser.new_context(locale="nb-NO", bypass_csp=True)
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _wait_for_status(page: Any, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while page.locator("#status").get_attribute("data-status") != status:
        assert time.monotonic() < deadline, f"still {page.locator('#status').get_attribute('data-status')}"
        time.sleep(0.5)
        page.reload()


def test_a_bookkeeper_fixes_a_blocked_voucher_with_an_account_rule_and_retries_it_into_tripletex(
        stack: Any, page: Any, bureau: Any) -> None:
    client, system = bureau
    sign_in(page, stack, KARI)
    page.click("text=Kafé Måken AS")
    page.click("nav.sub >> text=Problemer")
    cause = page.locator("section.cause").first
    assert cause.get_attribute("data-cause") == "tripletex.missing-account.3999"
    assert cause.locator("h2").inner_text() == "Konto 3999 finnes ikke i Tripletex – 1 dokument"
    assert "kontoplanen" in cause.inner_text()  # or fix it in Tripletex itself, named in words
    check_page(page, "problems")
    # The fix at hand: the rules page, a row for 3999 ready to fill in; previewed before it is saved.
    cause.locator("a.fix").click()
    assert page.locator("#account_map-0-from").input_value() == "3999"
    page.fill("#account_map-0-to", "3000")
    page.click("#preview-rules")
    assert page.locator("#now-passes").inner_text() == "1 av de stoppede dokumentene ville gått gjennom"
    assert page.locator("#preview-documents tr[data-verdict=now_passes]").inner_text().startswith(REFERENCE)
    assert page.locator("#version").inner_text() == "0"  # nothing saved by the preview
    check_page(page, "rules-preview")
    page.fill("#rules-reason", "3999 er ikke i Tripletex-kontoplanen – føres på 3000")
    page.click("#save-rules")
    assert page.locator("#notice").inner_text() == "Lagret som versjon 1."
    assert page.locator("#version").inner_text() == "1"
    check_page(page, "rules")
    # Back to the problem: retry every affected voucher at once, with a reason.
    page.click("nav.sub >> text=Problemer")
    page.fill("#reason-1", "kontoen er mappet i reglene")
    page.click("#retry-1")
    assert page.locator("#result-counts").inner_text() == "1 sendt på nytt, 0 står fortsatt fast."
    check_page(page, "problems-retried")
    page.locator("#outcomes a").first.click()
    _wait_for_status(page, "delivered")
    assert page.locator("#status").inner_text() == "Levert"
    steps = [s.inner_text() for s in page.locator("#steps > li > strong").all()]
    assert steps[:3] == ["Mottatt", "Oversatt", "Stoppet"] and steps[-3:] == ["Sendt på nytt", "Tilpasset", "Levert"]
    assert "kontoen er mappet i reglene" in page.locator("#steps").inner_text()
    [arrived] = system.sandbox.vouchers_with(REFERENCE)  # in Tripletex, once
    assert arrived["description"] == "Dagsoppgjør Kafé Måken – Ørsta"
    check_page(page, "document-retried")
    with page.expect_download() as download:
        page.click("#download-original")
    assert download.value.suggested_filename == "request.json"  # what the vendor's request was kept as
    page.click("header nav >> text=Problemer")  # every client's problems: none left
    assert page.locator("#no-problems").count() == 1
    check_page(page, "problems-all")


def test_the_bookkeeper_rolls_the_rule_back_as_a_new_version_with_a_reason(stack: Any, page: Any,
                                                                          bureau: Any) -> None:
    client, _ = bureau
    sign_in(page, stack, KARI)
    page.goto(f"{stack.url}/api/app/clients/{client}/rules")
    if page.locator("#version").inner_text() == "0":  # run alone: the rule of the test above first
        page.fill("#account_map-0-from", "3999")
        page.fill("#account_map-0-to", "3000")
        page.fill("#rules-reason", "3999 føres på 3000")
        page.click("#save-rules")
    version = int(page.locator("#version").inner_text())
    page.fill("#rollback-reason-0", "regelen var feil – tilbake til slik det var")
    page.click("#rollback-0")
    assert page.locator("#notice").inner_text() == f"Reglene fra versjon 0 gjelder igjen, lagret som versjon " \
                                                   f"{version + 1}."
    row = page.locator(f"#versions tr[data-version='{version + 1}']")
    assert "Tilbakestilt (tilbake til versjon 0)" in row.inner_text()
    assert "regelen var feil – tilbake til slik det var" in row.inner_text() and KARI in row.inner_text()
    check_page(page, "rules-rolled-back")
    row.locator("a").click()
    removed = page.locator("#diff tr[data-change=removed]")
    assert removed.get_attribute("data-key") == "3999"
    check_page(page, "rules-version")
    page.click("nav.sub >> text=Regler")
    assert page.locator("#account_map-0-from").input_value() == ""  # no account rule left


def test_a_dry_run_of_a_gbat10_file_with_aeoeaa_shows_its_totals_with_the_text_intact(stack: Any, page: Any,
                                                                                       bureau: Any) -> None:
    client, system = bureau
    before = len(system.sandbox.company.vouchers)
    sign_in(page, stack, KARI)
    page.goto(f"{stack.url}/api/app/clients/{client}/dry-run")
    check_page(page, "dry-run-form")
    page.set_input_files("#file", files=[{"name": "kasse-november-Ærøy.txt", "mimeType": "text/plain",
                                          "buffer": GBAT10}])
    page.select_option("#format", "gbat10")
    page.click("#run")
    assert page.locator("#nothing-sent").is_visible()
    assert page.locator("#file-name").inner_text() == "kasse-november-Ærøy.txt"
    assert page.locator("#count").inner_text() == "2" and page.locator("#errors").inner_text() == "0"
    cells = page.locator("#totals-account tr[data-account='1920'] td").all_inner_texts()
    assert cells == ["1920", "2", "1\u00a0750,00\u00a0kr", "0,00\u00a0kr", "1\u00a0750,00\u00a0kr"]
    assert page.locator("#totals-account tr[data-account='3000'] td.net").inner_text() == "-1\u00a0750,00\u00a0kr"  # gross: VAT by the receiver
    assert page.locator("#totals-vat tr[data-vat-code='3'] td").nth(2).inner_text() == "-1\u00a0750,00\u00a0kr"
    listed = page.locator("#dry-documents").inner_text()
    assert "Kortsalg Ærøy" in listed and "Kortsalg Ørland" in listed
    page.locator("#dry-documents li").nth(1).locator("summary", has_text="Det som sendes").click()
    payload = page.locator("#dry-documents li").nth(1).locator("pre.payload").inner_text()
    assert "Salg på Åsen" in payload or "Kortsalg Ørland" in payload  # the Tripletex payload keeps the text
    check_page(page, "dry-run")
    assert len(system.sandbox.company.vouchers) == before  # nothing delivered
