"""How fast a GBAT10 reader could be in plain Python: the least it must do, beside the csv floor and ours.

The "bare loop" splits each row of the bench's GBAT10 file and builds its posting, voucher and origin
models with `pipeline.checked.build` — no checks, no customers, no KID, no problems — which no reader can
skip. Its CPU time beside the floor's (`csv.reader` on the same bytes) bounds what any pure-Python reader
of the format reaches; ours beside both shows how much of the distance is the reader's own layers.
CPU seconds (user + system), best of `--rounds` alternating runs, in one interpreter.

Usage: python bench/bench_bare_loop.py [--megabytes 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_parsers import gbat10  # noqa: E402
from connectors.sources import gbat10 as reader  # noqa: E402
from pipeline import checked  # noqa: E402
from pipeline.model import Origin, Posting, Voucher  # noqa: E402

POSTING, VOUCHER, ORIGIN = set(Posting.model_fields), set(Voucher.model_fields), {"format", "file", "line"}


def floor(path: Path) -> None:
    with path.open(encoding="cp1252", newline="") as f:
        for _ in csv.reader(f, delimiter=";"):
            pass


def bare(path: Path) -> None:
    key: str | None = None
    lines: list[Posting] = []
    first = 0
    with path.open(encoding="cp1252", newline="") as f:
        for number, line in enumerate(f, 1):
            row = line.rstrip("\r\n;").split(";")
            if row[1] != key and lines:
                origin = checked.build(Origin, {"format": "gbat10", "file": path.name, "line": first}, ORIGIN)
                checked.build(Voucher, {"reference": key, "date": dt.date(2025, 1, 1), "description": None,
                                        "currency": "NOK", "origin": origin, "type": "voucher", "voucher_type": None,
                                        "lines": tuple(lines)}, VOUCHER)
                lines, first = [], number
            key = row[1]
            lines.append(checked.build(Posting, {
                "account": row[6], "amount": Decimal(row[8]), "description": row[20] or None, "vat_code": None,
                "vat_amount": None, "dimensions": {}, "customer": None, "supplier": None, "kid": None,
                "invoice_number": None, "due_date": None}, POSTING))


def ours(path: Path) -> None:
    with path.open("rb") as f:
        for _ in reader.parse(f, file_name=path.name, options={"vat_map": {"3": "3"}}):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
        path = Path(tmp) / "bench.csv"
        gbat10(path, args.megabytes)
        best = {"floor": float("inf"), "bare": float("inf"), "ours": float("inf")}
        for _ in range(args.rounds):
            for name, run in (("floor", floor), ("bare", bare), ("ours", ours)):
                start = time.process_time()
                run(path)
                best[name] = min(best[name], time.process_time() - start)
    print(f"GBAT10, {args.megabytes:g} MB, CPU seconds (best of {args.rounds}): floor (csv.reader) {best['floor']:.3f}, "
          f"bare loop {best['bare']:.3f} ({best['floor'] / best['bare']:.2f}× the floor's speed), "
          f"ours {best['ours']:.3f} ({best['floor'] / best['ours']:.2f}×)")


if __name__ == "__main__":
    main()
