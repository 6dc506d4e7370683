"""Shared pieces of the Omnium tests: the fixed moment they run at, a movable clock, a recording inbox."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)  # a Wednesday; the seed covers the week before
START = NOW - dt.timedelta(days=30)


class Clock:
    """The sandbox's notion of now; tests move it instead of sleeping."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


class Inbox:
    """What `receive` would store and enqueue; can be told to crash on its n-th batch."""

    def __init__(self, crash_on: int | None = None) -> None:
        self.batches: list[list[dict]] = []
        self.crash_on = crash_on
        self._lock = threading.Lock()

    def __call__(self, batch: list[dict]) -> None:
        with self._lock:
            if self.crash_on is not None and len(self.batches) + 1 == self.crash_on:
                self.crash_on = None
                raise RuntimeError("receive crashed before storing the batch")
            self.batches.append(batch)

    @property
    def orders(self) -> list[dict]:
        return [order for batch in self.batches for order in batch]

    def versions(self) -> Counter[tuple[str, str]]:
        return Counter((o["id"], o["modified"]) for o in self.orders)
