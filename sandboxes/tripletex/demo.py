"""The Tripletex sandbox as the demo and the target bench use it (`sandboxes.registry.Running`)."""

from __future__ import annotations

from typing import Any

import sandboxes.tripletex
from sandboxes.registry import Posted

VOUCHER_PATH = r"^/ledger/voucher$"


class RunningTripletex:
    title = "Tripletex"

    def __init__(self) -> None:
        self.sandbox = sandboxes.tripletex.TripletexSandbox().start()  # looked up now: tests may stand in

    def connection(self) -> tuple[dict[str, Any], dict[str, str]]:
        return ({"base_url": self.sandbox.base_url},
                {"consumer_token": self.sandbox.consumer_token, "employee_token": self.sandbox.employee_token})

    def posted(self) -> list[Posted]:
        return [Posted(str(v.get("externalVoucherNumber") or ""), not v.get("_posted", False),
                       " ".join([v.get("description") or "", *(p.get("description") or "" for p in v["postings"])]))
                for v in self.sandbox.vouchers]

    def requests(self) -> int:
        return self.sandbox.count()

    def inject_faults(self, rate: float, *, seed: int) -> None:
        faults = self.sandbox.faults
        faults.clear()
        faults._draws.seed(seed)
        half, quarter = rate / 2, rate / 4
        # Faults are tried in order, each drawn on its own: the chances are conditional on the earlier misses.
        faults.add(VOUCHER_PATH, "POST", "503", times=10**9, chance=quarter)
        faults.add(VOUCHER_PATH, "POST", "429", times=10**9, chance=quarter / (1 - quarter))
        faults.add(VOUCHER_PATH, "POST", "commit_then_500", times=10**9, chance=half / (1 - half))

    def stop(self) -> None:
        self.sandbox.stop()


def running() -> RunningTripletex:
    return RunningTripletex()
