"""A small local Functions host that runs what ``function_app.py`` declares against Azurite.

Azure Functions Core Tools cannot be installed here, so this host indexes ``FunctionApp.get_functions()``
like the Python worker does and emulates the parts of the real host Bilagsbro uses, honouring host.json:
HTTP triggers (``extensions.http``), queue triggers and queue output bindings (``extensions.queues``:
encoding, batching, back-off, visibility, poison queues), NCRONTAB timers, and blob triggers with the
Event Grid source (``extensions.blobs``), for which it plays Event Grid by watching containers.
Semantics follow https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue and
``../shared/reference/azure-functions.md`` §2. Not emulated: auth keys (like Core Tools, every
``auth_level`` is open), retry policies, input bindings other than the trigger, identity connections.
The stage code cannot tell this host from the real one: it gets the same ``azure.functions`` objects.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import inspect
import json
import logging
import random
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.functions.blob import InputStream
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from bilagsbro.cron import parse_schedule

log = logging.getLogger("bilagsbro.localhost")

# Event Grid BlobCreated ``data.api`` values meaning "the blob is complete"; SftpCreate is not.
# https://learn.microsoft.com/azure/event-grid/event-schema-blob-storage
COMPLETED_BLOB_APIS = frozenset({"PutBlob", "PutBlockList", "FlushWithClose", "SftpCommit", "CopyBlob"})
RECEIPTS_CONTAINER = "azure-webjobs-hosts"
BLOB_POISON_QUEUE = "webjobs-blobtrigger-poison"
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"  # bytes; the real host's setting, 100 MB default
LEASE_SECONDS = 600  # how long a received message stays invisible while the host works on it
_FIRST_BACKOFF = 0.1


def timespan(text: str | None, default: float) -> float:
    """Seconds in a host.json TimeSpan such as ``00:00:30``, ``1.00:00:00`` or ``00:00:00.500``."""
    if text is None:
        return default
    match = re.fullmatch(r"(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)", str(text).strip())
    if not match:
        raise ValueError(f"host.json TimeSpan {text!r} is not [d.]hh:mm:ss[.fff]")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class QueueOptions:
    """``extensions.queues`` from host.json, with the documented defaults (local-dev polling of 2 s)."""

    max_polling_interval: float = 2.0
    visibility_timeout: float = 0.0
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    base64: bool = True

    @classmethod
    def from_host_json(cls, section: Mapping[str, Any]) -> QueueOptions:
        batch = min(int(section.get("batchSize", 16)), 32)
        encoding = str(section.get("messageEncoding", "base64")).lower()
        if encoding not in ("base64", "none"):
            raise ValueError(f"host.json extensions.queues.messageEncoding {encoding!r}: use base64 or none")
        return cls(
            max_polling_interval=timespan(section.get("maxPollingInterval"), 2.0),
            visibility_timeout=timespan(section.get("visibilityTimeout"), 0.0),
            batch_size=batch,
            new_batch_threshold=int(section.get("newBatchThreshold", batch // 2)),
            max_dequeue_count=int(section.get("maxDequeueCount", 5)),
            base64=encoding == "base64",
        )

    def encode(self, body: str | bytes) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        if self.base64:
            return base64.b64encode(data).decode("ascii")
        return data.decode("utf-8")

    def decode(self, wire: str) -> bytes:
        if self.base64:
            return base64.b64decode(wire, validate=True)
        return wire.encode("utf-8")


class Out(func.Out):  # type: ignore[type-arg]
    """The value an output binding will send once the function returns."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class Context(func.Context):
    """The invocation context for functions that take a ``context`` parameter."""

    def __init__(self, function_name: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._local = threading.local()

    invocation_id = property(lambda self: self._invocation_id)
    thread_local_storage = property(lambda self: self._local)
    function_name = property(lambda self: self._function_name)
    function_directory = property(lambda self: str(Path.cwd()))
    trace_context = property(lambda self: None)
    retry_context = property(lambda self: None)


@dataclass
class Function:
    """One indexed function: its trigger binding and queue output bindings, as plain dicts."""

    name: str
    user_function: Callable[..., Any]
    trigger: dict[str, Any]
    queue_outputs: list[dict[str, Any]]
    wants_context: bool = False

    @property
    def trigger_type(self) -> str:
        return str(self.trigger["type"])


@dataclass
class _QueueWatch:
    function: Function
    queue_name: str
    client: QueueClient
    wake: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0


class LocalHost:
    """Runs a ``FunctionApp``'s functions against storage named in ``settings``; see the module docstring."""

    def __init__(
        self,
        app: func.FunctionApp,
        *,
        settings: Mapping[str, str],
        host_json: Path,
        port: int = 7071,
        blob_scan_interval: float = 1.0,
    ) -> None:
        self.settings = dict(settings)
        config = json.loads(Path(host_json).read_text(encoding="utf-8"))
        extensions = config.get("extensions", {})
        self.route_prefix = str(extensions.get("http", {}).get("routePrefix", "api")).strip("/")
        self.queue_options = QueueOptions.from_host_json(extensions.get("queues", {}))
        blobs = extensions.get("blobs", {})
        self.poison_blob_threshold = int(blobs.get("poisonBlobThreshold", 5))
        self.max_body_bytes = int(self.settings.get(BODY_LIMIT_SETTING, 100 * 1024 * 1024))
        self.blob_scan_interval = blob_scan_interval
        self.host_id = self.settings.get("AzureFunctionsWebHost__hostid", "bilagsbro-local")
        self.functions = {f.name: f for f in _indexed(app)}
        self._routes = [_compile_route(self.route_prefix, f) for f in self._of_type("httpTrigger")]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Condition()
        self._activity = 0  # bumped on every dispatch and completion, for wait_idle's consistent snapshot
        self._clients_lock = threading.Lock()
        self._queue_clients: dict[tuple[str, str], QueueClient] = {}
        self._blob_clients: dict[str, BlobServiceClient] = {}
        self._watches = [
            _QueueWatch(f, name, self._queue_client(f.trigger["connection"], name))
            for f in self._of_type("queueTrigger")
            if (name := f.trigger["queueName"])
        ]
        options = self.queue_options
        self._pool = ThreadPoolExecutor(
            # At most batchSize + newBatchThreshold invocations per queue function, as in the real host,
            # plus extensions.blobs.maxDegreeOfParallelism for blob triggers.
            max_workers=len(self._watches) * (options.batch_size + options.new_batch_threshold)
            + int(blobs.get("maxDegreeOfParallelism", 8)),
            thread_name_prefix="localhost-invoke",
        )
        self._blob_functions = self._of_type("blobTrigger")
        self._blob_pending: set[tuple[str, str, str, str]] = set()  # (function, container, blob, etag)
        self._blob_done: set[tuple[str, str, str, str]] = set()
        self._blob_attempts: dict[tuple[str, str, str, str], int] = {}
        # Resolve %Setting% schedules now, so a missing setting fails here rather than in a thread.
        self._schedules = {f.name: parse_schedule(self._setting_or_literal(str(f.trigger["schedule"])))
                           for f in self._of_type("timerTrigger")}
        self._started = self._stopped = False
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _of_type(self, trigger_type: str) -> list[Function]:
        return [f for f in self.functions.values() if f.trigger_type == trigger_type]

    def _setting_or_literal(self, text: str) -> str:
        if match := re.fullmatch(r"%(.+)%", text):
            if match.group(1) not in self.settings:
                raise KeyError(f"setting {match.group(1)!r} (named by {text!r}) is missing from the settings")
            return self.settings[match.group(1)]
        return text

    def _connection(self, name: str) -> str:
        value = self.settings.get(name) or self.settings.get(f"AzureWebJobs{name}")
        if not value:
            raise KeyError(f"setting {name!r} (a storage connection string) is missing from the settings")
        return value

    def _queue_client(self, connection: str, queue_name: str) -> QueueClient:
        key = (connection, queue_name)
        with self._clients_lock:  # output bindings ask from many invocation threads
            if key not in self._queue_clients:
                url = self._connection(connection)
                self._queue_clients[key] = QueueClient.from_connection_string(url, queue_name)
            return self._queue_clients[key]

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Create trigger queues, then start the HTTP server, queue pollers, timers and blob watcher."""
        self._started = True
        for watch in self._watches:
            _create_queue(watch.client)
        self._spawn(self._server.serve_forever, "localhost-http")
        for watch in self._watches:
            self._spawn(lambda w=watch: self._poll(w), f"localhost-queue-{watch.queue_name}")
        for function in self._of_type("timerTrigger"):
            self._spawn(lambda f=function: self._run_timer(f), f"localhost-timer-{function.name}")
        if self._blob_functions:
            self._load_receipts()
            self._spawn(self._scan_blobs, "localhost-blob-scan")
        log.info("Local host on %s with functions %s", self.url, sorted(self.functions))

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling and serving, and wait for in-flight invocations to finish."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        for watch in self._watches:
            watch.wake.set()
        if self._started:
            self._server.shutdown()  # blocks until serve_forever returns, so only once started
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout)
        self._pool.shutdown(wait=True)
        for client in [*self._queue_clients.values(), *self._blob_clients.values()]:
            client.close()

    def serve_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> LocalHost:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Return once nothing is in flight and every trigger queue is empty; ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout
        busy: list[str] = []
        while time.monotonic() < deadline:
            with self._lock:
                before, busy = self._activity, self._busy()
            if not busy:
                busy = [f"queue {w.queue_name} holds {count}" for w in self._watches
                        if (count := _approximate_count(w.client))]
                with self._lock:
                    if not busy and self._activity == before and not self._busy():
                        return
            time.sleep(0.05)
        raise TimeoutError(f"local host not idle after {timeout} s: {'; '.join(busy) or 'activity'}")

    def _busy(self) -> list[str]:
        busy = [f"{w.function.name} has {w.in_flight} in flight" for w in self._watches if w.in_flight]
        if self._blob_pending:
            busy.append(f"{len(self._blob_pending)} blob events pending")
        return busy

    # -- invoking -------------------------------------------------------------------------------------

    def _invoke(self, function: Function, trigger_value: Any, label: str) -> Any:
        """Call the user function; on success send its queue outputs; log the outcome (never bodies)."""
        outs = {binding["name"]: Out() for binding in function.queue_outputs}
        kwargs: dict[str, Any] = {function.trigger["name"]: trigger_value, **outs}
        if function.wants_context:
            kwargs["context"] = Context(function.name)
        started = time.monotonic()
        try:
            result = function.user_function(**kwargs)
            if inspect.isawaitable(result):
                result = asyncio.run(_await(result))
            for binding in function.queue_outputs:
                self._send_output(binding, outs[binding["name"]].get())
        except BaseException:
            log.exception(
                "Executed 'Functions.%s' (Failed, %s, Duration=%.0fms)",
                function.name, label, (time.monotonic() - started) * 1000,
            )
            raise
        log.info(
            "Executed 'Functions.%s' (Succeeded, %s, Duration=%.0fms)",
            function.name, label, (time.monotonic() - started) * 1000,
        )
        return result

    def _send_output(self, binding: Mapping[str, Any], value: Any) -> None:
        if value is None:
            return
        items = value if isinstance(value, (list, tuple)) else [value]
        client = self._queue_client(binding["connection"], binding["queueName"])
        for item in items:
            if isinstance(item, func.QueueMessage):
                item = item.get_body()
            if not isinstance(item, (str, bytes)):
                raise TypeError(
                    f"queue output {binding['name']!r} got {type(item).__name__}; set str, bytes or a list")
            self._send_wire(client, self.queue_options.encode(item))

    def send_message(
        self, queue_name: str, body: str | bytes, connection: str = "AzureWebJobsStorage"
    ) -> None:
        """Enqueue like an output binding: host.json's encoding, and the queue's poller woken at once."""
        self._send_wire(self._queue_client(connection, queue_name), self.queue_options.encode(body))

    def _send_wire(self, client: QueueClient, wire: str) -> None:
        try:
            client.send_message(wire)
        except ResourceNotFoundError:
            _create_queue(client)
            client.send_message(wire)
        for watch in self._watches:  # like the real host's SharedQueueWatcher
            if watch.queue_name == client.queue_name:
                watch.wake.set()

    # -- queue triggers -------------------------------------------------------------------------------

    def _poll(self, watch: _QueueWatch) -> None:
        options = self.queue_options
        backoff = _FIRST_BACKOFF
        while not self._stop.is_set():
            with self._lock:
                # Fetch the next batch once in-flight work drops to newBatchThreshold.
                while watch.in_flight > options.new_batch_threshold and not self._stop.is_set():
                    self._lock.wait(0.5)
            if self._stop.is_set():
                return
            try:
                messages = list(watch.client.receive_messages(
                    messages_per_page=options.batch_size, max_messages=options.batch_size,
                    visibility_timeout=LEASE_SECONDS,
                ))
            except ResourceNotFoundError:
                _create_queue(watch.client)
                messages = []
            except Exception:
                log.exception("Polling queue %s failed; backing off", watch.queue_name)
                messages = []
            if messages:
                backoff = _FIRST_BACKOFF
                with self._lock:
                    watch.in_flight += len(messages)
                    self._activity += 1
                for message in messages:
                    self._pool.submit(self._process, watch, message)
                continue
            watch.wake.wait(backoff * random.uniform(0.8, 1.0))
            if watch.wake.is_set():
                watch.wake.clear()
                backoff = _FIRST_BACKOFF
            else:
                backoff = min(backoff * 2, max(options.max_polling_interval, _FIRST_BACKOFF))

    def _process(self, watch: _QueueWatch, message: Any) -> None:
        options = self.queue_options
        client = watch.client
        try:
            try:
                body = options.decode(message.content)
            except (binascii.Error, ValueError):
                # The real host poisons undecodable messages at once (Azure/azure-sdk-for-net#18326).
                log.error("Message %s on %s is not %s; moving it to the poison queue",
                          message.id, watch.queue_name, "base64" if options.base64 else "UTF-8")
                self._poison(watch, message)
                return
            trigger_value = QueueMessage(
                id=message.id, body=body, pop_receipt=message.pop_receipt,
                dequeue_count=message.dequeue_count, insertion_time=message.inserted_on,
                expiration_time=message.expires_on, time_next_visible=message.next_visible_on,
            )
            label = f"queue={watch.queue_name}, id={message.id}, dequeue_count={message.dequeue_count}"
            try:
                self._invoke(watch.function, trigger_value, label)
            except Exception:
                if message.dequeue_count >= options.max_dequeue_count:
                    self._poison(watch, message)
                else:
                    client.update_message(message.id, pop_receipt=message.pop_receipt,
                                          visibility_timeout=int(options.visibility_timeout))
                return
            client.delete_message(message.id, message.pop_receipt)
        except Exception:
            # Storage failed while settling; the lease runs out and the message comes back.
            log.exception("Settling message %s on %s failed", message.id, watch.queue_name)
        finally:
            with self._lock:
                watch.in_flight -= 1
                self._activity += 1
                self._lock.notify_all()

    def _poison(self, watch: _QueueWatch, message: Any) -> None:
        poison = self._queue_client(watch.function.trigger["connection"], f"{watch.queue_name}-poison")
        self._send_wire(poison, message.content)  # already in the wire encoding
        watch.client.delete_message(message.id, message.pop_receipt)
        log.warning("Moved message %s from %s to %s after %s dequeues",
                    message.id, watch.queue_name, poison.queue_name, message.dequeue_count)

    # -- timers ---------------------------------------------------------------------------------------

    def _run_timer(self, function: Function) -> None:
        schedule = self._schedules[function.name]
        last: dt.datetime | None = None
        if function.trigger.get("runOnStartup"):
            self._fire_timer(function, past_due=False, last=None, upcoming=schedule.next_after(_now()))
            last = _now()
        due = schedule.next_after(_now())
        while not self._stop.wait(max(0.0, (due - _now()).total_seconds())):
            now = _now()
            upcoming = schedule.next_after(now)
            # Late by more than a whole period (e.g. the process was suspended) counts as past due.
            past_due = now >= schedule.next_after(due)
            self._fire_timer(function, past_due=past_due, last=last, upcoming=upcoming)
            last, due = now, upcoming

    def _fire_timer(self, function: Function, *, past_due: bool, last: dt.datetime | None,
                    upcoming: dt.datetime) -> None:
        status = {"Last": last.isoformat() if last else None, "Next": upcoming.isoformat(),
                  "LastUpdated": _now().isoformat()}
        request = TimerRequest(past_due=past_due, schedule_status=status,
                               schedule={"AdjustForDST": False})
        try:
            self._invoke(function, request, f"timer, past_due={past_due}")
        except Exception:
            pass  # already logged; timers do not retry, the next run is the next schedule

    def invoke_timer(self, function_name: str) -> None:
        """Run a timer function now, like Core Tools' ``POST /admin/functions/<name>``; raises its error."""
        function = self.functions[function_name]
        if function.trigger_type != "timerTrigger":
            raise ValueError(f"{function_name} is a {function.trigger_type}, not a timer")
        self._invoke(function, TimerRequest(past_due=False), "timer, manual")

    # -- blob triggers (Event Grid source) ------------------------------------------------------------

    def _blob_service(self, function: Function | None = None) -> BlobServiceClient:
        # Receipts live in the host's own storage (AzureWebJobsStorage), like the real host's.
        if function is None and "AzureWebJobsStorage" in self.settings:
            connection = "AzureWebJobsStorage"
        else:
            connection = (function or self._blob_functions[0]).trigger["connection"]
        with self._clients_lock:
            if connection not in self._blob_clients:
                url = self._connection(connection)
                self._blob_clients[connection] = BlobServiceClient.from_connection_string(url)
            return self._blob_clients[connection]

    def _receipts(self) -> Any:
        return self._blob_service().get_container_client(RECEIPTS_CONTAINER)

    def _receipt_name(self, key: tuple[str, str, str, str]) -> str:
        function, container, blob, etag = key
        return f"blobreceipts/{self.host_id}/{function}/{etag}/{container}/{blob}"

    def _load_receipts(self) -> None:
        try:
            self._receipts().create_container()
        except ResourceExistsError:
            pass
        prefix = f"blobreceipts/{self.host_id}/"
        for item in self._receipts().list_blobs(name_starts_with=prefix):
            function, etag, container, blob = item.name[len(prefix):].split("/", 3)
            self._blob_done.add((function, container, blob, etag))

    def _scan_blobs(self) -> None:
        while not self._stop.is_set():
            for function in self._blob_functions:
                container, _ = _blob_path(function)
                try:
                    blobs = list(self._blob_service(function).get_container_client(container).list_blobs())
                except ResourceNotFoundError:
                    continue
                except Exception:
                    log.exception("Scanning container %s failed", container)
                    continue
                for blob in blobs:
                    self._offer_blob(function, container, blob.name, blob.etag)
            self._stop.wait(self.blob_scan_interval)

    def emit_blob_created(self, container: str, name: str, api: str = "PutBlob") -> int:
        """Inject a BlobCreated event now; returns how many functions it was dispatched to."""
        if api not in COMPLETED_BLOB_APIS:
            log.info("Ignoring BlobCreated api=%s for %s/%s (not a completed write)", api, container, name)
            return 0
        dispatched = 0
        for function in self._blob_functions:
            if _blob_path(function)[0] != container:
                continue
            etag = self._blob_service(function).get_blob_client(container, name).get_blob_properties().etag
            dispatched += self._offer_blob(function, container, name, etag)
        return dispatched

    def _offer_blob(self, function: Function, container: str, name: str, etag: str) -> int:
        _, pattern = _blob_path(function)
        if not pattern.fullmatch(name):
            return 0
        key = (function.name, container, name, etag.strip('"'))
        with self._lock:
            if key in self._blob_done or key in self._blob_pending:
                return 0
            self._blob_pending.add(key)
            self._activity += 1
        self._pool.submit(self._process_blob, function, key)
        return 1

    def _process_blob(self, function: Function, key: tuple[str, str, str, str]) -> None:
        _, container, name, etag = key
        try:
            client = self._blob_service(function).get_blob_client(container, name)
            try:
                # This version only: a newer one gets its own event, as with Event Grid.
                download = client.download_blob(
                    etag=f'"{etag}"', match_condition=MatchConditions.IfNotModified)
                data = download.readall()
            except (ResourceNotFoundError, ResourceModifiedError):
                return  # deleted or replaced before we got to it
            props = download.properties
            properties = {"ETag": props.etag, "Length": props.size,
                          "ContentType": props.content_settings.content_type,
                          "LastModified": props.last_modified.isoformat()}
            # Retries follow at once; the real host spaces them through its internal queue.
            while True:
                stream = InputStream(data=data, name=f"{container}/{name}", uri=client.url, length=len(data),
                                     blob_properties=properties, metadata=dict(props.metadata or {}))
                try:
                    self._invoke(function, stream, f"blob={container}/{name}")
                    break
                except Exception:
                    self._blob_attempts[key] = self._blob_attempts.get(key, 0) + 1
                    if self._blob_attempts[key] >= self.poison_blob_threshold:
                        self._poison_blob(function, key)
                        break
            self._receipts().upload_blob(self._receipt_name(key), b"", overwrite=True)
            with self._lock:
                self._blob_done.add(key)
        except Exception:
            log.exception("Blob trigger %s on %s/%s could not settle", function.name, container, name)
        finally:
            with self._lock:
                self._blob_pending.discard(key)
                self._activity += 1

    def _poison_blob(self, function: Function, key: tuple[str, str, str, str]) -> None:
        _, container, name, etag = key
        body = json.dumps({"Type": "BlobTrigger", "FunctionId": f"Host.Functions.{function.name}",
                           "BlobType": "BlockBlob", "ContainerName": container, "BlobName": name,
                           "ETag": f'"{etag}"'})
        self.send_message(BLOB_POISON_QUEUE, body, function.trigger["connection"])
        log.warning("Blob %s/%s failed %s times in %s; wrote %s", container, name,
                    self.poison_blob_threshold, function.name, BLOB_POISON_QUEUE)

    # -- HTTP -----------------------------------------------------------------------------------------

    def handle_http(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Route one request to its function; returns (status, headers, body)."""
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        allowed: set[str] = set()
        for pattern, methods, function in self._routes:
            match = pattern.fullmatch(path)
            if not match:
                continue
            if methods and method not in methods:
                allowed |= methods
                continue
            params = {k: v for k, v in parse_qsl(url.query, keep_blank_values=True)}
            route_params = {k: v for k, v in match.groupdict().items() if v is not None}
            request = func.HttpRequest(method, f"{self.url}{target}", headers=dict(headers), params=params,
                                       route_params=route_params, body=body)
            try:
                result = self._invoke(function, request, f"http {method} {url.path}")
            except Exception:
                return 500, {}, b""
            return _response(result)
        if allowed:
            return 405, {"Allow": ", ".join(sorted(allowed))}, b""
        return 404, {}, b""


# -- indexing ---------------------------------------------------------------------------------------------


_INDEXED: weakref.WeakKeyDictionary[Any, list[Function]] = weakref.WeakKeyDictionary()


def _indexed(app: func.FunctionApp) -> list[Function]:
    # get_functions() works once per app: it remembers names and calls itself a duplicate the second time
    # (azure/functions/decorators/function_app.py, validate_function_names), so hosts share one index.
    if app not in _INDEXED:
        _INDEXED[app] = [_index(built) for built in app.get_functions()]
    return _INDEXED[app]


def _index(built: Any) -> Function:
    trigger = _plain(built.get_trigger().get_dict_repr())
    queue_outputs = []
    for binding in built.get_bindings():
        data = _plain(binding.get_dict_repr())
        if data is trigger or data["name"] == trigger["name"]:
            continue
        if data["type"] == "queue" and data["direction"] == "OUT":
            queue_outputs.append(data)
        elif data["type"] == "http" and data["name"] == "$return":
            pass
        else:
            raise NotImplementedError(
                f"local host does not support binding {data['type']!r} ({data['direction']}) "
                f"on function {built.get_function_name()}"
            )
    supported = ("httpTrigger", "queueTrigger", "timerTrigger", "blobTrigger")
    if trigger["type"] not in supported:
        raise NotImplementedError(f"local host does not run {trigger['type']} ({built.get_function_name()})")
    if trigger["type"] == "blobTrigger" and str(trigger.get("source")) != "EventGrid":
        raise NotImplementedError(
            f"{built.get_function_name()}: only blob triggers with source=EventGrid run locally (as on Flex)")
    user_function = built.get_user_function()
    wants_context = "context" in inspect.signature(user_function).parameters
    return Function(built.get_function_name(), user_function, trigger, queue_outputs, wants_context)


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    """Binding dicts hold enums; the host only needs their names/values."""
    def plain(value: Any) -> Any:
        if isinstance(value, list):
            return [plain(v) for v in value]
        if hasattr(value, "value") and hasattr(value, "name") and not isinstance(value, (str, int)):
            return value.name if isinstance(value.value, int) else value.value
        return value
    return {k: plain(v) for k, v in data.items()}


def _compile_route(prefix: str, function: Function) -> tuple[re.Pattern[str], set[str], Function]:
    route = str(function.trigger.get("route") or function.name).strip("/")
    parts = ([prefix] if prefix else []) + ([route] if route else [])
    regex = ""
    for segment in "/".join(parts).split("/"):
        whole = re.fullmatch(r"\{(\*?)(\w+)(?::[^}?]*)?(\??)\}", segment)
        if whole and whole.group(1):  # {*rest}: the rest of the path, possibly empty
            regex += rf"(?:/(?P<{whole.group(2)}>.*))?"
        elif whole and whole.group(3):  # {name?}: an optional segment
            regex += rf"(?:/(?P<{whole.group(2)}>[^/]+))?"
        else:
            pieces = re.split(r"(\{\w+(?::[^}]*)?\})", segment)
            regex += "/" + "".join(
                rf"(?P<{m.group(1)}>[^/]+?)" if (m := re.fullmatch(r"\{(\w+)(?::[^}]*)?\}", piece))
                else re.escape(piece)
                for piece in pieces
            )
    methods = {str(m).upper() for m in function.trigger.get("methods") or []}
    # ASP.NET routing, which the host uses, matches literals case-insensitively.
    return re.compile(regex or "/", re.IGNORECASE), methods, function


def _blob_path(function: Function) -> tuple[str, re.Pattern[str]]:
    container, _, rest = str(function.trigger["path"]).partition("/")
    pieces = re.split(r"(\{\w+\})", rest or "{name}")
    regex = "".join(rf"(?P<{p[1:-1]}>.+)" if re.fullmatch(r"\{\w+\}", p) else re.escape(p) for p in pieces)
    return container, re.compile(regex)


def _response(result: Any) -> tuple[int, dict[str, str], bytes]:
    if isinstance(result, func.HttpResponse):
        headers = dict(result.headers.items())
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = f"{result.mimetype}; charset={result.charset}"
        return result.status_code, headers, result.get_body() or b""
    if result is None:
        return 204, {}, b""
    if isinstance(result, (str, bytes)):
        body = result.encode("utf-8") if isinstance(result, str) else result
        return 200, {"Content-Type": "text/plain; charset=utf-8"}, body
    raise TypeError(f"HTTP function returned {type(result).__name__}, not func.HttpResponse")


def _handler_for(host: LocalHost) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes; with Nagle on, a keep-alive client waits out its delayed
        # ACK (~40 ms) on every answer. Kestrel sets TCP_NODELAY too.
        disable_nagle_algorithm = True

        def _handle(self) -> None:
            body = self._read_body()
            if body is None:
                # The real host never invokes the function: reading the body fails while it binds `req`,
                # and it answers 500 with no body, not 413 (Azure/azure-functions-host#10519, open;
                # HttpRequestBodySizeMiddleware sets Kestrel's MaxRequestBodySize from this setting). The
                # app keeps its own, lower limits so that a client meets a JSON 413 first.
                log.warning("HTTP %s %s: body over %s (%d bytes); answered 500 as the Functions host does",
                            self.command, self.path, BODY_LIMIT_SETTING, host.max_body_bytes)
                self.close_connection = True  # the rest of the body stays unread
                self._write(500, {}, b"")
                return
            try:
                status, headers, payload = host.handle_http(self.command, self.path, dict(self.headers), body)
            except Exception:
                log.exception("HTTP %s %s failed in the local host", self.command, self.path)
                status, headers, payload = 500, {}, b""
            self._write(status, headers, payload)

        def _read_body(self) -> bytes | None:
            """The request body, or None when it is over the limit."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks, size = [], 0
                while (length := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                    size += length
                    if size > host.max_body_bytes:
                        return None
                    chunks.append(self.rfile.read(length))
                    self.rfile.readline()  # the CRLF after each chunk
                while self.rfile.readline().strip():  # trailers, up to the empty line
                    pass
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            if length > host.max_body_bytes:
                return None
            return self.rfile.read(length) if length else b""

        def _write(self, status: int, headers: Mapping[str, str], payload: bytes) -> None:
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = ""
            self.send_response(status, phrase)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        # Kestrel routes any method; one the function does not declare gets 405 from handle_http.
        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = do_QUERY = _handle

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("HTTP " + format, *args)

    return Handler


def _approximate_count(client: QueueClient) -> int:
    try:
        return int(client.get_queue_properties().approximate_message_count or 0)
    except ResourceNotFoundError:
        return 0


def _create_queue(client: QueueClient) -> None:
    try:
        client.create_queue()
    except ResourceExistsError:
        pass


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
