"""The Finago Office sandbox as the demo and the target bench use it (`sandboxes.registry.Running`)."""

from __future__ import annotations

from typing import Any

import sandboxes.finago_office
from sandboxes.registry import Posted

SAVE = r"^SaveBundleList$"  # the voucher-creating call (faults match the SOAP operation)


class RunningFinagoOffice:
    title = "Finago Office"

    def floor(self, workers: int) -> tuple[float, str]:
        # The documented protocol: GetEntryId for the voucher number, then SaveBundleList (one voucher per bundle).
        return 2.0, "two requests per voucher: GetEntryId (its number), then SaveBundleList"

    def __init__(self) -> None:
        self.sandbox = sandboxes.finago_office.FinagoOfficeSandbox().start()

    def connection(self) -> tuple[dict[str, Any], dict[str, str]]:
        return ({"base_url": self.sandbox.base_url, "username": self.sandbox.user.username},
                {"application_id": self.sandbox.application_id, "password": self.sandbox.user.password})

    def posted(self) -> list[Posted]:
        return [Posted(v["reference"], v["draft"], v["text"]) for v in self.sandbox.vouchers()]

    def requests(self) -> int:
        return self.sandbox.served

    def inject_faults(self, rate: float, *, seed: int) -> None:
        faults = self.sandbox.faults
        faults.clear()
        faults._draws.seed(seed)
        half, quarter = rate / 2, rate / 4
        # Tried in order, each drawn on its own: the chances are conditional on the earlier misses.
        faults.add(SAVE, "POST", "503", times=10**9, chance=quarter)
        faults.add(SAVE, "POST", "429", times=10**9, chance=quarter / (1 - quarter))
        faults.add(SAVE, "POST", "commit_then_500", times=10**9, chance=half / (1 - half))

    def stop(self) -> None:
        self.sandbox.stop()


def running() -> RunningFinagoOffice:
    return RunningFinagoOffice()
