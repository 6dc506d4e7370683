"""SIE as other programs write it: what the golden files cannot show on their own.

The golden files beside this module (`bl_administration_latin1.se`, `bl_asset_register_reused_numbers.si`,
`unknown_accounts_export.se`, `balances_only_type2.se`, `year_end_empty_vouchers.se`,
`pc8_doubtful_windows1252.se`) pin what each real-looking file reads as; these tests pin the rules.
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from connectors.sources import sie4
from pipeline.errors import Problem
from pipeline.model import Voucher
from pipeline.norway.text import settle

HEAD = '#FLAGGA 0\n#PROGRAM "BL Administration" 2024.3\n#FORMAT PC8\n#SIETYP 4\n#FNAMN "Övningsbolaget AB"\n'


def _parse(body: str, written_in: str = "cp437", **options: Any) -> list[Voucher | Problem]:
    return list(sie4.parse(io.BytesIO(body.encode(written_in)), file_name="f.se", options=options))


def _vouchers(items: list[Any]) -> list[Voucher]:
    return [i for i in items if isinstance(i, Voucher)]


def _problems(items: list[Any]) -> list[Problem]:
    return [i for i in items if isinstance(i, Problem)]


def _depreciation(day: str, amount: str = "1666.00") -> str:
    return (f'#VER B 1 {day} "Avskrivning anläggningsregister"\n{{\n#TRANS 7820 {{}} {amount}\n'
            f"#TRANS 1119 {{}} -{amount}\n}}\n")


# -- encoding ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "encoding", "expected"), [
    ("Representation måltid", "latin-1", "cp1252"),  # BL Administration: PC8 declared, ISO-8859-1 written
    ("Företagskonto, Ödeshög", "cp437", "cp865"),  # real PC8: Swedish letters are the same in CP865
    ("Dagsoppgjør Tromsø", "cp865", "cp865"),  # Norwegian PC8
    ("Dagsoppgjør Tromsø", "utf-8", "utf-8"),
    ("Kjæledyr", "cp1252", "cp865"),  # 0xE6 is æ or µ: the bytes cannot tell, the declaration stands
])
def test_the_bytes_decide_with_the_declaration(text: str, encoding: str, expected: str) -> None:
    assert settle(f'#FORMAT PC8\n#FNAMN "{text}"\n'.encode(encoding), "PC8", final=True).encoding == expected


def test_a_doubt_the_bytes_cannot_settle_is_a_warning_at_the_format_line() -> None:
    items = _parse(HEAD.replace("Övningsbolaget", "Sæther") + "#VALUTA NOK\n", "cp1252")
    doubt = next(p for p in _problems(items) if p.code == "encoding-doubt")
    assert not doubt.is_error and doubt.line == 3 and doubt.field == "#FORMAT"
    assert "Windows-1252" in doubt.message


def test_bl_latin1_reads_as_written_and_a_tenant_encoding_overrides() -> None:
    body = HEAD + '#VER A 1 20240105 "Representation måltid"\n{\n#TRANS 1930 {} -10.00\n#TRANS 6072 {} 10.00\n}\n'
    [voucher] = _vouchers(_parse(body, "latin-1"))
    assert voucher.description == "Representation måltid"
    [forced] = _vouchers(_parse(body, "latin-1", encoding="cp865"))
    assert forced.description == "Representation mσltid"  # what the reader did before it looked at the bytes


# -- which voucher is which -------------------------------------------------------------------------


def test_every_block_is_kept_and_references_are_the_same_every_time() -> None:
    body = HEAD + "#VALUTA SEK\n" + "".join(_depreciation(f"2024{m:02d}28") for m in range(1, 13))
    first, second = _vouchers(_parse(body)), _vouchers(_parse(body))
    assert len(first) == 12 and not _problems(_parse(body))
    assert [v.reference for v in first] == [v.reference for v in second]
    assert len({v.reference for v in first}) == 12 and all(v.reference.startswith("B-1-") for v in first)


def test_next_months_file_does_not_reuse_a_reference() -> None:
    january = _vouchers(_parse(HEAD + _depreciation("20240131"), currency="SEK"))
    february = _vouchers(_parse(HEAD + _depreciation("20240229"), currency="SEK"))
    assert january[0].reference != february[0].reference


def test_how_a_file_is_written_does_not_change_a_reference() -> None:
    plain = HEAD + '#VER A 7 20240105 "Kaffe"\n{\n#TRANS 1930 {1 "10"} -10.00\n#TRANS 6072 {} 10\n}\n'
    written_out = (HEAD + '#VER "A" "7" 20240105 "Kaffe" 20240110 "Åsa"\r\n{\r\n'
                   '\t#TRANS\t1930\t{1 10}\t-10.00\t20240105\t"Kaffe"\t1\t"Åsa"\r\n'
                   '\t#BTRANS 2990 {} 5.00\r\n\t#RTRANS 6072 {} 10.00\r\n\t#TRANS 6072 {} 10.00 "" ""\r\n}\r\n')
    assert ([v.reference for v in _vouchers(_parse(plain, currency="SEK"))]
            == [v.reference for v in _vouchers(_parse(written_out, "utf-8", currency="SEK"))])


def test_a_duplicate_is_only_a_block_that_really_repeats() -> None:
    again = _depreciation("20240131")
    other_text = again.replace("-1666.00", '-1666.00 20240131 "Inventarier"')
    items = _parse(HEAD + again + other_text + again, currency="SEK")
    assert len(_vouchers(items)) == 2
    [duplicate] = _problems(items)
    assert duplicate.code == "duplicate" and duplicate.is_error and duplicate.line == 16
    assert duplicate.message == "voucher B 1 of 2024-01-31 repeats an earlier one row for row; the copy is left out"


# -- accounts, types, currency, empty vouchers --------------------------------------------------------


def test_accounts_must_be_numbers_and_in_an_exports_chart() -> None:
    export = HEAD + '#KONTO 1930 "Bank"\n#KONTO 3001 "Försäljning"\n#IB 0 1930 100.00\n'
    rows = '#VER A {n} 20240105\n{{\n#TRANS 1930 {{}} 5.00\n#TRANS {account} {{}} -5.00\n}}\n'
    body = "".join(rows.format(n=n, account=a) for n, a in ((1, "3001"), (2, "FEL"), (3, "3999")))
    items = _parse(export + body, currency="SEK")
    assert [v.lines[1].account for v in _vouchers(items)] == ["3001"]
    assert [(p.field, p.message) for p in _problems(items)] == [
        ("account", "account 'FEL' is not an account number"),
        ("account", "account 3999 is not in the file's chart of accounts (#KONTO)")]
    # An import file (4I: no balances) need not declare its accounts; "FEL" is still no account
    items = _parse(HEAD + '#KONTO 1930 "Bank"\n' + body, currency="SEK")
    assert [v.lines[1].account for v in _vouchers(items)] == ["3001", "3999"]
    assert [p.message for p in _problems(items)] == ["account 'FEL' is not an account number"]


@pytest.mark.parametrize(("sie_type", "message"), [
    ("1", "the file holds no vouchers: it is SIE type 1 (year-end balances), which carries balances only"),
    ("2", "the file holds no vouchers: it is SIE type 2 (period balances), which carries balances only"),
    ("3", "the file holds no vouchers: it is SIE type 3 (balances per object), which carries balances only"),
    ("4", "the file holds no vouchers: it is SIE type 4 but has no #VER"),
    ("", "the file holds no vouchers (#VER), and it does not say its SIE type (#SIETYP)"),
])
def test_a_file_without_vouchers_says_so_and_names_its_type(sie_type: str, message: str) -> None:
    body = HEAD.replace("#SIETYP 4\n", f"#SIETYP {sie_type}\n" if sie_type else "") + "#UB 0 1930 100.00\n"
    [problem] = _parse(body)
    assert isinstance(problem, Problem) and problem.is_error and problem.code == "no-vouchers"
    assert problem.message == message


def test_currency_from_valuta_then_option_then_sek_with_a_warning() -> None:
    body = '#VER A 1 20240105\n{\n#TRANS 1930 {} -10.00\n#TRANS 6072 {} 10.00\n}\n'
    assert _vouchers(_parse(HEAD + "#VALUTA EUR\n" + body, currency="NOK"))[0].currency == "EUR"
    items = _parse(HEAD + body, currency="NOK")
    assert _vouchers(items)[0].currency == "NOK" and not _problems(items)
    items = _parse(HEAD + body)
    [warning] = _problems(items)
    assert _vouchers(items)[0].currency == "SEK"
    assert warning.code == "assumed-currency" and not warning.is_error and warning.line == 6


def test_empty_vouchers_are_warnings_in_a_bookkeepers_words() -> None:
    body = (HEAD + "#VALUTA SEK\n" + '#VER A 69 20241231 "Makulerad"\n{\n}\n'
            '#VER A 70 20241231\n{\n#TRANS 8999 {} 0.00\n}\n')
    items = _parse(body)
    assert [(p.severity, p.code, p.message) for p in _problems(items)] == [
        ("warning", "empty-voucher", "voucher A 69 of 2024-12-31 has no lines"),
        ("warning", "empty-voucher", "voucher A 70 of 2024-12-31 has only one line of 0.00")]


def test_a_backslash_that_escapes_nothing_is_kept() -> None:
    assert sie4.tokens('#TRANS 7820 {} 1666.00 20240131 "1110\\1002 Hus 1:1"')[-1] == "1110\\1002 Hus 1:1"
    assert sie4.tokens('"a \\"b\\" c\\\\"') == ['a "b" c\\']


def test_a_valuta_that_is_no_currency_code_is_one_problem_not_one_per_voucher() -> None:
    body = HEAD + "#VALUTA kronor\n" + "".join(_depreciation(f"2024{m:02d}28") for m in range(1, 4))
    [problem] = _parse(body)
    assert isinstance(problem, Problem) and problem.is_error and problem.line == 6 and problem.field == "#VALUTA"
    assert problem.message.startswith("the file's currency #VALUTA 'kronor' is not a currency code")
    assert [v.currency for v in _vouchers(_parse(body, currency="NOK"))] == ["NOK"] * 3  # the option says it
