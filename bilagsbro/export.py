"""`bilagsbro export TENANT --from D --to D [--format jsonl|saft] [--out FILE]`: a period of any size, as one stream.

Documents are read from storage one at a time and written as they come (pipeline/export); progress goes to
stderr every PROGRESS documents, and a summary at the end. The file appears whole or not at all: it is written
beside its final name and renamed when complete.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

PROGRESS = 1000


def add_export_parser(sub: Any) -> None:
    export = sub.add_parser("export", help="a tenant's documents of a period: JSON lines, or SAF-T Financial 1.30")
    export.add_argument("tenant")
    export.add_argument("--from", dest="start", required=True, help="first day of receipt, YYYY-MM-DD (Europe/Oslo)")
    export.add_argument("--to", dest="end", required=True, help="last day of receipt, YYYY-MM-DD (included)")
    export.add_argument("--format", choices=("jsonl", "saft"), default="jsonl",
                        help="jsonl: every document with its status and delivery; saft: the delivered ones")
    export.add_argument("--out", help="the file to write (default: standard output)")
    export.add_argument("--currency", default="NOK", help="saft: the file's currency (others are left out)")
    export.add_argument("--org-number", help="saft: the organisation number, when the tenant has none on record")
    export.set_defaults(fn=cmd_export)


def _counted(entries: Iterable[Any], counter: list[int]) -> Iterator[Any]:
    for entry in entries:
        counter[0] += 1
        if counter[0] % PROGRESS == 0:
            print(f"  {counter[0]} documents read (received up to {entry.received_at:%Y-%m-%d %H:%M} UTC)",
                  file=sys.stderr, flush=True)
        yield entry


def cmd_export(args: argparse.Namespace) -> int:
    from bilagsbro.cli import _connectors, _with_stores
    from pipeline.export import Period, jsonl
    from pipeline.export.entries import entries
    from pipeline.export.tenant_saft import saft_file
    from pipeline.tenants import TenantRegistry

    try:
        period = Period(dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end))
    except ValueError as exc:
        print(f"bilagsbro: --from/--to: {exc} (YYYY-MM-DD)", file=sys.stderr)
        return 2
    if period.end < period.start:
        print(f"bilagsbro: --to {period.end} is before --from {period.start}", file=sys.stderr)
        return 2

    def run(stores: Any) -> int:
        tenant = TenantRegistry(stores.tables).get(args.tenant)
        counter = [0]
        found = _counted(entries(stores, tenant.id, period), counter)
        saft = None
        if args.format == "saft":
            saft = saft_file(tenant, _connectors(), found, period, args.currency,
                             organization_number=args.org_number)
            chunks = saft.chunks()
        else:
            chunks = jsonl.chunks(found)
        _write(chunks, args.out)
        said = f"{counter[0]} document(s) received {period.start} – {period.end}"
        if saft is not None:
            s = saft.summary
            said += (f"; SAF-T: {s.transactions} transaction(s), debit = credit = {s.debit:.2f}; left out: "
                     f"{s.not_delivered} not delivered, {s.other_currency} in another currency than "
                     f"{args.currency}, {s.books_nothing} booking nothing, {s.out_of_range} dated outside "
                     "1970–2100")
        print(said, file=sys.stderr)
        return 0

    return int(_with_stores(run))


def _write(chunks: Iterable[bytes], out: str | None) -> None:
    if out is None:
        stream: BinaryIO = sys.stdout.buffer
        for chunk in chunks:
            stream.write(chunk)
        stream.flush()
        return
    path = Path(out)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
