"""What every test process shares, so that the suite can run on every core (`make test`: pytest-xdist, `-n auto`).

Each xdist worker is its own process with its own session fixtures: its own Azurite (free ports, chosen again if
another process takes one first: bilagsbro/azurite.py), local hosts and sandboxes on port 0, its own chromium, and
`tmp_path` under its own base directory. What is left to share by a fixed name is the operator's home
(BILAGSBRO_HOME, by default `.bilagsbro` in the checkout, where `bilagsbro serve` records its stack): each test
process gets its own here, before anything reads it, so no test and no CLI it starts can meet another worker's
stack or secrets there.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_HOME_SET_HERE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    if "BILAGSBRO_HOME" in os.environ:
        return  # the operator chose one: keep it (one process at a time is then theirs to ensure)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    home = tempfile.mkdtemp(prefix=f"bilagsbro-home-{worker}-")
    os.environ["BILAGSBRO_HOME"] = home
    _HOME_SET_HERE.append(home)


def pytest_unconfigure(config: pytest.Config) -> None:
    for home in _HOME_SET_HERE:
        os.environ.pop("BILAGSBRO_HOME", None)
        shutil.rmtree(home, ignore_errors=True)
    _HOME_SET_HERE.clear()


@pytest.hookimpl(trylast=True)  # after pytest's own grouping by fixture scope, which would move them back
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `long` (minutes each) go first, in their collected order, so that they run beside the rest
    instead of after it: the suite ends when its last long test does. The longest first (`long(minutes=N)`)."""
    def minutes(item: pytest.Item) -> float:
        marker = item.get_closest_marker("long")
        return -1.0 if marker is None else float(marker.kwargs.get("minutes", 1))

    items[:] = sorted(items, key=lambda item: -minutes(item))
