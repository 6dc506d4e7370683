"""The open export end to end: documents sent over HTTP to the local stack and delivered, then exported over HTTP and
with `bilagsbro export` — JSON lines with every document, SAF-T valid against the XSD that reads back as their
vouchers."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.export import OSLO
from pipeline.shared_form import DOCUMENT
from tests.export.saft_support import booked, check, comparable, reimport, validate

from .test_documents_over_http import wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [document for name in ("documents.json", "invoices.json")
           for document in json.loads((ROOT / "bilagsbro" / "samples" / name).read_text("utf-8"))]


def _ordered(items):
    return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))


@pytest.fixture
def delivered(stack, tenant, client):
    response = client.post("/api/v1/documents", content=json.dumps(SAMPLES, ensure_ascii=False).encode("utf-8"),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 202, response.text
    ids = [d["id"] for d in response.json()["documents"]]
    assert [wait_for(client, i)["status"] for i in ids] == ["delivered"] * len(SAMPLES)
    return ids


def test_the_export_over_http_gives_every_document_and_a_saft_file_that_reads_back(stack, tenant, client, delivered):
    today = dt.datetime.now(OSLO).date().isoformat()
    lines = client.get("/api/v1/export", params={"from": today, "to": today})
    assert lines.status_code == 200 and lines.headers["content-type"].startswith("application/x-ndjson")
    found = [json.loads(line) for line in lines.text.splitlines()]
    assert {line["id"] for line in found} == set(delivered)
    assert all(line["status"] == "delivered" and line["delivery"]["target"] == "file" for line in found)
    saft = client.get("/api/v1/export", params={"from": today, "to": today, "format": "saft"})
    assert saft.status_code == 200 and saft.headers["content-type"].startswith("application/xml")
    validate(saft.content)
    assert check(saft.content) == []
    vouchers, problems = reimport(saft.content, {"department", "project"})
    assert problems == []
    assert _ordered(comparable(v) for v in vouchers) == _ordered(booked(DOCUMENT.validate_python(d) for d in SAMPLES))


def test_bilagsbro_export_writes_the_same_period_to_a_file(stack, tenant, client, delivered, tmp_path):
    today = dt.datetime.now(OSLO).date().isoformat()
    env = {**os.environ, "BILAGSBRO_STORAGE": stack.settings["BILAGSBRO_STORAGE"]}
    out = tmp_path / "saft.xml"
    run = subprocess.run([sys.executable, "-m", "bilagsbro", "export", tenant[0].id, "--from", today, "--to", today,
                          "--format", "saft", "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"{len(SAMPLES)} transaction(s)" in run.stderr
    validate(out.read_bytes())
    assert check(out.read_bytes()) == []
    vouchers, problems = reimport(out.read_bytes(), {"department", "project"})
    assert problems == [] and len(vouchers) == len(SAMPLES)
    lines = subprocess.run([sys.executable, "-m", "bilagsbro", "export", tenant[0].id, "--from", today, "--to", today],
                           cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert lines.returncode == 0, lines.stderr
    assert {json.loads(line)["id"] for line in lines.stdout.decode("utf-8").splitlines()} == set(delivered)
    assert "Dagsoppgjør kasse 7 – Butikk Trondheim" in lines.stdout.decode("utf-8")
