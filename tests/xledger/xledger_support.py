"""What the Xledger sandbox holds, as tests read it: one row per voucher or waiting import, in creation order."""

from __future__ import annotations

from sandboxes.xledger import XledgerSandbox


def stored(sandbox: XledgerSandbox) -> list[tuple[str, bool, str]]:
    return sandbox.held()
