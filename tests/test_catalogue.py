"""The README's table of systems and formats is the registry's: generated, and a test fails when it is stale."""

from __future__ import annotations

from pathlib import Path

import pytest

import connectors
from connectors.catalogue import END, START, markdown, refresh

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_table_is_generated_from_the_registry_and_current() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert readme.count(START) == 1 and readme.count(END) == 1
    assert refresh(readme, connectors.CONNECTORS) == readme, (
        "README.md's connectors section is stale: python -m connectors.catalogue --write README.md")


def test_every_connector_is_in_the_table_and_its_guide_exists() -> None:
    table = markdown(connectors.CONNECTORS)
    for name, descriptor in connectors.CONNECTORS.items():
        assert f"`{name}`" in table and descriptor.title in table
        if descriptor.guide:
            assert (ROOT / descriptor.guide).is_file(), descriptor.guide


def test_a_stale_table_would_be_caught() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    stale = readme.replace("| `tripletex` |", "| `tripletx` |")
    assert refresh(stale, connectors.CONNECTORS) != stale
    with pytest.raises(ValueError, match="connectors:start"):
        refresh("no markers here", connectors.CONNECTORS)
