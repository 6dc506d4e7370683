"""A vendor's receiver, over real HTTP on loopback: it is down when the documents are delivered, comes up a while
later, and still gets every event, signed, in attempts whose order and waits the deliveries API shows."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading
import time

import pytest

from pipeline import webhooks

pytestmark = pytest.mark.e2e


def voucher(reference: str) -> dict:
    return {"type": "voucher", "reference": reference, "date": "2026-11-20", "description": "Dagsoppgjør Ærøy",
            "lines": [{"account": "1920", "amount": "100.00"},
                      {"account": "3000", "amount": "-100.00", "vat_code": "3"}]}


class Receiver:
    """A receiver that is not listening until `start`, then answers 503 once and 200 after that."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        got = self.got

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append(({k: v for k, v in self.headers.items()}, body))
                self.send_response(503 if len(got) == 1 else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def until(check, timeout=90.0, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_no_event_is_lost_while_the_receiver_is_down(stack, tenant, client, monkeypatch):
    monkeypatch.setenv(webhooks.BACKOFF_SETTING, "1,1,2")  # the host reads it per attempt; 24 h stays 24 h
    receiver = Receiver()
    made = client.post("/api/v1/webhooks", json={"url": f"http://127.0.0.1:{receiver.port}/bilagsbro",
                                                 "events": ["document.delivered", "file.processed"]})
    assert made.status_code == 201, made.text
    endpoint, secret = made.json()["id"], made.json()["secret"]
    references = ["hook-Ærøy-1", "hook-Ærøy-2", "hook-Ærøy-3"]
    posted = client.post("/api/v1/documents", json=[voucher(r) for r in references])
    assert posted.status_code == 202, posted.text

    def listed():
        return client.get(f"/api/v1/webhooks/{endpoint}/deliveries").json()["deliveries"]

    # Down: each event is tried, refused at the socket, and tried again.
    until(lambda: len(listed()) == 3 and all(d["attempt_count"] >= 2 for d in listed()), what="refused attempts")
    receiver.start()
    try:
        final = until(lambda: (found := listed()) and all(d["state"] == "delivered" for d in found) and found,
                      what="every event delivered")
    finally:
        receiver.stop()

    events = {}
    for headers, body in receiver.got:
        assert webhooks.verify(secret, headers[webhooks.SIGNATURE_HEADER], body)
        event = json.loads(body)
        assert headers[webhooks.EVENT_ID_HEADER] == event["id"]
        events[event["id"]] = event  # a receiver deduplicates by event id
    assert sorted(e["data"]["reference"] for e in events.values()) == references  # none lost, æøå intact
    assert {e["type"] for e in events.values()} == {"document.delivered"}
    for delivery in final:
        statuses = [a["status"] for a in delivery["attempts"]]
        assert statuses[-1] == 200 and statuses[0] is None  # refused first, answered last
        assert all("error" in a for a in delivery["attempts"] if a["status"] is None)
        assert [a["attempt"] for a in delivery["attempts"]] == list(range(1, len(statuses) + 1))
        times = [dt.datetime.fromisoformat(a["at"]) for a in delivery["attempts"]]
        waits = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert all(w >= 1 for w in waits), waits  # each retry only after its backoff, never at once
    assert 503 in [a["status"] for d in final for a in d["attempts"]]  # the 503 was retried, too
