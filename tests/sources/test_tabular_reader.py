"""The generic tabular reader's promises that golden files cannot show: streaming, options, late encoding faults."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.sources import gbat10, sie4, visma_business
from pipeline.errors import Problem
from pipeline.model import Voucher


def _gbat10(n: int, text: str = "Salg") -> bytes:
    return "".join(f"GBAT10;{i};20250101;1;1;2025;1920;;10.00\nGBAT10;{i};20250101;1;1;2025;3000;;-10.00;;;;;;;;;;;;"
                   f"{text}\n" for i in range(1, n + 1)).encode("cp1252")


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readinto(self, buffer: Any) -> int:
        n = super().readinto(buffer)
        self.bytes_read += n
        return n


def test_first_voucher_arrives_before_the_file_is_read() -> None:
    body = _gbat10(50_000)
    stream = CountingStream(body)
    first = next(iter(gbat10.parse(stream, file_name="big.csv", options={})))
    assert isinstance(first, Voucher) and first.reference == "1"
    assert stream.bytes_read < len(body) / 4


def test_text_that_stops_being_the_sniffed_encoding_is_a_problem_at_its_line() -> None:
    body = _gbat10(2000) + _gbat10(1, text="Øl")  # ASCII for > 64 KiB, then one Windows-1252 byte
    items = list(gbat10.parse(io.BytesIO(body), file_name="late.csv", options={}))
    vouchers = [i for i in items if isinstance(i, Voucher)]
    problems = [i for i in items if isinstance(i, Problem)]
    assert len(body) > 64 * 1024 and len(vouchers) >= 1500
    assert [p.code for p in problems] == ["encoding", "incomplete"] and problems[0].file == "late.csv"
    assert problems[0].line is not None and problems[0].line > 2


def test_binary_data_is_one_problem() -> None:
    [problem] = list(gbat10.parse(io.BytesIO(b"GBAT10;\x00\x01\x02\xff"), file_name="x.csv", options={}))
    assert isinstance(problem, Problem) and problem.code == "encoding" and "byte offset 7" in problem.message


def test_reference_prefix_and_vat_map_to_unknown_code() -> None:
    body = b"GBAT10;7;20250101;1;1;2025;1920;;10.00\nGBAT10;7;20250101;1;1;2025;3000;M25;-10.00\n"
    guess, voucher = gbat10.parse(io.BytesIO(body), file_name="x", options={"reference_prefix": "extenda-",
                                                                             "vat_map": {"M25": "3"}})
    assert isinstance(guess, Problem) and guess.code == "guessed-detail" and not guess.is_error  # VAT code, no Brutto
    assert isinstance(voucher, Voucher) and voucher.reference == "extenda-7" and voucher.lines[1].vat_code == "3"
    guess, problem = gbat10.parse(io.BytesIO(body), file_name="x", options={"vat_map": {"M25": "4"}})
    assert isinstance(guess, Problem) and guess.code == "guessed-detail"
    assert isinstance(problem, Problem) and "'4' is not a SAF-T standard VAT code" in problem.message
    assert problem.line == 2 and problem.field == "Mva-kode"


def test_sie_dimensions_follow_the_option() -> None:
    body = b'#VER "" 9 20250101\n{\n#TRANS 1930 {1 "10" 2 "B"} 5.00\n#TRANS 3000 {} -5.00\n}\n'
    [voucher] = sie4.parse(io.BytesIO(body), file_name="x.si", options={"sie_dimensions": {"2": "cost_bearer"},
                                                                         "currency": "NOK"})
    assert isinstance(voucher, Voucher) and voucher.reference == "9-35077b65"  # number and content hash
    assert voucher.lines[0].dimensions == {"cost_bearer": "B"}


def test_sie_tokens_and_objects() -> None:
    assert sie4.tokens('#TRANS 1930 {1 "10"} -25.00 "Kaffe \\"svart\\""') == [
        "#TRANS", "1930", '{1 "10"}', "-25.00", 'Kaffe "svart"']
    assert sie4.objects('{1 "10" 6 "P 1"}') == {"1": "10", "6": "P 1"}


def test_visma_business_tokens_and_oem_codepage_option() -> None:
    assert visma_business.tokens('1 20181002 "Blåbær, 1 kg" 0') == ["1", "20181002", "Blåbær, 1 kg", "0"]
    assert visma_business.tokens('1,,"a ""b"""') == ["1", "", 'a "b"']
    body = ("@CONVERT_FROM_OEM_TO_ANSI(1)\n@WaVo(VoNo,VoDt,Txt,DbAcNo,CrAcNo,Am)\n"
            '1 20250101 "ÁØ" 7000 1920 5.00\n').encode("cp850")
    [voucher] = visma_business.parse(io.BytesIO(body), file_name="x", options={"oem_codepage": "cp850"})
    assert isinstance(voucher, Voucher) and voucher.description == "ÁØ"


def test_balance_boundary_closes_a_voucher_where_its_rows_sum_to_zero() -> None:
    from dataclasses import replace

    from connectors.sources.tabular import read

    layout = replace(gbat10.LAYOUT, boundary="balance", voucher_key=())
    body = (b"GBAT10;;20250101;1;1;2025;1920;;10.00\nGBAT10;;20250101;1;1;2025;3000;;-4.00\n"
            b"GBAT10;;20250101;1;1;2025;3001;;-6.00\nGBAT10;;20250102;1;1;2025;1920;;7.00\n"
            b"GBAT10;;20250102;1;1;2025;3000;;-7.00\nGBAT10;;20250103;1;1;2025;1920;;1.00\n")
    guess, first, second, third = read(layout, io.BytesIO(body), file_name="z.csv", options={})
    assert isinstance(guess, Problem) and guess.code == "guessed-detail" and guess.field == "Bilagsnummer"
    assert isinstance(first, Voucher) and first.reference == "z.csv:1" and len(first.lines) == 3
    assert isinstance(second, Voucher) and second.reference == "z.csv:4"
    assert isinstance(third, Problem) and third.code == "unbalanced" and third.line == 6
    assert third.message == "voucher z.csv:6 does not balance: debits exceed credits by 1.00"


def test_whitespace_is_every_character_strip_removes() -> None:
    import sys

    from connectors.sources.rows import WHITESPACE

    assert set(WHITESPACE) == {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}


def test_lines_split_as_text_iteration_splits_them_across_chunk_boundaries(monkeypatch: Any) -> None:
    """\\r\\n cut between two chunks, a lone \\r, \\x0c and \\x1c (line breaks to str.splitlines, not to files)."""
    from connectors.sources import rows

    monkeypatch.setattr(rows, "TEXT_CHUNK", 5)
    for body in ("a;b\r\nc\rd;æ\x1ce\nf\r\n\r\ng;h".encode("cp1252"), "x\x0cy\r\nø\n\r".encode()):
        encoding = "utf-8" if body.startswith(b"x") else "cp1252"
        expected = list(io.TextIOWrapper(io.BytesIO(body), encoding=encoding, newline=""))
        text = io.TextIOWrapper(io.BufferedReader(io.BytesIO(body)), encoding=encoding, newline="")
        assert list(rows.text_lines(text)) == expected


_TOKEN_TEXT = st.text(alphabet='ab 1{}"\\,\t', max_size=30)


@settings(max_examples=500, deadline=None)
@given(line=_TOKEN_TEXT)
def test_sie_tokens_split_as_the_expression_does(line: str) -> None:
    expected = [(sie4._ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted) if quote else objects or bare
                for quote, quoted, objects, bare in sie4._TOKEN.findall(line)]
    assert sie4.tokens(line) == expected


@settings(max_examples=500, deadline=None)
@given(line=_TOKEN_TEXT)
def test_visma_business_tokens_split_as_the_expression_does(line: str) -> None:
    expected = []
    for match in visma_business._TOKEN.finditer(line):
        quoted, bare = match.group(1), match.group(2)
        expected.append(quoted.replace('""', '"') if quoted is not None else bare if bare is not None else "")
    assert visma_business.tokens(line) == expected


def test_seen_remembers_references_and_the_first_number() -> None:
    from pipeline.seen import Seen

    seen, numbered = Seen(), Seen(numbered=True)
    for n in range(5_000):  # past several doublings of the table
        seen.add(f"ref-{n}")
        numbered.add(f"ref-{n % 2_500}", n)
    assert all(f"ref-{n}" in seen for n in range(5_000)) and "ref-5000" not in seen and len(seen) == 5_000
    assert numbered.first("ref-7") == 7 and numbered.first("ref-2499") == 2_499 and numbered.first("x") is None
    seen.add(2**64 - 1)
    assert 2**64 - 1 in seen and 12345 not in seen


def test_seen_claims_a_value_once_and_agrees_with_add() -> None:
    from pipeline.seen import Seen

    claimed, added = Seen(), Seen()
    for n in range(5_000):  # past several doublings of the table
        value = f"ref-{n % 3_000}"
        was_in = value in added
        added.add(value)
        assert claimed.claim(value) is not was_in
    assert len(claimed) == len(added) == 3_000
    assert all(f"ref-{n}" in claimed for n in range(3_000)) and "ref-3000" not in claimed
