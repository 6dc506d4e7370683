"""checkov's built-in Bicep policies pass on infra/ (skips listed with reasons in infra/.checkov.yaml).

checkov lives in its own virtualenv (it pins pycep-parser 0.5.1 and an old `packaging`), created by
infra/check.sh; this test runs that script when the venv exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("CHECKOV_VENV", ROOT / ".venv-checkov"))


needs_checkov = pytest.mark.skipif(
    not (VENV / "bin" / "checkov").exists(),
    reason=f"checkov not installed in {VENV}: run infra/check.sh once (it installs checkov==3.3.30)")


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(root / "infra" / "check.sh")], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "CHECKOV_VENV": str(VENV)}, timeout=300)


@needs_checkov
def test_checkov_passes_on_infra() -> None:
    result = check(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "'failed': 0" in result.stdout and "'parsing_errors': 0" in result.stdout


@needs_checkov
def test_checkov_fails_on_old_tls(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "infra", tmp_path / "infra", ignore=shutil.ignore_patterns("__pycache__"))
    module = tmp_path / "infra" / "modules" / "data-storage.bicep"
    module.write_text(module.read_text("utf-8").replace("'TLS1_2'", "'TLS1_0'"), "utf-8")
    result = check(tmp_path)
    assert result.returncode == 1
    assert "FAILED CKV_AZURE_44" in result.stdout
