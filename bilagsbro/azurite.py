"""Azurite, the Azure Storage emulator, started on free ports so local runs and tests never collide.

Azurite is a Node tool pinned in ``package.json`` (``npm ci`` installs it into ``node_modules``). Flags are
from https://github.com/Azure/Azurite#command-line-options; ``UseDevelopmentStorage=true`` is hard-wired
to ports 10000-10002, so we build the full connection string with the well-known dev account instead.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ACCOUNT_NAME = "devstoreaccount1"
# The published, well-known Azurite/Storage Emulator key; not a secret.
# https://learn.microsoft.com/azure/storage/common/storage-use-azurite#http-connection-strings
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

PROJECT_ROOT = Path(__file__).resolve().parents[1]

_START_TIMEOUT_SECONDS = 30.0

_running: set[Azurite] = set()
_running_lock = threading.Lock()


class AzuriteNotInstalled(RuntimeError):
    """``node_modules/.bin/azurite`` is missing: run ``npm ci`` in the project root."""


def find_azurite(project_root: Path = PROJECT_ROOT) -> Path:
    """The Azurite launcher installed by ``npm ci``, or ``AzuriteNotInstalled`` saying how to get it."""
    binary = Path(project_root) / "node_modules" / ".bin" / "azurite"
    if not binary.exists():
        raise AzuriteNotInstalled(
            f"Azurite not found at {binary}: run `npm ci` in {project_root} (package.json pins azurite)"
        )
    return binary


def connection_string(blob_port: int, queue_port: int, table_port: int, host: str = "127.0.0.1") -> str:
    """A full connection string for the dev account on the given ports."""
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://{host}:{blob_port}/{ACCOUNT_NAME};"
        f"QueueEndpoint=http://{host}:{queue_port}/{ACCOUNT_NAME};"
        f"TableEndpoint=http://{host}:{table_port}/{ACCOUNT_NAME};"
    )


def reachable(connection_string: str, timeout: float = 0.5) -> bool:
    """True when every ``*Endpoint`` (or the dev-storage defaults) in the string accepts a TCP connection."""
    if "usedevelopmentstorage=true" in connection_string.replace(" ", "").lower():
        addresses = [("127.0.0.1", port) for port in (10000, 10001, 10002)]
    else:
        addresses = []
        for part in connection_string.split(";"):
            key, _, value = part.partition("=")
            if key.strip().lower().endswith("endpoint") and value:
                url = urlsplit(value.strip())
                if url.hostname:
                    addresses.append((url.hostname, url.port or (443 if url.scheme == "https" else 80)))
    if not addresses:
        return False
    return all(_accepts(host, port, timeout) for host, port in addresses)


def _accepts(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _free_ports(count: int) -> list[int]:
    # Hold all sockets open until every port is chosen, so the three differ.
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Azurite:
    """A running Azurite child process; ``stop()`` (or leaving the ``with`` block) kills its process group."""

    def __init__(self, process: subprocess.Popen[bytes], ports: tuple[int, int, int], output: Path) -> None:
        self.process = process
        self.blob_port, self.queue_port, self.table_port = ports
        self.output_path = output
        self.connection_string = connection_string(*ports)

    def output(self) -> str:
        """What Azurite printed so far (for error messages)."""
        try:
            return self.output_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        with _running_lock:
            _running.discard(self)
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.output_path.unlink(missing_ok=True)

    def __enter__(self) -> Azurite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_azurite(
    *, location: Path | None = None, in_memory: bool = False, project_root: Path = PROJECT_ROOT
) -> Azurite:
    """Start Azurite on three free loopback ports and wait until all accept connections.

    A free port is only free until someone binds it: when another process (a parallel test worker, say) takes
    one of ours between our choice and Azurite's bind, Azurite exits with EADDRINUSE and we try fresh ports.
    """
    if in_memory and location is not None:
        raise ValueError("Azurite rejects --inMemoryPersistence together with --location; pick one")
    binary = find_azurite(project_root)
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        try:
            return _start(binary, location=location, in_memory=in_memory)
        except _PortTaken:
            if attempt == _PORT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


_PORT_ATTEMPTS = 5


class _PortTaken(RuntimeError):
    """Azurite could not bind a port we chose: another process took it first."""


def _start(binary: Path, *, location: Path | None, in_memory: bool) -> Azurite:
    ports = tuple(_free_ports(3))
    args = [
        str(binary),
        "--blobHost", "127.0.0.1", "--blobPort", str(ports[0]),
        "--queueHost", "127.0.0.1", "--queuePort", str(ports[1]),
        "--tableHost", "127.0.0.1", "--tablePort", str(ports[2]),
        # Newer SDKs send API versions Azurite does not know yet; telemetry phones home by default.
        "--skipApiVersionCheck", "--disableTelemetry", "--loose", "--silent",
    ]
    if in_memory:
        args.append("--inMemoryPersistence")
    else:
        folder = Path(location) if location is not None else Path(tempfile.mkdtemp(prefix="azurite-"))
        folder.mkdir(parents=True, exist_ok=True)
        args += ["--location", str(folder)]
    fd, output_name = tempfile.mkstemp(prefix="azurite-", suffix=".log")
    with os.fdopen(fd, "wb") as output_file:
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=output_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() also ends node's children
        )
    azurite = Azurite(process, ports, Path(output_name))  # type: ignore[arg-type]
    with _running_lock:
        _running.add(azurite)
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            text = azurite.output()
            azurite.stop()
            if "EADDRINUSE" in text:
                raise _PortTaken(text)
            raise RuntimeError(f"Azurite exited with {process.returncode} while starting:\n{text}")
        # All three answer, and it is Azurite that answers: not a process that took one of our ports.
        if reachable(azurite.connection_string, timeout=0.2) and process.poll() is None:
            return azurite
        if time.monotonic() > deadline:
            text = azurite.output()
            azurite.stop()
            seconds = _START_TIMEOUT_SECONDS
            raise TimeoutError(f"Azurite not listening on {ports} after {seconds:.0f} s:\n{text}")
        time.sleep(0.05)


@atexit.register
def _stop_all() -> None:
    with _running_lock:
        running = list(_running)
    for azurite in running:
        azurite.stop()
