"""The JSON lines export: one line per document — its id, status, receipt, latest delivery and the shared form.

A line is the document as Bilagsbro holds it (`document`: the shared form as translated, with `origin`), and what
happened to it: `status` (as GET /api/v1/documents/{id} says it), `delivery` (the system, its id for the voucher,
draft or posted, fields it had no place for; null until delivered), `problems` when the preflight blocked it and
`error` when it failed. UTF-8, one JSON object per line, LF; amounts as decimal strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from pipeline.export import Entry


def line(entry: Entry) -> dict[str, Any]:
    document = entry.document
    out: dict[str, Any] = {
        "id": entry.id, "reference": document.reference, "type": document.type,
        "received_at": entry.received_at.isoformat(), "status": entry.status, "receipt": entry.receipt,
        "delivery": entry.delivered.as_dict() if entry.delivered else None,
    }
    if entry.problems:
        out["problems"] = list(entry.problems)
    if entry.error is not None:
        out["error"] = entry.error
    out["document"] = document.model_dump(mode="json", exclude_none=True)
    return out


def chunks(entries: Iterable[Entry]) -> Iterator[bytes]:
    for entry in entries:
        yield json.dumps(line(entry), ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
