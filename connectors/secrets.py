"""Where connection secrets live: Key Vault in Azure, a local stand-in file only for development.

Secrets are read by name without a version, so rotating one (writing a new version in Key Vault)
takes effect on the next read without a redeploy. Values never reach logs, traces or Table Storage: every
value read or written is handed to `pipeline.redaction`, which blanks it out of every log record.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline import redaction
from pipeline.ports import NotFound, SecretStore

KEYVAULT_SETTING = "BILAGSBRO_KEYVAULT_URL"
LOCAL_SETTING = "BILAGSBRO_LOCAL_SECRETS"  # path of the development stand-in's file
_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")  # Key Vault's rule for secret names


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"secret name {name!r} must be 1-127 letters, digits or hyphens (Key Vault's rule)")
    return name


class KeyVaultSecrets:
    def __init__(self, vault_url: str, credential: Any | None = None) -> None:
        self.vault_url, self.credential = vault_url, credential
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """Made on first use: a function that reads no secret never loads the Key Vault and identity SDKs."""
        with self._lock:
            if self._client is None:
                from azure.identity import DefaultAzureCredential
                from azure.keyvault.secrets import SecretClient

                self._client = SecretClient(self.vault_url, self.credential or DefaultAzureCredential())
            return self._client

    def get(self, name: str) -> str:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            value = str(self.client.get_secret(check_name(name)).value)
        except ResourceNotFoundError:
            raise NotFound(f"secret {name}") from None
        redaction.remember(value)
        return value

    def set(self, name: str, value: str) -> None:
        redaction.remember(value)
        self.client.set_secret(check_name(name), value)


class LocalSecrets:
    """Development only: a JSON file readable by its owner alone. Never used when Key Vault is set."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        return dict(json.loads(self.path.read_text("utf-8")))

    def get(self, name: str) -> str:
        try:
            value = self._read()[check_name(name)]
        except KeyError:
            raise NotFound(f"secret {name}") from None
        redaction.remember(value)
        return value

    def set(self, name: str, value: str) -> None:
        redaction.remember(value)
        with self._lock:
            values = self._read()
            values[check_name(name)] = value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(values, f)
            os.replace(tmp, self.path)


def secret_store(settings: Mapping[str, str] | None = None) -> SecretStore:
    settings = os.environ if settings is None else settings
    if settings.get(KEYVAULT_SETTING):
        return KeyVaultSecrets(settings[KEYVAULT_SETTING])
    if settings.get(LOCAL_SETTING):
        return LocalSecrets(Path(settings[LOCAL_SETTING]))
    raise RuntimeError(f"no secret store: set {KEYVAULT_SETTING} (Azure) or {LOCAL_SETTING} (development)")
