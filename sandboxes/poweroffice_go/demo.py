"""The PowerOffice GO sandbox as the demo and the target bench use it: `running()` starts it with the demo company.

It follows the `Running` protocol of the sandbox registry (`sandboxes/registry.py`): settings and credentials to
connect with, what GO holds, how many requests it served, and faults injected into a share of the voucher-creating
requests.
"""

from __future__ import annotations

from re import search
from typing import Any

from sandboxes.poweroffice_go.server import PowerOfficeSandbox
from sandboxes.registry import Posted

VOUCHER_PATHS = r"^/(JournalEntryVouchers|Vouchers)/ManualJournals$"


class RunningPowerOffice:
    title = "PowerOffice GO"

    def __init__(self, *, rate_limit: int = 10) -> None:
        # GO's own limit (10 requests a second per subscription key) unless a caller measures something else.
        self.sandbox = PowerOfficeSandbox(rate_limit=rate_limit).start()

    def connection(self) -> tuple[dict[str, Any], dict[str, str]]:
        box = self.sandbox
        return ({"base_url": box.base_url, "organization_number": box.client.organization_number},
                {"application_key": box.application_key, "client_key": box.client_key,
                 "subscription_key": box.subscription_key})

    def posted(self) -> list[Posted]:
        client, out, seen = self.sandbox.client, [], set()
        for voucher in list(client.drafts.values()):
            seen.add(voucher["Id"])
            out.append(_posted(voucher, voucher["ManualVoucherLines"], draft=not voucher["_posted"]))
        out += [_posted(v, v["VoucherLines"], draft=False) for v in list(client.vouchers.values())
                if v["Id"] not in seen]
        return out

    def requests(self) -> int:
        return sum(self.sandbox.requests.values())

    def inject_faults(self, rate: float, *, seed: int) -> None:
        """From now on a share `rate` of voucher-creating requests fails: half before commit (503 or 429 alike),
        half committed and then answered 500."""
        faults = self.sandbox.faults
        faults.clear()
        faults._draws.seed(seed)
        half = rate / 2
        faults.add(VOUCHER_PATHS, "POST", "503", times=10**9, chance=half / 2)
        faults.add(VOUCHER_PATHS, "POST", "429", times=10**9, chance=(half / 2) / (1 - half / 2))
        faults.add(VOUCHER_PATHS, "POST", "commit_then_500", times=10**9, chance=half / (1 - half))

    def stop(self) -> None:
        self.sandbox.stop()


def _posted(voucher: dict[str, Any], lines: list[dict[str, Any]], *, draft: bool) -> Posted:
    found = search(r"\[([^\[\]]+)\]\s*$", str(voucher.get("Description") or ""))
    reference = voucher.get("ExternalImportReference") or (found.group(1) if found else "")
    text = " ".join([str(voucher.get("Description") or ""), *(str(line.get("Description") or "") for line in lines)])
    return Posted(str(reference), draft, text)


def running() -> RunningPowerOffice:
    """PowerOffice GO's sandbox seeded with the demo company (NS 4102 accounts incl. 1500, 1920, 2400, 3000–3020,
    4300, 2700/2710; SAF-T VAT codes; customers, a supplier, departments 1 and 2, project 100)."""
    return RunningPowerOffice()
