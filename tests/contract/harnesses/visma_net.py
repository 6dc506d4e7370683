"""Visma.net's contract harness: its sandbox on loopback, every request held against the official OpenAPI spec."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.norway.kid import kid_mod10
from pipeline.ports import TargetContext
from sandboxes.visma_net import VismaNetSandbox
from tests.contract.harness import HANG, TIMEOUT, Fault, Stored
from tests.specs import SpecCheckingTransport
from tests.visma_net.visma_net_support import settings_for, spec_check, stored

KINDS = {"429": "429", "503": "503", "500-after-commit": "commit_then_500", "timeout-after-commit": "timeout"}


class Harness:
    def __init__(self) -> None:
        self.sandbox = VismaNetSandbox().start()
        self.sandbox.faults.timeout_seconds = HANG
        # The invoice the field map's credit note and payment name (ref. no. 10042), made in Visma.net itself.
        self.sandbox.receivables.seed_invoice("10001", "10042", Decimal("1250.00"), kid=kid_mod10("1004203"))
        self.transport = SpecCheckingTransport(spec_check())
        self.secrets = MemorySecrets({"visma-net-secret": self.sandbox.client_secret})
        self.cache: dict[str, Any] = {}
        self.tables = MemoryTables()
        self.sleeps: list[float] = []

    def connect(self, *, direct_posting: bool = False) -> TargetContext:
        return TargetContext(tenant="kunde-1", settings=settings_for(self.sandbox, timeout=TIMEOUT, direct_posting=direct_posting),
                             secrets=self.secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(), cache=self.cache,
                             tables=self.tables, transport=self.transport, sleep=self.sleeps.append)

    def stored(self) -> list[Stored]:
        return [Stored(*row) for row in stored(self.sandbox)]

    def fault(self, kind: Fault, *, times: int = 1) -> None:
        self.sandbox.faults.add(r"^/v2/journaltransaction$", "POST", KINDS[kind], times=times)

    def invoice_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next POST /v2/customerinvoice (the step that makes an invoice)."""
        self.sandbox.faults.add(r"^/v2/customerinvoice$", "POST", KINDS[kind], times=times)

    def credit_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next POST /v2/customerCreditNote."""
        self.sandbox.faults.add(r"^/v2/customerCreditNote$", "POST", KINDS[kind], times=times)

    def payment_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next POST /v1/customerPayment."""
        self.sandbox.faults.add(r"^/v1/customerPayment$", "POST", KINDS[kind], times=times)

    def held(self, step: str, reference: str) -> int:
        """How many of the document with our reference Visma.net holds: invoices and credit notes by their
        externalReference, payments by their paymentRef."""
        if step == "payment":
            from connectors.targets.visma_net.mapping import short_reference

            return sum(1 for d in self.sandbox.receivables.documents["payment"].values()
                       if d.get("paymentRef") == short_reference(reference))
        kind = {"invoice": "invoice", "credit": "credit"}[step]
        return sum(1 for d in self.sandbox.receivables.documents[kind].values() if d.get("externalReference") == reference)

    def invoices_with(self, reference: str) -> int:
        """How many customer invoices Visma.net holds with our reference."""
        return sum(1 for d in self.sandbox.receivables.documents["invoice"].values()
                   if d.get("externalReference") == reference)

    def refusable(self) -> Voucher:
        # Our preflight passes (the account was active when looked up); Visma.net then refuses it.
        self.sandbox.company.add_account("4310", "Innkjøp av varer, avgiftsfri")
        voucher = Voucher(reference="AVVIST-1", date="2026-11-04", description="Varekjøp",
                          lines=[{"account": "4310", "amount": "80.00"}, {"account": "1920", "amount": "-80.00"}])
        from connectors.targets.visma_net.descriptor import DESCRIPTOR

        assert DESCRIPTOR.connect(self.connect()).preflight([voucher]) == []
        self.sandbox.company.deactivate_account("4310")
        return voucher

    def break_credentials(self) -> None:
        self.secrets.set("visma-net-secret", "utløpt")
        self.cache.clear()  # a new connection: the old token is gone too
        self.sandbox.expire_tokens()

    def close(self) -> None:
        from connectors.http import close

        close(self.connect())
        self.sandbox.stop()
        assert self.transport.violations == [], "requests that break Visma.net's official OpenAPI spec"
