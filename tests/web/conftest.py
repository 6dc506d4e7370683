"""argon2id at a lower cost in these tests (the same algorithm and code path; the cost is what makes it slow), so
the lockout and throttling tests, which sign in dozens of times, take seconds."""

from __future__ import annotations

import pytest

from workspace import identity


@pytest.fixture(autouse=True)
def cheaper_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identity, "COST", {"time_cost": 1, "memory_cost": 8 * 1024, "parallelism": 1})
    monkeypatch.setattr(identity, "_DUMMY", [])
