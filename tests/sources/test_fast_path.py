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


def _bench_generators() -> Any:
    """The generators of bench/bench_parsers.py: the files whose speed we measure must read alike both ways."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_parsers", HERE.parents[1] / "bench" / "bench_parsers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FORMATS


@pytest.mark.parametrize("format", ["gbat10", "visma-business", "visma-global", "sie4", "saft-cash-register",
                                    "saft-financial", "shared-form"])
def test_benchmark_files_read_alike_both_ways_and_the_fast_way_is_taken(format: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    write, suffix, options = _bench_generators()[format]
    path = tmp_path / f"bench.{suffix}"
    write(path, 0.15)
    built: list[str] = []
    real = checked.build

    def build(cls: Any, fields: dict[str, Any], given: set[str]) -> Any:
        built.append(cls.__name__)
        return real(cls, fields, given)

    monkeypatch.setattr(checked, "build", build)
    fast, general = _both(connectors.SOURCES[format], path.read_bytes(), path.name, dict(options))
    assert fast == general
    documents = [item for item in fast if not isinstance(item, dict)]
    assert documents and not [p for p in fast if isinstance(p, dict) and p.get("severity") != "warning"]
    assert built.count("Voucher") == len(documents)  # every voucher of these files went the fast way


def test_the_fast_builders_make_what_the_constructors_make() -> None:
    """`checked.posting` and `checked.voucher` on values the model keeps as they are: equal models, same
    fields set; on values it would change or refuse: None (the caller validates)."""
    import datetime as dt
    from decimal import Decimal

    from pipeline.model import Party, Posting, Voucher

    values: dict[str, Any] = {"account": "1500", "amount": Decimal("1250.00"), "vat_code": "3",
                              "vat_amount": Decimal("250.00"), "kid": "12344", "due_date": dt.date(2025, 2, 1),
                              "customer": Party(number="10001", name="Kåre"), "dimensions": {"project": "P1"}}
    fast = checked.posting(values)
    assert fast is not None and _shape(fast) == _shape(Posting(**values))
    for odd in ({"amount": Decimal("1.005")}, {"amount": 12.5}, {"account": " 1500"}, {"vat_code": "99"},
                {"kid": "12345"}, {"vat_amount": Decimal("2000.00")}, {"dimensions": {"project": " "}},
                {"due_date": dt.datetime(2025, 2, 1)}, {"colour": "red"}, {"amount": Decimal("1e15")}):
        assert checked.posting({**values, **odd}) is None, odd
    lines = (Posting(account="1920", amount=Decimal("10.00")), Posting(account="3000", amount=Decimal("-10.00")))
    voucher = {"reference": "v-1", "date": dt.date(2025, 1, 31), "lines": lines, "currency": "SEK"}
    fast_voucher = checked.voucher(voucher)
    assert fast_voucher is not None and _shape(fast_voucher) == _shape(Voucher(**voucher))
    for odd in ({"currency": "sek"}, {"reference": "x" * 201}, {"lines": lines[:1]}, {"date": "2025-01-31"},
                {"lines": (lines[0], lines[0])}, {"lines": list(lines)}):
        assert checked.voucher({**voucher, **odd}) is None, odd
    with checked.validating():
        assert checked.posting(values) is None and checked.voucher(voucher) is None


def test_the_fast_builders_refuse_what_the_model_would_refuse_or_change() -> None:
    """More values `checked.posting` and `checked.voucher` must leave to the model: a field given as None
    where the model has a default factory, both a customer and a supplier, texts that are not strings."""
    import datetime as dt
    from decimal import Decimal

    from pipeline.model import Party, Posting

    values: dict[str, Any] = {"account": "1500", "amount": Decimal("10.00")}
    assert _shape(checked.posting(values)) == _shape(Posting(**values))
    party = Party(number="1")
    for odd in ({"dimensions": None}, {"dimensions": [("a", "b")]}, {"dimensions": {1: "x"}},
                {"customer": party, "supplier": party}, {"supplier": {"number": "1"}}, {"description": 1},
                {"invoice_number": 7}, {"account": ""}, {"account": 1500}, {"vat_amount": Decimal("1.00")},
                {"vat_code": "3", "vat_amount": Decimal("-1.00")}, {"kid": " 12344"}):
        assert checked.posting({**values, **odd}) is None, odd
    lines = (Posting(account="1920", amount=Decimal("10.00")), Posting(account="3000", amount=Decimal("-10.00")))
    voucher = {"reference": "v-1", "date": dt.date(2025, 1, 31), "lines": lines}
    for odd in ({"reference": " v-1"}, {"reference": ""}, {"description": 1}, {"voucher_type": 2},
                {"type": "sales_invoice"}, {"origin": {"format": "x"}},
                {"lines": (lines[0], lines[0].model_copy(update={"amount": Decimal("-10.01")}))},
                {"lines": tuple(line.model_copy(update={"amount": Decimal("0.00")}) for line in lines)}):
        assert checked.voucher({**voucher, **odd}) is None, odd


def test_a_document_gets_its_origin_as_model_copy_gives_it() -> None:
    """`checked.with_origin` (the shared-form reader's) makes what `model_copy(update={"origin": ...})` makes."""
    import datetime as dt
    from decimal import Decimal

    from pipeline.model import Origin, Posting, SalesInvoice, Voucher

    origin = Origin(format="shared-form", file="f.json", line=3)
    lines = (Posting(account="1920", amount=Decimal("10.00")), Posting(account="3000", amount=Decimal("-10.00")))
    documents = [Voucher(reference="v-1", date=dt.date(2025, 1, 31), lines=lines),
                 SalesInvoice.model_validate({"reference": "f-1", "date": "2025-01-31", "invoice_number": "1", "total": "10.00",
                                              "customer": {"number": "1", "name": "Åse"},
                                              "lines": [{"description": "Kaffe", "amount": "10.00"}]})]
    for document in documents:
        copied = checked.with_origin(document, origin)
        assert _shape(copied) == _shape(document.model_copy(update={"origin": origin}))
        assert "origin" not in document.model_fields_set and document.origin is None  # the original is untouched


def test_guesses_and_prepare_read_only_the_columns_they_declare() -> None:
    """The fast path asks a guess (and gbat10's `prepare`) about a row by the columns it declares it
    reads: on every row of the golden and generated files, those columns alone give the same answer."""
    from connectors.sources import gbat10, visma_business, visma_global
    from connectors.sources.rows import Record, text_lines
    from pipeline.norway.text import open_text

    samples = [(name, path.read_bytes(), _options(path)) for name, path in CASES
               if name in ("gbat10", "visma_business", "visma_global")]
    for format, module in (("gbat10", "gbat10"), ("visma-business", "visma_business"),
                           ("visma-global", "visma_global")):
        for n in range(10):
            seed = GENERATORS[format](random.Random(n))
            samples.append((module, seed.data, seed.options))
    modules = {"gbat10": gbat10, "visma_business": visma_business, "visma_global": visma_global}
    asked = 0
    for name, data, options in samples:
        layout = modules[name].LAYOUT
        try:
            text, _ = open_text(io.BytesIO(data), None, newline="", declaration=layout.declaration)
        except ValueError:
            continue
        for record in layout.records.reader(text_lines(text), layout, options):
            if not isinstance(record, Record) or record.error is not None:
                continue
            for guess in layout.records.guesses:
                reduced = Record(record.line, {c: record.get(c) for c in guess.reads})
                assert guess.relies(record, options) == guess.relies(reduced, options), (guess.key, record)
                asked += 1
            if layout.prepare is not None:
                reduced = Record(record.line, {c: record.get(c) for c in layout.prepare_reads})
                assert (layout.prepare(record) is record) == (layout.prepare(reduced) is reduced), record
    assert asked > 500


def test_a_copy_of_a_fast_posting_leaves_the_others_fields_set_alone() -> None:
    """The fast path hands postings of one kind one fields-set object (plain.py, `_GIVEN`): a copy
    made with an update gets its own set, and the postings it was shared with keep theirs."""
    seed = GENERATORS["gbat10"](random.Random(1))
    vouchers = [d for d in connectors.SOURCES["gbat10"](io.BytesIO(seed.data), file_name="g.csv", options=seed.options)
                if not isinstance(d, Problem)]
    postings = [line for v in vouchers for line in v.lines]
    before = [sorted(p.model_fields_set) for p in postings]
    plain = next(p for p in postings if "supplier" not in p.model_fields_set)
    changed = plain.model_copy(update={"supplier": None})
    assert "supplier" in changed.model_fields_set
    assert [sorted(p.model_fields_set) for p in postings] == before
