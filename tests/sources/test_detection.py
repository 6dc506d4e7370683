"""Format detection: every golden input is recognised from its first 64 KiB, whatever its name says."""

from __future__ import annotations

from pathlib import Path

import pytest

import connectors

HERE = Path(__file__).parent
FORMATS = {"gbat10": "gbat10", "visma_business": "visma-business", "visma_global": "visma-global",
           "sie4": "sie4", "saft_cash_register": "saft-cash-register", "saft_financial": "saft-financial"}
CASES = [(f, FORMATS[d.name]) for d in sorted(HERE.iterdir()) if d.name in FORMATS
         for f in sorted(d.iterdir()) if not f.name.endswith((".json", ".py"))]


@pytest.mark.parametrize("path, expected", CASES, ids=[f"{p.parent.name}/{p.name}" for p, _ in CASES])
def test_detected_from_content_not_name(path, expected):
    assert connectors.registry().detect(path.read_bytes()[:65536], "upload.dat") == expected


def test_every_registered_source_can_be_detected():
    assert set(connectors.SOURCES) == set(connectors.SNIFFERS)
    assert {fmt for _, fmt in CASES} == set(connectors.SOURCES) - {"shared-form"}


def test_unknown_bytes_are_not_claimed_by_any_format():
    assert connectors.registry().detect(b"\x00\x01\x02 lotus 1-2-3", "salg.wk1") is None


@pytest.mark.parametrize("path, expected", CASES, ids=[f"{p.parent.name}/{p.name}" for p, _ in CASES])
def test_a_detected_file_parses_exactly_as_when_its_format_is_named(path, expected):
    """Detection only peeks: the parser still reads the file from its first byte."""
    import io
    import json

    from pipeline.errors import Problem
    from pipeline.stages import read_file

    options_path = path.with_name(path.stem + ".options.json")
    options = json.loads(options_path.read_text("utf-8")) if options_path.exists() else {}
    conns = connectors.registry()

    def read(format: str | None) -> tuple[str | None, list, list]:
        found, items = read_file(conns, io.BytesIO(path.read_bytes()), file_name=path.name, format=format,
                                 options=lambda _: options)
        items = list(items)
        return found, [i for i in items if not isinstance(i, Problem)], [i for i in items if isinstance(i, Problem)]

    named, detected = read(expected), read(None)
    assert detected[0] == expected
    assert detected[1:] == named[1:]
    assert named[1] or named[2]  # the case yields something to compare
