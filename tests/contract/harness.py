"""What a target brings to the contract suite: a harness — its sandbox, a tenant connected to it, faults, and a
read-back of what the system holds. The suite does the rest, with the target's registered factory.

A harness lives in `tests/contract/harnesses/<name>.py` (the registry name, `-` as `_`) as a class `Harness`;
`test_every_registered_target_has_a_harness` fails for a target that has none. What a harness cannot do
because the system has no such thing (the file target has no HTTP, no credentials) it never needs to: the
suite skips those cases because the target's descriptor says so, with the reason.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Literal, Protocol

from pipeline.model import Voucher
from pipeline.ports import TargetContext

# What the system misbehaves with on the next POST of a voucher (only asked of targets reached over HTTP):
#   "429"                   rate limited: refused, nothing committed
#   "503"                   unavailable: refused, nothing committed (the connector cannot know that)
#   "500-after-commit"      committed, then answered 500
#   "timeout-after-commit"  committed, then no answer within the connector's timeout
Fault = Literal["429", "503", "500-after-commit", "timeout-after-commit"]

# The connector's timeout in the suite (seconds): short, so that a timeout case is quick, yet long enough that a
# sandbox on a busy 2-core CI machine answers an ordinary request in time (0.5 s was not: Xledger's batched POST
# timed out there once). A sandbox told to hang sleeps HANG, well past it.
TIMEOUT = 2.0
HANG = 3.5


@dataclass(frozen=True)
class Stored:
    """One voucher as the system holds it."""

    reference: str  # our reference, as the system keeps it (its external number)
    draft: bool  # in the system's draft path, not the ledger
    text: str  # every text the system keeps of it (descriptions), for æøå


class Harness(Protocol):
    def connect(self, *, direct_posting: bool = False) -> TargetContext:
        """A tenant connected to the running sandbox: its settings (with a short timeout), its secrets in a
        store, and `transport`/`sleep` for the test (a spec check, recorded waits)."""
        ...

    def stored(self) -> list[Stored]:
        """What the system holds, in the order it was created."""
        ...

    def fault(self, kind: Fault, *, times: int = 1) -> None:
        """Make the system misbehave on the next `times` POSTs of a voucher."""
        ...

    def refusable(self) -> Voucher:
        """A voucher our preflight passes and the system itself refuses, with its own error shape."""
        ...

    def break_credentials(self) -> None:
        """The connection's secret becomes one the system refuses (and its sessions end)."""
        ...

    def close(self) -> None:
        """Stop the sandbox; fail if any request broke the system's published contract."""
        ...


# Values a sandbox does not have, for the preflight case; a harness may name others (`missing`).
MISSING = {"accounts": "2999", "vat_codes": "86", "customers": "99999", "suppliers": "99998",
           "departments": "404", "projects": "404"}
# Values a sandbox has, for the field-map case (a document carrying every field, delivered); a harness may name
# others (`present`). Where two are given, the second is what the case changes a field to.
PRESENT: dict[str, tuple[str, ...]] = {
    "accounts": ("1500", "1920", "2400", "3000"), "vat_codes": ("3", "31"), "customers": ("10001", "10002"),
    "suppliers": ("20001",), "departments": ("1", "2"), "projects": ("100",),
}


def load(name: str) -> type[Harness] | None:
    """The harness class of a registered target, or None when it has none."""
    try:
        module = importlib.import_module(f"tests.contract.harnesses.{name.replace('-', '_')}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("tests.contract.harnesses"):
            return None
        raise
    found: type[Harness] | None = getattr(module, "Harness", None)
    return found
