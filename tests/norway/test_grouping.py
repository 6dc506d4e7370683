"""SAF-T 1.30's grouping codes: the list is Skatteetaten's, and every NS 4102 account maps to a code of its own class."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.norway.grouping import FALLBACK, RANGES, grouping
from pipeline.norway.grouping_codes import CATEGORY_OF, CODES
from pipeline.rules import Rules

SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs"
CLASSES = {
    "1": {"balanseverdiForAnleggsmiddel", "balanseverdiForOmloepsmiddel"},
    "2": {"egenkapital", "langsiktigGjeld", "kortsiktigGjeld"},
    "3": {"salgsinntekt", "annenDriftsinntekt"},
    "4": {"varekostnad"},
    "5": {"loennskostnad"},
    "6": {"annenDriftskostnad"},
    "7": {"annenDriftskostnad"},
    "8": {"finansinntekt", "finanskostnad", "skattekostnad", "resultatDisponeringForSAF-T"},
}


def test_the_codes_are_skatteetatens_naeringsspesifikasjon():
    path = SPECS / "saf-t" / "naeringsspesifikasjon.csv"
    if not SPECS.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"../shared/specs is absent in CI: cannot compare with {path}")
        pytest.skip(f"../shared/specs absent: cannot compare with {path}")
    with path.open(encoding="utf-8-sig") as data:
        rows = [r for r in csv.DictReader(data, delimiter=";") if re.fullmatch(r"\d{4}", r["GroupingCode"])]
    assert {(r["GroupingCategory"], r["GroupingCode"], r["CodeDescriptionNOB"].strip()) for r in rows} == {
        (category, code, text) for category, codes in CODES.items() for code, text in codes.items()}


@pytest.mark.parametrize(("account", "code", "how"), [
    ("1920", "1920", "exact"), ("1930", "1920", "range"), ("1500", "1500", "exact"), ("1510", "1500", "range"),
    ("2700", "2740", "range"), ("2710", "2740", "range"), ("2740", "2740", "exact"), ("2780", "2770", "range"),
    ("3000", "3000", "exact"), ("3010", "3000", "range"), ("3100", "3100", "exact"), ("4300", "4005", "range"),
    ("5000", "5000", "exact"), ("6800", "6995", "range"), ("7790", "7700", "range"), ("7798", "7700", "range"),
    ("8050", "8050", "exact"), ("19200", "1920", "exact"), ("9100", FALLBACK, "fallback"), ("A1", FALLBACK, "fallback"),
])
def test_accounts_take_their_own_code_else_their_ranges(account, code, how):
    found = grouping(account)
    assert (found.code, found.how) == (code, how)
    assert found.category == CATEGORY_OF[code] and found.description


def test_every_ns_4102_account_maps_to_a_code_of_its_own_class():
    assert [start for start, _ in RANGES] == sorted({start for start, _ in RANGES})
    assert all(code in CATEGORY_OF for _, code in RANGES)
    for number in range(1000, 9000):
        found = grouping(str(number))
        assert found.category in CLASSES[str(number)[0]], (number, found)


def test_a_tenants_own_codes_come_first_and_must_be_codes():
    assert grouping("1935", {"1935": "1950"}).code == "1950"
    with pytest.raises(ValueError, match="not a grouping code"):
        grouping("1935", {"1935": "1999"})
    assert Rules(grouping_codes={"1935": "1950"}).grouping_codes == {"1935": "1950"}
    with pytest.raises(ValidationError, match="1999"):
        Rules(grouping_codes={"1935": "1999"})
