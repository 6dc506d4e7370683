"""The Omnium client against the sandbox: token, Search limits and Scroll, back-off, errors by remedy."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

from connectors.sources import omnium
from pipeline.errors import ConfigError, DataError, TransientError
from pipeline.memory import MemorySecrets


def test_a_window_larger_than_search_can_page_is_read_through_a_scroll(sandbox, client):
    sandbox.seed_orders(10_050, days=3, seed=21)

    with pytest.raises(DataError) as refused:  # page 101 of 100 is past take * page ≤ 10,000
        client.search({"take": 100, "page": 101})
    assert refused.value.status == 400 and "Scroll" in refused.value.provider_message

    pages = list(client.orders())

    ids = Counter(o["id"] for page in pages for o in page)
    assert set(ids) == set(sandbox.orders) and max(ids.values()) == 1
    paths = Counter(path for _, path, _ in sandbox.requests)
    assert paths["/api/Orders/Scroll"] == 1
    assert paths["/api/Orders/Search"] == 2  # the refused page 101, and the first page that counted the hits
    assert sum(n for p, n in paths.items() if p.startswith("/api/Orders/Scroll/")) >= 100


def test_a_window_search_can_page_is_read_page_by_page(sandbox, client):
    sandbox.seed_orders(450, days=2, seed=22)
    pages = list(client.orders())
    assert [len(p) for p in pages] == [100, 100, 100, 100, 50]
    assert {o["id"] for p in pages for o in p} == set(sandbox.orders)
    assert not any(path.startswith("/api/Orders/Scroll") for _, path, _ in sandbox.requests)


def test_amounts_arrive_as_exact_decimals_and_norwegian_text_survives(sandbox, client):
    order = sandbox.add_order(store="tromsø")
    [page] = list(client.orders(selectedStores=["tromsø"]))
    [got] = page
    assert got["storeId"] == "tromsø" and got["customerName"] == order["customerName"]
    assert got["orderForm"]["total"] == order["orderForm"]["total"]
    assert type(got["orderForm"]["total"]).__name__ == "Decimal"


def test_wrong_client_secret_is_a_config_error(sandbox):
    with omnium.OmniumClient(sandbox.base_url, sandbox.client_id, "feil") as client:
        with pytest.raises(ConfigError) as refused:
            client.search({"take": 1})
    assert refused.value.status == 401 and refused.value.connector == "omnium"


def test_too_large_a_page_is_a_data_error_and_a_crash_is_transient(sandbox, client):
    with pytest.raises(DataError):
        client.search({"take": 101})
    sandbox.faults.fail_after_pages = 0
    with pytest.raises(TransientError) as crashed:
        client.search({"take": 1})
    assert crashed.value.status == 500


def test_429_past_the_retry_budget_is_transient_and_carries_retry_after(sandbox, make_client):
    waits: list[float] = []
    client = make_client(sleep=waits.append, max_attempts=3)
    sandbox.faults.burst_429 = 10
    sandbox.faults.retry_after = "7"
    with pytest.raises(TransientError) as limited:
        client.search({"take": 1})
    assert limited.value.status == 429 and limited.value.retry_after == 7.0
    assert waits == [7.0, 7.0]


def test_more_concurrent_requests_than_the_limit_get_429_with_retry_after(sandbox):
    sandbox.max_concurrent = 2
    sandbox.seed_orders(10, days=1, seed=1)
    inside = threading.Barrier(3)  # two requests inside the sandbox, plus the test
    release = threading.Event()

    def hold(_page: int) -> None:
        inside.wait(timeout=10)
        release.wait(timeout=10)

    sandbox.faults.page_hook = hold
    token = httpx.post(f"{sandbox.base_url}/api/Token", params={
        "clientId": sandbox.client_id, "clientSecret": sandbox.client_secret, "returnAsJson": "true"}).json()
    headers = {"Authorization": f"Bearer {token['accessToken']}"}
    statuses: list[int] = []

    def search() -> None:
        statuses.append(httpx.post(f"{sandbox.base_url}/api/Orders/Search", json={"take": 1}, headers=headers).status_code)

    holders = [threading.Thread(target=search) for _ in range(2)]
    for thread in holders:
        thread.start()
    inside.wait(timeout=10)
    third = httpx.post(f"{sandbox.base_url}/api/Orders/Search", json={"take": 1}, headers=headers)
    release.set()
    for thread in holders:
        thread.join(timeout=10)

    assert third.status_code == 429 and third.headers["Retry-After"] == "0"
    assert statuses == [200, 200]


def test_the_token_endpoint_answers_a_bare_token_without_return_as_json(sandbox):
    answer = httpx.post(f"{sandbox.base_url}/api/Token", params={
        "clientId": sandbox.client_id, "clientSecret": sandbox.client_secret})
    assert answer.status_code == 200 and isinstance(answer.json(), str)
    with_json = httpx.post(f"{sandbox.base_url}/api/Token", params={
        "clientId": sandbox.client_id, "clientSecret": sandbox.client_secret, "returnAsJson": "true"}).json()
    assert with_json["tokenType"] == "Bearer" and with_json["expiresIn"] == 864000


def test_connect_builds_the_client_from_settings_and_the_secret_store(sandbox):
    settings = {"base_url": sandbox.base_url, "client_id": sandbox.client_id,
                "client_secret_name": "omnium-kunde-1"}
    with omnium.connect(settings, MemorySecrets({"omnium-kunde-1": sandbox.client_secret}), tenant="kunde-1") as client:
        assert client.search({"take": 1})["totalHits"] == 0
    with pytest.raises(ConfigError, match="omnium-kunde-1"):
        omnium.connect(settings, MemorySecrets(), tenant="kunde-1")
    with pytest.raises(ConfigError, match="base_url"):
        omnium.connect({"client_id": "x"}, MemorySecrets(), tenant="kunde-1")


def test_a_raw_order_survives_the_round_trip_through_the_raw_store_exactly(sandbox, client):
    sandbox.seed_orders(50, days=1, seed=12)
    texts = []
    for page in client.orders():
        for order in page:
            stored = omnium.order_json(order)
            assert omnium.read_order(stored) == order
            texts.append(stored.decode("utf-8"))
    assert all(letter in "".join(texts).lower() for letter in "æøå")


def test_a_429_on_the_token_request_backs_off_like_any_other_call(sandbox, client, waits):
    sandbox.faults.token_429 = 2
    sandbox.faults.retry_after = "4"

    assert client.search({"take": 1})["totalHits"] == 0

    assert waits == [4.0, 4.0]  # Retry-After honoured, through the injectable sleep
    assert [(path, status) for _, path, status in sandbox.requests] == [
        ("/api/Token", 429), ("/api/Token", 429), ("/api/Token", 200), ("/api/Orders/Search", 200)]


def test_a_429_on_renewing_an_expired_token_backs_off_too_and_a_token_that_stays_limited_is_transient(
        sandbox, make_client):
    waits: list[float] = []
    client = make_client(sleep=waits.append, max_attempts=3)
    client.search({"take": 1})
    sandbox.expire_tokens()
    sandbox.faults.token_429 = 1
    sandbox.faults.retry_after = "2"
    assert client.search({"take": 1})["totalHits"] == 0
    assert waits == [2.0] and client.auth.renewals == 2

    sandbox.expire_tokens()
    sandbox.faults.token_429 = 10
    with pytest.raises(TransientError) as limited:
        client.search({"take": 1})
    assert limited.value.status == 429 and limited.value.message == "Omnium token request failed with HTTP 429"
