"""Fortnox's mapping, pure: VAT on rows of its own, debit and credit without sign, references, exact amounts."""

from __future__ import annotations

import json
from decimal import Decimal

from connectors.targets.fortnox.mapping import Register, carries, encode, marker
from connectors.targets.fortnox.voucher import build
from pipeline.model import Voucher

YEAR = {"Id": 2, "FromDate": "2026-01-01", "ToDate": "2026-12-31"}
REGISTER = Register(accounts={n: {"Number": int(n), "Active": True} for n in ("1920", "2700", "2710", "3000", "4300")},
                    years={"2026-11-04": YEAR}, series={"A": {"Code": "A"}})


def _voucher(*lines: dict[str, str], **extra: str) -> Voucher:
    return Voucher(reference=extra.get("reference", "V-1"), date="2026-11-04", description="Salg på Røros",
                   lines=list(lines))


def test_a_line_with_output_vat_becomes_a_net_row_and_a_vat_row_on_2700() -> None:
    built = build(_voucher({"account": "1920", "amount": "125.00"},
                           {"account": "3000", "amount": "-125.00", "vat_code": "3", "description": "Blåbær"}),
                  REGISTER, series="A", vat_accounts={})
    assert built.problems == ()
    rows = built.body["Voucher"]["VoucherRows"]
    assert rows == [{"Account": 1920, "Debit": Decimal("125.00")},
                    {"Account": 3000, "Credit": Decimal("100.00"), "Description": "Blåbær"},
                    {"Account": 2700, "Credit": Decimal("25.00"), "Description": "MVA 3: Blåbær"}]
    assert built.details["vat_rows_for_lines"] == [1] and built.details["financial_year"] == 2


def test_the_sources_vat_amount_decides_and_input_vat_goes_to_2710_or_the_tenants_account() -> None:
    voucher = _voucher({"account": "4300", "amount": "100.00", "vat_code": "1", "vat_amount": "20.01"},
                       {"account": "1920", "amount": "-100.00"})
    rows = build(voucher, REGISTER, series="A", vat_accounts={}).body["Voucher"]["VoucherRows"]
    assert rows[:2] == [{"Account": 4300, "Debit": Decimal("79.99")}, {"Account": 2710, "Debit": Decimal("20.01"),
                                                                       "Description": "MVA 1"}]
    moved = build(voucher, Register(**{**REGISTER.__dict__, "accounts": {**REGISTER.accounts, "2711": {}}}),
                  series="A", vat_accounts={"1": "2711"})
    assert moved.body["Voucher"]["VoucherRows"][1]["Account"] == 2711


def test_every_problem_at_once_each_on_its_field() -> None:
    voucher = Voucher(reference="V-2", date="2027-03-01", currency="SEK", lines=[
        {"account": "2999", "amount": "10.00", "dimensions": {"department": "9", "project": "7"}},
        {"account": "3000", "amount": "-10.00", "vat_code": "86"}])
    built = build(voucher, REGISTER, series="Q", vat_accounts={})
    assert {(p.code, p.field) for p in built.problems} == {
        ("unsupported-currency", "currency"), ("no-financial-year", "date"),
        ("unknown-voucher-series", "settings.voucher_series"), ("missing-account", "lines[0].account"),
        ("missing-department", "lines[0].dimensions.department"), ("missing-project", "lines[0].dimensions.project"),
        ("unknown-vat-code", "lines[1].vat_code")}


def test_references_open_the_description_and_long_ones_are_shortened_with_a_digest() -> None:
    assert marker("KASSE-1 æøå") == "[KASSE-1 æøå]"
    long = "X" * 80
    assert len(marker(long)) == 62 and marker(long) != marker(long + "Y")
    assert carries("[V-1] Salg", "V-1") and not carries("[V-10] Salg", "V-1") and not carries("Salg [V-1]", "V-1")


def test_amounts_are_exact_json_numbers_and_norwegian_letters_stay_utf8() -> None:
    wire = encode({"Debit": Decimal("0.10"), "Credit": Decimal("1234567890123.45"), "Description": "Ærlig ø å"})
    assert wire == '{"Debit": 0.10, "Credit": 1234567890123.45, "Description": "Ærlig ø å"}'.encode()
    assert json.loads(wire, parse_float=Decimal)["Credit"] == Decimal("1234567890123.45")
