"""Fortnox's contract harness: its sandbox on loopback, connected with a refresh token as the consent leaves one.

Fortnox publishes no OpenAPI spec we keep (../shared/specs has none; apps.fortnox.se/apidocs is not stored), so
requests are held against the contract the sandbox enforces (tests/fortnox/test_fortnox_sandbox.py).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.norway.kid import kid_mod10
from pipeline.ports import TargetContext
from sandboxes.fortnox import FortnoxSandbox
from tests.contract.harness import HANG, TIMEOUT, Fault, Stored

KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "429": ("429", {}), "503": ("503", {}), "500-after-commit": ("commit_then_500", {}),
    "timeout-after-commit": ("timeout", {"commit": True}),
}


class Harness:
    missing = {"vat_codes": "86"}  # reverse charge: Fortnox rows have no VAT code, so it cannot be booked

    def __init__(self) -> None:
        self.sandbox = FortnoxSandbox(rate_limit=None).start()
        self.sandbox.faults.timeout_seconds = HANG
        # The invoice the field map's credit note and payment name (our number 10042), made in Fortnox itself.
        company = self.sandbox.company
        company.invoicing.seed_invoice(company, "10001", "10042", Decimal("1250.00"), ocr=kid_mod10("1004203"))
        box = self.sandbox
        self.secrets = MemorySecrets({"fortnox-refresh": next(iter(box.refresh_tokens)),
                                      "fortnox-client": box.clients[box.client_id]})
        self.cache: dict[str, Any] = {}
        self.tables = MemoryTables()
        self.sleeps: list[float] = []

    def connect(self, *, direct_posting: bool = False) -> TargetContext:
        box = self.sandbox
        return TargetContext(
            tenant="kunde-1",
            settings={"base_url": box.base_url, "token_url": box.token_url, "auth_url": box.auth_url,
                      "client_id": box.client_id, "timeout": TIMEOUT, "direct_posting": direct_posting, "invoicing": True,
                      "secrets": {"refresh_token": "fortnox-refresh", "client_secret": "fortnox-client"}},
            secrets=self.secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(), cache=self.cache,
            tables=self.tables, sleep=self.sleeps.append)

    def stored(self) -> list[Stored]:
        with self.sandbox.company.lock:
            vouchers = list(self.sandbox.company.vouchers)
        return [Stored(_reference(v["Description"]), False,
                       " ".join([v["Description"], *(str(r.get("Description") or "") for r in v["VoucherRows"])]))
                for v in vouchers]

    def fault(self, kind: Fault, *, times: int = 1) -> None:
        name, options = KINDS[kind]
        self.sandbox.faults.add(r"^/vouchers$", "POST", name, times=times, **options)

    def invoice_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next POST /3/invoices (the step that makes an invoice, or a credit invoice)."""
        name, options = KINDS[kind]
        self.sandbox.faults.add(r"^/invoices$", "POST", name, times=times, **options)

    credit_fault = invoice_fault  # the suite's credit note credits part of an invoice: a credit invoice of its own

    def payment_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next POST /3/invoicepayments."""
        name, options = KINDS[kind]
        self.sandbox.faults.add(r"^/invoicepayments$", "POST", name, times=times, **options)

    def held(self, step: str, reference: str) -> int:
        """How many of the document with our reference Fortnox holds: invoices and credit invoices by their
        ExternalInvoiceReference1, payments on the invoice our invoice number 70001 became."""
        books = self.sandbox.company.invoicing
        if step in ("invoice", "credit"):
            return self.invoices_with(reference)
        [paid] = [i for i in books.invoices.values() if i["ExternalInvoiceReference2"] == "70001"
                  and i["Credit"] != "true"]
        return sum(1 for p in books.payments.values() if p["InvoiceNumber"] == paid["DocumentNumber"])

    def invoices_with(self, reference: str) -> int:
        """How many invoices Fortnox holds with our reference."""
        return sum(1 for i in self.sandbox.company.invoicing.invoices.values()
                   if i["ExternalInvoiceReference1"] == reference)

    def refusable(self) -> Voucher:
        # Our preflight passes (the lock date is not in Fortnox's API we read); Fortnox refuses: the period is locked.
        self.sandbox.company.locked_through = dt.date(2026, 11, 30)
        return Voucher(reference="AVVIST-1", date="2026-11-04", description="Varekjøp i låst periode",
                       lines=[{"account": "4300", "amount": "80.00"}, {"account": "1920", "amount": "-80.00"}])

    def break_credentials(self) -> None:
        self.sandbox.revoke()  # the customer withdrew the permission in Fortnox
        self.cache.clear()

    def close(self) -> None:
        from connectors.http import close

        close(self.connect())
        self.sandbox.stop()


def _reference(description: str) -> str:
    return description[1:description.index("]")] if description.startswith("[") and "]" in description else ""
