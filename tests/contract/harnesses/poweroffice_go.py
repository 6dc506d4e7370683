"""PowerOffice GO's contract harness: its sandbox on loopback, every request held against GO's published DTOs."""

from __future__ import annotations

from decimal import Decimal
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
SEND = r"^/SalesOrders/[0-9a-f-]{36}/createAndSendInvoice$"


class Harness:
    def __init__(self) -> None:
        self.sandbox = PowerOfficeSandbox(rate_limit=1000).start()
        self.sandbox.faults.timeout_seconds = HANG
        # The invoice the field map's credit note and payment name (number 10042), made in GO itself, and the product
        # its full line names.
        self.sandbox.sales.seed_invoice(10001, 10042, Decimal("1250.00"))
        self.sandbox.sales.add_product("BLÅBÆR-1", "Blåbær", 3000)
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
                      "products": {"3": "ABO", "31": "ABO-MAT", "5": "ABO-FRI"}, "create_customers": True,
                      "payment_accounts": {"vipps": "1580", "card": "1580"},
                      "secrets": {"application_key": "po-app", "client_key": "po-client", "subscription_key": "po-sub"}},
            secrets=self.secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(), cache=self.cache,
            tables=self.tables, transport=self.transport, sleep=self.sleeps.append)

    def stored(self) -> list[Stored]:
        return stored(self.sandbox)

    def fault(self, kind: Fault, *, times: int = 1) -> None:
        name, options = KINDS[kind]
        self.sandbox.faults.add(VOUCHER_PATHS, "POST", name, times=times, **options)

    def invoice_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next createAndSendInvoice (the step that makes an invoice of a sales order)."""
        name, options = KINDS[kind]
        self.sandbox.faults.add(SEND, "POST", name, times=times, **options)

    def credit_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next createAndSendInvoice (of the credit note: the invoice is made before the fault)."""
        self.invoice_fault(kind, times=times)

    def payment_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next POST /Vouchers/BankJournals."""
        name, options = KINDS[kind]
        self.sandbox.faults.add(r"^/Vouchers/BankJournals$", "POST", name, times=times, **options)

    def held(self, step: str, reference: str) -> int:
        """How many of the document with our reference GO holds: invoices and credit notes (posted, or still sales
        orders) by their ExternalImportReference, payments by their voucher's."""
        from connectors.targets.poweroffice_go.mapping import external_reference

        ours = external_reference(reference)
        if step == "payment":
            return sum(1 for v in self.sandbox.client.vouchers.values() if v.get("ExternalImportReference") == ours)
        sales = self.sandbox.sales
        return sum(1 for d in [*sales.orders.values(), *sales.invoices.values()]
                   if d.get("ExternalImportReference") == ours)

    def invoices_with(self, reference: str) -> int:
        """How many invoices (posted) GO holds with our reference."""
        from connectors.targets.poweroffice_go.mapping import external_reference

        return sum(1 for d in self.sandbox.sales.invoices.values()
                   if d.get("ExternalImportReference") == external_reference(reference))

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
