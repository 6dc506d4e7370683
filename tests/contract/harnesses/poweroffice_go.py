"""PowerOffice GO's contract harness: its sandbox on loopback, every request held against GO's published DTOs."""

from __future__ import annotations

from typing import Any

from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.ports import TargetContext
from sandboxes.poweroffice_go import PowerOfficeSandbox
from tests.contract.harness import HANG, TIMEOUT, Fault, Stored
from tests.poweroffice_go.support import ContractCheckingTransport, stored

KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "429": ("429", {}), "503": ("503", {}), "500-after-commit": ("commit_then_500", {}),
    "timeout-after-commit": ("timeout", {"commit": True}),
}
VOUCHER_PATHS = r"^/(JournalEntryVouchers|Vouchers)/ManualJournals$"


class Harness:
    def __init__(self) -> None:
        self.sandbox = PowerOfficeSandbox(rate_limit=1000).start()
        self.sandbox.faults.timeout_seconds = HANG
        self.transport = ContractCheckingTransport()
        self.secrets = MemorySecrets({"po-app": self.sandbox.application_key, "po-client": self.sandbox.client_key,
                                      "po-sub": self.sandbox.subscription_key})
        self.cache: dict[str, Any] = {}
        self.tables = MemoryTables()
        self.sleeps: list[float] = []

    def connect(self, *, direct_posting: bool = False) -> TargetContext:
        return TargetContext(
            tenant="kunde-1",
            settings={"base_url": self.sandbox.base_url, "timeout": TIMEOUT, "direct_posting": direct_posting,
                      "requests_per_second": 1000,  # the sandbox here allows as many; pacing: test_poweroffice_access
                      "secrets": {"application_key": "po-app", "client_key": "po-client", "subscription_key": "po-sub"}},
            secrets=self.secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(), cache=self.cache,
            tables=self.tables, transport=self.transport, sleep=self.sleeps.append)

    def stored(self) -> list[Stored]:
        return stored(self.sandbox)

    def fault(self, kind: Fault, *, times: int = 1) -> None:
        name, options = KINDS[kind]
        self.sandbox.faults.add(VOUCHER_PATHS, "POST", name, times=times, **options)

    def refusable(self) -> Voucher:
        # Our preflight passes (account 4300 was active when looked up); GO then refuses it (400 ProblemDetails).
        voucher = Voucher(reference="AVVIST-1", date="2026-11-04", description="Varekjøp",
                          lines=[{"account": "4300", "amount": "80.00", "vat_code": "1"},
                                 {"account": "1920", "amount": "-80.00"}])
        from connectors.targets.poweroffice_go.descriptor import DESCRIPTOR

        assert DESCRIPTOR.connect(self.connect()).preflight([voucher]) == []
        self.sandbox.client.account(4300)["IsActive"] = False
        return voucher

    def break_credentials(self) -> None:
        self.secrets.set("po-client", "utløpt-klientnøkkel")
        self.cache.clear()  # a new connection: the old token is gone too
        self.sandbox.expire_tokens()

    def close(self) -> None:
        from connectors.http import close

        close(self.connect())
        self.sandbox.stop()
        assert self.transport.violations == [], "requests that break PowerOffice GO's published contract"
