"""Secrets never leave the vault: the demo and an end-to-end run with every logger at DEBUG, then every log line,
blob, table row and queue message in Azurite scanned for every secret the run created — 0 hits.

The run covers each way a secret travels: Tripletex's consumer and employee tokens (a session request carries
both in its query string), a refused token, the session tokens Tripletex hands out (and the Basic header made
of them), a session renewed after it expired, Omnium's client secret and access tokens (token request, timer
pull, CLI pull), our API keys (admin and tenant, issued, rotated, revoked), connection tests that pass and
fail, over the admin API, in-process, and through the CLI in subprocesses logging at DEBUG too.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
API_KEY = re.compile(r"bb_[A-Za-z0-9_-]{40,}")  # any whole API key, known to this test or not


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        with self._guard:
            self.lines.append(line)


@pytest.fixture
def debug_log():
    handler = Collect()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def own_azurite():
    """An Azurite of this test's own, named in BILAGSBRO_STORAGE as an operator would; the environment the
    local host writes its settings into is put back afterwards."""
    from bilagsbro.azurite import AzuriteNotInstalled, find_azurite, start_azurite

    try:
        find_azurite()
    except AzuriteNotInstalled as exc:
        pytest.skip(f"Azurite is not installed ({exc}); `make test` installs it with npm ci")
    environ = dict(os.environ)
    azurite = start_azurite(in_memory=True)
    os.environ["BILAGSBRO_STORAGE"] = azurite.connection_string
    try:
        yield azurite.connection_string
    finally:
        os.environ.clear()
        os.environ.update(environ)
        azurite.stop()


class Secrets:
    """Every secret the run made or was handed, by label (failure messages name the label, not the value)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def add(self, label: str, value: str) -> str:
        self.values[f"{label} #{len(self.values)}"] = value
        return value

    def sessions(self, label: str, issued: list[str]) -> None:
        for token in issued:
            self.add(label, token)
            self.add(f"{label} as Basic", base64.b64encode(f"0:{token}".encode()).decode())

    def hits(self, where: str, text: str) -> list[str]:
        found = [f"{label} in {where}" for label, value in self.values.items() if value in text]
        found += [f"an API key ({m.group()[:6]}…) in {where}" for m in API_KEY.finditer(text)]
        return found


def bilagsbro(*args, env):
    """The CLI in a subprocess, logging every library at DEBUG on stderr."""
    return subprocess.run([sys.executable, "-m", "bilagsbro", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env, "BILAGSBRO_LOG_LEVEL": "DEBUG"}, timeout=120)


def wait(client, document_id, done=("delivered", "blocked", "failed"), timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/documents/{document_id}").json()
        if body["status"] in done:
            return body
        time.sleep(0.1)
    raise AssertionError(body)


def sale(reference):
    return {"type": "voucher", "reference": reference, "date": "2026-11-20", "description": "Salg – æøå",
            "lines": [{"account": "1920", "amount": "500.00"}, {"account": "3000", "amount": "-500.00",
                                                                "vat_code": "3"}]}


def storage_text(connection_string: str) -> dict[str, str]:
    """Every blob, table row and queue message in the account, as text, by where it is."""
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueServiceClient

    found: dict[str, str] = {}
    blobs = BlobServiceClient.from_connection_string(connection_string)
    for container in blobs.list_containers():
        client = blobs.get_container_client(container.name)
        for blob in client.list_blobs():
            found[f"blob {container.name}/{blob.name}"] = client.download_blob(blob.name).readall().decode(
                "utf-8", "replace")
    tables = TableServiceClient.from_connection_string(connection_string)
    for table in tables.list_tables():
        for entity in tables.get_table_client(table.name).list_entities():
            found[f"table {table.name} {entity['PartitionKey']}/{entity['RowKey']}"] = json.dumps(
                dict(entity), default=str, ensure_ascii=False)
    queues = QueueServiceClient.from_connection_string(connection_string)
    for queue in queues.list_queues():
        for message in queues.get_queue_client(queue.name).peek_messages(max_messages=32):
            found[f"queue {queue.name} {message.id}"] = str(message.content)
    return found


@pytest.mark.long
def test_the_demo_and_an_end_to_end_run_at_debug_leave_no_secret_anywhere(own_azurite, debug_log, tmp_path,
                                                                           monkeypatch):
    import sandboxes.tripletex
    from bilagsbro.demo import run_demo
    from bilagsbro.stack import local_stack, stores_for
    from pipeline.records.tenants import TenantRegistry
    from sandboxes.omnium import OmniumSandbox
    from sandboxes.tripletex import TripletexSandbox

    made = Secrets()
    cli_output: dict[str, str] = {}

    # 1. The demo, as `make demo` runs it, on this Azurite; its sandbox's tokens are the defaults.
    demo_boxes: list[TripletexSandbox] = []

    class RecordedSandbox(TripletexSandbox):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            demo_boxes.append(self)

    monkeypatch.setattr(sandboxes.tripletex, "TripletexSandbox", RecordedSandbox)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert run_demo() == 0
    monkeypatch.undo()
    assert list(scratch.iterdir()) == []  # its secrets file went with its scratch folder
    [demo_box] = demo_boxes
    made.add("demo consumer token", demo_box.consumer_token)
    made.add("demo employee token", demo_box.employee_token)
    made.sessions("demo Tripletex session", demo_box.issued)

    # 2. An end-to-end run on the same storage.
    host_json = json.loads((ROOT / "host.json").read_text("utf-8"))
    host_json["extensions"]["queues"]["visibilityTimeout"] = "00:00:00.200"
    data = tmp_path / "stack"
    data.mkdir()
    (data / "host.json").write_text(json.dumps(host_json), "utf-8")
    env = {"BILAGSBRO_STORAGE": own_azurite, "BILAGSBRO_HOME": str(data)}
    consumer = made.add("consumer token", "consumer-" + secrets.token_urlsafe(16))
    employee = made.add("employee token", "employee-" + secrets.token_urlsafe(16))
    omnium_secret = made.add("Omnium client secret", "omnium-" + secrets.token_urlsafe(16))
    with TripletexSandbox(consumer_token=consumer, employee_token=employee) as tripletex, \
            OmniumSandbox(client_secret=omnium_secret) as omnium, \
            local_stack(0, data_dir=data, record=False, host_json=data / "host.json") as host:
        stores = stores_for(own_azurite, data)
        admin_key = made.add("admin key", TenantRegistry(stores.tables).issue_key(None, role="admin"))
        issued = bilagsbro("key", "issue", "--admin", "--label", "drift", env=env)
        assert issued.returncode == 0, issued.stderr
        made.add("admin key from the CLI", json.loads(issued.stdout)["api_key"])
        cli_output["key issue (stderr)"] = issued.stderr

        with httpx.Client(base_url=host.url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30) as boss:
            created = boss.post("/api/v1/admin/tenants", json={"name": "Lekkasjefri Butikk AS"}).json()
            tenant, vendor_key = created["tenant_id"], made.add("tenant key", created["api_key"])
            wrong = made.add("mistyped employee token", "employee-" + secrets.token_urlsafe(16))
            refused = boss.put(f"/api/v1/admin/tenants/{tenant}/connection", json={
                "target": "tripletex", "settings": {"base_url": tripletex.base_url, "timeout": 5},
                "credentials": {"consumer_token": consumer, "employee_token": wrong}})
            assert refused.status_code == 422, refused.text
            pending = boss.get(f"/api/v1/admin/tenants/{tenant}/connection").json()["pending"]
            assert pending["state"] == "failed" and pending["check"]["error"]["status"] == 403
            connected = boss.put(f"/api/v1/admin/tenants/{tenant}/connection", json={
                "target": "tripletex", "settings": {"base_url": tripletex.base_url, "timeout": 5},
                "credentials": {"consumer_token": consumer, "employee_token": employee}})
            assert connected.status_code == 200, connected.text
            extra = boss.post(f"/api/v1/admin/tenants/{tenant}/keys", json={"label": "Kasse 2"}).json()
            made.add("second tenant key", extra["api_key"])
            keys = boss.get(f"/api/v1/admin/tenants/{tenant}/keys").json()["keys"]
            rotated = boss.post(f"/api/v1/admin/tenants/{tenant}/keys/{keys[0]['key_id']}/rotate",
                                json={"overlap_hours": 1}).json()
            made.add("rotated tenant key", rotated["api_key"])
            assert boss.post(f"/api/v1/admin/tenants/{tenant}/keys/{extra['key']['key_id']}/revoke").status_code == 200

        with httpx.Client(base_url=host.url, headers={"Authorization": f"Bearer {vendor_key}"}, timeout=30) as vendor:
            first = vendor.post("/api/v1/documents", json=sale("tett-1")).json()["documents"][0]["id"]
            assert wait(vendor, first)["status"] == "delivered"
            tripletex.expire_sessions()  # the next delivery renews its session on a 401
            second = vendor.post("/api/v1/documents", json=sale("tett-2")).json()["documents"][0]["id"]
            assert wait(vendor, second)["status"] == "delivered"
            exchanges = vendor.get(f"/api/v1/documents/{second}", params={"include": "exchanges"}).json()["exchanges"]
            assert any("session/:create" in x["url"] for x in exchanges)  # the renewal was recorded, redacted
            assert vendor.post("/api/v1/documents", json=sale("tett-3"),
                               headers={"Authorization": f"Bearer {extra['api_key']}"}).status_code == 401

        # Omnium through the CLI (a secret file, a refused secret from the environment), the timer and a pull.
        omnium.seed_orders(n=10, stores=["bergen-1"], days=1, seed=7)
        secret_file = tmp_path / "omnium-secret"
        secret_file.write_text(omnium_secret, "utf-8")
        secret_file.chmod(0o600)
        added = bilagsbro("source", "add", tenant, "omnium", "--base-url", omnium.base_url, "--client-id",
                          omnium.client_id, "--client-secret-file", str(secret_file), "--mode", "order",
                          "--start", "2020-01-01T00:00:00+00:00", env=env)
        assert added.returncode == 0, added.stderr
        bad_secret = made.add("mistyped Omnium secret", "omnium-" + secrets.token_urlsafe(16))
        refused_source = bilagsbro("source", "add", tenant, "omnium", "--base-url", omnium.base_url, "--client-id",
                                   omnium.client_id, "--client-secret-env", "OMNIUM_SECRET",
                                   env={**env, "OMNIUM_SECRET": bad_secret})
        assert refused_source.returncode == 1, refused_source.stderr
        host.invoke_timer("pull_orders")
        pulled = bilagsbro("pull", tenant, "omnium", env=env)
        assert pulled.returncode == 0, pulled.stderr
        # And a token rotation through the CLI, tested against Tripletex before it takes over.
        tripletex.employee_token = made.add("rotated employee token", "employee-" + secrets.token_urlsafe(16))
        rotated_connection = bilagsbro("connect", tenant, "tripletex", "--employee-token-env", "TT_EMPLOYEE",
                                       env={**env, "TT_EMPLOYEE": tripletex.employee_token})
        assert rotated_connection.returncode == 0, rotated_connection.stderr
        for name, result in (("source add", added), ("source add refused", refused_source), ("pull", pulled),
                             ("connect", rotated_connection)):
            cli_output[f"{name} (stdout)"] = result.stdout
            cli_output[f"{name} (stderr)"] = result.stderr
        made.sessions("Tripletex session", tripletex.issued)
        for token in omnium.issued:
            made.add("Omnium access token", token)
        assert len(tripletex.issued) >= 3 and len(omnium.issued) >= 3

    # 3. The scan.
    log_text = "\n".join(debug_log.lines)
    assert "consumerToken=[redacted]&employeeToken=[redacted]" in log_text  # the session requests were logged
    assert "clientSecret=[redacted]" in "\n".join(cli_output.values())  # so were Omnium's token requests
    stored = storage_text(own_azurite)
    assert any(where.startswith("blob exchanges/") for where in stored), sorted(stored)[:20]
    leaks = made.hits("the in-process log at DEBUG", log_text)
    for where, text in {**cli_output, **stored}.items():
        leaks += made.hits(where, text)
    assert leaks == [], leaks


def test_an_interrupted_demo_leaves_no_secrets_file_behind(own_azurite, tmp_path, monkeypatch):
    from bilagsbro import demo

    def interrupted(*args, **kwargs):
        assert list(tmp_path.glob("bilagsbro-demo-*/secrets.json"))  # it was there while the demo ran
        raise KeyboardInterrupt

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(demo, "_send_and_show", interrupted)
    with pytest.raises(KeyboardInterrupt):
        demo.run_demo()
    assert list(tmp_path.glob("bilagsbro-demo-*")) == []


def test_a_terminated_demo_leaves_no_secrets_file_behind(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "BILAGSBRO_STORAGE"}  # the demo starts its own Azurite
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with (tmp_path / "demo.log").open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "bilagsbro", "demo"], cwd=ROOT,
                                   env={**env, "TMPDIR": str(scratch)}, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while not list(scratch.glob("bilagsbro-demo-*/secrets.json")):
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "demo.log").read_text()
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        finally:
            process.kill()
            process.wait()
    assert list(scratch.glob("bilagsbro-demo-*")) == []
