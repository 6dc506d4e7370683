"""A real Azurite for the local host's tests (CI runs `npm ci` first, which installs it)."""

from collections.abc import Iterator

import pytest

from bilagsbro.azurite import PROJECT_ROOT, Azurite, AzuriteNotInstalled, find_azurite, start_azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    try:
        find_azurite(PROJECT_ROOT)
    except AzuriteNotInstalled as missing:
        pytest.skip(f"node_modules/.bin/azurite absent ({missing})")
    with start_azurite(in_memory=True) as running:
        yield running
