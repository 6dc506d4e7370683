"""The local host in a child process (`bilagsbro serve`), so that crash tests and bench/chaos.py can
kill it with SIGKILL mid-flight and start it again on the same storage, as a real host dies and comes back.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from bilagsbro.azurite import PROJECT_ROOT
from pipeline.records import names

_URL = re.compile(r"local stack on (http://127\.0\.0\.1:\d+)/api")


class HostProcess:
    """`bilagsbro serve` on `storage`, with its secrets and logs under `home`."""

    def __init__(self, home: Path, storage: str, env: Mapping[str, str] | None = None,
                 host_json: Path | None = None) -> None:
        self.home, self.storage, self.host_json = home, storage, host_json
        self.env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.starts = 0

    def start(self, timeout: float = 60.0, **env: str) -> str:
        """Start it (extra `env` for this run only, e.g. a fault hook); returns its base URL."""
        self.starts += 1
        out = self.home / f"host-{self.starts}.out"
        self.log = self.home / f"host-{self.starts}.log"
        child_env = {**os.environ, names.STORAGE_CONNECTION: self.storage, "BILAGSBRO_HOME": str(self.home),
                     "PYTHONUNBUFFERED": "1", **self.env, **env}
        with open(out, "wb") as stdout, open(self.log, "wb") as stderr:
            host_json = ["--host-json", str(self.host_json)] if self.host_json else []
            self.process = subprocess.Popen([sys.executable, "-m", "bilagsbro", "serve", "--port", "0", *host_json],
                                            cwd=PROJECT_ROOT, env=child_env, stdout=stdout, stderr=stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (found := _URL.search(out.read_text("utf-8", errors="replace"))) is not None:
                self.url = found.group(1)
                return self.url
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"the host did not start (exit {self.process.poll()}): "
                           f"{self.log.read_text('utf-8', errors='replace')[-2000:]}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_dead(self, timeout: float = 30.0) -> int:
        """Wait for the process to end (a fault hook kills it); its exit status (-9 for SIGKILL)."""
        assert self.process is not None
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no output bindings, messages left invisible — a host that died."""
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self, grace: float = 30.0) -> None:
        """Ctrl+C, as an operator stops it; SIGKILL if it does not stop within `grace` seconds (an invocation
        may be waiting out a dead claim's lease, which a stopping host lets finish)."""
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
