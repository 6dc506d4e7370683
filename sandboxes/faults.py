"""Misbehaviour on demand for every sandbox: a fault fires on the next matching requests, then the server goes on.

    sandbox.faults.add(r"^/ledger/voucher$", "POST", "commit_then_500", times=1)

Kinds: "429" and "503" (refused, nothing committed), "401" (the session or token is refused), "commit_then_500"
(committed, then answered 500), "timeout" (committed — or not, `commit=False` — then no answer within the
client's timeout), "slow" (answered normally after `slow_seconds`). Each sandbox decides what its 429 and 503
look like; this only says which request gets which.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

FAULT_KINDS = ("commit_then_500", "timeout", "429", "503", "401", "slow")


@dataclass
class Fault:
    path: re.Pattern[str]
    method: str
    kind: str
    times: int
    commit: bool = True  # for "timeout": store the voucher before stalling (True) or not (False)
    chance: float = 1.0  # each matching request draws: the fault fires with this probability


@dataclass
class Faults:
    """Misbehaviour on demand: `sandbox.faults.add(r"^/ledger/voucher$", "POST", "commit_then_500", times=1)`.

    The regex is searched in the path after the API's root (`/v2`, `/api/v2`); faults fire in the order added,
    each `times` times.
    With `chance` below 1 a fault fires on that share of the matching requests (drawn from `seed`),
    until it has fired `times` times. "slow" answers normally, after `slow_seconds`.
    """

    timeout_seconds: float = 2.0  # how long a "timeout" stalls: longer than the client's timeout
    reset_seconds: int = 1  # X-Rate-Limit-Reset and Retry-After on injected 429s
    slow_seconds: float = 1.0  # how long a "slow" answer takes (shorter than the client's timeout)
    seed: int = 9
    active: list[Fault] = field(default_factory=list)
    fired: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, method, path)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _draws: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._draws.seed(self.seed)

    def add(self, path_regex: str, method: str, kind: str, *, times: int = 1, commit: bool = True,
            chance: float = 1.0) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {FAULT_KINDS}")
        with self._lock:
            self.active.append(Fault(re.compile(path_regex), method.upper(), kind, times, commit, chance))

    def clear(self) -> None:
        with self._lock:
            self.active.clear()

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
