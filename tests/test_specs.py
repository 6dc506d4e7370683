"""The official specs as request checkers (tests/specs.py): read where they are, skipped with a reason where
`../shared/specs` is absent — and a failure in CI, where it must be there."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests import specs


def test_a_missing_spec_skips_outside_ci_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(specs, "SPECS", tmp_path)
    monkeypatch.delenv("CI", raising=False)
    assert specs.load_spec_check("fiken/fiken-api-v2.yaml") is None
    monkeypatch.setenv("CI", "true")
    with pytest.raises(FileNotFoundError, match="CI must check requests"):
        specs.load_spec_check("fiken/fiken-api-v2.yaml")


def test_requests_the_spec_only_describes_in_prose_are_checked_by_the_given_function(tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "spec.json").write_text('{"servers": [{"url": "https://x.example/api"}], "paths": {}}')
    monkeypatch.setattr(specs, "SPECS", tmp_path)
    check = specs.load_spec_check("x/spec.json", prose={"POST /oauth/token": lambda request: ["said so"]})
    assert check is not None
    assert check.violations(httpx.Request("POST", "https://x.example/oauth/token")) == ["said so"]
    assert check.violations(httpx.Request("GET", "https://x.example/api/things")) == [
        "GET /api/things: no such operation in the spec"]
    assert check.violations(httpx.Request("GET", "https://x.example/other")) == [
        "GET /other: not under the spec's server path /api"]
