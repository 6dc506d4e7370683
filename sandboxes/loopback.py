"""The life cycle every sandbox shares: its HTTP server on loopback, in a thread of its own, started and stopped.

A sandbox binds its request handler to itself (a `Handler` subclass made in its `start`) and hands it to `_serve`;
this module does the rest, once: the port (0 picks a free one), daemon threads that never hold up the test run, a
client that hangs up mid-answer logged as nothing (a timeout test does it on purpose), shutting down and closing
the socket, and `with Sandbox() as box:`.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print a traceback when the client has gone (ConnectionError)."""

    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Loopback:
    """Mixin for a sandbox: `self._address` (host, port) is set by its __init__; its `start` calls `_serve`."""

    _address: tuple[str, int]
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        raise NotImplementedError  # each sandbox binds its handler to itself, then calls _serve

    def _serve(self, handler: type[BaseHTTPRequestHandler], *, name: str,
               server: type[ThreadingHTTPServer] = QuietServer) -> None:
        self._server = server(self._address, handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=name, daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        """`http://host:port` of the running server."""
        assert self._server is not None, "start() the sandbox first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
