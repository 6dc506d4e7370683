"""Xledger's contract harness: its GraphQL sandbox on loopback, every query validated against the schema file.

The sandbox processes import items as they arrive and keeps processed ones readable (archived): one of the ways
Xledger may behave. tests/xledger holds the connector to the others (processing later, processed items gone).
"""

from __future__ import annotations

from typing import Any

from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.ports import TargetContext
from sandboxes.xledger import Entity, XledgerSandbox
from tests.contract.harness import HANG, TIMEOUT, Fault, Stored
from tests.xledger.xledger_support import stored


class Harness:
    def __init__(self) -> None:
        self.sandbox = XledgerSandbox(entity=Entity(processing="immediate", keep_processed=True)).start()
        self.sandbox.timeout_seconds = HANG
        self.secrets = MemorySecrets({"xledger-token": self.sandbox.token})
        self.cache: dict[str, Any] = {}
        self.tables = MemoryTables()
        self.sleeps: list[float] = []

    def connect(self, *, direct_posting: bool = False) -> TargetContext:
        return TargetContext(
            tenant="kunde-1",
            settings={"base_url": self.sandbox.base_url, "timeout": TIMEOUT, "direct_posting": direct_posting,
                      "secrets": {"api_token": "xledger-token"}},
            secrets=self.secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(), cache=self.cache,
            tables=self.tables, sleep=self.sleeps.append)

    def stored(self) -> list[Stored]:
        return [Stored(*row) for row in stored(self.sandbox)]

    def fault(self, kind: Fault, *, times: int = 1) -> None:
        self.sandbox.fault(kind, times=times)

    def refusable(self) -> Voucher:
        # Our preflight passes (account 4300 was open when looked up); then it is closed, and Xledger refuses.
        voucher = Voucher(reference="AVVIST-1", date="2026-11-04", description="Varekjøp",
                          lines=[{"account": "4300", "amount": "80.00"}, {"account": "1920", "amount": "-80.00"}])
        from connectors.targets.xledger.descriptor import DESCRIPTOR

        assert DESCRIPTOR.connect(self.connect()).preflight([voucher]) == []
        self.sandbox.entity.close_account("4300")
        return voucher

    def break_credentials(self) -> None:
        self.secrets.set("xledger-token", "expired-token")
        self.cache.clear()

    def close(self) -> None:
        from connectors.http import close

        close(self.connect())
        self.sandbox.stop()
        assert self.sandbox.invalid() == [], "queries that break Xledger's schema file"
