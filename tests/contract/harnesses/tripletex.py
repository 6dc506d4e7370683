"""Tripletex's contract harness: its sandbox on loopback, every request held against the official OpenAPI spec."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.norway.kid import kid_mod10
from pipeline.ports import TargetContext
from sandboxes.tripletex import TripletexSandbox
from tests.contract.harness import HANG, TIMEOUT, Fault, Stored
from tests.tripletex.tripletex_support import SpecCheckingTransport, load_spec_check

KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "429": ("429", {}), "503": ("503", {}), "500-after-commit": ("commit_then_500", {}),
    "timeout-after-commit": ("timeout", {"commit": True}),
}


class Harness:
    def __init__(self) -> None:
        self.sandbox = TripletexSandbox().start()
        self.sandbox.faults.timeout_seconds = HANG
        # The invoice the field map's credit note and payment name (number 10042), made in Tripletex itself.
        self.sandbox.invoicing.seed_invoice(10001, 10042, Decimal("1250.00"), kid=kid_mod10("1004203"))
        self.transport = SpecCheckingTransport(load_spec_check())
        self.secrets = MemorySecrets({"tripletex-consumer": self.sandbox.consumer_token,
                                      "tripletex-employee": self.sandbox.employee_token})
        self.cache: dict[str, Any] = {}
        self.tables = MemoryTables()
        self.sleeps: list[float] = []

    def connect(self, *, direct_posting: bool = False) -> TargetContext:
        return TargetContext(
            tenant="kunde-1",
            settings={"base_url": self.sandbox.base_url, "timeout": TIMEOUT, "direct_posting": direct_posting,
                      "secrets": {"consumer_token": "tripletex-consumer", "employee_token": "tripletex-employee"}},
            secrets=self.secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(), cache=self.cache,
            tables=self.tables, transport=self.transport, sleep=self.sleeps.append)

    def stored(self) -> list[Stored]:
        return [Stored(v["externalVoucherNumber"], not v["_posted"],
                       " ".join([v.get("description") or "", *(p.get("description") or "" for p in v["postings"])]))
                for v in self.sandbox.vouchers]

    def fault(self, kind: Fault, *, times: int = 1) -> None:
        name, options = KINDS[kind]
        self.sandbox.faults.add(r"^/ledger/voucher$", "POST", name, times=times, **options)

    def invoice_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next POST /invoice (the step that books an invoice)."""
        name, options = KINDS[kind]
        self.sandbox.faults.add(r"^/invoice$", "POST", name, times=times, **options)

    def credit_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next PUT /order/{id}/:invoice (a part credit note invoiced against its invoice)."""
        name, options = KINDS[kind]
        self.sandbox.faults.add(r"^/order/\d+/:invoice$", "PUT", name, times=times, **options)

    def payment_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next PUT /invoice/{id}/:payment."""
        name, options = KINDS[kind]
        self.sandbox.faults.add(r"^/invoice/\d+/:payment$", "PUT", name, times=times, **options)

    def held(self, step: str, reference: str) -> int:
        """How many of the document with our reference Tripletex holds."""
        books = self.sandbox.invoicing
        if step == "invoice":
            return self.invoices_with(reference)
        if step == "credit":
            return sum(1 for i in books.invoices.values() if i["isCreditNote"])
        return len(books.payments)

    def invoices_with(self, reference: str) -> int:
        """How many invoices Tripletex holds of the order with our reference."""
        orders = {o["id"] for o in self.sandbox.invoicing.orders.values() if o.get("reference") == reference}
        return sum(1 for i in self.sandbox.invoicing.invoices.values()
                   if any(o["id"] in orders for o in i["orders"]) and not i["isCreditNote"])

    def refusable(self) -> Voucher:
        # Our preflight passes (the account was active when looked up); Tripletex then refuses it (422).
        self.sandbox.company.add_account(4300, "Innkjøp av varer for videresalg")
        voucher = Voucher(reference="AVVIST-1", date="2026-11-04", description="Varekjøp",
                          lines=[{"account": "4300", "amount": "80.00"}, {"account": "1920", "amount": "-80.00"}])
        from connectors.targets.tripletex.descriptor import DESCRIPTOR

        assert DESCRIPTOR.connect(self.connect()).preflight([voucher]) == []
        self.sandbox.company.deactivate_account(4300)
        return voucher

    def break_credentials(self) -> None:
        self.secrets.set("tripletex-employee", "utløpt")
        self.cache.clear()  # a new connection: the old session is gone too
        self.sandbox.expire_sessions()

    def close(self) -> None:
        from connectors.http import close

        close(self.connect())
        self.sandbox.stop()
        assert self.transport.violations == [], "requests that break Tripletex's official OpenAPI spec"
