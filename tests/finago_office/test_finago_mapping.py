"""Finago Office's pure mapping: markers, texts, the VAT split of a direct posting (exact, balanced, never through a
float), what is not accepted."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from connectors.targets.finago_office.mapping import (
    MARKER_MAX,
    Register,
    bundle_list,
    comment,
    entries,
    marker,
    markers,
    not_accepted,
    split,
)
from pipeline.model import Voucher

REGISTER = Register(tax_codes={
    "3": {"TaxNo": "3", "TaxRate": Decimal("25"), "AccountNo": 2700},
    "31": {"TaxNo": "31", "TaxRate": Decimal("15"), "AccountNo": 2700},
    "33": {"TaxNo": "33", "TaxRate": Decimal("12"), "AccountNo": 2700},
    "5": {"TaxNo": "5", "TaxRate": Decimal("0"), "AccountNo": None}})
amounts = st.decimals(min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2,
                      allow_nan=False, allow_infinity=False).filter(lambda d: d != 0)


def test_a_short_reference_is_its_own_marker_a_long_one_is_shortened_the_same_way_every_time():
    assert marker("kasse7-2026-11-20") == "kasse7-2026-11-20"
    long = "nettbutikk-ordre-2026-11-22-0000004711-æøå-retur"
    assert marker(long) == marker(long) and len(marker(long)) == MARKER_MAX and marker(long).startswith(long[:13])
    assert marker(long) != marker(long + "x")


@given(gross=amounts, code=st.sampled_from(["3", "31", "33"]))
def test_the_vat_split_adds_up_to_the_gross_amount_exactly(gross, code):
    rate = REGISTER.tax_codes[code]["TaxRate"]
    net, vat = split(gross, rate, None)
    assert net + vat == gross and vat.as_tuple().exponent >= -2
    assert abs(vat - gross * rate / (100 + rate)) <= Decimal("0.005")


def test_the_sources_own_vat_is_kept():
    assert split(Decimal("-250.00"), Decimal("15"), Decimal("-32.61")) == (Decimal("-217.39"), Decimal("-32.61"))


@given(st.lists(st.tuples(amounts, st.sampled_from([None, "3", "31", "33", "5"])), min_size=1, max_size=6))
def test_a_direct_posting_stays_balanced_with_its_vat_entries(lines):
    total = sum((a for a, _ in lines), Decimal(0))
    voucher = Voucher(reference="V", date="2026-11-20", lines=[
        *({"account": "3000", "amount": str(a), **({"vat_code": c} if c else {})} for a, c in lines),
        {"account": "1920", "amount": str(-total) if total else "0.00"}])
    for draft in (True, False):
        sent = entries(voucher, REGISTER, draft=draft)
        assert sum((e["Amount"] for e in sent), Decimal(0)) == 0
        assert all(isinstance(e["Amount"], Decimal) for e in sent)
    vat_lines = [e for e in entries(voucher, REGISTER, draft=False) if e["AccountNo"] == 2700]
    assert len(vat_lines) == sum(1 for _, c in lines if c in ("3", "31", "33"))


def test_texts_keep_the_vouchers_and_the_lines():
    voucher = Voucher(reference="V", date="2026-11-20", description="Dagsoppgjør Røros",
                      lines=[{"account": "1920", "amount": "1.00", "description": "Kort"},
                             {"account": "3000", "amount": "-1.00"}])
    assert [comment(voucher, line) for line in voucher.lines] == ["Dagsoppgjør Røros: Kort", "Dagsoppgjør Røros"]


def test_a_draft_bundle_and_a_direct_one():
    voucher = Voucher(reference="V-1", date="2026-11-20", voucher_type="kasse", lines=[
        {"account": "1500", "amount": "10.00", "invoice_number": "7001", "dimensions": {"avdeling-x": "9"}},
        {"account": "3000", "amount": "-10.00", "vat_code": "3"}])
    draft = bundle_list(voucher, REGISTER, draft=True, year=2026, transaction_no=7, voucher_type=5)
    [bundle] = draft["Bundles"]["Bundle"]
    assert (draft["SaveOption"], bundle["Name"], bundle["BundleDirectAccounting"]) == (1, "Bilagsbro V-1", False)
    direct = bundle_list(voucher, REGISTER, draft=False, year=2026, transaction_no=7, voucher_type=5)
    assert direct["SaveOption"] == 0 and "Name" not in direct["Bundles"]["Bundle"][0]
    assert markers(voucher) == ["V-1", "7001"]
    assert not_accepted(voucher) == ("lines[0].dimensions.avdeling-x", "voucher_type")
