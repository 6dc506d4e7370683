"""Golden files for every file format in the registry: each `<case>.<ext>` in `tests/sources/<format>/` parses to
exactly `<case>.expected.json` (with `<case>.options.json` as the tenant's options where present).

The formats come from `connectors.CONNECTORS`, so a format registered without golden files fails
`test_every_registered_format_has_golden_files`. Regenerate with `UPDATE_GOLDEN=1 pytest
tests/sources/test_golden.py`, then read the diff by hand.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import connectors
from connectors.sources.options import TabularOptions
from pipeline import descriptors
from pipeline.descriptors import FormatDescriptor
from pipeline.errors import Problem

HERE = Path(__file__).parent
FORMATS = descriptors.formats(connectors.CONNECTORS)
TABULAR = {name: d for name, d in FORMATS.items() if issubclass(d.settings, TabularOptions)}


def folder(name: str) -> Path:
    return HERE / name.replace("-", "_")


def _cases(name: str) -> list[Path]:
    if not folder(name).is_dir():
        return []
    return sorted(path for path in folder(name).iterdir() if path.is_file()
                  and not path.name.endswith((".expected.json", ".options.json", ".py")))


CASES = [(name, path) for name in sorted(FORMATS) for path in _cases(name)]
TABULAR_CASES = [(name, path) for name, path in CASES if name in TABULAR]


def test_every_registered_format_has_golden_files() -> None:
    missing = [name for name in FORMATS if not _cases(name)]
    assert missing == [], f"add tests/sources/{{format}}/<case>.<ext> and <case>.expected.json for {missing}"


def test_the_golden_folders_belong_to_registered_formats() -> None:
    folders = {p.name for p in HERE.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert folders <= {folder(name).name for name in FORMATS}, "a folder of golden files for no registered format"


def _run(descriptor: FormatDescriptor, path: Path) -> dict[str, list[dict[str, Any]]]:
    options_path = path.with_name(path.stem + ".options.json")
    options = json.loads(options_path.read_text("utf-8")) if options_path.exists() else {}
    documents: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    with path.open("rb") as data:
        for item in descriptor.parse(data, file_name=path.name, options=options):
            if isinstance(item, Problem):
                problems.append(item.as_dict())
            else:
                documents.append(item.model_dump(mode="json", exclude_none=True))
    return {"documents": documents, "problems": problems}


@pytest.mark.parametrize(("name", "path"), CASES, ids=[f"{n}/{p.name}" for n, p in CASES])
def test_golden(name: str, path: Path) -> None:
    result = _run(FORMATS[name], path)
    expected_path = path.with_name(path.stem + ".expected.json")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    assert expected_path.exists(), f"{expected_path.name} missing: run with UPDATE_GOLDEN=1 and check it"
    assert result == json.loads(expected_path.read_text("utf-8"))


@pytest.mark.parametrize(("name", "path"), CASES, ids=[f"{n}/{p.name}" for n, p in CASES])
def test_the_options_of_every_case_are_valid_options_of_its_format(name: str, path: Path) -> None:
    """What the golden files run with is what the admin API would accept for the format (its model)."""
    options_path = path.with_name(path.stem + ".options.json")
    options = json.loads(options_path.read_text("utf-8")) if options_path.exists() else {}
    FORMATS[name].settings.read(options, strict=True, prefix="options")


@pytest.mark.parametrize(("name", "path"), TABULAR_CASES, ids=[f"{n}/{p.name}" for n, p in TABULAR_CASES])
def test_sniff_recognises_its_own_files(name: str, path: Path) -> None:
    head = path.read_bytes()[:4096]
    assert TABULAR[name].sniff(head, path.name)
    assert not any(d.sniff(head, path.name) for n, d in TABULAR.items() if n != name)
