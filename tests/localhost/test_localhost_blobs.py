"""The local host's Event Grid stand-in: it notices uploads by itself and keeps receipts across restarts."""

import base64
import json
import time
from pathlib import Path

import toy_app
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from bilagsbro.azurite import Azurite
from bilagsbro.localhost import LocalHost

HOST_JSON = Path(__file__).with_name("host.json")


def start_host(azurite: Azurite) -> LocalHost:
    settings = {"TOY_STORAGE": azurite.connection_string, "AzureWebJobsStorage": azurite.connection_string,
                "TOY_SCHEDULE": "0 0 0 1 1 *"}
    host = LocalHost(toy_app.app, settings=settings, host_json=HOST_JSON, port=0, blob_scan_interval=0.1)
    host.start()
    return host


def seen_names(azurite: Azurite) -> list[str]:
    client = QueueClient.from_connection_string(azurite.connection_string, "toy-blobs")
    names = []
    try:
        client.get_queue_properties()
    except ResourceNotFoundError:
        return names
    for message in client.receive_messages(max_messages=32, messages_per_page=32):
        names.append(json.loads(base64.b64decode(message.content))["name"])
        client.delete_message(message)
    return names


def test_upload_is_noticed_without_an_event_and_not_refired_after_restart(azurite: Azurite) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.get_container_client("toy-inbox")
    if not container.exists():
        container.create_container()

    host = start_host(azurite)
    try:
        container.upload_blob("skannet/bilag-ålesund.pdf", b"%PDF-1.7", overwrite=True)
        names: list[str] = []
        deadline = time.monotonic() + 15
        while "toy-inbox/skannet/bilag-ålesund.pdf" not in names and time.monotonic() < deadline:
            host.wait_idle(timeout=60)
            names += seen_names(azurite)
            time.sleep(0.1)
        assert names.count("toy-inbox/skannet/bilag-ålesund.pdf") == 1
    finally:
        host.stop()

    restarted = start_host(azurite)  # receipts come from azure-webjobs-hosts, not memory
    try:
        assert restarted.emit_blob_created("toy-inbox", "skannet/bilag-ålesund.pdf") == 0
        restarted.wait_idle(timeout=60)
        assert "toy-inbox/skannet/bilag-ålesund.pdf" not in seen_names(azurite)
    finally:
        restarted.stop()
        service.close()
