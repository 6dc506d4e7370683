"""A real browser for the tests that a person's clicks drive: headless Debian chromium under Python Playwright.

Playwright is pointed at the system's chromium (`executable_path`); `playwright install` is never run (it downloads
a browser). `make setup` installs Debian's chromium where /usr/bin/chromium is missing. Without a browser these
tests skip, saying why — except in CI (CI=true), where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    given = os.environ.get("BILAGSBRO_CHROMIUM")
    for candidate in (given, "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}: CI must run the browser tests (make setup installs Debian's chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the session."""
    executable = chromium_path()
    if executable is None:
        _unavailable("no chromium at /usr/bin/chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Python Playwright is not installed (requirements-dev.txt)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (its own cookies) and page per test."""
    context = browser.new_context(locale="nb-NO")
    context.set_default_timeout(30_000)  # a bound for a loaded machine, not a measurement
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The local stack (Azurite + the local Functions host running function_app.py), as tests/e2e has it."""
    from bilagsbro.azurite import AzuriteNotInstalled, find_azurite

    try:
        find_azurite()
    except AzuriteNotInstalled as exc:
        pytest.skip(f"Azurite is not installed ({exc}); `make test` installs it with npm ci")
    from bilagsbro.stack import local_stack, stores_for

    data = tmp_path_factory.mktemp("browser-stack")
    host_json = json.loads((ROOT / "host.json").read_text("utf-8"))
    (data / "host.json").write_text(json.dumps(host_json), "utf-8")
    environment = dict(os.environ)  # the stack puts its settings in the environment: later packages start their own
    try:
        with local_stack(0, data_dir=data, in_memory=True, record=False, host_json=data / "host.json") as host:
            host.stores = stores_for(host.settings["BILAGSBRO_STORAGE"], data)
            yield host
    finally:
        os.environ.clear()
        os.environ.update(environment)
