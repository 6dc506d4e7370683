"""Misbehaviour on demand for the Visma.net sandbox: a rate limit, an outage, a commit answered 500, a lost answer.

`sandbox.faults.add(r"^/v2/journaltransaction$", "POST", "commit_then_500", times=1)`: the regex is searched in the
request's path, faults fire in the order added, each `times` times; with `chance` below 1 a fault fires on that share
of the matching requests (drawn from `seed`) until it has fired `times` times.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

KINDS = ("429", "503", "commit_then_500", "timeout")


@dataclass
class Fault:
    path: re.Pattern[str]
    method: str
    kind: str
    times: int
    chance: float = 1.0


@dataclass
class Faults:
    timeout_seconds: float = 2.0  # how long a "timeout" stalls after committing: longer than the client waits
    reset_seconds: int = 1  # Retry-After on an injected 429
    seed: int = 9
    active: list[Fault] = field(default_factory=list)
    fired: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, method, path)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _draws: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._draws.seed(self.seed)

    def add(self, path_regex: str, method: str, kind: str, *, times: int = 1, chance: float = 1.0) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {KINDS}")
        with self._lock:
            self.active.append(Fault(re.compile(path_regex), method.upper(), kind, times, chance))

    def clear(self) -> None:
        with self._lock:
            self.active.clear()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._draws.seed(seed)

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.active:
                if fault.method == method and fault.path.search(path) and fault.times > 0:
                    if fault.chance < 1.0 and self._draws.random() >= fault.chance:
                        continue
                    fault.times -= 1
                    self.fired.append((fault.kind, method, path))
                    return fault
        return None
