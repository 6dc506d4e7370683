"""The Business NXT sandbox as the demo and the target bench use it (`sandboxes.registry.Running`)."""

from __future__ import annotations

from typing import Any

import sandboxes.business_nxt
from sandboxes.registry import Posted


class RunningBusinessNxt:
    title = "Visma Business NXT"

    def __init__(self) -> None:
        self.sandbox = sandboxes.business_nxt.BusinessNxtSandbox().start()

    def connection(self) -> tuple[dict[str, Any], dict[str, str]]:
        box = self.sandbox
        return ({"base_url": box.base_url, "token_url": box.token_url, "client_id": box.client_id,
                 "customer_ids": [box.company.customer_id], "company_no": box.company.no, "voucher_series": 6},
                {"client_secret": box.client_secret})

    def posted(self) -> list[Posted]:
        return posted(self.sandbox.company)

    def requests(self) -> int:
        return self.sandbox.count()

    def inject_faults(self, rate: float, *, seed: int) -> None:
        faults = self.sandbox.faults
        faults.clear(seed)
        half, quarter = rate / 2, rate / 4
        # Tried in order, each drawn on its own: the chances are conditional on the earlier misses.
        faults.add("503", times=10**9, chance=quarter)
        faults.add("429", times=10**9, chance=quarter / (1 - quarter))
        faults.add("commit_then_500", times=10**9, chance=half / (1 - half))

    def stop(self) -> None:
        self.sandbox.stop()


def posted(company: sandboxes.business_nxt.Company) -> list[Posted]:
    """What the company holds, one entry per reference (our vouchers' rows share it), unposted then updated."""
    with company.lock:
        batches = dict(company.batches)
        rows = [(row, True) for row in company.unposted()] + [(row, False) for row in company.updated]
    seen: dict[str, Posted] = {}
    for row, draft in rows:
        reference = str(row.get("additionalText") or "")
        description = (batches.get(row["batchNo"]) or {}).get("description") if draft else row.get("_description")
        texts = [seen[reference].text] if reference in seen else [description or ""]
        texts.append(row.get("text") or "")
        seen[reference] = Posted(reference, draft, " ".join(t for t in texts if t))
    return list(seen.values())


def running() -> RunningBusinessNxt:
    return RunningBusinessNxt()
