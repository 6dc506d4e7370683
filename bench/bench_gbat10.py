"""GBAT10 parse throughput and peak memory, beside its floor: the `csv` module reading the same file.

Writes a GBAT10 file of about 100 MB (Windows-1252, æøå in the texts, 3-line vouchers) to a temp
directory, then runs each reader in its own interpreter so that peak memory (ru_maxrss) does not
mix between measurements. Prints MB/s, vouchers/s and peak RSS above a bare interpreter's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

READERS = {
    "bare interpreter": "pass",
    "csv.reader (floor)": """
import csv
with open(PATH, encoding="cp1252", newline="") as f:
    COUNT = sum(1 for _ in csv.reader(f, delimiter=";"))
""",
    "gbat10.parse": """
from connectors.sources import gbat10
with open(PATH, "rb") as f:
    COUNT = sum(1 for _ in gbat10.parse(f, file_name="bench.csv", options={"vat_map": {"3": "3"}}))
""",
}

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
PATH = {path!r}
COUNT = 0
start = time.perf_counter()
{body}
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "count": COUNT,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def write_file(path: Path, megabytes: int) -> int:
    """About `megabytes` MB of balanced 3-line vouchers; returns the number of vouchers."""
    target = megabytes * 1_000_000
    written, number = 0, 0
    with path.open("wb") as f:
        while written < target:
            chunk = []
            for _ in range(1000):
                number += 1
                date = f"2025{1 + number % 12:02d}{1 + number % 28:02d}"
                head = f"GBAT10;{number};{date};1;{date[4:6]};2025"
                chunk.append(
                    f"{head};1500;;1250.00;{10000 + number % 500};;Kunde Ærøy {number};Storgata 1;0150;Oslo;"
                    f"{number};12344;{date};;;Faktura {number} blåbær;Reskontro;;;;;;\r\n"
                    f"{head};3000;3;-1000.00;;;;;;;;;;;;Salg høy sats, Østfold;;;P1;10;;;\r\n"
                    f"{head};2700;;-250.00;;;;;;;;;;;;Utgående mva på salg;;;;;;;\r\n")
            data = "".join(chunk).encode("cp1252")
            f.write(data)
            written += len(data)
    return number


def measure(name: str, path: Path) -> dict[str, float]:
    code = CHILD.format(root=str(ROOT), path=str(path), body=READERS[name])
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-gbat10-") as tmp:
        path = Path(tmp) / "bench.csv"
        vouchers = write_file(path, args.megabytes)
        size_mb = path.stat().st_size / 1_000_000
        print(f"file: {size_mb:.1f} MB, {vouchers} vouchers, {3 * vouchers} lines (Windows-1252)\n")
        bare = measure("bare interpreter", path)
        print(f"{'reader':<20} {'seconds':>8} {'MB/s':>7} {'items/s':>10} {'peak RSS over bare':>19}")
        for name in ("csv.reader (floor)", "gbat10.parse"):
            result = measure(name, path)
            extra_mib = (result["maxrss_kib"] - bare["maxrss_kib"]) / 1024
            print(f"{name:<20} {result['seconds']:>8.2f} {size_mb / result['seconds']:>7.1f} "
                  f"{result['count'] / result['seconds']:>10.0f} {extra_mib:>16.1f} MiB")
        print("\nitems: csv rows for the floor, vouchers for gbat10.parse")


if __name__ == "__main__":
    main()
