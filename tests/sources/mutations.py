"""Hypothesis strategies that break good files the ways real files break: random bytes, a file cut off
anywhere, one value replaced by any text."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st


def broken_files(golden: Sequence[bytes], values: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    """`golden` are good files; `values` are byte strings in them worth replacing."""
    truncated = st.tuples(st.sampled_from(list(golden)), st.integers(0, 20_000), st.binary(max_size=8)).map(
        lambda t: t[0][: t[1]] + t[2]
    )
    odd_value = st.tuples(st.sampled_from(list(golden)), st.sampled_from(list(values)), st.text(max_size=40)).map(
        lambda t: t[0].replace(t[1], t[2].encode("utf-8", "replace"), 1)
    )
    return st.one_of(st.binary(max_size=2048), truncated, odd_value)
