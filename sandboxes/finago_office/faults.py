"""Misbehaviour on demand for the Finago Office sandbox, by SOAP operation: throttling, an unavailable server, a
commit answered with a fault, a timeout after the commit, a session that ended, a slow answer."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

# "429": the quota fault (24SevenOffice throttles with a fault, not HTTP 429 [unverified]); "503": a plain 503 from
# in front of the service; "commit_then_500": saved, then a soap:Server fault; "timeout": no answer in time (after
# saving, or with commit=False before); "session_expired": the session ends before the call; "slow": answers late.
KINDS = ("429", "503", "commit_then_500", "timeout", "session_expired", "slow")


@dataclass
class Fault:
    operation: str
    kind: str
    times: int
    commit: bool = True
    chance: float = 1.0


@dataclass
class Faults:
    """`sandbox.faults.add("SaveBundleList", "commit_then_500", times=1)`: fire in the order added, each `times`
    times; with `chance` below 1 on that share of the matching calls (drawn from `seed`)."""

    timeout_seconds: float = 2.0
    slow_seconds: float = 1.0
    quarantine_seconds: float = 1.0  # how far ahead an injected quota fault's "Quarantine ends at" lies
    seed: int = 9
    active: list[Fault] = field(default_factory=list)
    fired: list[tuple[str, str]] = field(default_factory=list)  # (kind, operation)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _draws: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._draws.seed(self.seed)

    def add(self, operation: str, kind: str, *, times: int = 1, commit: bool = True, chance: float = 1.0) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {KINDS}")
        with self._lock:
            self.active.append(Fault(operation, kind, times, commit, chance))

    def clear(self) -> None:
        with self._lock:
            self.active.clear()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._draws.seed(seed)

    def take(self, operation: str) -> Fault | None:
        with self._lock:
            for fault in self.active:
                if fault.operation == operation and fault.times > 0:
                    if fault.chance < 1.0 and self._draws.random() >= fault.chance:
                        continue
                    fault.times -= 1
                    self.fired.append((fault.kind, operation))
                    return fault
        return None
