"""The daily re-test of every connected workspace client (timer `retest_connections`, workspace/health.py) run by the
local host on Azurite against the Tripletex sandbox: stored for the health light, red since when, and the webhook
event connection.unhealthy raised once when a green connection turns red, delivered to a receiver on loopback."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from pipeline.records.connections import connect
from pipeline.records.names import TABLE_WEBHOOK_DELIVERIES
from pipeline.records.tenants import TenantRegistry
from pipeline.webhook_endpoints import WebhookEndpoints
from sandboxes.tripletex import TripletexSandbox
from workspace.identity import Directory

pytestmark = pytest.mark.e2e


class Receiver:
    """A webhook receiver on loopback that answers 200 and keeps what it got."""

    def __init__(self) -> None:
        got: list[bytes] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                got.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.got = got
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bilagsbro"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_timer_retests_every_connected_client_and_says_when_green_turned_red(stack):
    stores = stack.stores
    registry, directory = TenantRegistry(stores.tables), Directory(stores.tables)
    org = directory.add_organisation("Regnskap Retest AS")
    receiver = Receiver()
    with TripletexSandbox() as tripletex:
        shop = registry.add("Bakeri Ørsta AS")
        fresh = registry.add("Ikke koblet til AS")  # not connected: not tested
        connect(registry, stores.secrets, shop.id, "tripletex", settings={"base_url": tripletex.base_url},
                credentials={"consumer_token": tripletex.consumer_token, "employee_token": tripletex.employee_token})
        for tenant in (shop.id, fresh.id):
            directory.attach_client(org.id, tenant)
        WebhookEndpoints(stores.tables, stores.secrets).add(shop.id, receiver.url, ["connection.unhealthy"])

        stack.invoke_timer("retest_connections")
        green = directory.client_facts(shop.id)
        assert green["check"]["ok"] is True and green["check"]["by"] == "daily re-test" and green["checked_at"]
        assert directory.client_facts(fresh.id)["check"] is None

        # the employee token is revoked in Tripletex: the next day's test is red, and says since when
        employee = registry.get(shop.id).target_settings["secrets"]["employee_token"]
        stores.secrets.set(employee, "tilbakekalt-nøkkel")
        stack.invoke_timer("retest_connections")
        red = directory.client_facts(shop.id)["check"]
        assert red["ok"] is False and red["red_since"] and red["error"]["status"] in (401, 403)
        stack.invoke_timer("retest_connections")  # still red: since the first red test, and no second event
        again = directory.client_facts(shop.id)["check"]
        assert again["red_since"] == red["red_since"]

    try:
        stack.wait_idle(timeout=120)  # the webhook delivered: its queue is empty again
    finally:
        receiver.stop()
    events = [r for r in stores.tables.query(TABLE_WEBHOOK_DELIVERIES, shop.id) if r["Event"] == "connection.unhealthy"]
    assert len(events) == 1 and events[0]["State"] == "delivered"
    [got] = receiver.got
    body = json.loads(got)
    assert body["type"] == "connection.unhealthy" and body["tenant"] == shop.id
    assert body["data"]["target"] == "tripletex" and body["data"]["red_since"] == red["red_since"]
    assert "tilbakekalt-nøkkel" not in got.decode("utf-8")
