"""Invariants of the tabular sources and Norwegian conventions, over generated input (Hypothesis)."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.sources import gbat10, sie4, visma_business, visma_global
from pipeline.errors import Problem
from pipeline.model import Voucher
from pipeline.norway import amounts, kid, text

PARSERS = (gbat10, sie4, visma_business, visma_global)
FEW = settings(max_examples=200, deadline=None)
money = st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2,
                    allow_nan=False, allow_infinity=False)
norwegian_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyzæøåÆØÅ ,.-0123456789", max_size=40)


def _parse(module: Any, data: bytes, options: dict[str, Any] | None = None) -> list[Any]:
    return list(module.parse(io.BytesIO(data), file_name="x", options=options or {}))


def _looks_like(module: Any) -> st.SearchStrategy[bytes]:
    heads = {gbat10: b"GBAT10;1;20250101;1;1;2025;1920;;", sie4: b"#FLAGGA 0\n#VER A 1 20250101\n{\n#TRANS 1930 {} ",
             visma_business: b"@WaVo(VoNo,VoDt,DbAcNo,CrAcNo,Am)\n1 20250101 ",
             visma_global: b"VoucherNo,VoucherDate,DebitAccountNo,CreditAccountNo,Amount\n1,20250101,"}
    return st.binary(max_size=300).map(lambda tail: heads[module] + tail)


@FEW
@given(data=st.binary(max_size=400), which=st.sampled_from(PARSERS))
def test_arbitrary_bytes_never_crash(data: bytes, which: Any) -> None:
    for item in _parse(which, data):
        assert isinstance(item, (Problem, Voucher))


@FEW
@given(which=st.sampled_from(PARSERS), data=st.data())
def test_almost_valid_files_never_crash_and_every_voucher_balances(which: Any, data: st.DataObject) -> None:
    for item in _parse(which, data.draw(_looks_like(which)), {"vat_map": {"3": "3"}}):
        assert isinstance(item, (Problem, Voucher))
        if isinstance(item, Voucher):
            assert sum(line.amount for line in item.lines) == 0


@FEW
@given(amounts_=st.lists(money, min_size=1, max_size=6).filter(any), encoding=st.sampled_from(["utf-8", "cp1252", "cp865"]),
       words=norwegian_text)
def test_gbat10_amounts_and_text_survive_exactly(amounts_: list[Decimal], encoding: str, words: str) -> None:
    rows = [f"GBAT10;1;20250101;1;1;2025;{3000 + i};;{a};;;;;;;;;;;;{words}" for i, a in enumerate(amounts_)]
    rows.append(f"GBAT10;1;20250101;1;1;2025;1920;;{-sum(amounts_)};;;;;;;;;;;;{words}")
    [voucher] = _parse(gbat10, "\r\n".join(rows).encode(encoding))
    assert [line.amount for line in voucher.lines] == [*amounts_, -sum(amounts_)]
    assert voucher.description == (words.strip() or None)


@FEW
@given(amounts_=st.lists(money.filter(lambda d: d != 0), min_size=1, max_size=5))
def test_sie4_amounts_survive_exactly(amounts_: list[Decimal]) -> None:
    trans = "".join(f"#TRANS {3000 + i} {{}} {a}\n" for i, a in enumerate(amounts_))
    body = f'#FLAGGA 0\n#FORMAT PC8\n#VER A 1 20250101 "Øl"\n{{\n{trans}#TRANS 1930 {{}} {-sum(amounts_)}\n}}\n'
    [voucher] = _parse(sie4, body.encode("cp865"), {"currency": "NOK"})  # no #VALUTA: say which currency
    assert [line.amount for line in voucher.lines] == [*amounts_, -sum(amounts_)]
    assert voucher.description == "Øl"


@FEW
@given(amount=money, places=st.sampled_from([0, 2]), thousands=st.sampled_from(["\u00a0", " ", ".", ""]))
def test_norwegian_amounts_round_trip(amount: Decimal, places: int, thousands: str) -> None:
    amount = round(amount, places)
    written = amounts.format_amount(amount, places=places, thousands=thousands)
    assert amounts.parse_amount(written, decimal=",") == amount


@FEW
@given(base=st.text(alphabet="0123456789", min_size=1, max_size=24))
def test_kid_round_trip(base: str) -> None:
    assert kid.valid_kid(kid.kid_mod10(base), algorithm="mod10")
    assert kid.valid_kid(kid.kid_mod11(base), algorithm="mod11")
    made = kid.kid_mod10(base)
    wrong = made[:-1] + str((int(made[-1]) + 1) % 10)
    assert not kid.valid_kid(wrong, algorithm="mod10")  # Luhn catches every single-digit error


@FEW
@given(words=st.text(alphabet="abcdefghijklmnopqrstuvwxyzæøåÆØÅéü ;,.0123456789\n", min_size=1, max_size=200),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "cp865", "cp850"]))
def test_norwegian_text_decodes_back(words: str, encoding: str) -> None:
    decoded, _ = text.decode(words.encode(encoding))
    assert decoded == words


SEEDS = sorted(p for p in Path(__file__).parent.glob("*/*")
               if p.parent.name in ("gbat10", "sie4", "visma_business", "visma_global") and p.suffix != ".json")


@FEW
@given(seed=st.sampled_from(SEEDS), edits=st.lists(
    st.tuples(st.floats(0, 1), st.sampled_from(["set", "insert", "delete"]), st.binary(min_size=1, max_size=3)),
    min_size=1, max_size=8), which=st.sampled_from(PARSERS))
def test_mutated_golden_files_never_crash(seed: Path, edits: list[tuple[float, str, bytes]], which: Any) -> None:
    data = bytearray(seed.read_bytes())
    for where, op, value in edits:
        i = int(where * len(data))
        if op == "set":
            data[i:i + len(value)] = value
        elif op == "insert":
            data[i:i] = value
        else:
            del data[i:i + 8 * len(value)]
    for item in _parse(which, bytes(data), {"vat_map": {"3": "3", "1": "1", "21": "1"}}):
        assert isinstance(item, (Problem, Voucher))
        if isinstance(item, Voucher):
            assert sum(line.amount for line in item.lines) == 0


@FEW
@given(amounts_=st.lists(money, min_size=1, max_size=5).filter(any), words=norwegian_text,
       comma_separated=st.booleans(), encoding=st.sampled_from(["cp1252", "utf-8"]))
def test_visma_business_amounts_and_text_survive_exactly(amounts_: list[Decimal], words: str,
                                                         comma_separated: bool, encoding: str) -> None:
    sep = "," if comma_separated else " "
    quoted = '"' + words + '"'
    rows = [sep.join(["1", "20250101", quoted, str(3000 + i), "1920", str(a)]) for i, a in enumerate(amounts_)]
    body = "@WaVo(VoNo,VoDt,Txt,CrAcNo,DbAcNo,Am)\r\n" + "\r\n".join(rows) + "\r\n"
    [voucher] = _parse(visma_business, body.encode(encoding))
    assert [line.amount for line in voucher.lines] == [x for a in amounts_ for x in (a, -a)]
    assert voucher.description == (words.strip() or None)


@FEW
@given(amounts_=st.lists(money, min_size=1, max_size=5).filter(any), words=norwegian_text.filter(lambda w: '"' not in w))
def test_visma_global_amounts_and_text_survive_exactly(amounts_: list[Decimal], words: str) -> None:
    rows = [f'1,20250101,"{words}",{3000 + i},1920,{a}' for i, a in enumerate(amounts_)]
    body = "\ufeffVoucherNo,VoucherDate,VoucherText,DebitAccountNo,CreditAccountNo,Amount\n" + "\n".join(rows)
    [voucher] = _parse(visma_global, body.encode("utf-8"))
    assert [line.amount for line in voucher.lines] == [x for a in amounts_ for x in (a, -a)]
    assert voucher.description == (words.strip() or None)
