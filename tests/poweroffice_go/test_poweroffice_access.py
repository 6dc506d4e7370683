"""Onboarding PowerOffice GO: the OAuth token, the connection test in the customer's words, secrets kept out of logs."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from connectors.targets.poweroffice_go.client import GoToken
from connectors.targets.poweroffice_go.descriptor import DESCRIPTOR, PowerOfficeSettings
from pipeline.errors import ConfigError
from pipeline.memory import MemoryExchanges
from pipeline.model import Voucher
from tests.contract.harnesses.poweroffice_go import Harness

SALE = Voucher(reference="TILGANG-1", date="2026-11-20", description="Kortsalg",
               lines=[{"account": "1920", "amount": "10.00"}, {"account": "3000", "amount": "-10.00", "vat_code": "3"}])


def connect(go: Harness, **settings: Any) -> Any:
    context = go.connect(direct_posting=settings.pop("direct_posting", False))
    context.settings = {**context.settings, **settings}
    return DESCRIPTOR.connect(context)


def test_the_token_url_follows_the_environment() -> None:
    assert PowerOfficeSettings().oauth_url == "https://goapi.poweroffice.net/OAuth/Token"
    assert PowerOfficeSettings(base_url="https://goapi.poweroffice.net/Demo/v2").oauth_url == \
        "https://goapi.poweroffice.net/Demo/OAuth/Token"
    assert PowerOfficeSettings(token_url="https://x.example/t").oauth_url == "https://x.example/t"


def test_one_token_serves_every_delivery_and_an_expired_one_is_renewed_once(go: Harness, target: Any) -> None:
    for i in range(3):
        target.deliver(SALE.model_copy(update={"reference": f"TILGANG-{i}"}))
    assert len(go.sandbox.issued) == 1
    go.sandbox.expire_tokens()  # revoked or expired on GO's side before our clock said so
    target.deliver(SALE.model_copy(update={"reference": "TILGANG-9"}))
    assert len(go.sandbox.issued) == 2 and len(go.stored()) == 4


def test_a_token_is_renewed_before_it_runs_out() -> None:
    now = [0.0]
    issued: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/OAuth/Token":
            issued.append(1)
            return httpx.Response(200, json={"access_token": f"t{len(issued)}", "token_type": "bearer",
                                             "expires_in": 1200})
        return httpx.Response(200, json={"auth": request.headers["Authorization"]})

    auth = GoToken("https://go.test/OAuth/Token", "app", "client", "sub", clock=lambda: now[0])
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        assert client.get("https://go.test/v2/x").json()["auth"] == "Bearer t1"
        now[0] = 1150.0  # less than a minute left on the 20-minute token: renewed first
        assert client.get("https://go.test/v2/x").json()["auth"] == "Bearer t2"
        now[0] = 1300.0
        assert client.get("https://go.test/v2/x").json()["auth"] == "Bearer t2" and len(issued) == 2


def test_a_wrong_client_key_or_subscription_key_is_said_in_the_customers_words(go: Harness) -> None:
    go.secrets.set("po-client", "feil-nøkkel")
    with pytest.raises(ConfigError, match="client key copied from GO") as caught:
        connect(go).check()
    assert caught.value.provider_message and "Client integration not found" in caught.value.provider_message
    go.secrets.set("po-client", go.sandbox.client_key)
    go.secrets.set("po-sub", "feil")
    go.cache.clear()
    with pytest.raises(ConfigError, match="subscription key"):
        connect(go).deliver(SALE)
    assert go.stored() == []


@pytest.mark.parametrize(("direct", "role"), [(False, "JournalEntryVoucher_Full"), (True, "ManualVoucher_Full")])
def test_a_missing_role_fails_the_connection_test_and_names_it(go: Harness, direct: bool, role: str) -> None:
    answer = connect(go, direct_posting=direct).check()
    assert answer["client"] == "Bilagsbro Sandkasse AS" and answer["organization_number"] == "999888771"
    go.sandbox.roles.discard(role)
    with pytest.raises(ConfigError, match=role) as caught:
        connect(go, direct_posting=direct).check()
    assert "Bilagsbro Sandkasse AS" in caught.value.message
    with pytest.raises(ConfigError, match=f"needs the role {role}"):
        connect(go, direct_posting=direct).deliver(SALE)


def test_another_company_s_client_key_fails_the_connection_test(go: Harness) -> None:
    assert connect(go, organization_number="999888771").check()["organization_number"] == "999888771"
    with pytest.raises(ConfigError, match="not to the company with organisation number 912345688"):
        connect(go, organization_number="912345688").check()


def test_keys_and_tokens_never_reach_the_exchange_log(go: Harness) -> None:
    context = go.connect()
    log = MemoryExchanges()
    context.exchanges = log
    DESCRIPTOR.connect(context).deliver(SALE)
    kept = json.dumps([{**x.__dict__, "request_body": x.request_body.decode(), "response_body": x.response_body.decode(),
                        "at": str(x.at)} for x in log.exchanges], ensure_ascii=False)
    assert any("/OAuth/Token" in x.url for x in log.exchanges)  # the token request is kept too …
    for secret in (go.sandbox.subscription_key, go.sandbox.client_key, go.sandbox.application_key, *go.sandbox.issued):
        assert secret not in kept  # … without a key or a token


def test_a_burst_of_workers_is_paced_under_gos_limit_instead_of_refused(go: Harness) -> None:
    """GO allows 10 requests a second per subscription key: eight workers wait their turn rather than meet 429s."""
    from concurrent.futures import ThreadPoolExecutor

    go.sandbox.rate_limit = 10
    go.sandbox._window.clear()

    def deliver(i: int) -> None:
        context = go.connect()
        context.settings = {**context.settings, "requests_per_second": 10}
        DESCRIPTOR.connect(context).deliver(SALE.model_copy(update={"reference": f"TAKT-{i}"}))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(deliver, range(16)))
    # Unpaced, this burst meets 429s faster than four tries can ride out (the waits are recorded, not slept here).
    assert len(go.stored()) == 16
    assert len(go.sleeps) <= 2  # at most a stray 429 when a loaded machine bunches requests on their way
