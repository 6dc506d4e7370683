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


def lines_of(stdout: str) -> dict[str, list]:
    """`dry-run --json` output (JSON lines) by kind: documents, problems, payloads, and the summary."""
    found: dict[str, list] = {"document": [], "problem": [], "payload": [], "summary": []}
    for line in stdout.splitlines():
        [(kind, value)] = json.loads(line).items()
        found[kind].append(value)
    return found


def test_dry_run_json_prints_documents_and_problems(tmp_path):
    path = tmp_path / "bilag.json"
    path.write_text(json.dumps(GOOD_AND_BAD, indent=1, ensure_ascii=False), "utf-8")
    result = bilagsbro("dry-run", str(path), "--format", "shared-form", "--json")
    assert result.returncode == 1  # problems found
    out = lines_of(result.stdout)
    assert [d["reference"] for d in out["document"]] == ["tørr-1"]
    assert out["document"][0]["description"] == "Prøvekjøring"
    [problem] = out["problem"]
    assert problem["reference"] == "tørr-2" and problem["field"].endswith("date") and problem["line"] > 1
    [summary] = out["summary"]
    assert summary["documents"] == 1 and summary["errors"] == 1 and summary["format"] == "shared-form"


def test_dry_run_text_and_unknown_format(tmp_path):
    path = tmp_path / "bilag.json"
    path.write_text(json.dumps(GOOD_AND_BAD[:1], ensure_ascii=False), "utf-8")
    ok = bilagsbro("dry-run", str(path))
    assert ok.returncode == 0 and "✓ voucher tørr-1" in ok.stdout
    assert ok.stdout.splitlines()[-1] == "bilag.json: 1 document(s) (voucher 1), 0 problem(s) [format shared-form]"
    unknown = bilagsbro("dry-run", str(path), "--format", "wordperfect")
    assert unknown.returncode == 2 and "unknown format 'wordperfect'" in unknown.stderr


def test_the_cli_and_the_api_call_our_json_shared_form_and_api_stays_an_alias(tmp_path):
    path = tmp_path / "bilag.txt"
    path.write_text(json.dumps(GOOD_AND_BAD[:1], ensure_ascii=False), "utf-8")
    for name in ("shared-form", "api"):
        result = bilagsbro("dry-run", str(path), "--format", name, "--json")
        assert result.returncode == 0, result.stderr
        out = lines_of(result.stdout)
        assert out["summary"][0]["format"] == "shared-form" and out["document"][0]["origin"]["format"] == "shared-form"
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
    assert "2 document(s) (voucher 2), 2 problem(s) (2 warning(s))" in warned.stdout
    as_json = lines_of(bilagsbro("dry-run", str(SIE / "year_end_empty_vouchers.se"), "--json").stdout)
    assert [p["severity"] for p in as_json["problem"]] == ["warning", "warning"]
    assert as_json["summary"][0]["warnings"] == 2 and as_json["summary"][0]["errors"] == 0
    balances = bilagsbro("dry-run", str(SIE / "balances_only_type2.se"), "--json")
    assert balances.returncode == 1
    [problem] = lines_of(balances.stdout)["problem"]
    assert problem["code"] == "no-vouchers" and "SIE type 2" in problem["message"] and "severity" not in problem


MONEY = [
    {"type": "voucher", "reference": f"øre-{n}", "date": "2026-11-20",
     "lines": [{"account": "1920", "amount": "0.10"}, {"account": "1920", "amount": "0.20"},
               {"account": "3000", "amount": "-0.30", "vat_code": "3", "vat_amount": "-0.06"}]}
    for n in range(3)
] + [{"type": "payment", "reference": "bet-1", "date": "2026-11-21", "amount": "100.00", "kid": "12344"}]


def test_dry_run_summary_counts_and_totals_per_account_and_vat_code_in_exact_decimals(tmp_path):
    path = tmp_path / "øre.json"
    path.write_text(json.dumps(MONEY + GOOD_AND_BAD[1:], ensure_ascii=False), "utf-8")
    text = bilagsbro("dry-run", str(path), "--summary")
    assert text.returncode == 1 and "✓" not in text.stdout  # no line per document, only problems and totals
    rows = [line.split() for line in text.stdout.splitlines()]
    assert ["1920", "7", "100.90", "0.00", "100.90", "0.00"] in rows  # 0.10 + 0.20 three times, and the payment
    assert ["1500", "1", "0.00", "100.00", "-100.00", "0.00"] in rows  # the payment settles the receivable
    assert ["3000", "3", "3", "0.00", "0.90", "-0.90", "-0.18"] in rows
    assert ["total", "11", "100.90", "100.90", "0.00"] in rows
    assert text.stdout.splitlines()[-1].startswith("øre.json: 4 document(s) (payment 1, voucher 3), 1 problem(s)")
    assert any("tørr-2" in line and "date" in line for line in text.stdout.splitlines())
    out = lines_of(bilagsbro("dry-run", str(path), "--summary", "--json").stdout)
    assert out["document"] == [] and [p["reference"] for p in out["problem"]] == ["tørr-2"]
    [summary] = out["summary"]
    assert summary["by_type"] == {"voucher": 3, "payment": 1} and summary["problems_by_code"] == {"invalid": 1}
    assert {"account": "3000", "vat_code": "3", "lines": 3, "debit": "0.00", "credit": "0.90", "net": "-0.90",
            "vat_amount": "-0.18"} in summary["totals"]


def test_dry_run_with_a_tenant_checks_and_renders_in_batches(tmp_path, monkeypatch, capsys):
    """With --tenant the documents go to the tenant's accounting system's preflight and renderer in
    batches (never all at once), each payload and preflight problem written as its batch is done."""
    from bilagsbro import cli, dry_run
    from pipeline import adapted
    from pipeline.errors import Problem
    from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
    from pipeline.ports import Stores
    from pipeline.records.tenants import TenantRegistry

    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    tenant = TenantRegistry(stores.tables).add("Kiosken på Ørland AS", tenant_id="t-1")
    monkeypatch.setattr(cli, "_with_stores", lambda fn: fn(stores))
    batches: list[int] = []
    real = adapted.preflight

    def preflight(stores_, conns, tenant_, documents, trace_as):
        batches.append(len(documents))
        target, in_terms, problems = real(stores_, conns, tenant_, documents, trace_as)
        if len(batches) == 1:  # the accounting system misses an account the first batch needs
            problems = [*problems, Problem("account 6570 is missing in the accounting system",
                                           reference=documents[0].reference, code="missing-account")]
        return target, in_terms, problems

    monkeypatch.setattr(adapted, "preflight", preflight)
    path = tmp_path / "mange.json"
    path.write_text(json.dumps([{**GOOD_AND_BAD[0], "reference": f"v-{n}"} for n in range(1_234)]), "utf-8")
    code = cli.main(["dry-run", str(path), "--tenant", tenant.id, "--json"])
    out = lines_of(capsys.readouterr().out)
    assert code == 1  # the preflight's problem is an error
    assert batches == [dry_run.BATCH, dry_run.BATCH, 1_234 - 2 * dry_run.BATCH]
    assert [p["reference"] for p in out["payload"]] == [d["reference"] for d in out["document"]]
    assert len(out["payload"]) == 1_234 and out["payload"][0]["target"] == "file"
    assert out["payload"][0]["payload"]["lines"][1]["vat_code"] == "3"
    assert [p["code"] for p in out["problem"]] == ["missing-account"]


def _gbat10(path: Path, vouchers: int) -> None:
    """A GBAT10 file of 3-line vouchers with æøå (Windows-1252), about 330 bytes a voucher."""
    with path.open("wb") as out:
        for start in range(0, vouchers, 1000):
            out.write("".join(
                f"GBAT10;{n};20250{1 + n % 9}{10 + n % 18};1;1;2025;1500;;1250.00;{10000 + n % 500};;Kunde Ærøy {n};"
                f"Storgata 1;0150;Oslo;{n};;;;;Faktura {n} blåbær\r\n"
                f"GBAT10;{n};20250{1 + n % 9}{10 + n % 18};1;1;2025;3000;3;-1000.00;;;;;;;;;;;;Salg høy sats;;;P1;10\r\n"
                f"GBAT10;{n};20250{1 + n % 9}{10 + n % 18};1;1;2025;2700;;-250.00;;;;;;;;;;;;Utgående mva\r\n"
                for n in range(start, min(start + 1000, vouchers))).encode("cp1252"))


def _peak(*args: str, env: dict[str, str] | None = None) -> tuple[int, int, str]:
    """(exit code, peak RSS in KiB, stdout.s first 3,000 characters) of `bilagsbro dry-run …` in its own
    interpreter, under a parent that only waits for it (RUSAGE_CHILDREN is that process's alone)."""
    measure = ("import resource, subprocess, sys, tempfile\n"
               "with tempfile.TemporaryFile() as out:\n"
               f"    code = subprocess.run([sys.executable, '-m', 'bilagsbro', 'dry-run', *{list(args)!r}], stdout=out,"
               " stderr=subprocess.DEVNULL).returncode\n"
               "    out.seek(0); head = out.read(3000).decode('utf-8', 'replace')\n"
               "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\nprint(head)")
    result = subprocess.run([sys.executable, "-c", measure], cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, **(env or {})})
    first, _, head = result.stdout.partition("\n")
    code, peak = map(int, first.split())
    return code, peak, head


@pytest.mark.long
def test_dry_run_memory_stays_flat_as_the_file_grows(tmp_path):
    """A file four times as big (17 MB, 62,000 vouchers) costs dry-run no more memory, in every output."""
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    _gbat10(small, 15_500)
    _gbat10(big, 62_000)
    options = tmp_path / "options.json"
    options.write_text('{"vat_map": {"3": "3"}}', "utf-8")
    assert big.stat().st_size > 15_000_000
    for mode in ("--summary", "--json", "--text"):
        flags = [mode] if mode != "--text" else []
        code_small, peak_small, _ = _peak(str(small), "--options", str(options), *flags)
        code_big, peak_big, head = _peak(str(big), "--options", str(options), *flags)
        assert code_small == code_big == 0, head
        assert peak_big - peak_small < 12 * 1024, f"{mode}: {peak_small / 1024:.0f} MiB, then {peak_big / 1024:.0f} MiB"
        assert peak_big < 100 * 1024, f"{mode}: dry-run peaked at {peak_big / 1024:.0f} MiB"


def test_dry_run_of_a_big_sie_file_streams_in_flat_memory(tmp_path):
    """The 3.4 MB, 17,700-voucher export that made dry-run peak at 360 MB: now well under 100 MB."""
    path = tmp_path / "stor.se"
    head = '#FLAGGA 0\n#PROGRAM "BL Administration" 2024.3\n#FORMAT PC8\n#SIETYP 4\n#VALUTA SEK\n'
    vouchers = "".join(f'#VER A {i} 2024{1 + i % 12:02d}{1 + i % 28:02d} "Representation måltid {i}"\n{{\n'
                       f'#TRANS 1930 {{}} -1000.00\n#TRANS 6072 {{}} 928.00\n#TRANS 2640 {{}} 72.00\n}}\n'
                       for i in range(1, 17_701))
    path.write_bytes((head + vouchers).encode("latin-1"))
    out = tmp_path / "out.json"
    with out.open("w") as sink:
        result = subprocess.run([sys.executable, "-m", "bilagsbro", "dry-run", str(path), "--json"], cwd=ROOT,
                                stdout=sink, timeout=300)
    report = lines_of(out.read_text("utf-8"))
    assert result.returncode == 0 and len(report["document"]) == 17_700 and report["problem"] == []
    assert report["document"][0]["description"] == "Representation måltid 1"
    code, peak_kib, _ = _peak(str(path), "--json")
    assert code == 0 and peak_kib < 100 * 1024, f"dry-run peaked at {peak_kib / 1024:.0f} MiB"


def test_progress_shows_on_a_terminal_and_not_in_a_pipe(tmp_path):
    import pty

    path = tmp_path / "bilag.csv"
    _gbat10(path, 3_000)
    args = [sys.executable, "-m", "bilagsbro", "dry-run", str(path), "--summary"]
    piped = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "vouchers" not in piped.stderr and "\r" not in piped.stderr and "\x1b" not in piped.stderr
    assert "problems" not in piped.stdout.splitlines()[0]  # nor on stdout: the report is all there is
    terminal, other = pty.openpty()
    run = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=other)
    os.close(other)
    seen = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    os.close(terminal)
    assert run.wait(timeout=120) == 1  # VAT code 3 has no vat_map here: errors, shown in the summary
    drawn = seen.decode("utf-8", "replace")
    assert "vouchers" in drawn and "problems" in drawn and " MB" in drawn and "[" in drawn
    assert drawn.endswith("\r\x1b[K")  # and erased when done


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
    from pipeline.records.names import TABLE_APIKEYS

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
def test_dry_run_with_a_tenant_stays_flat_too(stack, tmp_path):
    """--tenant against real storage (Azurite): preflight and payloads in batches, memory flat as the file grows."""
    from pipeline.records.tenants import TenantRegistry

    tenant = TenantRegistry(stack.stores.tables).add("Fiskebutikken på Hitra AS")
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    _gbat10(small, 6_000)
    _gbat10(big, 24_000)
    options = tmp_path / "options.json"
    options.write_text('{"vat_map": {"3": "3"}}', "utf-8")
    env = {"BILAGSBRO_STORAGE": stack.settings["BILAGSBRO_STORAGE"]}
    code_small, peak_small, _ = _peak(str(small), "--tenant", tenant.id, "--options", str(options), "--summary", env=env)
    code_big, peak_big, head = _peak(str(big), "--tenant", tenant.id, "--options", str(options), "--json", env=env)
    assert code_small == code_big == 0, head
    assert '{"document": {"reference": "0", ' in head, head
    assert peak_big - peak_small < 12 * 1024, f"{peak_small / 1024:.0f} MiB, then {peak_big / 1024:.0f} MiB"
    assert peak_big < 150 * 1024, f"dry-run --tenant peaked at {peak_big / 1024:.0f} MiB"


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
