"""Break files of every source format on purpose and count the readers' crashes and silent results.

Usage: `python bench/fuzz.py [-n 10000] [--seed 1] [--format gbat10] [--show 3]`

For each format, `-n` mutated inputs (default 10,000) are made from valid generated files
(tests/sources/seeds.py, 2-6 vouchers with æøå, in the encodings real exporters use) and from the
project's golden files: byte flips, truncation, huge numbers, wrong encodings, separators and quotes
inside texts (tests/sources/mutations.py describes each). Every input goes straight to the format's
reader (`connectors.SOURCES`), not through the pipeline's safety net, so a figure here is the
reader's own.

- A **crash** is any exception out of the reader.
- A **silent result** is an answer that says nothing where something was due, judged by
  `tests.sources.mutations.judge`, whose docstring is the precise definition: in short, no document
  and no problem at all; a voucher the mutation did not touch lost or changed without a problem
  before or about it; a huge amount accepted, or refused without a problem naming its voucher; a
  correctly quoted text lost or garbled, or an open quote that changes bookings silently; another
  encoding garbling a voucher without any problem; or an amount that is written nowhere in the file.

Target: 0 crashes and 0 silent results for every format. Prints a table, then up to `--show`
examples of each failure per format with the mutation that caused it. Timings are printed for
information only.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import connectors  # noqa: E402
from pipeline.errors import Problem  # noqa: E402
from tests.sources.mutations import KINDS, Mutation, _plain, judge, mutate  # noqa: E402
from tests.sources.seeds import GENERATORS, Seed  # noqa: E402

SHARE = {"flip": 0.35, "truncate": 0.2, "huge": 0.2, "encoding": 0.1, "quote": 0.15}
GOLDEN_DIRS = {"gbat10": "gbat10", "visma-business": "visma_business", "visma-global": "visma_global",
               "sie4": "sie4", "saft-cash-register": "saft_cash_register", "saft-financial": "saft_financial"}
EXAMPLES = ROOT.parent / "shared" / "specs" / "saf-t" / "examples"


def parse(seed: Seed, data: bytes) -> list[Any]:
    return list(connectors.SOURCES[seed.format](io.BytesIO(data), file_name="fuzz.dat", options=seed.options))


def golden_seeds(format: str) -> list[Seed]:
    """The project's golden inputs (and the official SAF-T examples): real shapes, no voucher map."""
    paths = []
    if format in GOLDEN_DIRS:
        folder = ROOT / "tests" / "sources" / GOLDEN_DIRS[format]
        paths = sorted(p for p in folder.iterdir() if p.suffix not in (".json", ".py") and p.is_file())
    if format.startswith("saft") and EXAMPLES.exists():
        kind = "cash-register" if format == "saft-cash-register" else "financial"
        paths += sorted(EXAMPLES.glob(f"{kind}-example-*.xml"))
    seeds = []
    for path in paths:
        options_path = path.with_name(path.stem + ".options.json")
        options = json.loads(options_path.read_text("utf-8")) if options_path.exists() else {}
        seeds.append(Seed(format, path.read_bytes(), "unknown", options, (), "none"))
    return seeds


def pool(format: str, rng: random.Random, size: int = 100) -> list[tuple[Seed, dict[str, Any]]]:
    """Seeds with the documents their unbroken files give; a seed must read without a problem."""
    out = []
    for _ in range(size):
        seed = GENERATORS[format](rng)
        items = parse(seed, seed.data)
        documents = {d.reference: _plain(d) for d in items if not isinstance(d, Problem)}
        bad = [i for i in items if isinstance(i, Problem) and i.is_error]
        if bad or set(documents) != {v.reference for v in seed.vouchers}:
            raise SystemExit(f"{format}: a generated seed does not read cleanly: {bad or sorted(documents)}")
        out.append((seed, documents))
    return out


def run(format: str, count: int, rng: random.Random, show: int) -> dict[str, Any]:
    seeds = pool(format, rng)
    goldens = [(s, {}) for s in golden_seeds(format)]
    kinds = [k for k in KINDS for _ in range(round(SHARE[k] * 100))]
    tally: Counter[tuple[str, str]] = Counter()
    examples: list[str] = []
    started = time.perf_counter()
    for _ in range(count):
        kind = rng.choice(kinds)
        if goldens and kind in ("flip", "truncate") and rng.random() < 0.15:
            seed, baseline = rng.choice(goldens)
        else:
            seed, baseline = rng.choice(seeds)
        mutation: Mutation = mutate(seed, kind, rng)
        data = mutation.apply(seed)
        tally[(kind, "inputs")] += 1
        try:
            items = parse(seed, data)
        except Exception as exc:  # a crash is what we count
            tally[(kind, "crashes")] += 1
            if sum(1 for e in examples if e.startswith("crash")) < show:
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                examples.append(f"crash  {kind}: {mutation.note[:90]} -> {type(exc).__name__}: {str(exc)[:80]} "
                                f"({Path(frame.filename).name}:{frame.lineno})")
            continue
        verdict = judge(seed, baseline, mutation, items, data) if seed.vouchers else _golden_verdict(items)
        if verdict is not None:
            tally[(kind, "silent")] += 1
            if sum(1 for e in examples if e.startswith("silent")) < show:
                examples.append(f"silent {kind}: {mutation.note[:90]} -> {verdict}")
    return {"tally": tally, "examples": examples, "seconds": time.perf_counter() - started}


def _golden_verdict(items: list[Any]) -> str | None:
    return None if items else "no document and no problem"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="mutated inputs per format")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=sorted(GENERATORS), action="append")
    parser.add_argument("--show", type=int, default=3, help="examples of each failure per format")
    args = parser.parse_args(argv)
    formats = args.format or list(GENERATORS)
    print(f"{'format':<20}{'inputs':>8}{'crashes':>9}{'silent':>8}   per mutation (inputs/crashes/silent)")
    failures = 0
    reports = {}
    for format in formats:
        report = run(format, args.n, random.Random(f"{args.seed}-{format}"), args.show)
        reports[format] = report
        tally = report["tally"]
        total = {what: sum(v for (_, w), v in tally.items() if w == what) for what in ("inputs", "crashes", "silent")}
        failures += total["crashes"] + total["silent"]
        kinds = "  ".join(f"{k} {tally[(k, 'inputs')]}/{tally[(k, 'crashes')]}/{tally[(k, 'silent')]}" for k in KINDS)
        print(f"{format:<20}{total['inputs']:>8}{total['crashes']:>9}{total['silent']:>8}   {kinds}"
              f"   ({report['seconds']:.1f} s)")
    for format, report in reports.items():
        for example in report["examples"]:
            print(f"  {format}: {example}")
    print(f"target: 0 crashes and 0 silent results per format -> {'met' if not failures else 'NOT met'}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
