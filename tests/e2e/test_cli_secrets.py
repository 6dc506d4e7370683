"""The CLI takes secrets from a file, the environment or a prompt without echo — never from its arguments,
which every user of the machine can read in the process list — and manages API keys."""

from __future__ import annotations

import json
import os
import pty
import secrets
import select
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pipeline.records.tenants import TenantRegistry
from sandboxes.tripletex import TripletexSandbox

ROOT = Path(__file__).resolve().parents[2]
VOUCHER = {"type": "voucher", "reference": "cli-nøkkel-1", "date": "2026-11-20",
           "lines": [{"account": "1920", "amount": "1.00"}, {"account": "3000", "amount": "-1.00"}]}


def bilagsbro(*args, env=None, stdin=None):
    return subprocess.run([sys.executable, "-m", "bilagsbro", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120, stdin=stdin)


@pytest.fixture
def env(stack):
    return {"BILAGSBRO_STORAGE": stack.settings["BILAGSBRO_STORAGE"],
            "BILAGSBRO_HOME": str(Path(stack.settings["BILAGSBRO_LOCAL_SECRETS"]).parent)}


@pytest.fixture
def tripletex():
    with TripletexSandbox(consumer_token="consumer-" + secrets.token_hex(8),
                          employee_token="employee-" + secrets.token_hex(8)) as box:
        yield box


def test_secrets_as_arguments_are_refused_and_not_echoed():
    secret = "hemmelig-" + secrets.token_hex(6)
    for args in (["connect", "t", "tripletex", "--employee-token", secret],
                 ["connect", "t", "tripletex", f"--consumer-token={secret}"],
                 ["source", "add", "t", "omnium", "--base-url", "http://x", "--client-id", "a", "--client-secret",
                  secret]):
        result = bilagsbro(*args)
        assert result.returncode == 2, result
        assert "process list" in result.stderr and "-file" in result.stderr and "-env" in result.stderr
        assert secret not in result.stdout + result.stderr


@pytest.mark.e2e
def test_connect_takes_tokens_from_a_file_and_the_environment_and_a_failed_test_keeps_the_old_ones(
        stack, env, tripletex, tmp_path):
    tenant = json.loads(bilagsbro("tenant", "add", "--name", "Fil og Miljø AS", env=env).stdout)["tenant_id"]
    token_file = tmp_path / "consumer-token"
    token_file.write_text(tripletex.consumer_token + "\n", "utf-8")
    token_file.chmod(0o600)
    connected = bilagsbro("connect", tenant, "tripletex", "--base-url", tripletex.base_url,
                          "--consumer-token-file", str(token_file), "--employee-token-env", "TT_EMPLOYEE",
                          env={**env, "TT_EMPLOYEE": tripletex.employee_token})
    assert connected.returncode == 0, connected.stderr
    answer = json.loads(connected.stdout)
    assert answer["activated"] and answer["check"]["company"] == "Bilagsbro Sandkasse AS"
    assert tripletex.employee_token not in connected.stdout + connected.stderr

    wrong = bilagsbro("connect", tenant, "tripletex", "--employee-token-env", "TT_EMPLOYEE",
                      env={**env, "TT_EMPLOYEE": "employee-typo-" + secrets.token_hex(4)})
    assert wrong.returncode == 1 and "goes on with its current connection" in wrong.stderr
    assert json.loads(wrong.stdout)["pending"]["state"] == "failed"
    kept = TenantRegistry(stack.stores.tables).get(tenant)
    assert kept.target_settings["secrets"] == answer["secret_names"]
    assert stack.stores.secrets.get(kept.target_settings["secrets"]["employee_token"]) == tripletex.employee_token
    assert kept.target_settings["base_url"] == tripletex.base_url

    missing = bilagsbro("connect", "no-tokens-anywhere", "tripletex", env=env, stdin=subprocess.DEVNULL)
    assert missing.returncode == 2


def _read_until(fd: int, text: str, timeout: float = 60) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, seen
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 4096).decode("utf-8", "replace")
            assert chunk, seen
            seen += chunk
    return seen


def _drain(fd: int) -> str:
    out = ""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk.decode("utf-8", "replace")
    return out


@pytest.mark.e2e
def test_connect_on_a_terminal_prompts_for_the_tokens_without_echo(stack, env, tripletex):
    tenant = json.loads(bilagsbro("tenant", "add", "--name", "Terminal AS", env=env).stdout)["tenant_id"]
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bilagsbro", "connect", tenant, "tripletex", "--base-url", tripletex.base_url],
        cwd=ROOT, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env},
        start_new_session=True)  # no controlling terminal: getpass uses stdin, the terminal we hold
    os.close(slave)
    echoed = ""
    try:
        _read_until(process.stderr.fileno(), "consumer token (input hidden")
        os.write(master, tripletex.consumer_token.encode() + b"\n")
        _read_until(process.stderr.fileno(), "employee token (input hidden")
        os.write(master, tripletex.employee_token.encode() + b"\n")
        out, err = process.communicate(timeout=120)
        echoed = _drain(master)
    finally:
        process.kill()
        os.close(master)
    assert process.returncode == 0, err
    assert json.loads(out)["activated"] is True
    assert tripletex.consumer_token not in echoed and tripletex.employee_token not in echoed  # no echo


@pytest.mark.e2e
def test_key_commands_list_issue_revoke_and_rotate(stack, env):
    created = json.loads(bilagsbro("tenant", "add", "--name", "Nøkkelring AS", env=env).stdout)
    tenant, first = created["tenant_id"], created["api_key"]
    issued = bilagsbro("key", "issue", tenant, "--label", "Kasse 2", env=env)
    assert issued.returncode == 0, issued.stderr
    second = json.loads(issued.stdout)["api_key"]
    listed = bilagsbro("key", "list", tenant, env=env)
    keys = json.loads(listed.stdout)["keys"]
    assert [k["status"] for k in keys] == ["active", "active"] and keys[1]["label"] == "Kasse 2"
    assert first not in listed.stdout and second not in listed.stdout

    def send(key):
        return httpx.post(f"{stack.url}/api/v1/documents", json=VOUCHER,
                          headers={"Authorization": f"Bearer {key}"}, timeout=30).status_code

    assert send(second) == 202
    assert bilagsbro("key", "revoke", tenant, keys[1]["key_id"], env=env).returncode == 0
    assert send(second) == 401  # at once

    rotated = bilagsbro("key", "rotate", tenant, keys[0]["key_id"], "--overlap", "1h", env=env)
    assert rotated.returncode == 0, rotated.stderr
    answer = json.loads(rotated.stdout)
    assert answer["replaces"]["status"] == "expiring"
    assert send(first) == 202 and send(answer["api_key"]) == 202  # both work during the overlap
    now = bilagsbro("key", "rotate", tenant, answer["key"]["key_id"], "--overlap", "0", env=env)
    assert send(answer["api_key"]) == 401 and send(json.loads(now.stdout)["api_key"]) == 202
    assert bilagsbro("key", "revoke", tenant, "0" * 16, env=env).returncode == 1
    assert bilagsbro("key", "list", env=env).returncode == 2  # neither a tenant nor --admin
    admins = json.loads(bilagsbro("key", "list", "--admin", env=env).stdout)["keys"]
    assert all(k["role"] == "admin" for k in admins)


def test_connect_can_let_tripletex_customers_be_created_and_take_it_back(stack, env, tripletex, tmp_path):
    tenant = json.loads(bilagsbro("tenant", "add", "--name", "Kundeklubben Hamar AS", env=env).stdout)["tenant_id"]
    tokens = {"TT_CONSUMER": tripletex.consumer_token, "TT_EMPLOYEE": tripletex.employee_token}
    base = ["connect", tenant, "tripletex", "--base-url", tripletex.base_url,
            "--consumer-token-env", "TT_CONSUMER", "--employee-token-env", "TT_EMPLOYEE"]
    allowed = bilagsbro(*base, "--create-customers", env={**env, **tokens})
    assert allowed.returncode == 0, allowed.stderr
    assert TenantRegistry(stack.stores.tables).get(tenant).target_settings["create_customers"] is True
    kept = bilagsbro("connect", tenant, "tripletex", "--consumer-token-env", "TT_CONSUMER", env={**env, **tokens})
    assert kept.returncode == 0, kept.stderr  # a token rotation keeps the setting
    assert TenantRegistry(stack.stores.tables).get(tenant).target_settings["create_customers"] is True
    refused = bilagsbro(*base, "--no-create-customers", env={**env, **tokens})
    assert refused.returncode == 0, refused.stderr
    assert TenantRegistry(stack.stores.tables).get(tenant).target_settings["create_customers"] is False


@pytest.mark.e2e
def test_switch_shows_the_preview_and_switches_only_when_told(stack, env, tripletex, client, tenant):
    """`bilagsbro switch TENANT SYSTEM`: the preview alone without --yes; with it, the switch (the old connection
    kept read-only); the new system's tokens from the environment, never echoed."""
    posted = client.post("/api/v1/documents", json=VOUCHER)
    assert posted.status_code == 202, posted.text
    tenant_id = tenant[0].id
    tokens = {"TT_CONSUMER": tripletex.consumer_token, "TT_EMPLOYEE": tripletex.employee_token}
    args = ["switch", tenant_id, "tripletex", "--base-url", tripletex.base_url, "--consumer-token-env", "TT_CONSUMER",
            "--employee-token-env", "TT_EMPLOYEE"]
    shown = bilagsbro(*args, env={**env, **tokens}, stdin=subprocess.DEVNULL)
    assert shown.returncode == 0, shown.stderr
    preview = json.loads(shown.stdout)
    assert preview["from"] == "file" and preview["to"] == "tripletex" and preview["connection"]["ok"]
    assert "switch with --yes" in shown.stderr
    assert TenantRegistry(stack.stores.tables).get(tenant_id).target == "file"
    done = bilagsbro(*args, "--yes", "--reason", "over til Tripletex", env={**env, **tokens},
                     stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert tripletex.employee_token not in done.stdout + done.stderr + shown.stdout + shown.stderr
    switched = json.loads(done.stdout[done.stdout.index("}\n{") + 2:])  # the preview, then what was done
    assert switched["switched"] and switched["kept_read_only"] == "file"
    now = TenantRegistry(stack.stores.tables).get(tenant_id)
    assert now.target == "tripletex" and now.connections["file"]["mode"] == "read-only"
    assert now.connections["file"]["reason"] == "over til Tripletex"


@pytest.mark.e2e
def test_connect_names_the_remedy_that_fits_missing_secrets_or_another_mistake(stack, env, tripletex):
    """The hint to give secrets by file, environment or prompt goes with missing secrets only: a tenant that does
    not exist is said as such, not followed by advice about secrets."""
    nobody = bilagsbro("connect", "finnes-ikke-as", "tripletex", "--base-url", tripletex.base_url,
                       "--consumer-token-env", "TT_C", "--employee-token-env", "TT_E",
                       env={**env, "TT_C": tripletex.consumer_token, "TT_E": tripletex.employee_token})
    assert nobody.returncode == 2 and "finnes-ikke-as" in nobody.stderr, nobody.stderr
    assert "-file/-env" not in nobody.stderr and "prompted" not in nobody.stderr
    tenant = json.loads(bilagsbro("tenant", "add", "--name", "Mangler Nøkkel AS", env=env).stdout)["tenant_id"]
    missing = bilagsbro("connect", tenant, "tripletex", "--base-url", tripletex.base_url,
                        "--consumer-token-env", "TT_C", env={**env, "TT_C": tripletex.consumer_token},
                        stdin=subprocess.DEVNULL)
    assert missing.returncode == 2 and "employee_token" in missing.stderr, missing.stderr
    assert "--employee-token-file/-env" in missing.stderr and "prompted" in missing.stderr
