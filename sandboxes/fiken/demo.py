"""The Fiken sandbox as the demo and the target bench use it (`sandboxes.registry.Running`).

Fiken has no drafts, so the demo company connects opted in to direct posting (the only way a Fiken connection is
made); its entries are posted open. Faults fall on `POST …/generalJournalEntries`.
"""

from __future__ import annotations

from typing import Any

import sandboxes.fiken
from sandboxes.registry import Posted

ENTRY_PATH = r"/generalJournalEntries$"
PREFIX = "Fri postering registrert via API: "


class RunningFiken:
    title = "Fiken"

    def __init__(self) -> None:
        self.sandbox = sandboxes.fiken.FikenSandbox().start()  # looked up now: tests may stand in

    def connection(self) -> tuple[dict[str, Any], dict[str, str]]:
        return ({"base_url": self.sandbox.base_url, "company_slug": self.sandbox.company.slug, "direct_posting": True},
                {"api_token": next(iter(self.sandbox.personal_tokens))})

    def posted(self) -> list[Posted]:
        found = []
        for entry in self.sandbox.entries:
            text = str(entry["description"])
            reference = text[1:text.index("]")] if text.startswith("[") and "]" in text else ""
            found.append(Posted(reference, False, PREFIX + text))
        return found

    def requests(self) -> int:
        return self.sandbox.total()

    def inject_faults(self, rate: float, *, seed: int) -> None:
        faults = self.sandbox.faults
        faults.clear()
        faults._draws.seed(seed)
        half, quarter = rate / 2, rate / 4
        # Faults are tried in order, each drawn on its own: the chances are conditional on the earlier misses.
        faults.add(ENTRY_PATH, "POST", "503", times=10**9, chance=quarter)
        faults.add(ENTRY_PATH, "POST", "429", times=10**9, chance=quarter / (1 - quarter))
        faults.add(ENTRY_PATH, "POST", "commit_then_500", times=10**9, chance=half / (1 - half))

    def stop(self) -> None:
        self.sandbox.stop()


def running() -> RunningFiken:
    return RunningFiken()
