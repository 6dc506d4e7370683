"""The Norwegian conventions against the official lists and the reference's verified vectors."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.norway import accounts, amounts, identifiers, kid, phone, text, vat

SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs"


def test_vat_table_matches_skatteetatens_csv() -> None:
    path = SPECS / "saf-t" / "Standard_Tax_Codes.csv"
    if not SPECS.exists():
        pytest.skip(f"../shared/specs absent: cannot compare with {path}")
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    assert [r["Code"] for r in rows] == list(vat.VAT_CODES)
    for r in rows:
        code = vat.lookup(r["Code"])
        assert (code.description_nob, code.description_eng, code.rate_class, code.compensation) == (
            r["DescriptionNOB"], r["DescriptionENG"], r["TaxRate"], r["Compensation"] == "TRUE"), r["Code"]


def test_current_rates_match_sats_xml() -> None:
    path = SPECS / "mva-meldingen" / "sats.xml"
    if not SPECS.exists():
        pytest.skip(f"../shared/specs absent: cannot read {path}")
    import xml.etree.ElementTree as ET

    ns = {"k": "urn:no:skatteetaten:kodelistebibliotek:domain:v1"}
    current = {
        amounts.parse_amount(k.findtext("k:tekniskNavn", namespaces=ns) or "")  # "11,11"
        for k in ET.parse(path).getroot().findall("k:kode", ns)
        if k.find("k:gyldigForBehandling/k:tildato", ns) is None
    }
    assert {code.rate for code in vat.VAT_CODES.values()} <= current | {Decimal(0)}
    assert {Decimal(25), Decimal(15), Decimal(12), Decimal("11.11")} <= current


def test_vat_meaning() -> None:
    assert vat.lookup(" 3 ").direction == "output" and vat.lookup("3").rate == 25
    assert vat.lookup("1").direction == "input" and vat.lookup("1").deductible
    assert vat.lookup("86").reverse_charge and not vat.lookup("86").imported
    assert vat.lookup("81").imported and vat.lookup("14").imported and not vat.lookup("14").reverse_charge
    assert vat.lookup("32").rate == Decimal("11.11") and vat.lookup("33").rate == 12
    assert {c for c, v in vat.VAT_CODES.items() if not v.reported} == {"0", "7", "20", "21", "22"}
    with pytest.raises(vat.UnknownVatCode, match="'4' is not a SAF-T standard VAT code"):
        vat.lookup("4")


@pytest.mark.parametrize(("gross", "code", "expected"), [
    ("1250.00", "3", "250.00"), ("115.00", "31", "15.00"), ("112.00", "33", "12.00"),
    ("111.11", "32", "11.11"), ("100.00", "3", "20.00"), ("0.05", "3", "0.01"), ("-1250.00", "3", "-250.00"),
    ("1000.00", "5", "0.00"), ("1000.00", "86", "0.00"), ("1000.00", "0", "0.00"),
])
def test_vat_of_gross(gross: str, code: str, expected: str) -> None:
    assert vat.vat_of_gross(Decimal(gross), code) == Decimal(expected)


def test_accounts() -> None:
    assert accounts.account_class("1500").name_eng == "Assets"
    assert accounts.account_class("15000").group_name == "Short-term receivables"
    assert accounts.account_class("2701").group == "27"
    assert accounts.account_class("8800").number == "8"
    assert accounts.account_class("9100").group_name is None
    for bad in ("150", "abcd", "0100", ""):
        with pytest.raises(ValueError):
            accounts.account_class(bad)
    s = accounts.STANDARD
    assert (s.customer_ledger, s.supplier_ledger, s.bank, s.cash, s.vat_settlement) == (
        "1500", "2400", "1920", "1900", "2740")
    assert s.vat_account("3") == "2700" and s.vat_account("13") == "2713" and s.vat_account("86") is None


@pytest.mark.parametrize(("base", "mod10", "mod11"), [("1234", "12344", "12343"),
                                                      ("2345678", "23456783", "23456788")])
def test_kid_vectors(base: str, mod10: str, mod11: str) -> None:
    assert kid.kid_mod10(base) == mod10 and kid.kid_mod11(base) == mod11


def test_kid_validation() -> None:
    assert kid.valid_kid("01290865", algorithm="mod10") and not kid.valid_kid("01290865", algorithm="mod11")
    assert not kid.valid_kid("2345674")
    assert kid.valid_kid("1000005-") and kid.valid_kid("1000005-", algorithm="mod11")
    assert not any(kid.valid_kid(k) for k in ("100030", "100031", "100033"))
    assert kid.valid_kid("34000009324568708", algorithm="mod10")
    assert not kid.valid_kid("34000009324568708", algorithm="mod11")
    assert not kid.valid_kid("1") and not kid.valid_kid("1" * 26) and not kid.valid_kid("12a4")
    with pytest.raises(ValueError):
        kid.kid_mod10("12 34x")


def test_identifiers() -> None:
    for good in ("123456785", "988077917", "981566378", "NO 988 077 917 MVA", "988.077.917"):
        assert identifiers.valid_organisation_number(good), good
    for bad in ("988077918", "123456789", "12345678", "98807791a"):
        assert not identifiers.valid_organisation_number(bad), bad
    for good in ("86011117947", "99990000006", "97104133219", "12345678903", "8601.11.17947", "8601 11 17947"):
        assert identifiers.valid_bank_account(good), good
    for bad in ("99990000005", "00000000000", "8601111794", "860111179470"):
        assert not identifiers.valid_bank_account(bad), bad


@pytest.mark.parametrize(("written", "value"), [
    ("1 234,50", "1234.50"), ("1\u00a0234,50", "1234.50"), ("-1.234,50", "-1234.50"), ("1234.50", "1234.50"),
    ("1234,5", "1234.5"), ("(1 234,50)", "-1234.50"), ("1234,50-", "-1234.50"), ("\u22121 000", "-1000"),
    ("1.234", "1.234"), ("+7", "7"), ("1,234.56", "1234.56"), ("-0,00", "0.00"),
])
def test_parse_amount(written: str, value: str) -> None:
    parsed = amounts.parse_amount(written)
    assert parsed == Decimal(value) and str(parsed) == value


def test_parse_amount_declared_decimal_comma_reads_point_as_thousands() -> None:
    assert amounts.parse_amount("1.234", decimal=",") == 1234
    with pytest.raises(ValueError, match="group by three"):
        amounts.parse_amount("1.23", decimal=",")


@pytest.mark.parametrize("garbage", ["", "abc", "1,2,3", "12 34", "--1", "1.", "1e5", "NaN", "(-1)", "1 2"])
def test_parse_amount_refuses_garbage(garbage: str) -> None:
    with pytest.raises(ValueError):
        amounts.parse_amount(garbage)


def test_format_amount() -> None:
    assert amounts.format_amount(Decimal("-1234.5")) == "-1\u00a0234,50"
    assert amounts.format_amount(Decimal("1000000"), thousands=" ") == "1 000 000,00"


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "cp865", "cp850"])
def test_decode_norwegian(encoding: str) -> None:
    sample = "Blåbærsyltetøy fra Ærøy og Østre Å;1 250,00\r\n"
    decoded, found = text.decode(sample.encode(encoding))
    assert decoded == sample
    assert found == encoding or (encoding == "cp850" and found == "cp865")  # identical for these letters


def test_decode_bom_declared_and_binary() -> None:
    assert text.decode("\ufeffØl".encode()) == ("Øl", "utf-8-sig")
    assert text.decode("Sm\u00f8r".encode("cp865"), declared="PC8") == ("Smør", "cp865")
    assert text.decode("a\u030a".encode()) == ("å", "utf-8")  # NFD from macOS becomes NFC
    with pytest.raises(text.UndecodableText) as caught:
        text.decode(b"GBAT10;1\x00\x01\x02")
    assert caught.value.offset == 8
    with pytest.raises(text.UndecodableText, match="not utf-8 as declared"):
        text.decode("Ø".encode("cp1252"), declared="utf-8")


def test_open_text_streams_and_detects_past_the_head() -> None:
    import io

    body = ("a" * 70_000 + "\n" + "Øst;1\n").encode("cp1252")

    class OneWay(io.RawIOBase):  # a stream that cannot seek back, like a blob download
        def __init__(self) -> None:
            self.inner = io.BytesIO(body)

        def readable(self) -> bool:
            return True

        def readinto(self, b: memoryview) -> int:  # type: ignore[override]
            return self.inner.readinto(b)

    stream, encoding = text.open_text(io.BufferedReader(OneWay()))
    assert encoding == "utf-8"  # the head is ASCII, so UTF-8 is the sniffed guess ...
    with pytest.raises(UnicodeDecodeError):  # ... and the reader finds out where it stops being true
        stream.read()
    stream, encoding = text.open_text(io.BytesIO("Øst;1\n".encode("cp865") + b"x" * 70_000))
    assert encoding == "cp865" and stream.readline() == "Øst;1\n"


def test_vat_flags_agree_with_the_vat_return_code_list() -> None:
    path = SPECS / "mva-meldingen" / "mvaKodeSAFT.xml"
    if not SPECS.exists():
        pytest.skip(f"../shared/specs absent: cannot read {path}")
    import xml.etree.ElementTree as ET

    ns = {"k": "urn:no:skatteetaten:kodelistebibliotek:domain:v1"}
    used_for = {
        k.findtext("k:tekniskNavn", namespaces=ns): k.findtext(".//k:kodeBrukesTilSpesifiseringAv", namespaces=ns)
        for k in ET.parse(path).getroot().findall("k:kode", ns)
    }
    assert set(used_for) == {c for c, v in vat.VAT_CODES.items() if v.reported}
    for code, purpose in used_for.items():
        v = vat.lookup(str(code))
        if purpose == "Inngående merverdiavgift":
            assert v.direction == "input" and not v.reverse_charge, code
        elif purpose == "Utgående merverdiavgift":
            assert v.direction == "output" or (v.reverse_charge and not v.deductible), code
        else:
            assert purpose == "Inngående og utgående merverdiavgift" and v.reverse_charge and v.deductible, code


def test_double_encoding_repair_and_unencodable_characters() -> None:
    assert text.repair_double_encoding("LeverandÃ¸rgjeld, Ã†rÃ¸y") == "Leverandørgjeld, Ærøy"
    assert text.repair_double_encoding("Leverandørgjeld") is None
    assert list(text.unencodable("Čáhcesuolu – 5 €", "cp1252")) == ["Č"]
    assert list(text.unencodable("Čáhcesuolu – 5 €", "cp865")) == ["Č", "–", "€"]


@pytest.mark.parametrize(("written", "e164"), [
    ("+47 912 34 567", "+4791234567"), ("0047 91234567", "+4791234567"), ("912 34 567", "+4791234567"),
    ("22 12 34 56", "+4722123456"), ("+46 70-123 45 67", "+46701234567"), ("+47 1234", None),
    ("1234567", None), ("kari@nordmann.no", None), ("+47 912 34 5678", None),
])
def test_phone_numbers_are_kept_in_one_form(written: str, e164: str | None) -> None:
    assert phone.normalise_phone(written) == e164


def test_mobile_numbers_begin_with_4_or_9() -> None:
    assert phone.is_mobile("+4791234567") and phone.is_mobile("+4741234567")
    assert not phone.is_mobile("+4722123456") and not phone.is_mobile("+46701234567")
    assert phone.national_number("+4791234567") == "91234567" and phone.national_number("+46701234567") is None
