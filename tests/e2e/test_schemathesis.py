"""Schemathesis against the local stack, every check on: no server error, no undocumented status, no
answer that breaks the OpenAPI document, no valid request refused and no invalid one accepted.

Runs the `schemathesis` command on the served /api/openapi.json with tests/e2e/schemathesis.toml
(bounded: max-examples per operation, a fixed seed). The keys reach it through the environment, never
the command line. The server runs in this process, so a guard refuses any connection it would open to
anything but this machine: the fuzzer picks accounting-system URLs at random.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.long(minutes=8)]
HERE = Path(__file__).resolve().parent


def _loopback(host: object) -> bool:
    if host in ("localhost", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch):
    """Connections and name lookups from this process stay on 127.0.0.0/8 and ::1 while the fuzzer runs."""
    refused: list[str] = []
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            refused.append(str(address[0]))
            raise ConnectionRefusedError(f"test guard: no connection to {address[0]} from this run")
        return connect(sock, address)

    def guarded_lookup(host, *args, **kwargs):
        if not _loopback(host):
            refused.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: {host} is not looked up in this run")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    return refused


def _a_delivered_document(url: str, key: str) -> tuple[str, str]:
    """A shared-form file with one voucher, sent and delivered: its document's id and its receipt's."""
    import json
    import time

    import httpx

    from .test_documents_over_http import voucher, wait_for

    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        body = json.dumps([voucher("schemathesis-ekte-bilag")], ensure_ascii=False).encode("utf-8")
        receipt = client.post("/api/v1/files", params={"format": "shared-form", "name": "ekte.json"},
                              content=body).json()["receipt"]
        deadline = time.monotonic() + 60
        while not (found := client.get(f"/api/v1/receipts/{receipt}").json()["documents"]):
            assert time.monotonic() < deadline, "the file was not translated within a minute"
            time.sleep(0.1)
        assert wait_for(client, found[0]["id"])["status"] == "delivered"
    return found[0]["id"], receipt


def test_schemathesis_finds_no_server_error_undocumented_status_or_schema_break(stack, tmp_path, loopback_only):
    from pipeline.records.tenants import TenantRegistry

    registry = TenantRegistry(stack.stores.tables)
    sender = registry.add("Schemathesis Prøvebutikk AS")
    # The admin routes act on another tenant: the fuzzer rotates and revokes that one's keys, not its own.
    managed = registry.add("Schemathesis Forvaltet AS")
    registry.issue_key(managed.id)
    sender_key = registry.issue_key(sender.id)
    document_id, receipt_id = _a_delivered_document(stack.url, sender_key)
    env = {
        **os.environ,
        "BILAGSBRO_TEST_DOCUMENT_ID": document_id,
        "BILAGSBRO_TEST_RECEIPT_ID": receipt_id,
        "BILAGSBRO_TEST_TENANT_KEY": sender_key,
        "BILAGSBRO_TEST_ADMIN_KEY": registry.issue_key(None, role="admin"),
        "BILAGSBRO_TEST_TENANT_ID": managed.id,
        "NO_COLOR": "1",
    }
    command = Path(sys.executable).with_name("schemathesis")
    # ~65 operations: 470 s on a quiet machine, 1,140 s under a load of ~10 from other work (the coverage phase most
    # of it), so 1,200 s left no room; the bound is there to stop a hung run, not to time the API.
    run = subprocess.run(
        [str(command), "--config-file", str(HERE / "schemathesis.toml"), "run", f"{stack.url}/api/openapi.json"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=2400, stdin=subprocess.DEVNULL)
    output = run.stdout + run.stderr
    summary = re.search(r"(\d+) generated, (\d+) passed", output)
    print(output[-3000:])
    print(f"connections the guard refused: {len(loopback_only)} {sorted(set(loopback_only))[:5]}")
    assert run.returncode == 0, output[-20000:]
    assert summary is not None and int(summary.group(1)) > 500 and summary.group(1) == summary.group(2), output[-3000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅\s+{phase}", output), f"phase {phase} did not pass:\n{output[-3000:]}"
    assert re.search(r"Tested:\s+(\d+)", output).group(1) == re.search(r"Selected:\s+(\d+)/", output).group(1)
