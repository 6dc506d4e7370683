"""Fortnox's consent, end to end in a real browser: the onboarding link on the local host, the sandbox's consent
page, the callback, the refresh token in the secret store (rotated at every use, never in a log line)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pipeline.ports import TargetContext
from pipeline.tenants import TenantRegistry
from sandboxes.fortnox import FortnoxSandbox


@pytest.fixture
def fortnox() -> Iterator[FortnoxSandbox]:
    with FortnoxSandbox(refresh_token=None, rate_limit=None) as sandbox:  # no token exists until consent is given
        yield sandbox


def _link(stack: Any, sandbox: FortnoxSandbox, name: str) -> tuple[str, str]:
    registry = TenantRegistry(stack.stores.tables)
    tenant = registry.add(name, organization_number="999999999")
    admin = registry.issue_key(None, role="admin")
    answer = httpx.post(f"{stack.url}/api/v1/admin/tenants/{tenant.id}/onboarding/fortnox",
                        headers={"Authorization": f"Bearer {admin}"}, timeout=30,
                        json={"settings": {"base_url": sandbox.base_url, "token_url": sandbox.token_url,
                                           "auth_url": sandbox.auth_url, "client_id": sandbox.client_id,
                                           "voucher_series": "B"},
                              "credentials": {"client_secret": sandbox.clients[sandbox.client_id]}})
    assert answer.status_code == 201, answer.text
    return tenant.id, answer.json()["url"]


def _stored_refresh_token(stack: Any, tenant_id: str) -> str:
    tenant = TenantRegistry(stack.stores.tables).get(tenant_id)
    assert tenant.target == "fortnox"
    return stack.stores.secrets.get(tenant.target_settings["secrets"]["refresh_token"])


def test_the_customer_consents_in_the_browser_and_the_refresh_token_is_stored_and_rotated(
        stack: Any, page: Any, fortnox: FortnoxSandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    tenant_id, url = _link(stack, fortnox, "Bakeriet på Røa AS")

    page.goto(url)
    assert page.locator("html").get_attribute("lang") == "nb"
    assert "Koble Bakeriet på Røa AS til Fortnox" in page.locator("h1").inner_text()
    assert "Fortnox har ikke kladd for bilag" in page.locator("#nodraft").inner_text()
    assert "bilagsserien «B»" in page.content()
    page.click("#go")  # without the opt-in: the page says what is missing, and nothing leaves for Fortnox
    assert "Kryss av for direkte bokføring" in page.locator("#missing").inner_text()
    assert fortnox.count("GET", "/oauth-v1/auth") == 0

    page.check("#direct_posting")
    page.click("#go")
    assert page.locator("h1").inner_text() == "Aktivering"  # Fortnox's consent page (the sandbox's)
    assert {"bookkeeping", "companyinformation"} <= set(page.locator("li").all_inner_texts())
    page.click("text=Godkänn & aktivera")
    page.wait_for_url("**/api/onboarding/fortnox/callback**")
    assert page.locator("h1").inner_text() == "Fortnox er koblet til"
    assert "Bakeriet på Røa AS" in page.locator("#done").inner_text()

    # The code bought a refresh token; the connection test spent it and the rotated one is what the store holds.
    first = stored = _stored_refresh_token(stack, tenant_id)
    assert fortnox.spent and stored not in fortnox.spent and stored in fortnox.refresh_tokens
    tenant = TenantRegistry(stack.stores.tables).get(tenant_id)
    assert tenant.target_settings["direct_posting"] is True

    # A delivery buys an access token with it: the store holds the next one, the used one is spent.
    from connectors.targets.fortnox.descriptor import DESCRIPTOR
    from pipeline.memory import MemoryBlobs, MemoryExchanges
    from pipeline.model import Voucher

    context = TargetContext(tenant=tenant_id, settings=tenant.target_settings, secrets=stack.stores.secrets,
                            blobs=MemoryBlobs(), exchanges=MemoryExchanges(), cache={})
    target = DESCRIPTOR.connect(context)
    delivered = target.deliver(Voucher(reference="SAMTYKKE-1", date="2026-11-04", description="Dagsoppgjør på Røa",
                                       lines=[{"account": "1920", "amount": "125.00"},
                                              {"account": "3000", "amount": "-125.00", "vat_code": "3"}]))
    assert delivered.draft is False and delivered.details["voucher_series"] == "B"
    stored = _stored_refresh_token(stack, tenant_id)
    assert stored != first and first in fortnox.spent and stored in fortnox.refresh_tokens
    assert [v["Description"] for v in fortnox.company.vouchers] == ["[SAMTYKKE-1] Dagsoppgjør på Røa"]

    # One use: the link is spent.
    page.goto(url)
    assert "ugyldig, allerede brukt eller utløpt" in page.locator("#why").inner_text()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    secret = fortnox.clients[fortnox.client_id]
    assert not [t for t in [*fortnox.issued, secret] if t in logged], "a Fortnox token or secret in a log line"
    kept = _every_blob(stack)
    assert "/3/companyinformation" in kept  # the connection test's exchanges are among what was scanned
    assert not [t for t in [*fortnox.issued, secret] if t in kept], "a Fortnox token or secret in a blob"


def _every_blob(stack: Any) -> str:
    from pipeline import names
    from pipeline.ports import NotFound

    text = []
    for container in {getattr(names, n) for n in dir(names) if n.startswith("CONTAINER_")}:
        try:
            for path in stack.stores.blobs.list(container):
                text.append(stack.stores.blobs.get(container, path).decode("utf-8", "replace"))
        except NotFound:  # a container nothing was written to yet
            continue
    return "\n".join(text)


def test_the_page_speaks_english_on_request(stack: Any, page: Any, fortnox: FortnoxSandbox) -> None:
    _, url = _link(stack, fortnox, "Fjordkafé AS")
    page.goto(url)
    page.click("#lang")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Connect Fjordkafé AS to Fortnox" in page.locator("h1").inner_text()
    assert "Fortnox has no draft for a voucher" in page.locator("#nodraft").inner_text()


def test_a_company_without_the_licence_is_told_so_and_nothing_takes_over(
        stack: Any, page: Any, fortnox: FortnoxSandbox) -> None:
    fortnox.company.licensed = False
    tenant_id, url = _link(stack, fortnox, "Uten Lisens AS")
    page.goto(url)
    page.check("#direct_posting")
    page.click("#go")
    page.click("text=Godkänn & aktivera")
    page.wait_for_url("**/api/onboarding/fortnox/callback**")
    said = page.locator("#why").inner_text()
    assert "tilkoblingstesten feilet" in said and "licens" in said
    assert TenantRegistry(stack.stores.tables).get(tenant_id).target != "fortnox"


def test_declining_in_fortnox_connects_nothing(stack: Any, page: Any, fortnox: FortnoxSandbox) -> None:
    tenant_id, url = _link(stack, fortnox, "Angrer AS")
    page.goto(url)
    page.check("#direct_posting")
    page.click("#go")
    page.click("text=Avbryt")
    assert "Du avbrøt i Fortnox" in page.locator("#why").inner_text()
    assert TenantRegistry(stack.stores.tables).get(tenant_id).target != "fortnox"
    assert fortnox.issued == []


def test_a_callback_from_another_browser_is_refused(stack: Any, page: Any, browser: Any,
                                                    fortnox: FortnoxSandbox) -> None:
    _, url = _link(stack, fortnox, "Kapret AS")
    page.goto(url)
    page.check("#direct_posting")
    page.click("#go")
    consent = page.url  # Fortnox's page, with our state in it: another browser (no cookie) must not finish it
    other = browser.new_context()
    try:
        intruder = other.new_page()
        intruder.goto(consent)
        intruder.click("text=Godkänn & aktivera")
        assert "passer ikke til denne nettleseren" in intruder.locator("#why").inner_text()
    finally:
        other.close()
    assert fortnox.issued == []  # the code was never exchanged


def test_the_operator_makes_the_link_with_the_cli_and_the_customer_connects_through_it(
        stack: Any, page: Any, fortnox: FortnoxSandbox, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from bilagsbro import cli

    monkeypatch.setattr(cli, "_with_stores", lambda fn: fn(stack.stores))
    monkeypatch.setenv("FORTNOX_CLIENT_SECRET", fortnox.clients[fortnox.client_id])
    tenant = TenantRegistry(stack.stores.tables).add("Kaffebrenneriet i Bodø AS", organization_number="999999999")
    code = cli.main(["onboarding-link", tenant.id, "fortnox", "--url", stack.url, "--base-url", fortnox.base_url,
                     "--token-url", fortnox.token_url, "--auth-url", fortnox.auth_url, "--client-id",
                     fortnox.client_id, "--voucher-series", "B", "--client-secret-env", "FORTNOX_CLIENT_SECRET"])
    out = capsys.readouterr()
    assert code == 0, out.err
    made = json.loads(out.out)
    assert made["tenant_id"] == tenant.id and made["url"].startswith(f"{stack.url}/api/onboarding/fortnox/links/")
    assert fortnox.clients[fortnox.client_id] not in out.out + out.err  # the secret is never printed

    page.goto(made["url"])
    assert "Koble Kaffebrenneriet i Bodø AS til Fortnox" in page.locator("h1").inner_text()
    page.check("#direct_posting")
    page.click("#go")
    page.click("text=Godkänn & aktivera")
    page.wait_for_url("**/api/onboarding/fortnox/callback**")
    assert page.locator("h1").inner_text() == "Fortnox er koblet til"
    assert _stored_refresh_token(stack, tenant.id) in fortnox.refresh_tokens
    page.goto(made["url"])  # one use
    assert "Koble" not in page.locator("h1").inner_text()


def test_the_cli_refuses_a_link_without_the_client_secret_or_with_a_bad_setting(
        stack: Any, fortnox: FortnoxSandbox, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from bilagsbro import cli

    monkeypatch.setattr(cli, "_with_stores", lambda fn: fn(stack.stores))
    tenant = TenantRegistry(stack.stores.tables).add("Uten Hemmelighet AS")
    code = cli.main(["onboarding-link", tenant.id, "fortnox", "--client-id", fortnox.client_id])
    assert code == 2 and "client secret" in capsys.readouterr().err
    monkeypatch.setenv("FORTNOX_CLIENT_SECRET", "s3cret-value")
    code = cli.main(["onboarding-link", tenant.id, "fortnox", "--client-id", fortnox.client_id,
                     "--voucher-series", "ugyldig serie!", "--client-secret-env", "FORTNOX_CLIENT_SECRET"])
    err = capsys.readouterr().err
    assert code == 2 and "voucher_series" in err and "s3cret-value" not in err
