"""The local host keeps a message invisible while its function runs, renewing halfway, as the real host does."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import azure.functions as func
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from bilagsbro.azurite import Azurite
from bilagsbro.localhost import LocalHost

HOST_JSON = Path(__file__).with_name("host.json")

app = func.FunctionApp()
calls: list[str] = []
lock = threading.Lock()


@app.queue_trigger(arg_name="msg", queue_name="toy-slow", connection="TOY_STORAGE")
def slow(msg: func.QueueMessage) -> None:
    with lock:
        calls.append(msg.get_body().decode())
    time.sleep(3.5)  # longer than the message lease below: only renewals keep it from a second invocation


def test_a_message_whose_function_outlasts_the_lease_is_not_handed_out_twice(azurite: Azurite) -> None:
    settings = {"TOY_STORAGE": azurite.connection_string, "AzureWebJobsStorage": azurite.connection_string}
    with LocalHost(app, settings=settings, host_json=HOST_JSON, port=0, message_lease=2) as host:
        QueueClient.from_connection_string(azurite.connection_string, "toy-slow",
                                           message_encode_policy=TextBase64EncodePolicy()).send_message("ett bilag")
        deadline = time.monotonic() + 20
        while not calls and time.monotonic() < deadline:
            time.sleep(0.05)
        host.wait_idle(timeout=30)
    assert calls == ["ett bilag"]
