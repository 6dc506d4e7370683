"""Every accounting system's sandbox as the demo and the target bench start it: one literal registry.

`SANDBOXES[name]()` starts the sandbox of the target `name` (the key in `connectors.CONNECTORS`) seeded
with the demo company and returns a `Running`: the settings and credentials to connect with, what the
system holds, how many requests it served, and faults on demand. `bilagsbro demo --target NAME` and
`bench/bench_targets.py` are built on it; a new system adds one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol


class Posted(NamedTuple):
    reference: str  # our reference as the system stores it (external number, import reference, marker)
    draft: bool  # still a draft, on hold or not posted
    text: str  # the descriptions joined (to check that æøå arrived)


class Running(Protocol):
    title: str

    def connection(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The settings (with base_url) and the credentials a tenant connects with."""
        ...

    def posted(self) -> list[Posted]: ...

    def requests(self) -> int:
        """HTTP requests served so far: authentication, lookups and posts alike."""
        ...

    def inject_faults(self, rate: float, *, seed: int) -> None:
        """From now on a share `rate` of the voucher-creating requests fails with a passing fault: half
        refused before commit (503 or 429), half committed and then answered 500."""
        ...

    def stop(self) -> None: ...

    # Optional, where the system's documented protocol makes the fewest requests per delivered voucher other than
    # one: `def floor(self, workers: int) -> tuple[float, str]` — that number with `workers` concurrent deliveries,
    # and why (bench/bench_targets.py prints it beside the measured figure).


def _starter(module: str) -> Callable[[], Running]:
    def start() -> Running:
        running: Callable[[], Running] = importlib.import_module(module).running
        return running()

    return start


# Each system's `running()` lives in its sandbox's `demo` module, imported only when that sandbox starts.
SANDBOXES: dict[str, Callable[[], Running]] = {
    "tripletex": _starter("sandboxes.tripletex.demo"),
    "fiken": _starter("sandboxes.fiken.demo"),
    "poweroffice-go": _starter("sandboxes.poweroffice_go.demo"),
    "business-nxt": _starter("sandboxes.business_nxt.demo"),
    "xledger": _starter("sandboxes.xledger.demo"),
    "finago-office": _starter("sandboxes.finago_office.demo"),
    "visma-net": _starter("sandboxes.visma_net.demo"),
    "fortnox": _starter("sandboxes.fortnox.demo"),
}
