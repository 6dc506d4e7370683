"""Cold-start cost: how long a fresh interpreter takes to import function_app (and what it imports), and what
the first invocation adds by importing the connector registry (connectors.CONNECTORS) and building it."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 15


def once(code: str = "import function_app") -> float:
    timed = f"import time; t=time.perf_counter(); {code}; print(time.perf_counter()-t)"
    out = subprocess.run([sys.executable, "-c", timed], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def heaviest(n: int = 8) -> list[tuple[int, str]]:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import function_app"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    rows = []
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    once()  # warm the file system cache, as a deployed app's package would be
    times = [once() for _ in range(RUNS)]
    print(f"import function_app: median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {RUNS} runs")
    print("heaviest imports (cumulative µs):")
    for micros, name in heaviest():
        print(f"  {micros:>9}  {name}")
    loaded = subprocess.run([sys.executable, "-c", "import sys, function_app; print(len(sys.modules), "
                             "'azure.storage.blob' in sys.modules, 'pydantic' in sys.modules)"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    print(f"modules loaded: {loaded[0]}; storage SDK loaded at import: {loaded[1]}; pydantic: {loaded[2]}")
    registry = "import connectors; connectors.registry()"
    times = [once(registry) for _ in range(RUNS)]
    heavy = subprocess.run([sys.executable, "-c", f"import sys; {registry}; print('httpx' in sys.modules, "
                            "'lxml.etree' in sys.modules)"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    print(f"first invocation, the registry (import connectors; registry()): median "
          f"{statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms; httpx loaded: {heavy[0]}, "
          f"lxml: {heavy[1]}")


if __name__ == "__main__":
    main()
