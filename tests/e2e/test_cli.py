"""The `bilagsbro` command as an operator types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_AND_BAD = [
    {"type": "voucher", "reference": "tørr-1", "date": "2026-11-20", "description": "Prøvekjøring",
     "lines": [{"account": "1920", "amount": "10.00"}, {"account": "3000", "amount": "-10.00", "vat_code": "3"}]},
    {"type": "voucher", "reference": "tørr-2", "date": "2026-11-31",
     "lines": [{"account": "1920", "amount": "10.00"}, {"account": "3000", "amount": "-10.00"}]},
]


def bilagsbro(*args, env=None):
    return subprocess.run([sys.executable, "-m", "bilagsbro", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_dry_run_json_prints_documents_and_problems(tmp_path):
    path = tmp_path / "bilag.json"
    path.write_text(json.dumps(GOOD_AND_BAD, indent=1, ensure_ascii=False), "utf-8")
    result = bilagsbro("dry-run", str(path), "--format", "shared-form", "--json")
    assert result.returncode == 1  # problems found
    out = json.loads(result.stdout)
    assert [d["reference"] for d in out["documents"]] == ["tørr-1"]
    assert out["documents"][0]["description"] == "Prøvekjøring"
    [problem] = out["problems"]
    assert problem["reference"] == "tørr-2" and problem["field"].endswith("date") and problem["line"] > 1


def test_dry_run_text_and_unknown_format(tmp_path):
    path = tmp_path / "bilag.json"
    path.write_text(json.dumps(GOOD_AND_BAD[:1], ensure_ascii=False), "utf-8")
    ok = bilagsbro("dry-run", str(path))
    assert ok.returncode == 0 and "✓ voucher tørr-1" in ok.stdout
    unknown = bilagsbro("dry-run", str(path), "--format", "wordperfect")
    assert unknown.returncode == 2 and "unknown format 'wordperfect'" in unknown.stderr


@pytest.mark.e2e
def test_tenant_add_prints_id_and_key_that_the_api_accepts(stack):
    result = bilagsbro("tenant", "add", "--name", "Sjøbua AS", "--org-number", "999999999",
                       env={"BILAGSBRO_STORAGE": stack.settings["BILAGSBRO_STORAGE"]})
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["tenant_id"].startswith("sjobua-as-") and created["api_key"].startswith("bb_")
    import httpx

    answer = httpx.post(f"{stack.url}/api/v1/documents", json=GOOD_AND_BAD[0],
                        headers={"Authorization": f"Bearer {created['api_key']}"})
    assert answer.status_code == 202
    from pipeline.names import TABLE_APIKEYS

    stored = stack.stores.tables.query(TABLE_APIKEYS, "key")
    assert all(created["api_key"] not in json.dumps(row, default=str) for row in stored)  # hashed, never clear


@pytest.mark.e2e
def test_source_add_and_pull_now(stack):
    from sandboxes.omnium import OmniumSandbox

    env = {"BILAGSBRO_STORAGE": stack.settings["BILAGSBRO_STORAGE"],
           "BILAGSBRO_HOME": str(Path(stack.settings["BILAGSBRO_LOCAL_SECRETS"]).parent)}
    tenant = json.loads(bilagsbro("tenant", "add", "--name", "Fjellsport AS", env=env).stdout)["tenant_id"]
    with OmniumSandbox() as omnium:
        omnium.seed_orders(n=50, stores=["tromsø-1"], days=2, seed=3)
        added = bilagsbro("source", "add", tenant, "omnium", "--base-url", omnium.base_url, "--client-id",
                          omnium.client_id, "--client-secret-env", "OMNIUM_SECRET", "--mode", "order",
                          "--start", "2020-01-01T00:00:00+00:00", env={**env, "OMNIUM_SECRET": omnium.client_secret})
        assert added.returncode == 0, added.stderr
        assert omnium.client_secret not in added.stdout  # the secret went to the secret store only
        pulled = bilagsbro("pull", tenant, "omnium", env=env)
        assert pulled.returncode == 0, pulled.stderr
        report = json.loads(pulled.stdout)
        assert report["received"] == 50
        references = {d["reference"] for d in report["documents"]}
        assert len(references) == len(report["documents"]) >= 45  # cancelled orders are not booked
        again = json.loads(bilagsbro("pull", tenant, "omnium", env=env).stdout)
        assert again["received"] == 0 and again["documents"] == []
    bad = bilagsbro("source", "add", tenant, "omnium", "--base-url", "http://x", "--client-id", "a",
                    "--client-secret-env", "OMNIUM_SECRET", "--booking", '{"colour": "red"}',
                    env={**env, "OMNIUM_SECRET": "b"})
    assert bad.returncode == 2 and "unknown Omnium booking option" in bad.stderr
