"""Golden files for every file source: each `<case>.<ext>` parses to exactly `<case>.expected.json`
(with `<case>.options.json` as the tenant's options where present).

Regenerate with `UPDATE_GOLDEN=1 pytest tests/sources/test_golden.py`, then read the diff by hand.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from connectors.sources import gbat10, saft_cash_register, saft_financial, sie4, visma_business, visma_global
from pipeline.errors import Problem

HERE = Path(__file__).parent
TABULAR = {"gbat10": gbat10, "visma_business": visma_business, "visma_global": visma_global, "sie4": sie4}
FORMATS = {**TABULAR, "saft_cash_register": saft_cash_register, "saft_financial": saft_financial}
CASES = sorted(
    (name, path) for name in FORMATS for path in (HERE / name).iterdir()
    if path.is_file() and not path.name.endswith((".json", ".py"))
)
TABULAR_CASES = [(name, path) for name, path in CASES if name in TABULAR]


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


@pytest.mark.parametrize(("name", "path"), TABULAR_CASES, ids=[f"{n}/{p.name}" for n, p in TABULAR_CASES])
def test_sniff_recognises_its_own_files(name: str, path: Path) -> None:
    head = path.read_bytes()[:4096]
    assert TABULAR[name].sniff(head, path.name)
    assert not any(m.sniff(head, path.name) for n, m in TABULAR.items() if n != name)
