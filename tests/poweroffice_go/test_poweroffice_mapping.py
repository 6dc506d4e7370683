"""The two voucher shapes PowerOffice GO takes, built from the shared form by pure functions."""

from __future__ import annotations

import json
from decimal import Decimal

from connectors.targets.poweroffice_go.mapping import (
    REFERENCE_MAX,
    Register,
    direct_payload,
    draft_payload,
    encode,
    external_reference,
    is_ours,
    marker,
)
from pipeline.model import Voucher

REGISTER = Register(
    accounts={"1500": {"Id": 11, "IsActive": True}, "1920": {"Id": 12, "IsActive": True},
              "3000": {"Id": 13, "IsActive": True}},
    vat_codes={"0": {"Id": 1, "Code": "0"}, "3": {"Id": 3, "Code": "3"}},
    customers={"number:10001": {"Id": 501, "Number": 10001, "SubledgerAccountId": 9001, "IsActive": True}},
    departments={"1": {"Id": 71, "Code": "1", "IsActive": True}}, projects={"100": {"Id": 81, "Code": "100"}})
SALE = Voucher(reference="salg-æøå-1", date="2026-11-20", description="Salg på Røros",
               lines=[{"account": "1500", "amount": "1250.10", "customer": {"number": "10001"}},
                      {"account": "3000", "amount": "-1250.10", "vat_code": "3", "description": "Blåbær",
                       "dimensions": {"department": "1", "project": "100"}}])


def test_a_draft_has_one_side_per_line_unsigned_gross_amounts_and_our_marker() -> None:
    body = draft_payload(SALE, REGISTER)
    assert body["Description"] == "Salg på Røros [salg-æøå-1]" and "ExternalImportReference" not in body
    debit, credit = body["ManualVoucherLines"]
    assert debit == {"DebitAccountId": 9001, "DebitVatId": 1, "CurrencyAmount": Decimal("1250.10"),
                     "PostingDate": "2026-11-20", "Description": "Salg på Røros"}
    assert credit["CreditAccountId"] == 13 and credit["CreditVatId"] == 3 and "DebitAccountId" not in credit
    assert credit["CurrencyAmount"] == Decimal("1250.10") and (credit["DepartmentId"], credit["ProjectId"]) == (71, 81)


def test_direct_posting_has_signed_amounts_a_vat_id_on_every_line_and_the_import_reference() -> None:
    body = direct_payload(SALE, REGISTER)
    assert body["ExternalImportReference"] == "salg-æøå-1"
    assert [(line["AccountId"], line["CurrencyAmount"], line["VatId"]) for line in body["VoucherLines"]] == [
        (9001, Decimal("1250.10"), 1), (13, Decimal("-1250.10"), 3)]


def test_amounts_travel_as_exact_json_numbers_and_letters_as_utf8() -> None:
    raw = encode(direct_payload(SALE, REGISTER))
    assert b'"CurrencyAmount": -1250.10' in raw and "Røros".encode() in raw
    assert json.loads(raw, parse_float=Decimal)["VoucherLines"][0]["CurrencyAmount"] == Decimal("1250.10")


def test_a_long_reference_is_shortened_deterministically_and_still_recognised() -> None:
    long = "omnium-butikk-" + "x" * 80
    short = external_reference(long)
    assert len(short) == REFERENCE_MAX and short == external_reference(long) and short != external_reference(long + "y")
    assert external_reference("kort") == "kort"
    assert is_ours(f"Dagsoppgjør {marker(long)}", long) and not is_ours(f"Dagsoppgjør {marker('kort')}", long)
    assert not is_ours("Dagsoppgjør [salg-1] (endret)", "salg-1")  # a marker must end the description
