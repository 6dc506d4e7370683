"""The connector's pure mapping: exact money on the wire, the external number, party keys, what is not accepted."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tripletex_support import Harness

from connectors.targets import tripletex
from connectors.targets.tripletex import Register, external_number, not_accepted, party_key, voucher_payload
from pipeline.errors import ConfigError
from pipeline.model import Party, Voucher

amounts = st.decimals(min_value=Decimal("-999999999999.99"), max_value=Decimal("999999999999.99"),
                      places=2, allow_nan=False, allow_infinity=False)


@given(amounts)
def test_money_survives_the_wire_exactly(amount: Decimal) -> None:
    body = tripletex.encode({"amountGross": amount, "text": "æøå"})
    parsed = json.loads(body, parse_float=Decimal)
    assert Decimal(parsed["amountGross"]) == amount and parsed["text"] == "æøå"
    assert b"E" not in body and b"e+" not in body  # plain notation, never exponent form


@given(st.text(min_size=1, max_size=200).filter(lambda s: s.strip()))
def test_external_number_is_bounded_deterministic_and_exact_when_short(reference: str) -> None:
    number = external_number(reference)
    assert len(number) <= tripletex.EXTERNAL_NUMBER_MAX and number == external_number(reference)
    if len(reference) <= tripletex.EXTERNAL_NUMBER_MAX:
        assert number == reference


def test_long_references_differing_only_at_the_end_stay_apart() -> None:
    assert external_number("x" * 150 + "1") != external_number("x" * 150 + "2")


def test_party_keys() -> None:
    assert party_key(Party(number="10001", email="a@b.no")) == "number:10001"
    assert party_key(Party(organization_number="NO 987 654 325 MVA")) == "org:987654325"
    assert party_key(Party(email=" Kari@Nordmann.NO ")) == "email:kari@nordmann.no"
    assert party_key(Party(name="Kari")) is None


def test_not_accepted_lists_each_field_by_place() -> None:
    voucher = Voucher(reference="R", date="2026-11-02", voucher_type="kasse",
                      lines=[{"account": "1920", "amount": "1.00", "kid": "12344"},
                             {"account": "3000", "amount": "-1.00", "kid": "5678",
                              "dimensions": {"department": "1", "kostnadsbærer": "7"}}])
    assert not_accepted(voucher) == ("voucher_type", "lines[0].kid", "lines[1].kid",
                                     "lines[1].dimensions.kostnadsbærer")
    assert set(tripletex.NOT_ACCEPTED) == {"lines[].kid", "lines[].dimensions.*", "voucher_type"}


def test_payload_rows_from_one_and_only_fields_that_are_set() -> None:
    register = Register(accounts={"1920": {"id": 11}, "3000": {"id": 12}}, vat_types={"3": {"id": 21}})
    voucher = Voucher(reference="R", date="2026-11-02",
                      lines=[{"account": "1920", "amount": "10.00"},
                             {"account": "3000", "amount": "-10.00", "vat_code": "3", "description": "Brød"}])
    body = voucher_payload(voucher, register)
    assert body == {
        "date": "2026-11-02", "description": "R", "externalVoucherNumber": "R",
        "postings": [
            {"row": 1, "date": "2026-11-02", "description": "", "account": {"id": 11},
             "amountGross": Decimal("10.00"), "amountGrossCurrency": Decimal("10.00")},
            {"row": 2, "date": "2026-11-02", "description": "Brød", "account": {"id": 12},
             "amountGross": Decimal("-10.00"), "amountGrossCurrency": Decimal("-10.00"), "vatType": {"id": 21}},
        ],
    }


@pytest.mark.parametrize(("company_id", "works"), [("4711", True), ("0", True), ("999", False)])
def test_company_id_is_the_basic_auth_user(make_harness: Any, company_id: str, works: bool) -> None:
    wired: Harness = make_harness(company_id=company_id)
    if works:
        assert wired.target().check()["company_id"] == 4711
    else:
        with pytest.raises(ConfigError) as caught:
            wired.target().check()
        assert caught.value.status == 403
