"""Visma.net's refusal of a journal transaction, put on our lines where its words say which.

Visma.net answers a refused journal transaction with one text (`{"message": "VismaId: …. Error creating document.
Error: …"}`) and no field paths [unverified: whether it ever names a line]. A text naming an account (`Account
'2999'`, `account 4300`) is put on every line booking on that account; one about a financial period on the date;
anything else on the voucher.
"""

from __future__ import annotations

import re

from pipeline.errors import Problem
from pipeline.model import Voucher

_ACCOUNT = re.compile(r"\b[Aa]ccount\s+'?(\w+)'?")
_PERIOD = re.compile(r"financial period|post period", re.IGNORECASE)


def problems(voucher: Voucher, text: str | None) -> tuple[Problem, ...]:
    """One problem per sentence of the refusal, each on our field where the sentence says which."""
    if not text:
        return ()
    origin = voucher.origin
    out: list[Problem] = []

    def add(message: str, field: str | None) -> None:
        out.append(Problem(message, field=field, reference=voucher.reference, code="refused-by-visma-net",
                           file=origin.file if origin else None, line=origin.line if origin else None))

    for sentence in (s.strip() for s in re.split(r"(?<=\.)\s+(?=[A-Z'])", text) if s.strip()):
        named = set(_ACCOUNT.findall(sentence))
        lines = [i for i, line in enumerate(voucher.lines) if line.account in named]
        if lines:
            for i in lines:
                add(f"Visma.net refused line {i + 1}: {sentence}", f"lines[{i}].account")
        elif _PERIOD.search(sentence):
            add(f"Visma.net refused the voucher: {sentence}", "date")
        elif sentence.rstrip(".").lower() not in ("error creating document", "error"):
            add(f"Visma.net refused the voucher: {sentence}", None)
    return tuple(out)
