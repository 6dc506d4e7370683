"""`bilagsbro export` as an operator types it: a period written whole to a file (or stdout), progress and a summary
on stderr, and clear refusals — bad dates, a SAF-T file without an organisation number."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import bilagsbro.cli
import connectors
from bilagsbro import export as export_command
from pipeline.export import OSLO
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.names import QUEUE_TRANSLATED
from pipeline.ports import Stores
from pipeline.stages import run
from pipeline.tenants import TenantRegistry
from tests.export.saft_support import ROOT, check, reimport, validate


@pytest.fixture
def stores(monkeypatch):
    from api import http as api_http
    from api import vendor as api
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    registry = TenantRegistry(stores.tables)
    conns = connectors.registry()
    with_org = registry.add("Bakeriet på Røa AS", tenant_id="bakeriet", organization_number="999999999")
    registry.add("Uten Orgnr", tenant_id="uten")
    body = (ROOT / "bilagsbro" / "samples" / "documents.json").read_bytes()
    response = api.post_documents(stores, conns, api_http.Request(
        "POST", {}, {}, {"authorization": f"Bearer {registry.issue_key(with_org.id)}",
                         "content-type": "application/json"}, body, "http://x"))
    messages = response.messages[QUEUE_TRANSLATED]  # API documents skip translate (decision 0006)
    for stage in ("adapt", "deliver"):
        messages = [m for msg in messages for m in run(stage, stores, conns, msg)]
    monkeypatch.setattr(bilagsbro.cli, "_with_stores", lambda fn: fn(stores))
    monkeypatch.setattr(export_command, "PROGRESS", 2)
    return stores


def _today() -> str:
    return dt.datetime.now(OSLO).date().isoformat()


def test_a_saft_file_is_written_whole_with_progress_and_a_summary(stores, tmp_path, capsys):
    out = tmp_path / "saft.xml"
    code = bilagsbro.cli.main(["export", "bakeriet", "--from", _today(), "--to", _today(), "--format", "saft",
                               "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "2 documents read" in err and "3 transaction(s)" in err and "0 not delivered" in err
    validate(out.read_bytes())
    assert check(out.read_bytes()) == []
    assert len(reimport(out.read_bytes(), {"department", "project"})[0]) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["saft.xml"]  # no partial file left behind


def test_json_lines_go_to_standard_output(stores, capsysbinary):
    assert bilagsbro.cli.main(["export", "bakeriet", "--from", _today(), "--to", _today()]) == 0
    lines = [json.loads(line) for line in capsysbinary.readouterr().out.decode("utf-8").splitlines()]
    assert len(lines) == 3 and {line["status"] for line in lines} == {"delivered"}
    assert any(line["document"]["description"] == "Dagsoppgjør kasse 7 – Butikk Trondheim" for line in lines)


def test_saft_without_an_organisation_number_is_refused_or_given_one(stores, tmp_path, capsys):
    out = tmp_path / "saft.xml"
    args = ["export", "uten", "--from", _today(), "--to", _today(), "--format", "saft", "--out", str(out)]
    assert bilagsbro.cli.main(args) == 2
    assert "has no organisation number" in capsys.readouterr().err and not out.exists()
    assert bilagsbro.cli.main([*args, "--org-number", "888888888"]) == 0
    validate(out.read_bytes())


@pytest.mark.parametrize(("start", "end", "said"), [("2026-13-01", "2026-12-01", "--from/--to"),
                                                     ("2026-12-02", "2026-12-01", "before --from")])
def test_bad_dates_are_refused_before_anything_is_read(stores, capsys, start, end, said):
    assert bilagsbro.cli.main(["export", "bakeriet", "--from", start, "--to", end]) == 2
    assert said in capsys.readouterr().err
