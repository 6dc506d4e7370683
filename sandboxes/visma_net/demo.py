"""The Visma.net sandbox as the demo and the target bench use it (`sandboxes.registry.Running`)."""

from __future__ import annotations

import re
from typing import Any

import sandboxes.visma_net
from sandboxes.registry import Posted

JOURNAL_PATH = r"^/v2/journaltransaction$"
_FULL = re.compile(r"\(ref\. (.+)\)$")


class RunningVismaNet:
    title = "Visma.net ERP"

    def __init__(self) -> None:
        self.sandbox = sandboxes.visma_net.VismaNetSandbox().start()

    def connection(self) -> tuple[dict[str, Any], dict[str, str]]:
        box = self.sandbox
        return ({"base_url": box.base_url, "token_url": box.token_url, "tenant_id": box.tenant_id,
                 "client_id": box.client_id}, {"client_secret": box.client_secret})

    def posted(self) -> list[Posted]:
        """Our reference as Visma.net keeps it: the lines' Ref. no., or — shortened there — whole in the batch
        description's "(ref. …)"."""
        out = []
        for batch in self.sandbox.batches:
            lines = batch["journalTransactionLines"]
            full = _FULL.search(batch["description"] or "")
            reference = full.group(1) if full else str(lines[0]["referenceNumber"] or "")
            texts = [batch["description"] or "", *(line["transactionDescription"] or "" for line in lines)]
            out.append(Posted(reference, batch["status"] in ("Hold", "Balanced"), " ".join(texts)))
        return out

    def requests(self) -> int:
        return self.sandbox.requests_served()

    def inject_faults(self, rate: float, *, seed: int) -> None:
        faults = self.sandbox.faults
        faults.clear()
        faults._draws.seed(seed)
        half, quarter = rate / 2, rate / 4
        # Faults are tried in order, each drawn on its own: the chances are conditional on the earlier misses.
        faults.add(JOURNAL_PATH, "POST", "503", times=10**9, chance=quarter)
        faults.add(JOURNAL_PATH, "POST", "429", times=10**9, chance=quarter / (1 - quarter))
        faults.add(JOURNAL_PATH, "POST", "commit_then_500", times=10**9, chance=half / (1 - half))

    def stop(self) -> None:
        self.sandbox.stop()


def running() -> RunningVismaNet:
    return RunningVismaNet()
