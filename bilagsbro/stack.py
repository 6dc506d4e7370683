"""The local stack: Azurite, the storage the code expects, and the local Functions host running
function_app.py — what `bilagsbro serve`, `bilagsbro demo` and the end-to-end tests start.

Nothing here is used in Azure; there infra/ creates the storage and the Functions host runs the app.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bilagsbro.azurite import PROJECT_ROOT, Azurite, reachable, start_azurite
from pipeline.records import names

DATA_DIR = Path(os.environ.get("BILAGSBRO_HOME", PROJECT_ROOT / ".bilagsbro"))
STACK_FILE = "stack.json"


@dataclass
class Storage:
    connection_string: str
    azurite: Azurite | None  # the one we started, if we did

    def stop(self) -> None:
        if self.azurite is not None:
            self.azurite.stop()


def find_storage(data_dir: Path = DATA_DIR, *, start: bool = True, in_memory: bool = False) -> Storage:
    """A reachable storage account: BILAGSBRO_STORAGE, a running `bilagsbro serve`, or a new Azurite."""
    configured = os.environ.get(names.STORAGE_CONNECTION)
    if configured:
        if not reachable(configured):
            raise RuntimeError(f"{names.STORAGE_CONNECTION} is set but its endpoints do not answer")
        return Storage(configured, None)
    stack_file = data_dir / STACK_FILE
    if stack_file.exists():
        running = json.loads(stack_file.read_text("utf-8"))
        if reachable(running["storage"]):
            return Storage(running["storage"], None)
    if not start:
        raise RuntimeError("no storage is reachable: start `bilagsbro serve` or set BILAGSBRO_STORAGE")
    if in_memory:
        return Storage((azurite := start_azurite(in_memory=True)).connection_string, azurite)
    azurite = start_azurite(location=data_dir / "azurite")
    return Storage(azurite.connection_string, azurite)


def settings_for(connection_string: str, data_dir: Path = DATA_DIR) -> dict[str, str]:
    """The app settings the functions read, as local.settings.json would give them to the host."""
    return {
        names.STORAGE_CONNECTION: connection_string,
        names.SFTP_CONNECTION: connection_string,
        "AzureWebJobsStorage": connection_string,
        "BILAGSBRO_LOCAL_SECRETS": str(data_dir / "secrets.json"),
        # Every five minutes, on the minute (UTC), as in Azure; `bilagsbro pull` runs one now.
        "OMNIUM_PULL_SCHEDULE": os.environ.get("OMNIUM_PULL_SCHEDULE", "0 */5 * * * *"),
        # Every 15 minutes (UTC): each company's read-back ledger, the periods that changed (pipeline/readback).
        "LEDGER_SYNC_SCHEDULE": os.environ.get("LEDGER_SYNC_SCHEDULE", "0 */15 * * * *"),
        # Daily at 04:15 UTC: every connected workspace client's connection test again (workspace/health.py).
        "CONNECTION_TEST_SCHEDULE": os.environ.get("CONNECTION_TEST_SCHEDULE", "0 15 4 * * *"),
        # Every 15 seconds: a stalled document goes on within about a minute (docs/decisions/0003).
        "SWEEP_SCHEDULE": os.environ.get("SWEEP_SCHEDULE", "*/15 * * * * *"),
        # Azurite has no lifecycle management: the retention timer deletes the history blobs here itself.
        "HISTORY_BLOB_SWEEP": "true",
        # Above the app's own limits (api/http.py: 100 MB files), so an oversized upload gets our JSON
        # 413; the host itself answers an empty 500 past this (Azure/azure-functions-host#10519).
        "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "209715200",
        **({"SWEEP_STALL_SECONDS": os.environ["SWEEP_STALL_SECONDS"]} if os.environ.get("SWEEP_STALL_SECONDS") else {}),
        # Development only: webhooks may call a receiver on this machine (in Azure they go to public https only).
        "BILAGSBRO_WEBHOOKS_ALLOW_PRIVATE": os.environ.get("BILAGSBRO_WEBHOOKS_ALLOW_PRIVATE", "true"),
    }


def prepare(connection_string: str) -> None:
    """Create every queue, table and container (infra/ does this in Azure)."""
    from connectors.storage.azure import StorageAccount

    account = StorageAccount(names.STORAGE_CONNECTION, {names.STORAGE_CONNECTION: connection_string})
    account.create_all(queues=names.QUEUES, tables=names.TABLES,
                       containers=(*names.CONTAINERS, names.CONTAINER_SFTP))


def apply_settings(settings: dict[str, str]) -> None:
    """The Functions host puts app settings in the environment; so does the local host."""
    os.environ.update(settings)


@contextmanager
def local_stack(port: int = 0, *, data_dir: Path = DATA_DIR, in_memory: bool = False,
                record: bool = True, host_json: Path | None = None) -> Iterator[Any]:
    """Azurite + storage + the local host on `port` (0: a free one). Yields the LocalHost."""
    from bilagsbro.localhost import LocalHost
    from pipeline import redaction

    redaction.install()  # the local host logs what the Functions host would: redacted alike
    storage = find_storage(data_dir, in_memory=in_memory)
    try:
        prepare(storage.connection_string)
        settings = settings_for(storage.connection_string, data_dir)
        apply_settings(settings)
        app_module = load_function_app()
        host = LocalHost(app_module.app, settings=settings,
                         host_json=host_json or PROJECT_ROOT / "host.json", port=port)
        host.start()
        stack_file = data_dir / STACK_FILE
        if record:
            data_dir.mkdir(parents=True, exist_ok=True)
            stack_file.write_text(json.dumps({"storage": storage.connection_string, "port": host.port}), "utf-8")
        try:
            yield host
        finally:
            host.stop()
            if app_module._connectors.cache_info().currsize:  # close the connectors' HTTP clients
                app_module._connectors().close()
            if record:
                stack_file.unlink(missing_ok=True)
    finally:
        storage.stop()


def load_function_app() -> Any:
    """function_app.py as a fresh module, the way the Functions worker loads it: each local host (and
    the index test) indexes its own copy, since an app can be indexed only once."""
    import importlib.util

    name = f"function_app_{next(_loads)}"
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "function_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_loads = itertools.count(1)


def stores_for(connection_string: str, data_dir: Path = DATA_DIR) -> Any:
    """Stores on this storage, for CLI commands that act on a tenant without going through HTTP."""
    from connectors.storage.azure import stores

    return stores(settings_for(connection_string, data_dir))
