"""Our own record of every voucher sent to Finago Office: the half of exactly-once that 24SevenOffice cannot give.

SaveBundleList answers only a Type; nothing in the API reads the journal (bundles saved for review) back
[unverified: whether GetTransactions lists journal entries]. So before each SaveBundleList the connector writes
down what it sends — date, markers, draft or not, voucher number, bundle name — and after an `Ok` that it was
saved. `find` reads this record first: "saved" is an answer, "sent without an answer" sends it to the ledger
search, "never sent" means there is nothing to find.

Kept in the ledger table (partition `<tenant>|finago-office|<client id>|sent`, one row per reference), so a host
that died between the answer and the idempotency ledger's update still knows. Without a table store (a
connection test), the connection's cache holds them instead, for this process only.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

from connectors.targets.finago_office.mapping import NAME
from pipeline.ledger import ledger_key
from pipeline.names import TABLE_LEDGER
from pipeline.ports import Entity, TargetContext

_lock = threading.Lock()


class Sent:
    def __init__(self, context: TargetContext, client_id: str) -> None:
        self.context = context
        self.partition = f"{context.tenant}|{NAME}|{client_id}|sent"
        self.memory: dict[str, Entity] = context.cache.setdefault(f"finago-office-sent:{client_id}", {})

    def _row(self, reference: str) -> str:
        return ledger_key(self.context.tenant, NAME, reference)[1]

    def get(self, reference: str) -> dict[str, Any] | None:
        row = self._row(reference)
        if self.context.tables is None:
            with _lock:
                found = self.memory.get(row)
        else:
            found = self.context.tables.get(TABLE_LEDGER, self.partition, row)
        if found is None:
            return None
        record = {k: v for k, v in found.items() if k != "etag"}
        record["Markers"] = json.loads(str(record.get("Markers") or "[]"))
        return record

    def _put(self, record: dict[str, Any]) -> None:
        entity: Entity = {**record, "PartitionKey": self.partition, "RowKey": self._row(str(record["Reference"])),
                          "Markers": json.dumps(record.get("Markers") or [], ensure_ascii=False)}
        if self.context.tables is None:
            with _lock:
                self.memory[entity["RowKey"]] = entity
        else:
            self.context.tables.upsert(TABLE_LEDGER, entity)

    def begin(self, reference: str, **facts: Any) -> dict[str, Any] | None:
        """Write down a send about to happen; return what was written before (None: never sent)."""
        before = self.get(reference)
        attempts = int((before or {}).get("Attempts") or 0) + 1
        self._put({**(before or {}), **facts, "Reference": reference, "State": "sent", "Attempts": attempts,
                   "SentAt": dt.datetime.now(dt.UTC).isoformat()})
        return before

    def saved(self, reference: str, **facts: Any) -> dict[str, Any]:
        record = {**(self.get(reference) or {"Reference": reference}), **facts, "State": "saved",
                  "SavedAt": dt.datetime.now(dt.UTC).isoformat()}
        self._put(record)
        return record
