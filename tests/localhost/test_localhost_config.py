"""How the local host reads host.json and the app, and what it refuses to run, before any storage I/O."""

import json
import socket
from pathlib import Path

import azure.functions as func
import pytest

from bilagsbro.azurite import Azurite, AzuriteNotInstalled, connection_string, find_azurite, reachable
from bilagsbro.localhost import LocalHost, QueueOptions, timespan

HOST_JSON = Path(__file__).with_name("host.json")
OFFLINE = {"S": connection_string(1, 1, 1)}  # clients are built, never called


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:00:00", 0.0), ("00:00:30", 30.0), ("00:01:00", 60.0), ("1.02:00:00", 93600.0),
     ("00:00:00.250", 0.25)],
)
def test_timespan(text: str, seconds: float) -> None:
    assert timespan(text, default=7.0) == seconds


def test_timespan_default_and_bad_text() -> None:
    assert timespan(None, default=7.0) == 7.0
    with pytest.raises(ValueError, match="TimeSpan"):
        timespan("30s", default=0.0)


def test_queue_options_defaults_and_limits() -> None:
    defaults = QueueOptions.from_host_json({})
    assert (defaults.batch_size, defaults.new_batch_threshold, defaults.max_dequeue_count) == (16, 8, 5)
    assert defaults.base64 and defaults.visibility_timeout == 0.0
    assert QueueOptions.from_host_json({"batchSize": 64}).batch_size == 32  # the documented maximum
    plain = QueueOptions.from_host_json({"messageEncoding": "none"})
    assert plain.encode("æøå") == "æøå" and plain.decode("æøå") == "æøå".encode()
    encoded = QueueOptions().encode("æøå")
    assert encoded == "w6bDuMOl" and QueueOptions().decode(encoded).decode("utf-8") == "æøå"
    with pytest.raises(ValueError, match="messageEncoding"):
        QueueOptions.from_host_json({"messageEncoding": "utf8"})


def test_route_prefix_comes_from_host_json(tmp_path: Path) -> None:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="ping")
    def ping(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("pong")

    host_json = tmp_path / "host.json"
    host_json.write_text(json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}))
    host = LocalHost(app, settings={}, host_json=host_json, port=0)
    try:
        assert host.handle_http("GET", "/ping", {}, b"")[::2] == (200, b"pong")
        assert host.handle_http("GET", "/api/ping", {}, b"")[0] == 404
    finally:
        host.stop()  # never started: must not hang


def test_missing_schedule_setting_fails_at_construction() -> None:
    app = func.FunctionApp()

    @app.timer_trigger(arg_name="timer", schedule="%NIGHTLY%")
    def nightly(timer: func.TimerRequest) -> None:
        pass

    with pytest.raises(KeyError, match="NIGHTLY"):
        LocalHost(app, settings={}, host_json=HOST_JSON, port=0)


def test_unsupported_bindings_are_refused() -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="q", connection="S")
    @app.blob_input(arg_name="doc", path="c/{queueTrigger}", connection="S")
    def with_input(msg: func.QueueMessage, doc: func.InputStream) -> None:
        pass

    with pytest.raises(NotImplementedError, match="blob"):
        LocalHost(app, settings=OFFLINE, host_json=HOST_JSON, port=0)


def test_polling_blob_triggers_are_refused() -> None:
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="blob", path="c/{name}", connection="S")
    def polled(blob: func.InputStream) -> None:
        pass

    with pytest.raises(NotImplementedError, match="EventGrid"):
        LocalHost(app, settings=OFFLINE, host_json=HOST_JSON, port=0)


def test_find_azurite_says_to_run_npm_ci(tmp_path: Path) -> None:
    with pytest.raises(AzuriteNotInstalled, match="npm ci"):
        find_azurite(tmp_path)


def test_reachable(azurite: Azurite) -> None:
    assert reachable(azurite.connection_string)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # bound but not listening: connections are refused
        assert not reachable(connection_string(azurite.blob_port, closed, azurite.table_port))
