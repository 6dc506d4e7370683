"""A one-line progress bar on stderr for long work: drawn only on a terminal, gone when the work is done.

Redrawn at most ten times a second, so that a loop can report every item; written to a terminal only
(a pipe or a log file gets none of it), and erased at the end, leaving the terminal as it was.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 24


class Progress:
    """Bytes read of a file of `total` bytes, with counts of what came of them."""

    def __init__(self, total: int, *, stream: TextIO | None = None, interval: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.shown = _terminal(self.stream)
        self.total, self.interval = max(total, 1), interval
        self.started = self._drawn = time.monotonic()
        self.done = 0
        if self.shown:
            self._draw(0, 0, 0)

    def update(self, done: int, documents: int, problems: int) -> None:
        """Say where the work is; cheap enough to call for every item."""
        self.done = done
        if self.shown and time.monotonic() - self._drawn >= self.interval:
            self._draw(done, documents, problems)

    def close(self) -> None:
        """Erase the bar."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def _draw(self, done: int, documents: int, problems: int) -> None:
        self._drawn = now = time.monotonic()
        share = min(done / self.total, 1.0)
        filled = int(share * WIDTH)
        rate = done / 1_000_000 / max(now - self.started, 1e-9)
        self.stream.write(f"\r\x1b[K[{'#' * filled}{'.' * (WIDTH - filled)}] {share:4.0%}  {done / 1_000_000:.1f}"
                          f"/{self.total / 1_000_000:.1f} MB  {rate:.1f} MB/s  {documents} vouchers  "
                          f"{problems} problems")
        self.stream.flush()


def _terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream: no bar
        return False
