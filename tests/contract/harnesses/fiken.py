"""Fiken's contract harness: its sandbox on loopback, every request held against Fiken's official OpenAPI spec."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.ports import TargetContext
from sandboxes.fiken import FikenSandbox
from sandboxes.fiken.external import add_project
from tests.contract.harness import HANG, TIMEOUT, Fault, Stored
from tests.fiken.fiken_support import spec_check
from tests.specs import SpecCheckingTransport

KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "429": ("429", {}), "503": ("503", {}), "500-after-commit": ("commit_then_500", {}),
    "timeout-after-commit": ("timeout", {"commit": True}),
}


class Harness:
    missing = {"vat_codes": "81"}  # 86 (the suite's default) is one of Fiken's codes; 81 is SAF-T's, not Fiken's

    def __init__(self) -> None:
        self.sandbox = FikenSandbox().start()
        self.sandbox.faults.timeout_seconds = HANG
        # The invoice the field map's credit note and payment name (number 10042), made in Fiken itself.
        fjordkafé = next(c for c in self.sandbox.company.contacts.values() if c.get("customerNumber") == 10001)
        self.sandbox.company.invoicing.seed_invoice(int(fjordkafé["contactId"]), 10042, 125_000)
        add_project(self.sandbox.company.invoicing, "100", "Prosjekt 100")  # the field map's project
        self.transport = SpecCheckingTransport(spec_check())
        self.secrets = MemorySecrets({"fiken-token": "sandbox-personal-token"})
        self.cache: dict[str, Any] = {}
        self.tables = MemoryTables()
        self.sleeps: list[float] = []

    def connect(self, *, direct_posting: bool = False) -> TargetContext:
        return TargetContext(
            tenant="kunde-1",
            settings={"base_url": self.sandbox.base_url, "company_slug": self.sandbox.company.slug, "timeout": TIMEOUT,
                      "direct_posting": direct_posting, "secrets": {"api_token": "fiken-token"}},
            secrets=self.secrets, blobs=MemoryBlobs(), exchanges=MemoryExchanges(), cache=self.cache,
            tables=self.tables, transport=self.transport, sleep=self.sleeps.append)

    def stored(self) -> list[Stored]:
        # Fiken has no drafts: everything it holds is in the ledger (an open entry too).
        return [Stored(_reference(e["description"]), False, e["description"]) for e in self.sandbox.entries]

    def fault(self, kind: Fault, *, times: int = 1) -> None:
        name, options = KINDS[kind]
        self.sandbox.faults.add(r"/generalJournalEntries$", "POST", name, times=times, **options)

    def invoice_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next POST …/createInvoice (the step that makes an invoice of a draft)."""
        name, options = KINDS[kind]
        self.sandbox.faults.add(r"/createInvoice$", "POST", name, times=times, **options)

    def credit_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next POST /creditNotes/full or /partial."""
        name, options = KINDS[kind]
        self.sandbox.faults.add(r"/creditNotes/(full|partial)$", "POST", name, times=times, **options)

    def payment_fault(self, kind: Fault, *, times: int = 1) -> None:
        """Misbehave on the next POST /sales/{saleId}/payments."""
        name, options = KINDS[kind]
        self.sandbox.faults.add(r"/sales/\d+/payments$", "POST", name, times=times, **options)

    def held(self, step: str, reference: str) -> int:
        """How many of the document with our reference Fiken holds: invoices of its draft, credit notes with its
        text, payments on the sale of invoice 70001."""
        books = self.sandbox.company.invoicing
        if step == "invoice":
            return self.invoices_with(reference)
        if step == "credit":
            return sum(1 for n in books.credit_notes.values() if str(n["creditNoteText"]).startswith("Kreditnota K-"))
        [paid] = [i for i in books.invoices.values() if i["orderReference"] == "70001"]
        return len(paid["sale"]["salePayments"])

    def invoices_with(self, reference: str) -> int:
        """How many invoices Fiken holds of the draft with our reference's UUID."""
        from connectors.targets.fiken.invoicing import draft_uuid

        wanted = draft_uuid("kunde-1", reference)
        return sum(1 for i in self.sandbox.company.invoicing.invoices.values() if i["invoiceDraftUuid"] == wanted)

    def refusable(self) -> Voucher:
        # Our preflight passes (Fiken's period lock cannot be read through its API); Fiken then refuses it (400).
        self.sandbox.company.locked_through = dt.date(2026, 12, 31)
        return Voucher(reference="AVVIST-1", date="2026-11-04", description="Varekjøp i låst periode",
                       lines=[{"account": "4300", "amount": "80.00"}, {"account": "1920", "amount": "-80.00"}])

    def break_credentials(self) -> None:
        self.secrets.set("fiken-token", "utløpt-nøkkel")
        self.cache.clear()  # a new connection: the old token is gone with it

    def close(self) -> None:
        from connectors.http import close

        close(self.connect())
        self.sandbox.stop()
        assert self.transport.violations == [], "requests that break Fiken's official OpenAPI spec"


def _reference(description: str) -> str:
    """Our reference from a stored description: "Fri postering registrert via API: [REF] text" → "REF"."""
    text = description.removeprefix("Fri postering registrert via API: ")
    return text[1:text.index("]")] if text.startswith("[") and "]" in text else text
