"""GBAT10's tight loop (connectors/sources/gbat10_fast.py) reads every file exactly as the general path does.

`checked.validating()` turns the loop off (and every other fast path with it): the general tabular
reader, the reference, reads the same bytes. Documents must be equal field by field with the same
fields set, and problems equal with their file, line, voucher, field, code and message — on files
generated row by row from everything a GBAT10 row can hold, well-formed and odd (Brutto T and F,
another first field, wrong field counts, bad amounts, dates, KIDs and VAT codes, repeated and
unbalanced vouchers, blank lines, quoted values, bytes that are not text), and on those files broken
the fuzzer's ways. The golden and benchmark files are compared in test_fast_path.py.
"""

from __future__ import annotations

import io
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.sources import gbat10, gbat10_fast
from connectors.sources.rows import Record
from pipeline.errors import Problem
from tests.sources import test_as_others_write as as_others_write
from tests.sources.mutations import mutate
from tests.sources.seeds import Seed
from tests.sources.test_fast_path import _both

WELL = {"amount": ["1250.00", "-1250.00", "10", "-10.5", "0.00", "99.99"],
        "vat": ["", "0", "3", "1"], "kid": ["", "", "75", "1234567897"], "due": ["", "0", "20250301"],
        "customer": ["", "", "10001"], "supplier": ["", "20002"], "name": ["", "Kåre Ærøy AS"],
        "street": ["", "Storgata 1"], "postal": ["", "0150"], "city": ["", "Tromsø"],
        "invoice": ["", "F-17"], "text": ["", "Salg blåbær", "Kaffe og brød"], "project": ["", "P1"],
        "department": ["", "10"], "kind": ["", "1", "3"]}
ODD = {"amount": ["1 250,00", "1e3", "12.345", "", "9" * 16, "abc", "-0.00"], "vat": ["9", "x"],
       "kid": ["12345", "1a"], "due": ["20251301", "x"], "ident": ["gbat10", "GBAT9", ""],
       "brutto": ["T", "F", "f", "x"], "number": [""], "date": ["", "0", "20250230"]}


@st.composite
def rows(draw: Any, number: str, date: str, balanced: bool) -> list[str]:
    """The lines of one voucher: mostly well-formed, sometimes with one odd value."""
    count = draw(st.integers(1, 4))
    out = []
    total = 0
    for i in range(count):
        value = {k: draw(st.sampled_from(v)) for k, v in WELL.items()}
        value |= {"ident": "GBAT10", "brutto": "", "number": number, "date": date, "bruttosum": ""}
        if balanced and i == count - 1:
            value["amount"] = f"{-total / 100:.2f}"
        else:
            total += round(float(value["amount"]) * 100)
        if draw(st.integers(0, 9)) == 0:
            odd = draw(st.sampled_from(sorted(ODD)))
            value[odd] = draw(st.sampled_from(ODD[odd]))
            if value["brutto"] == "T":
                value["bruttosum"] = draw(st.sampled_from(["", "500.00"]))
        fields = [value["ident"], value["number"], value["date"], value["kind"], "3", "2025",
                  draw(st.sampled_from(["1500", "3000", "2700", "1920"])), value["vat"], value["amount"],
                  value["customer"], value["supplier"], value["name"], value["street"], value["postal"],
                  value["city"], value["invoice"], value["kid"], value["due"], "", "", value["text"], "", "",
                  value["project"], value["department"], "", value["brutto"], value["bruttosum"], "", ""]
        width = draw(st.sampled_from([30, 30, 27, 25, 21, 9, 31, 5]))
        fields = fields[:width] if width <= 30 else [*fields, "extra"]
        line = ";".join(fields)
        if draw(st.integers(0, 5)) == 0:
            line = line.replace(";", " ; ", 3)  # blanks around values: stripped
        out.append(line + draw(st.sampled_from(["\r\n", "\n", ";;;\r\n"])))
    return out


@st.composite
def files(draw: Any) -> bytes:
    lines: list[str] = []
    numbers = [str(n) for n in range(1, 8)]
    for _ in range(draw(st.integers(1, 8))):
        number = draw(st.sampled_from(numbers))  # a number may come again: a repeat further down
        date = draw(st.sampled_from(["20250131", "20250228"]))
        lines += draw(rows(number, date, balanced=draw(st.integers(0, 6)) > 0))
        extra = draw(st.integers(0, 12))
        if extra == 0:
            lines.append("\r\n")
        elif extra == 1:
            lines.append(';;;  ;\r\n')
        elif extra == 2:
            lines.append('GBAT10;"9";20250131;1;1;2025;1500;;10.00\r\n')  # a quote: the rest goes the general way
    encoding = draw(st.sampled_from(["cp1252", "utf-8"]))
    data = "".join(lines).encode(encoding, "replace")
    if draw(st.integers(0, 9)) == 0 and encoding == "utf-8":  # bytes that are not text, somewhere
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + b"\xff\xfe" + data[cut:]
    return data


OPTIONS = [{"vat_map": {"3": "3", "1": "1"}}, {"vat_map": {"3": "3", "1": ""}, "reference_prefix": "G-"},
           {"vat_map": {"3": "3"}, "customer_ledger": "1510", "supplier_ledger": "2410"},
           {"vat_map": {"3": "3", "1": "1", "0": "5"}, "reference_prefix": " x"}, {}]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=files(), options=st.sampled_from(OPTIONS))
def test_generated_files_read_alike_by_the_tight_loop_and_the_general_path(data: bytes, options: dict[str, Any]) -> None:
    fast, general = _both(gbat10.parse, data, "g.csv", options)
    assert fast == general


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=files(), kind=st.sampled_from(["flip", "truncate"]), rng=st.randoms(use_true_random=False))
def test_broken_files_read_alike_by_the_tight_loop_and_the_general_path(data: bytes, kind: str,
                                                                       rng: random.Random) -> None:
    # (the generated GBAT10 seeds are broken in all five ways in test_fast_path.py; these have no spans)
    seed = Seed("gbat10", data, "cp1252", {"vat_map": {"3": "3", "1": "1"}}, (), "csv", ";")
    broken = mutate(seed, kind, rng).apply(seed)
    fast, general = _both(gbat10.parse, broken, "b.csv", seed.options)
    assert fast == general


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The references of the vouchers the tight loop builds itself."""
    built: list[str] = []
    real = gbat10_fast.Builder.voucher

    def voucher(self: Any, rows: list[list[str]], line: int) -> Any:
        made = real(self, rows, line)
        if made is not None:
            built.append(made.reference)
        return made

    monkeypatch.setattr(gbat10_fast.Builder, "voucher", voucher)
    return built


GOOD = ("GBAT10;{n};20250131;1;1;2025;1500;;1250.00;10001;;Kåre;Storgata 1;0150;Oslo;{n};75;20250301;;;Faktura {n}\r\n"
        "GBAT10;{n};20250131;1;1;2025;3000;3;-1000.00;;;;;;;;;;;;Salg;;;P1;10\r\n"
        "GBAT10;{n};20250131;1;1;2025;2700;;-250.00\r\n")


def test_the_tight_loop_builds_the_well_formed_vouchers_and_hands_the_others_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Vouchers around an odd one (Brutto T) and after it are built by the loop; the odd one, and the
    rest of the file from a voucher with a quoted value on, are read by the general path — and the
    answer is the general path's."""
    odd = GOOD.format(n=3).replace("1500;;1250.00;", "1500;;0;").replace("Faktura 3", "Faktura 3;;;;;;T;1250.00")
    quoted = GOOD.format(n=5).replace("Salg", '"Salg; 25 %"')
    text = GOOD.format(n=1) + GOOD.format(n=2) + odd + GOOD.format(n=4) + quoted + GOOD.format(n=6)
    data = text.encode("cp1252")
    built = _counting(monkeypatch)
    items = list(gbat10.parse(io.BytesIO(data), file_name="g.csv", options={"vat_map": {"3": "3"}}))
    references = [item.reference for item in items if not isinstance(item, Problem)]
    assert references == ["1", "2", "3", "4", "5", "6"]
    assert built == ["1", "2", "4"]  # 3 (Brutto T), and 5 and 6 (from the quote on) the general way
    fast, general = _both(gbat10.parse, data, "g.csv", {"vat_map": {"3": "3"}})
    assert fast == general


def test_a_problem_found_by_the_general_path_keeps_its_line_after_a_run_of_fast_vouchers() -> None:
    bad = GOOD.format(n=3).replace("-1000.00", "-1000,00")
    data = (GOOD.format(n=1) + GOOD.format(n=2) + bad + GOOD.format(n=4)).encode("cp1252")
    items = list(gbat10.parse(io.BytesIO(data), file_name="g.csv", options={"vat_map": {"3": "3"}}))
    problems = [item for item in items if isinstance(item, Problem) and item.severity == "error"]
    assert [(p.line, p.reference, p.field) for p in problems] == [(8, "3", "Saldo")]
    assert [item.origin.line for item in items if not isinstance(item, Problem)] == [1, 4, 10]


def test_bytes_that_are_not_text_stop_the_loop_where_they_stop_the_general_path() -> None:
    from pipeline.norway.text import SNIFF_BYTES

    good = "".join(GOOD.format(n=n) for n in range(1, SNIFF_BYTES // 150 + 10))  # past what open_text sniffs
    data = good.encode("utf-8") + b"GBAT10;99999;2025\xff\r\n" + GOOD.format(n=100000).encode("utf-8")
    fast, general = _both(gbat10.parse, data, "g.csv", {"vat_map": {"3": "3"}, "encoding": "utf-8"})
    assert fast == general
    assert [p["code"] for p in fast if isinstance(p, dict) and p.get("severity", "error") == "error"] == ["encoding",
                                                                                                "incomplete"]


def test_a_row_the_loop_builds_relies_on_a_guess_by_its_vat_code_alone() -> None:
    """The loop asks the guesses once per VAT code about the rows it builds (those with a Bilagsnummer
    and no Brutto flag): for such rows, every guess's answer must not depend on anything else."""
    options = {"vat_map": {"3": "3", "1": "", "5": "5"}}
    for guess in gbat10.GUESSES:
        assert set(guess.reads) <= {"Brutto", "Mva-kode", "Bilagsnummer"}, guess.key
        for code in ("", "0", "1", "3", "5", "9"):
            answers = {guess.relies(Record(1, {"Bilagsnummer": number, "Brutto": "", "Mva-kode": code}), options)
                       for number in ("1", "77", "A-1", "x" * 40)}
            assert len(answers) == 1, (guess.key, code)


def test_a_printable_line_holds_no_blank_that_strip_removes_but_the_space() -> None:
    """The loop leaves values unstripped when a line is printable and has no blank beside a delimiter
    or at its start: that rests on " " being the only character both printable and `str.strip`ped."""
    from connectors.sources.rows import WHITESPACE

    assert [c for c in map(chr, range(0x110000)) if c.isspace() and c.isprintable()] == [" "]
    assert all(c.isspace() for c in WHITESPACE)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.data(), newline=st.sampled_from(["\n", "\r\n"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]), pad=st.sampled_from([0, 1, 5]),
       final_newline=st.booleans(), zero_voucher=st.booleans())
def test_files_as_others_write_them_read_alike_both_ways(items: Any, **style: Any) -> None:
    """The GBAT10 files of test_as_others_write.py (other writers' line ends, encodings, padding)."""
    data = as_others_write._gbat10(items.draw(as_others_write.entries()), **style)
    fast, general = _both(gbat10.parse, data, "o.csv", {})
    assert fast == general
