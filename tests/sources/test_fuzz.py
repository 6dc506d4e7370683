"""The fuzzer's CI version: a few hundred broken files per run, judged as bench/fuzz.py judges 70,000.

Every source format, every mutation (byte flips, truncation, huge numbers, wrong encodings,
separators and quotes inside texts); no reader may crash or give a silent result (the definition is
`tests.sources.mutations`'s docstring).
"""

from __future__ import annotations

import io
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import connectors
from pipeline.errors import Problem
from tests.sources.mutations import KINDS, _plain, judge, mutate
from tests.sources.seeds import GENERATORS, Seed


def parse(seed: Seed, data: bytes) -> list[Any]:
    return list(connectors.SOURCES[seed.format](io.BytesIO(data), file_name="fuzz.dat", options=seed.options))


@pytest.mark.parametrize("format", sorted(GENERATORS))
def test_generated_seeds_read_cleanly(format: str) -> None:
    for n in range(20):
        seed = GENERATORS[format](random.Random(n))
        items = parse(seed, seed.data)
        assert not [i for i in items if isinstance(i, Problem) and i.is_error]
        documents = [d.reference for d in items if not isinstance(d, Problem)]
        assert documents == [v.reference for v in seed.vouchers] or format == "saft-cash-register"
        assert set(documents) == {v.reference for v in seed.vouchers}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(format=st.sampled_from(sorted(GENERATORS)), kind=st.sampled_from(KINDS), rng=st.randoms(use_true_random=False))
def test_broken_files_never_crash_a_reader_nor_pass_in_silence(format: str, kind: str, rng: random.Random) -> None:
    seed = GENERATORS[format](rng)
    baseline = {d.reference: _plain(d) for d in parse(seed, seed.data) if not isinstance(d, Problem)}
    mutation = mutate(seed, kind, rng)
    data = mutation.apply(seed)
    items = parse(seed, data)  # a crash fails the test with its traceback
    verdict = judge(seed, baseline, mutation, items, data)
    assert verdict is None, f"{mutation.note}: {verdict}"
