"""Leases renewed while work runs: one thread per process keeps every held lease alive.

A stage that runs long (a big file, a delivery waiting out 429s) must keep saying "I am alive", or
the sweeper and the idempotency ledger take it for dead and let someone else start over. Work that
finishes within `after` seconds never renews anything, so short stages cost no storage operation.
A renewal is a callable that returns False once the lease is lost (someone else holds it now).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

log = logging.getLogger("bilagsbro.pipeline")
TICK = 0.25  # seconds between looks at the held leases


@dataclass(eq=False)
class Held:
    """One lease being kept: `lost` turns True when a renewal says someone else has it."""

    renew: Callable[[], bool]
    every: float
    due: float
    what: str
    lost: bool = False
    failures: int = 0
    renewals: int = 0
    _busy: bool = field(default=False, repr=False)


class Keeper:
    """Renews held leases from one daemon thread, started on first use."""

    def __init__(self, tick: float = TICK) -> None:
        self.tick = tick
        self._held: set[Held] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def hold(self, renew: Callable[[], bool], *, after: float, every: float, what: str = "") -> Iterator[Held]:
        """Renew with `renew` after `after` seconds and then every `every` seconds, until the block ends."""
        held = Held(renew, every, time.monotonic() + after, what)
        with self._lock:
            self._held.add(held)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="bilagsbro-leases", daemon=True)
                self._thread.start()
        try:
            yield held
        finally:
            with self._lock:
                self._held.discard(held)

    def _run(self) -> None:
        while True:
            time.sleep(self.tick)
            now = time.monotonic()
            with self._lock:
                due = [h for h in self._held if h.due <= now and not h.lost and not h._busy]
                for held in due:
                    held._busy = True
            for held in due:
                self._renew(held)

    def _renew(self, held: Held) -> None:
        try:
            ok = held.renew()
        except Exception:  # storage trouble: try again soon; the lease itself says how long we have
            held.failures += 1
            log.warning("could not renew the lease on %s (%d failures)", held.what, held.failures, exc_info=True)
            held.due = time.monotonic() + min(held.every, 2.0)
        else:
            held.renewals += 1
            held.lost = held.lost or not ok
            held.due = time.monotonic() + held.every
            if held.lost:
                log.warning("lost the lease on %s: someone else holds it now", held.what)
        finally:
            held._busy = False


KEEPER = Keeper()
