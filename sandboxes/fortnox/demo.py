"""The Fortnox sandbox as the demo and the target bench use it (`sandboxes.registry.Running`).

Fortnox has no drafts, so the demo company connects opted in to direct posting (the only way a Fortnox connection
is made), in its voucher series B. Its rate limit (25 requests per 5 seconds) is off here: the bench measures
requests per voucher, not Fortnox's throttle. Faults fall on `POST /3/vouchers`.
"""

from __future__ import annotations

from typing import Any

import sandboxes.fortnox
from sandboxes.registry import Posted

VOUCHERS = r"^/vouchers$"


class RunningFortnox:
    title = "Fortnox"

    def __init__(self) -> None:
        self.sandbox = sandboxes.fortnox.FortnoxSandbox(rate_limit=None).start()

    def connection(self) -> tuple[dict[str, Any], dict[str, str]]:
        box = self.sandbox
        return ({"base_url": box.base_url, "token_url": box.token_url, "auth_url": box.auth_url,
                 "client_id": box.client_id, "voucher_series": "B", "direct_posting": True},
                {"refresh_token": next(iter(box.refresh_tokens)), "client_secret": box.clients[box.client_id]})

    def posted(self) -> list[Posted]:
        found = []
        with self.sandbox.company.lock:
            vouchers = list(self.sandbox.company.vouchers)
        for voucher in vouchers:
            text = str(voucher["Description"])
            reference = text[1:text.index("]")] if text.startswith("[") and "]" in text else ""
            rows = " ".join(str(r.get("Description") or "") for r in voucher["VoucherRows"])
            found.append(Posted(reference, False, f"{text} {rows}"))
        return found

    def requests(self) -> int:
        return self.sandbox.total()

    def inject_faults(self, rate: float, *, seed: int) -> None:
        faults = self.sandbox.faults
        faults.clear()
        faults._draws.seed(seed)
        half, quarter = rate / 2, rate / 4
        faults.add(VOUCHERS, "POST", "503", times=10**9, chance=quarter)
        faults.add(VOUCHERS, "POST", "429", times=10**9, chance=quarter / (1 - quarter))
        faults.add(VOUCHERS, "POST", "commit_then_500", times=10**9, chance=half / (1 - half))

    def stop(self) -> None:
        self.sandbox.stop()


def running() -> RunningFortnox:
    return RunningFortnox()
