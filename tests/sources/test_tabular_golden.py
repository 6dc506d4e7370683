"""Golden files for the tabular sources: each `<case>.<ext>` parses to exactly `<case>.expected.json`.

Regenerate with `UPDATE_GOLDEN=1 pytest tests/sources/test_tabular_golden.py`, then read the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from connectors.sources import gbat10, sie4, visma_business, visma_global
from pipeline.errors import Problem

HERE = Path(__file__).parent
FORMATS = {"gbat10": gbat10, "visma_business": visma_business, "visma_global": visma_global, "sie4": sie4}
CASES = sorted(
    (name, path) for name in FORMATS for path in (HERE / name).iterdir()
    if path.is_file() and not path.name.endswith(".json")
)


def _run(module: Any, path: Path) -> dict[str, list[dict[str, Any]]]:
    options_path = path.with_name(path.stem + ".options.json")
    options = json.loads(options_path.read_text("utf-8")) if options_path.exists() else {}
    documents: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    with path.open("rb") as data:
        for item in module.parse(data, file_name=path.name, options=options):
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
def test_sniff_recognises_its_own_files(name: str, path: Path) -> None:
    head = path.read_bytes()[:4096]
    assert FORMATS[name].sniff(head, path.name)
    assert not any(m.sniff(head, path.name) for n, m in FORMATS.items() if n != name)
