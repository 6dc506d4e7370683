"""The shape STYLE.md promises: pipeline/ never reaches for connectors/ or azure.functions, nor for the HTTP API
and the pages that sit on it; api/ and workspace/ reach connectors only through the registry they are handed."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("connectors", "azure.functions", "azure", "bilagsbro", "sandboxes", "function_app")
ABOVE_THE_DOMAIN = ("api", "workspace")  # the HTTP API and the pages sit on pipeline/, never under it


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def test_pipeline_imports_neither_connectors_nor_azure_functions():
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "pipeline").rglob("*.py"))
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN + ABOVE_THE_DOMAIN)
    ]
    assert offenders == []


def test_the_http_api_reaches_connectors_only_through_the_registry_it_is_handed():
    """api/ holds the HTTP handlers beside function_app.py: plain functions that function_app.py names directly."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "api").rglob("*.py"))
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN + ("workspace",))
    ]
    assert offenders == []


def test_the_workspace_reaches_connectors_only_through_the_registry_it_is_handed():
    """The workspace's pages call pipeline code, as the API does; function_app.py hands them the registry."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "workspace").rglob("*.py"))
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert offenders == []


def test_the_check_would_catch_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import azure.functions as func\nfrom connectors.targets import file\n")
    assert _imports(bad) == ["azure.functions", "connectors.targets"]


def test_every_module_says_why_it_exists():
    missing = [
        str(path.relative_to(ROOT))
        for folder in ("pipeline", "api", "connectors", "bilagsbro", "sandboxes", "workspace")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.stat().st_size > 0 and ast.get_docstring(ast.parse(path.read_text("utf-8"))) is None
    ]
    assert missing == []
