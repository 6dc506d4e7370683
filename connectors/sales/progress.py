"""A sales document's rows in the ledger table, the same for every system that takes invoices.

A delivery of an invoice, credit note or payment takes several calls (customer, draft, posting, sending), and an
answer may be lost between them: its progress row (partition `<tenant>|<system>|invoicing`, one row per our
reference) records each step before it is taken, so the next attempt looks up instead of making again. Index rows
(e.g. `<tenant>|<system>|invoice-numbers`) find a system's document by our invoice number or KID.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pipeline.errors import ConfigError
from pipeline.ports import Entity, TableStore, TargetContext
from pipeline.records.names import TABLE_LEDGER


def partition(context: TargetContext, system: str, kind: str) -> str:
    return f"{context.tenant}|{system}|{kind}"


def key(value: str) -> str:
    """A row key for our reference or number as it is (Table Storage refuses `/`, `\\`, `#`, `?` in keys)."""
    return quote(value, safe=" -_.:@+()[]æøåÆØÅ")


def tables(context: TargetContext, system: str, title: str, reference: str | None = None) -> TableStore:
    if context.tables is None:
        raise ConfigError(f"{title} invoices need the ledger table for their progress", tenant=context.tenant,
                          connector=system, reference=reference)
    return context.tables


def progress(context: TargetContext, system: str, title: str, reference: str) -> Entity:
    """The document's progress row, or a new one (not yet stored)."""
    row = tables(context, system, title, reference).get(TABLE_LEDGER, partition(context, system, "invoicing"),
                                                       key(reference))
    return dict(row) if row else {"PartitionKey": partition(context, system, "invoicing"), "RowKey": key(reference),
                                  "Reference": reference}


def save(context: TargetContext, system: str, title: str, row: Entity, **changes: Any) -> None:
    """The row with `changes`, stored before the step they announce is taken."""
    row.update(changes)
    tables(context, system, title, str(row["Reference"])).upsert(
        TABLE_LEDGER, {k: v for k, v in row.items() if k != "etag"})
