"""Connecting to Fiken: the keys a customer gets (personal API token, or OAuth with a refresh token that rotates),
a connection test that says what is wrong in the customer's words, `bilagsbro connect TENANT fiken ...` made from
the descriptor, no secret in any exchange — and every request held against Fiken's official spec, a check with
teeth."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fiken_support import Wiring, token_request

from bilagsbro import cli
from pipeline.errors import ConfigError
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.ports import Stores
from pipeline.records.tenants import TenantRegistry
from sandboxes.fiken import FikenSandbox
from tests.specs import SpecCheck

SALE = Voucher(reference="SALG-1", date="2026-11-04", description="Salg på Tromsø",
               lines=[{"account": "1920", "amount": "125.00"}, {"account": "3000", "amount": "-125.00", "vat_code": "3"}])


@pytest.fixture
def check(spec: SpecCheck | None) -> SpecCheck:
    if spec is None:
        pytest.skip("../shared/specs absent: fiken/fiken-api-v2.yaml is needed to check requests against it")
    return spec


def test_every_request_of_a_full_run_matches_fikens_spec(w: Wiring, check: SpecCheck) -> None:
    target = w.target()
    target.check()
    customer = Voucher(reference="SALG-2", date="2026-11-04", lines=[
        {"account": "1500", "amount": "125.00", "customer": {"number": "10001"}},
        {"account": "3000", "amount": "-125.00", "vat_code": "3"}])
    assert target.preflight([SALE, customer]) == []
    target.deliver(SALE)
    target.deliver(customer)
    assert target.find("SALG-1") is not None and target.accounts_missing(["2999"])
    assert w.transport.sent >= 9 and w.transport.violations == []  # companies ×2, accounts, contacts, posts, finds


def test_the_check_catches_invented_and_read_only_fields_and_wrong_parameters(check: SpecCheck) -> None:
    base = "https://api.fiken.no/api/v2/companies/fjordbakst-as"
    body = {"open": "ja", "journalEntries": [{"description": "x", "date": "4.11.2026", "journalEntryNumber": 3,
                                              "lines": [{"amount": 1.5, "debitAccount": "1920", "vatCode": "3",
                                                         "text": "x"}]}]}
    problems = check.violations(httpx.Request("POST", f"{base}/generalJournalEntries", json=body))
    for said in ("'ja' is not of type 'boolean'", "'4.11.2026' is not a 'date'", "1.5') is not of type 'integer'",
                 ".journalEntryNumber: read-only", ".vatCode: read-only", ".text: not a property"):
        assert any(said in p for p in problems), (said, problems)
    assert check.violations(httpx.Request("GET", f"{base}/journalEntries", params={"pageSize": 500}))
    assert check.violations(httpx.Request("GET", f"{base}/journalEntries", params={"text": "[SALG-1]"}))
    assert check.violations(httpx.Request("GET", f"{base}/journalEntries/abc"))
    assert check.violations(httpx.Request("GET", f"{base}/contacts", params={"customerNumber": "K-1"}))
    assert check.violations(httpx.Request("POST", f"{base}/generalJournalEntries", content=b"{}",
                                          headers={"Content-Type": "text/plain"}))
    assert check.violations(httpx.Request("GET", f"{base}/contacts", params={"inactive": "false"})) == []


def test_the_token_endpoint_is_checked_as_the_spec_describes_it() -> None:
    url = "https://fiken.no/oauth/token"
    good = httpx.Request("POST", url, data={"grant_type": "refresh_token", "refresh_token": "r"},
                         headers={"Authorization": "Basic YTpi"})
    assert token_request(good) == []
    assert len(token_request(httpx.Request("POST", url, json={"grant_type": "password"}))) == 3


def test_the_connection_test_says_which_company_and_how_entries_land(w: Wiring) -> None:
    answer = w.target().check()
    assert answer == {"target": "fiken", "base_url": w.sandbox.base_url, "company_slug": "fjordbakst-as",
                      "company": "Fjordbakst AS", "organization_number": "923456783", "test_company": True,
                      "accounting_start": "2024-01-01", "direct_posting": True,
                      "drafts": "none in Fiken: vouchers are posted as general journal entries",
                      "invoice_counter": 10000,
                      "entries": "open: deletable in Fiken without a counter entry",
                      "invoices": "invoices made at once (Fiken's number and KID), credit notes linked to the "
                                  "invoice; payments on the invoice's sale (an invoice still a draft cannot be paid)"}


def test_a_wrong_key_is_said_so_in_the_check_and_in_delivery(make_wiring: Any) -> None:
    wired = make_wiring()
    wired.secrets.set("fiken-token", "feil-nøkkel")
    with pytest.raises(ConfigError, match=r"refused the key \(401\).*Rediger konto → API"):
        wired.target().check()
    with pytest.raises(ConfigError, match="refused the key"):
        wired.target().deliver(SALE)


def test_a_wrong_company_names_the_ones_the_key_reaches(make_wiring: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        make_wiring(company_slug="fjordbakst").target().check()
    assert "does not reach the company «fjordbakst»" in caught.value.message
    assert "«fjordbakst-as» (Fjordbakst AS)" in caught.value.message and "«annen-bedrift-as»" in caught.value.message


def test_a_company_without_the_api_add_on_is_told_where_to_order_it(w: Wiring, sandbox: FikenSandbox) -> None:
    sandbox.company.has_api_access = False
    with pytest.raises(ConfigError, match="Tilleggstjenester → API"):
        w.target().check()


def test_a_connection_without_a_key_says_which_to_give(make_wiring: Any) -> None:
    wired = make_wiring(secrets={})
    with pytest.raises(ConfigError, match="--api-token-file"):
        wired.target().check()
    with pytest.raises(ConfigError, match="client_id"):
        make_wiring(oauth=True, client_id=None).target().check()


def test_oauth_buys_one_access_token_and_keeps_the_rotated_refresh_token(make_wiring: Any,
                                                                         sandbox: FikenSandbox) -> None:
    wired = make_wiring(oauth=True)
    target = wired.target()
    target.deliver(SALE)
    target.deliver(SALE.model_copy(update={"reference": "SALG-2"}))
    assert sandbox.count("POST", "/oauth/token") == 1
    rotated = wired.secrets.get("fiken-refresh")
    assert rotated != "sandbox-refresh-token" and rotated in sandbox.refresh_tokens
    sandbox.expire_access()
    target.deliver(SALE.model_copy(update={"reference": "SALG-3"}))  # 401 → a new access token → sent again
    assert sandbox.count("POST", "/oauth/token") == 2 and len(sandbox.entries) == 3
    # A new connection (another host) starts from the stored, rotated refresh token.
    assert make_wiring(oauth=True, secrets_from=wired.secrets).target().check()["company"] == "Fjordbakst AS"


def test_a_withdrawn_consent_is_a_config_error_in_the_customers_words(make_wiring: Any,
                                                                      sandbox: FikenSandbox) -> None:
    sandbox.revoke()
    with pytest.raises(ConfigError, match="approve Bilagsbro's Fiken app again") as caught:
        make_wiring(oauth=True).target().deliver(SALE)
    assert caught.value.provider_message and "invalid" in caught.value.provider_message


def test_no_key_or_token_reaches_the_exchange_log(make_wiring: Any, sandbox: FikenSandbox) -> None:
    personal, oauth = make_wiring(), make_wiring(oauth=True)
    personal.target().deliver(SALE)
    oauth.target().deliver(SALE.model_copy(update={"reference": "SALG-2"}))
    secrets = {"sandbox-personal-token", "sandbox-refresh-token", "sandbox-client-secret", *sandbox.issued}
    logged = [json.dumps([e.url, e.request_headers, e.response_headers], ensure_ascii=False)
              + e.request_body.decode() + e.response_body.decode()
              for wired in (personal, oauth) for e in wired.exchanges.exchanges]
    assert logged and not [s for s in secrets for text in logged if s in text]


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Stores:
    made = Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())
    monkeypatch.setattr(cli, "_with_stores", lambda fn: fn(made))
    return made


def test_bilagsbro_connect_fiken_is_green_without_the_opt_in_and_says_vouchers_wait_for_it(
        stores: Stores, sandbox: FikenSandbox, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A tenant that only sends invoices (drafts) connects green; the answer says vouchers wait for the opt-in."""
    tenant = TenantRegistry(stores.tables).add("Fjordbakst AS")
    monkeypatch.setenv("FIKEN_TOKEN", "sandbox-personal-token")
    args = ["connect", tenant.id, "fiken", "--base-url", sandbox.base_url, "--company-slug", "fjordbakst-as",
            "--api-token-env", "FIKEN_TOKEN"]
    assert cli.main(args) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["activated"] and answer["check"]["direct_posting"] is False
    assert "opt in to direct posting" in answer["check"]["vouchers"]
    assert answer["check"]["invoices"].startswith("invoice drafts")
    assert cli.main([*args, "--direct-posting", "--no-open-entries"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["activated"] and answer["check"]["company"] == "Fjordbakst AS"
    assert answer["check"]["entries"].startswith("closed")
    assert TenantRegistry(stores.tables).get(tenant.id).target == "fiken"
