"""Business NXT's contract harness: its sandbox on loopback, every GraphQL document checked against our schema file
(the sandbox validates each one; the check here fails the run on any it refused)."""

from __future__ import annotations

from typing import Any

from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.ports import TargetContext
from sandboxes.business_nxt import BusinessNxtSandbox
from sandboxes.business_nxt.demo import posted
from tests.business_nxt.support import SchemaCheckingTransport
from tests.contract.harness import HANG, TIMEOUT, Fault, Stored

KINDS = {"429": "429", "503": "503", "500-after-commit": "commit_then_500", "timeout-after-commit": "timeout"}


class Harness:
    present = {"suppliers": ("50001",)}  # the sandbox's supplier numbers start at 50001

    def __init__(self) -> None:
        self.sandbox = BusinessNxtSandbox().start()
        self.sandbox.faults.timeout_seconds = HANG
        self.transport = SchemaCheckingTransport(self.sandbox.schema)
        self.secrets = MemorySecrets({"nxt-secret": self.sandbox.client_secret})
        self.cache: dict[str, Any] = {}
        self.tables = MemoryTables()
        self.sleeps: list[float] = []

    def connect(self, *, direct_posting: bool = False) -> TargetContext:
        box = self.sandbox
        return TargetContext(
            tenant="kunde-1",
            settings={"base_url": box.base_url, "token_url": box.token_url, "client_id": box.client_id,
                      "customer_ids": "5000001", "company_no": box.company.no, "voucher_series": 6, "timeout": TIMEOUT,
                      "direct_posting": direct_posting, "secrets": {"client_secret": "nxt-secret"}},
            secrets=self.secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(), cache=self.cache,
            tables=self.tables, transport=self.transport, sleep=self.sleeps.append)

    def stored(self) -> list[Stored]:
        return [Stored(p.reference, p.draft, p.text) for p in posted(self.sandbox.company)]

    def fault(self, kind: Fault, *, times: int = 1) -> None:
        self.sandbox.faults.add(KINDS[kind], times=times)

    def refusable(self) -> Voucher:
        # Our preflight passes (the account was open when looked up); Business NXT then refuses the row.
        voucher = Voucher(reference="AVVIST-1", date="2026-11-04", description="Varekjøp",
                          lines=[{"account": "4300", "amount": "80.00"}, {"account": "1920", "amount": "-80.00"}])
        from connectors.targets.business_nxt.descriptor import DESCRIPTOR

        assert DESCRIPTOR.connect(self.connect()).preflight([voucher]) == []
        self.sandbox.company.accounts[4300]["barred"] = True
        return voucher

    def break_credentials(self) -> None:
        self.secrets.set("nxt-secret", "utløpt-hemmelighet")
        self.cache.clear()  # a new connection: the old token is gone too
        self.sandbox.expire_tokens()

    def close(self) -> None:
        from connectors.http import close

        close(self.connect())
        self.sandbox.stop()
        assert self.transport.violations == [], "GraphQL documents our schema file does not take"
