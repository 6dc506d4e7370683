"""The token splitters' shortcuts (str.split, `rows.split_quoted`) read every line as their regular expressions do.

Visma Business and SIE split most lines without their token expression, which is slow; these tests hold
each shortcut to the expression over lines made of the characters that matter — blanks, commas, quotes,
backslashes, braces — and words with æøå.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from connectors.sources import sie4, visma_business

PIECES = st.sampled_from([" ", "  ", "\t", ",", ", ", '"', '""', "\\", "{", "}", "1", "20250131", "Blåbær", "Ørn",
                          "-25.00", "P1", '"Salg blåbær, 1 kg"', '"10"', "{1 \"10\" 6 \"P1\"}", "{}"])
LINES = st.lists(PIECES, max_size=14).map("".join)


def _visma_expression(line: str) -> list[str]:
    values = []
    for match in visma_business._TOKEN.finditer(line):
        quoted, bare = match.group(1), match.group(2)
        values.append(quoted.replace('""', '"') if quoted is not None else bare if bare is not None else "")
    return values


def _sie_expression(line: str) -> list[str]:
    return [(sie4._ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted) if quote else objects or bare
            for quote, quoted, objects, bare in sie4._TOKEN.findall(line)]


@settings(max_examples=400, deadline=None)
@given(line=LINES)
@example(line='1 20250102 11 "Salg blåbær, 3 kg" 0 0 0 3000 3 3 1000.00 250.00 1250.00 1 0 "" 10 P1')
@example(line='1, "a, b" ,2')
@example(line='"a, b"')
@example(line='x"a, b" 1')
def test_visma_business_tokens_as_the_expression_reads_them(line: str) -> None:
    assert visma_business.tokens(line) == _visma_expression(line)


@settings(max_examples=400, deadline=None)
@given(line=LINES)
@example(line='#TRANS 6072 {1 "10" 6 "P1"} 928.00 20250101 "Blåbær Ørret"')
def test_sie_tokens_as_the_expression_reads_them(line: str) -> None:
    assert sie4.tokens(line) == _sie_expression(line)
