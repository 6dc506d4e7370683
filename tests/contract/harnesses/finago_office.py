"""Finago Office's contract harness: its sandbox on loopback, every request held against the official WSDLs."""

from __future__ import annotations

from pipeline.model import Voucher
from pipeline.ports import TargetContext
from tests.contract.harness import Fault, Stored
from tests.finago_office.finago_support import wire

KINDS: dict[str, tuple[str, bool]] = {
    "429": ("429", True), "503": ("503", True), "500-after-commit": ("commit_then_500", True),
    "timeout-after-commit": ("timeout", True),
}


class Harness:
    def __init__(self) -> None:
        self.wired = wire()
        self.sandbox = self.wired.sandbox

    def connect(self, *, direct_posting: bool = False) -> TargetContext:
        return self.wired.context(direct_posting=direct_posting)

    def stored(self) -> list[Stored]:
        return [Stored(v["reference"], v["draft"], v["text"]) for v in self.sandbox.vouchers()]

    def fault(self, kind: Fault, *, times: int = 1) -> None:
        name, commit = KINDS[kind]
        self.sandbox.faults.add("^SaveBundleList$", "POST", name, times=times, commit=commit)

    def refusable(self) -> Voucher:
        # Our preflight passes (VAT code 3 exists, so does account 1920); Finago Office refuses VAT on a bank account
        # (a rule the API does not show).
        return Voucher(reference="AVVIST-1", date="2026-11-04", description="Feilført mva",
                       lines=[{"account": "1920", "amount": "125.00", "vat_code": "3"},
                              {"account": "3000", "amount": "-125.00", "vat_code": "3"}])

    def break_credentials(self) -> None:
        self.wired.secrets.set("finago-password", "utløpt-passord")
        self.wired.cache.clear()  # a new connection: its session is gone too
        self.sandbox.expire_sessions()

    def close(self) -> None:
        self.wired.close()
        assert self.wired.transport.violations == [], "requests that break Finago Office's official WSDLs"
