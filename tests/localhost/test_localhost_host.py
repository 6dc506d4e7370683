"""The local Functions host running toy_app against a real Azurite: HTTP, queues, poison, timers, blobs."""

import base64
import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import toy_app
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from bilagsbro.azurite import Azurite
from bilagsbro.localhost import BLOB_POISON_QUEUE, RECEIPTS_CONTAINER, LocalHost

HOST_JSON = Path(__file__).with_name("host.json")
BODY_LIMIT = 1000


def settings(azurite: Azurite) -> dict[str, str]:
    return {"TOY_STORAGE": azurite.connection_string, "AzureWebJobsStorage": azurite.connection_string,
            "TOY_SCHEDULE": "0 0 0 1 1 *", "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": str(BODY_LIMIT)}


@pytest.fixture(scope="module")
def host(azurite: Azurite) -> Iterator[LocalHost]:
    # A long scan interval: blob tests here inject events with emit_blob_created.
    with LocalHost(toy_app.app, settings=settings(azurite), host_json=HOST_JSON, port=0,
                   blob_scan_interval=3600) as running:
        yield running


def queue(azurite: Azurite, name: str) -> QueueClient:
    """A plain client: no encode/decode policy, so tests see the raw wire content."""
    return QueueClient.from_connection_string(azurite.connection_string, name)


def count(azurite: Azurite, name: str) -> int:
    """Approximate messages on the queue; 0 when it was never created (outputs create queues lazily)."""
    try:
        return queue(azurite, name).get_queue_properties().approximate_message_count
    except ResourceNotFoundError:
        return 0


def drain(azurite: Azurite, name: str) -> list[str]:
    """Raw contents of every message on the queue, deleting them."""
    client = queue(azurite, name)
    if not count(azurite, name):
        return []
    raw = []
    for message in client.receive_messages(max_messages=32, messages_per_page=32):
        raw.append(message.content)
        client.delete_message(message)
    return raw


def decoded(raw: list[str]) -> list[dict]:
    return [json.loads(base64.b64decode(r, validate=True).decode("utf-8")) for r in raw]


def call(host: LocalHost, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", host.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_indexes_every_toy_function(host: LocalHost) -> None:
    assert {name: f.trigger_type for name, f in host.functions.items()} == {
        "receive_order": "httpTrigger", "read_file": "httpTrigger", "boom": "httpTrigger",
        "echo": "httpTrigger",
        "translate": "queueTrigger", "always_fails": "queueTrigger", "yearly": "timerTrigger",
        "every_second": "timerTrigger", "on_upload": "blobTrigger",
    }


def test_http_to_queue_chain_keeps_norwegian_text(host: LocalHost, azurite: Azurite) -> None:
    body = json.dumps({"customer": "Blåbærsyltetøy Ærlig AS"}, ensure_ascii=False).encode("utf-8")
    status, headers, payload = call(host, "POST", "/api/orders/t1/sale?lines=3", body,
                                    {"Content-Type": "application/json; charset=utf-8"})
    assert status == 202
    assert headers["x-toy"] == "yes"
    assert headers["content-type"].startswith("application/json")
    assert json.loads(payload) == {"tenant": "t1", "kind": "sale", "customer": "Blåbærsyltetøy Ærlig AS",
                                   "lines": "3"}

    host.wait_idle(timeout=60)

    raw = drain(azurite, "toy-done")
    first, second = decoded(raw)  # a list set on an output binding is one message per item
    assert first["customer"] == "Blåbærsyltetøy Ærlig AS" and first["stage"] == "translated"
    assert first["seen"]["dequeue_count"] == 1
    assert first["seen"]["has_times"] and first["seen"]["has_receipt"] and first["seen"]["id"]
    assert second == {"stage": "second", "customer": "Blåbærsyltetøy Ærlig AS"}
    assert queue(azurite, "toy-received").get_queue_properties().approximate_message_count == 0


def test_optional_route_parameter_may_be_absent(host: LocalHost, azurite: Azurite) -> None:
    status, _, payload = call(host, "POST", "/api/orders/t2", b'{"customer": "Kari"}')
    assert status == 202
    assert json.loads(payload)["kind"] is None
    host.wait_idle(timeout=60)
    assert [m["tenant"] for m in decoded(drain(azurite, "toy-done")) if "tenant" in m] == ["t2"]


def test_catch_all_route_and_routing_errors(host: LocalHost) -> None:
    assert call(host, "GET", "/api/files/2026/11/kvittering.pdf")[2] == b"path=2026/11/kvittering.pdf"
    assert call(host, "GET", "/api/files")[2] == b"path="
    assert call(host, "GET", "/api/nowhere")[0] == 404
    assert call(host, "GET", "/orders/t1")[0] == 404  # without the routePrefix
    status, headers, _ = call(host, "GET", "/api/orders/t1")
    assert status == 405
    assert headers["allow"] == "POST"


def test_async_function_with_context_and_chunked_body(host: LocalHost) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", host.port, timeout=10)
    try:
        chunks = iter([b"bl\xc3", b"\xa5", "bær".encode()])  # å split across chunks
        connection.request("POST", "/api/echo", body=chunks, encode_chunked=True)
        response = connection.getresponse()
        assert (response.status, response.read().decode("utf-8")) == (200, "echo: blåbær")
    finally:
        connection.close()


# A body over FUNCTIONS_REQUEST_BODY_SIZE_LIMIT never reaches the function. The real host then answers
# 500 with no body, not 413 (Azure/azure-functions-host#10519); the local host answers the same, so
# that no test here can count on a 413 Azure would not give. The app's own limits are lower (JSON 413).
def test_chunked_body_over_the_limit_never_reaches_the_function(host: LocalHost) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", host.port, timeout=10)
    try:
        connection.request("POST", "/api/echo", body=iter([b"x" * 600, b"y" * 600]), encode_chunked=True)
        response = connection.getresponse()
        assert (response.status, response.read()) == (500, b"")
    finally:
        connection.close()


def test_body_over_the_limit_never_reaches_the_function(host: LocalHost, azurite: Azurite) -> None:
    assert call(host, "POST", "/api/orders/t1", b"x" * (BODY_LIMIT + 1))[0] == 500
    assert call(host, "POST", "/api/orders/t1", b'{"customer": "Ola"}')[0] == 202
    host.wait_idle(timeout=60)
    assert [m["customer"] for m in decoded(drain(azurite, "toy-done"))] == ["Ola", "Ola"]


def test_failing_http_function_sends_no_output(host: LocalHost, azurite: Azurite) -> None:
    assert call(host, "POST", "/api/boom", b"{}")[0] == 500
    assert count(azurite, "toy-boom") == 0


def test_outputs_are_base64_on_the_wire_and_sdk_writers_agree(host: LocalHost, azurite: Azurite) -> None:
    writer = QueueClient.from_connection_string(azurite.connection_string, "toy-received",
                                                message_encode_policy=TextBase64EncodePolicy())
    writer.send_message(json.dumps({"tenant": "t3", "customer": "Øystein Åsen"}, ensure_ascii=False))
    host.wait_idle(timeout=60)
    raw = drain(azurite, "toy-done")
    assert len(raw) == 2
    assert all(json.loads(base64.b64decode(r, validate=True)) for r in raw)  # raw wire content is base64
    assert decoded(raw)[0]["customer"] == "Øystein Åsen"


def test_failing_message_goes_to_poison_after_max_dequeue_count(host: LocalHost, azurite: Azurite) -> None:
    toy_app.FAILED_DEQUEUE_COUNTS.clear()
    host.send_message("toy-fail", json.dumps({"bilag": "Kvittering fra Bøler"}, ensure_ascii=False),
                      connection="TOY_STORAGE")
    host.wait_idle(timeout=60)
    assert toy_app.FAILED_DEQUEUE_COUNTS == [1, 2, 3]  # host.json maxDequeueCount is 3
    assert queue(azurite, "toy-fail").get_queue_properties().approximate_message_count == 0
    poisoned = decoded(drain(azurite, "toy-fail-poison"))
    assert poisoned == [{"bilag": "Kvittering fra Bøler"}]


def test_undecodable_message_is_poisoned_at_once(host: LocalHost, azurite: Azurite) -> None:
    queue(azurite, "toy-received").send_message("not base64: æøå")
    host.wait_idle(timeout=60)
    assert drain(azurite, "toy-received-poison") == ["not base64: æøå"]
    assert drain(azurite, "toy-done") == []


def test_timers_run_on_startup_on_schedule_and_on_demand(host: LocalHost) -> None:
    assert ("yearly", False) in toy_app.TIMER_CALLS  # run_on_startup, schedule from %TOY_SCHEDULE%
    deadline = time.monotonic() + 60
    while toy_app.TIMER_CALLS.count(("every_second", False)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert toy_app.TIMER_CALLS.count(("every_second", False)) >= 2
    before = toy_app.TIMER_CALLS.count(("yearly", False))
    host.invoke_timer("yearly")
    assert toy_app.TIMER_CALLS.count(("yearly", False)) == before + 1
    with pytest.raises(ValueError, match="not a timer"):
        host.invoke_timer("translate")


def upload(azurite: Azurite, name: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.get_container_client("toy-inbox")
    if not container.exists():
        container.create_container()
    container.upload_blob(name, data, overwrite=True, metadata=metadata)
    service.close()


def test_blob_created_event_fires_once_per_version(host: LocalHost, azurite: Azurite) -> None:
    upload(azurite, "kvittering-æøå.csv", "dato;beløp\n2026-11-25;1 234,50\n".encode(), {"kilde": "sftp"})
    assert host.emit_blob_created("toy-inbox", "kvittering-æøå.csv", api="SftpCreate") == 0  # not complete
    assert host.emit_blob_created("toy-inbox", "kvittering-æøå.csv", api="SftpCommit") == 1
    host.wait_idle(timeout=60)
    [seen] = [json.loads(base64.b64decode(r)) for r in drain(azurite, "toy-blobs")]
    assert seen["name"] == "toy-inbox/kvittering-æøå.csv"
    assert seen["text"] == "dato;beløp\n2026-11-25;1 234,50\n"
    assert seen["length"] == len("dato;beløp\n2026-11-25;1 234,50\n".encode())
    assert seen["metadata"] == {"kilde": "sftp"}

    assert host.emit_blob_created("toy-inbox", "kvittering-æøå.csv") == 0  # receipt: same ETag
    receipts = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(
        RECEIPTS_CONTAINER)
    names = [b.name for b in receipts.list_blobs(name_starts_with="blobreceipts/")]
    assert any(n.endswith("/on_upload/" + seen["etag"].strip('"') + "/toy-inbox/kvittering-æøå.csv")
               for n in names)

    upload(azurite, "kvittering-æøå.csv", b"ny versjon")  # a new ETag fires again
    assert host.emit_blob_created("toy-inbox", "kvittering-æøå.csv", api="PutBlockList") == 1
    host.wait_idle(timeout=60)
    assert [json.loads(base64.b64decode(r))["text"] for r in drain(azurite, "toy-blobs")] == ["ny versjon"]


def test_failing_blob_goes_to_blob_poison_queue(host: LocalHost, azurite: Azurite) -> None:
    toy_app.BLOB_ATTEMPTS.clear()
    upload(azurite, "bad-file.csv", b"garbage")
    assert host.emit_blob_created("toy-inbox", "bad-file.csv") == 1
    host.wait_idle(timeout=60)
    assert toy_app.BLOB_ATTEMPTS == ["toy-inbox/bad-file.csv"] * 2  # poisonBlobThreshold is 2
    [poison] = decoded(drain(azurite, BLOB_POISON_QUEUE))
    assert poison["FunctionId"] == "Host.Functions.on_upload"
    assert (poison["ContainerName"], poison["BlobName"]) == ("toy-inbox", "bad-file.csv")
    assert host.emit_blob_created("toy-inbox", "bad-file.csv") == 0  # not retried forever
