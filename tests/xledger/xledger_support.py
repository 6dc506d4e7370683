"""What the Xledger sandbox holds, as tests read it: one row per voucher or waiting import, in creation order."""

from __future__ import annotations

from typing import Any

from sandboxes.xledger import XledgerSandbox


def stored(sandbox: XledgerSandbox) -> list[tuple[str, bool, str]]:
    """(reference, draft, texts) per voucher: a posted voucher is a draft while it waits in the workflow; import
    items not yet processed (or refused by processing) are not in the ledger at all, so they count as drafts."""
    entity = sandbox.entity
    rows: dict[Any, tuple[str, bool, list[str]]] = {}
    with entity.lock:
        for header in entity.vouchers:
            lines = header["lines"]
            rows[("v", header["dbId"])] = (str(lines[0]["extIdentifier"]), header["_workflow"],
                                            [str(line.get("text") or "") for line in lines])
        for item in entity.items:
            if item["_state"] in ("pending", "failed"):
                key = ("i", item["trRegNumber"])
                ref, _, texts = rows.get(key, (str(item.get("extIdentifier")), True, []))
                rows[key] = (ref, True, [*texts, str(item.get("text") or "")])
    return [(ref, draft, " ".join(texts)) for ref, draft, texts in rows.values()]
