"""The Xledger sandbox as the demo and the target bench use it (`sandboxes.registry.Running`)."""

from __future__ import annotations

import random
from typing import Any

import sandboxes.xledger
from sandboxes.registry import Posted


class RunningXledger:
    title = "Xledger"

    def floor(self, workers: int) -> tuple[float, str]:
        # The connector puts the vouchers of concurrent deliveries in one call (up to 500 import items): at best
        # every voucher in flight goes in one call.
        return 1.0 / workers, f"every voucher of {workers} concurrent deliveries in one call"

    def __init__(self) -> None:
        # Processed at once, processed items kept: what the demo shows; tests cover Xledger's other ways.
        entity = sandboxes.xledger.Entity(processing="immediate", keep_processed=True)
        self.sandbox = sandboxes.xledger.XledgerSandbox(entity=entity).start()

    def connection(self) -> tuple[dict[str, Any], dict[str, str]]:
        return {"base_url": self.sandbox.base_url}, {"api_token": self.sandbox.token}

    def posted(self) -> list[Posted]:
        return [Posted(*row) for row in self.sandbox.held()]

    def requests(self) -> int:
        return self.sandbox.count()

    def inject_faults(self, rate: float, *, seed: int) -> None:
        self.sandbox.faults_at_rate(random.Random(seed), rate)

    def stop(self) -> None:
        self.sandbox.stop()


def running() -> RunningXledger:
    return RunningXledger()
