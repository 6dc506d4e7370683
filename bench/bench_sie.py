"""SIE parse throughput and `bilagsbro dry-run` peak memory, beside their floor: plain line splitting.

Writes a SIE 4E file as BL Administration writes it (declared PC8, ISO-8859-1 bytes, a chart of
accounts, balances, 3-row vouchers with row dates and texts) — by default the size of the real export
that once made `dry-run` peak at about 360 MB: 3.4 MB, 17,700 vouchers — then runs each reader in its
own interpreter so that peak memory (ru_maxrss) does not mix between measurements. The floors read the
same bytes with no SIE logic: decode and split each line (`str.split`), and `csv.reader` with a space
delimiter. `dry-run` runs the real command, its output thrown away, once as text and once as --json.
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
    "line split (floor)": """
with open(PATH, encoding="latin-1") as f:
    COUNT = sum(1 for line in f if line.split())
""",
    "csv.reader (floor)": """
import csv
with open(PATH, encoding="latin-1", newline="") as f:
    COUNT = sum(1 for _ in csv.reader(f, delimiter=" ", skipinitialspace=True))
""",
    "sie4.parse": """
from connectors.sources import sie4
with open(PATH, "rb") as f:
    COUNT = sum(1 for _ in sie4.parse(f, file_name="bench.se", options={}))
""",
    "dry-run (text)": """
import resource, subprocess
subprocess.run([sys.executable, "-m", "bilagsbro", "dry-run", PATH, "--format", "sie4"],
               stdout=subprocess.DEVNULL, check=False)
CHILD_KIB = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
""",
    "dry-run --json": """
import resource, subprocess
subprocess.run([sys.executable, "-m", "bilagsbro", "dry-run", PATH, "--format", "sie4", "--json"],
               stdout=subprocess.DEVNULL, check=False)
CHILD_KIB = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
""",
}

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
PATH = {path!r}
COUNT = 0
CHILD_KIB = None
start = time.perf_counter()
{body}
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "count": COUNT, "child_kib": CHILD_KIB,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""

ACCOUNTS = {"1930": "Checkräkningskonto", "2440": "Leverantörsskulder", "2640": "Ingående moms",
            "4010": "Inköp material och varor", "6072": "Representation, ej avdragsgill",
            "2610": "Utgående moms, oreducerad", "3010": "Försäljning", "1510": "Kundfordringar"}


def write_file(path: Path, vouchers: int) -> int:
    """A BL-style SIE 4E file with `vouchers` 3-row vouchers; returns its size in bytes."""
    head = ['#FLAGGA 0', '#PROGRAM "BL Administration" 2024.3.104', '#FORMAT PC8',
            '#GEN 20250114 "1 Åsa Lindström"', '#SIETYP 4', '#FNAMN "Övningsföretaget i Malmö AB"',
            '#RAR 0 20240101 20241231', '#KPTYP EUBAS97']
    head += [f'#KONTO {number} "{name}"' for number, name in ACCOUNTS.items()]
    head += ['#IB 0 1930 1009216.50', '#UB 0 1930 984091.74']
    with path.open("wb") as f:
        f.write(("\r\n".join(head) + "\r\n").encode("latin-1"))
        for start in range(1, vouchers + 1, 1000):
            chunk = []
            for i in range(start, min(start + 1000, vouchers + 1)):
                day = f"2024{1 + i % 12:02d}{1 + i % 28:02d}"
                chunk.append(
                    f'#VER A {i} {day} "Representation måltid {i}" {day} "#6 Åsa Lindström"\r\n{{\r\n'
                    f'#TRANS 1930 {{}} -1000.00 {day} ""\r\n#TRANS 6072 {{}} 928.00 {day} ""\r\n'
                    f'#TRANS 2640 {{}} 72.00 {day} ""\r\n}}\r\n')
            f.write("".join(chunk).encode("latin-1"))
    return path.stat().st_size


def measure(name: str, path: Path) -> dict[str, float]:
    code = CHILD.format(root=str(ROOT), path=str(path), body=READERS[name])
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vouchers", type=int, default=17_700)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sie-") as tmp:
        path = Path(tmp) / "bench.se"
        size_mb = write_file(path, args.vouchers) / 1_000_000
        print(f"file: {size_mb:.1f} MB, {args.vouchers} vouchers of 3 rows (BL style: PC8 declared, ISO-8859-1)\n")
        bare = measure("bare interpreter", path)
        print(f"{'reader':<20} {'seconds':>8} {'MB/s':>7} {'items/s':>10} {'peak RSS':>10} {'over bare':>11}")
        for name in ("line split (floor)", "csv.reader (floor)", "sie4.parse"):
            result = measure(name, path)
            extra_mib = (result["maxrss_kib"] - bare["maxrss_kib"]) / 1024
            print(f"{name:<20} {result['seconds']:>8.2f} {size_mb / result['seconds']:>7.1f} "
                  f"{result['count'] / result['seconds']:>10.0f} {result['maxrss_kib'] / 1024:>6.1f} MiB "
                  f"{extra_mib:>7.1f} MiB")
        for name in ("dry-run (text)", "dry-run --json"):
            result = measure(name, path)
            print(f"{name:<20} {result['seconds']:>8.2f} {size_mb / result['seconds']:>7.1f} "
                  f"{args.vouchers / result['seconds']:>10.0f} {result['child_kib'] / 1024:>6.1f} MiB "
                  f"{'(whole process)':>11}")
        print("\nitems: lines for the floors, vouchers and problems for sie4.parse, vouchers for dry-run;"
              "\ndry-run's peak is the whole `bilagsbro` process, interpreter and imports included")


if __name__ == "__main__":
    main()
