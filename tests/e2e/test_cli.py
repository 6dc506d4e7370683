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


def test_the_cli_and_the_api_call_our_json_shared_form_and_api_stays_an_alias(tmp_path):
    path = tmp_path / "bilag.txt"
    path.write_text(json.dumps(GOOD_AND_BAD[:1], ensure_ascii=False), "utf-8")
    for name in ("shared-form", "api"):
        result = bilagsbro("dry-run", str(path), "--format", name, "--json")
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert out["format"] == "shared-form" and out["documents"][0]["origin"]["format"] == "shared-form"
    unknown = bilagsbro("dry-run", str(path), "--format", "wordperfect")
    known = unknown.stderr.split("known: ", 1)[1].strip().split(", ")
    import connectors

    assert known == sorted(connectors.SOURCES) and "api" not in known


SIE = ROOT / "tests" / "sources" / "sie4"


def test_dry_run_fails_on_errors_only(tmp_path):
    """Warnings (empty year-end vouchers) are shown but pass; a file with nothing to book fails."""
    warned = bilagsbro("dry-run", str(SIE / "year_end_empty_vouchers.se"))
    assert warned.returncode == 0, warned.stdout
    assert "  ! year_end_empty_vouchers.se:20, voucher A-69-" in warned.stdout and "has no lines" in warned.stdout
    assert "2 document(s), 2 problem(s) (2 warning(s))" in warned.stdout
    as_json = json.loads(bilagsbro("dry-run", str(SIE / "year_end_empty_vouchers.se"), "--json").stdout)
    assert [p["severity"] for p in as_json["problems"]] == ["warning", "warning"]
    balances = bilagsbro("dry-run", str(SIE / "balances_only_type2.se"), "--json")
    assert balances.returncode == 1
    [problem] = json.loads(balances.stdout)["problems"]
    assert problem["code"] == "no-vouchers" and "SIE type 2" in problem["message"] and "severity" not in problem


def test_dry_run_with_a_tenant_adds_payloads_and_preflight_problems(monkeypatch, capsys):
    """With --tenant the documents are held for the batch preflight; the report keeps its shape."""
    from bilagsbro import cli
    from pipeline.errors import Problem

    seen = []

    def render(tenant_id, documents, conns):
        seen.extend(documents)
        return ([{"reference": d.reference, "target": "file", "payload": {"n": i}} for i, d in enumerate(documents)],
                [Problem("account 6570 is missing in the accounting system", reference=documents[0].reference,
                         code="missing-account")])

    monkeypatch.setattr(cli, "_render_for_tenant", render)
    monkeypatch.setattr(cli, "_dry_run_options", lambda args, conns, path: {})
    code = cli.main(["dry-run", str(SIE / "year_end_empty_vouchers.se"), "--tenant", "t-1", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1  # the preflight's problem is an error
    assert [d["reference"] for d in report["documents"]] == [d.reference for d in seen] and len(seen) == 2
    assert [p["code"] for p in report["problems"]] == ["empty-voucher", "empty-voucher", "missing-account"]
    assert [p["payload"] for p in report["payloads"]] == [{"n": 0}, {"n": 1}]


def test_dry_run_of_a_big_sie_file_streams_in_flat_memory(tmp_path):
    """The 3.4 MB, 17,700-voucher export that made dry-run peak at 360 MB: now well under 100 MB.

    The command runs in its own interpreter, under a parent that only waits for it, so the peak RSS
    read from RUSAGE_CHILDREN is that of `bilagsbro dry-run` alone (bench/bench_sie.py prints it).
    """
    path = tmp_path / "stor.se"
    head = '#FLAGGA 0\n#PROGRAM "BL Administration" 2024.3\n#FORMAT PC8\n#SIETYP 4\n#VALUTA SEK\n'
    vouchers = "".join(f'#VER A {i} 2024{1 + i % 12:02d}{1 + i % 28:02d} "Representation måltid {i}"\n{{\n'
                       f'#TRANS 1930 {{}} -1000.00\n#TRANS 6072 {{}} 928.00\n#TRANS 2640 {{}} 72.00\n}}\n'
                       for i in range(1, 17_701))
    path.write_bytes((head + vouchers).encode("latin-1"))
    out = tmp_path / "out.json"
    measure = ("import resource, subprocess, sys\n"
               f"with open({str(out)!r}, 'wb') as out:\n"
               f"    code = subprocess.run([sys.executable, '-m', 'bilagsbro', 'dry-run', {str(path)!r}, '--json'],"
               " stdout=out).returncode\n"
               "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    result = subprocess.run([sys.executable, "-c", measure], cwd=ROOT, capture_output=True, text=True, timeout=300)
    code, peak_kib = map(int, result.stdout.split())
    report = json.loads(out.read_text("utf-8"))
    assert code == 0 and len(report["documents"]) == 17_700 and report["problems"] == []
    assert report["documents"][0]["description"] == "Representation måltid 1"
    assert peak_kib < 100 * 1024, f"dry-run peaked at {peak_kib / 1024:.0f} MiB"


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


@pytest.mark.e2e
def test_source_add_names_booking_accounts_the_accounting_system_lacks(stack):
    """Reported when the source is added — not at the first delivery, days later."""
    from sandboxes.omnium import OmniumSandbox
    from sandboxes.tripletex import TripletexSandbox

    env = {"BILAGSBRO_STORAGE": stack.settings["BILAGSBRO_STORAGE"],
           "BILAGSBRO_HOME": str(Path(stack.settings["BILAGSBRO_LOCAL_SECRETS"]).parent)}
    tenant = json.loads(bilagsbro("tenant", "add", "--name", "Kiosken på Torget AS", env=env).stdout)["tenant_id"]
    with TripletexSandbox() as tripletex, OmniumSandbox() as omnium:
        tripletex.company.remove_account(3020)
        tokens = {**env, "TT_CONSUMER": tripletex.consumer_token, "TT_EMPLOYEE": tripletex.employee_token}
        typo = bilagsbro("connect", tenant, "tripletex", "--base-url", tripletex.base_url, "--vat-reported-through",
                         "31.08.2026", "--consumer-token-env", "TT_CONSUMER", "--employee-token-env", "TT_EMPLOYEE",
                         env=tokens)
        # Refused by Tripletex's settings model before anything is written (not even kept as pending).
        assert typo.returncode == 2 and "settings.vat_reported_through: '31.08.2026' is not a date" in typo.stderr
        connected = bilagsbro("connect", tenant, "tripletex", "--base-url", tripletex.base_url, "--vat-reported-through",
                              "2026-08-31", "--consumer-token-env", "TT_CONSUMER", "--employee-token-env", "TT_EMPLOYEE",
                              env=tokens)
        assert connected.returncode == 0, connected.stderr
        result = json.loads(connected.stdout)
        assert result["check"]["permissions"]["missing"] == []
        assert result["settings"]["vat_reported_through"] == "2026-08-31"
        refused = bilagsbro("source", "add", tenant, "omnium", "--base-url", omnium.base_url, "--client-id",
                            omnium.client_id, "--client-secret-env", "OMNIUM_SECRET", "--mode", "daily",
                            "--booking", '{"collective_customer": "10000"}',
                            env={**env, "OMNIUM_SECRET": omnium.client_secret})
        assert refused.returncode == 1
        assert ("omnium is not in force for " + tenant + ": the booking options name accounts tripletex cannot "
                "book on: 3020 (sales_accounts.12) does not exist in Tripletex") in refused.stderr
        assert json.loads(refused.stdout)["check"]["accounts"]["missing"] == [
            {"account": "3020", "options": ["sales_accounts.12"], "why": "does not exist in Tripletex"}]
        fixed = bilagsbro("source", "add", tenant, "omnium", "--base-url", omnium.base_url, "--client-id",
                          omnium.client_id, "--client-secret-env", "OMNIUM_SECRET", "--mode", "daily",
                          "--booking", '{"collective_customer": "10000", "sales_accounts": {"12": "3000"}, '
                                       '"vat_codes": {"12": "33"}}',
                          env={**env, "OMNIUM_SECRET": omnium.client_secret})
        assert fixed.returncode == 0, fixed.stderr
        assert json.loads(fixed.stdout)["check"]["accounts"]["missing"] == []
