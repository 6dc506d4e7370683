"""Every reader's fast path gives what its general path gives: the same documents and the same problems.

The fast paths build shared-form models without pydantic validating each field (pipeline/checked.py);
`checked.validating()` turns them off, so each reader runs the general way, where every value passes
through the models' validating constructors. The two must agree exactly — documents equal field by
field, with the same fields set (what `exclude_unset` and the JSON dump see), and problems equal with
their messages and lines — on the golden files, on generated files of every format, and on those files
broken the ways the fuzzer breaks them.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import connectors
from pipeline import checked
from pipeline.errors import Problem
from tests.sources.mutations import KINDS, mutate
from tests.sources.seeds import GENERATORS
from tests.sources.test_golden import CASES, FORMATS

HERE = Path(__file__).parent


def _shape(value: Any) -> Any:
    """A model as everything that can tell two models apart: type, fields set, every field's value."""
    if isinstance(value, BaseModel):
        return (type(value).__name__, sorted(value.model_fields_set),
                {name: _shape(getattr(value, name)) for name in type(value).model_fields}, repr(value))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, [_shape(v) for v in value])
    if isinstance(value, dict):
        return ("dict", {k: _shape(v) for k, v in value.items()})
    return (type(value).__name__, repr(value))


def _both(parse: Any, data: bytes, file_name: str, options: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    def run() -> list[Any]:
        items = []
        for item in parse(io.BytesIO(data), file_name=file_name, options=options):
            items.append(item.as_dict() if isinstance(item, Problem) else
                         (_shape(item), item.model_dump_json(exclude_none=True), item.model_dump(exclude_unset=True)))
        return items

    fast = run()
    with checked.validating():
        general = run()
    return fast, general


def _options(path: Path) -> dict[str, Any]:
    import json

    options_path = path.with_name(path.stem + ".options.json")
    return json.loads(options_path.read_text("utf-8")) if options_path.exists() else {}


@pytest.mark.parametrize(("name", "path"), CASES, ids=[f"{n}/{p.name}" for n, p in CASES])
def test_golden_files_read_alike_both_ways(name: str, path: Path) -> None:
    fast, general = _both(FORMATS[name].parse, path.read_bytes(), path.name, _options(path))
    assert fast == general


@pytest.mark.parametrize("format", sorted(GENERATORS))
def test_generated_files_read_alike_both_ways(format: str) -> None:
    for n in range(15):
        seed = GENERATORS[format](random.Random(n))
        fast, general = _both(connectors.SOURCES[format], seed.data, "gen.dat", seed.options)
        assert fast == general
        assert any(not isinstance(item, dict) for item in fast)  # the fast path had something to build


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(format=st.sampled_from(sorted(GENERATORS)), kind=st.sampled_from(KINDS), rng=st.randoms(use_true_random=False))
def test_broken_files_read_alike_both_ways(format: str, kind: str, rng: random.Random) -> None:
    seed = GENERATORS[format](rng)
    data = mutate(seed, kind, rng).apply(seed)
    fast, general = _both(connectors.SOURCES[format], data, "broken.dat", seed.options)
    assert fast == general


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600), format=st.sampled_from(sorted(GENERATORS)))
def test_arbitrary_bytes_read_alike_both_ways(data: bytes, format: str) -> None:
    seed = GENERATORS[format](random.Random(0))
    head = seed.data[: len(seed.data) // 2]
    fast, general = _both(connectors.SOURCES[format], head + data, "odd.dat", seed.options)
    assert fast == general
