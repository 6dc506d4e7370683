"""Orders into the books: the pure mapping from Omnium orders to vouchers, checked line by line."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal

import pytest

from connectors.sources import omnium
from pipeline.errors import ConfigError, Problem
from pipeline.model import Voucher

ORDER_JSON = """{
  "id": "NO1", "orderNumber": "NO1", "status": "Completed", "storeId": "oslo-sentrum", "billingCurrency": "NOK",
  "customerId": "C7", "customerName": "Åse Ødegård", "customerEmail": "ase@example.no",
  "created": "2026-11-24T23:30:00.0000000Z", "modified": "2026-11-24T23:35:00.0000000Z",
  "orderForm": {
    "lineItems": [
      {"lineItemId": "1", "displayName": "Strikkegenser Ålesund", "productType": "Clothing", "quantity": 1,
       "placedPrice": 1299.00, "taxRate": 25, "discounted": 129.90, "extendedPrice": 1169.10, "taxTotal": 233.82},
      {"lineItemId": "2", "displayName": "Brunost", "productType": "Food", "quantity": 2,
       "placedPrice": 89.90, "taxRate": 15.00, "discounted": 0, "extendedPrice": 179.80, "taxTotal": 23.45}
    ],
    "shipments": [{"shipmentId": "S1", "shipmentTaxRate": 25, "shippingSubTotal": 79.00,
                   "shippingDiscountAmount": 0, "shippingTotal": 79.00, "shippingTax": 15.80}],
    "payments": [
      {"paymentMethodName": "GiftCard", "amount": 100.00, "transactionType": "Capture", "status": "Processed"},
      {"paymentMethodName": "Vipps", "amount": 1327.90, "transactionType": "Capture", "status": "Processed"},
      {"paymentMethodName": "Vipps", "amount": 1427.90, "transactionType": "Authorization", "status": "Processed"}
    ],
    "total": 1427.90
  },
  "returnOrderForms": []
}"""


def order() -> dict:
    return json.loads(ORDER_JSON, parse_float=Decimal)


def lines(voucher: Voucher) -> list[tuple[str, str, str, str | None, str | None]]:
    return [(p.account, p.description or "", f"{p.amount:.2f}", p.vat_code,
             None if p.vat_amount is None else f"{p.vat_amount:.2f}") for p in voucher.lines]


def test_one_order_becomes_one_balanced_sales_voucher_on_its_oslo_business_day():
    [voucher] = omnium.documents([order()], {"mode": "order"})

    assert voucher.reference == "omnium-NO1"
    assert voucher.date == dt.date(2026, 11, 25)  # 23:30 UTC is 00:30 in Oslo
    assert lines(voucher) == [
        ("1920", "Betaling Vipps", "1327.90", None, None),  # the authorisation moved no money
        ("2900", "Betaling GiftCard", "100.00", None, None),  # redeeming a gift card lowers the liability
        ("3000", "Frakt 25 %", "-79.00", "3", "-15.80"),
        ("3000", "Rabatt 25 %", "129.90", "3", "25.98"),
        ("3000", "Salg 25 %", "-1299.00", "3", "-259.80"),
        ("3010", "Salg 15 %", "-179.80", "31", "-23.45"),
    ]
    # The VAT of sale and discount together is what Omnium computed for the line.
    assert Decimal("-259.80") + Decimal("25.98") == -Decimal("233.82")


def test_a_return_gets_its_own_voucher_dated_the_day_of_the_return():
    returned = order()
    returned["returnOrderForms"] = [{
        "returnId": "R1", "rmaNumber": "RMA-1", "storeId": "bergen-bryggen", "created": "2026-11-27T10:00:00Z",
        "lineItems": [returned["orderForm"]["lineItems"][1]], "shippingCreditedTotal": 0, "total": 179.80,
        "payments": [{"paymentMethodName": "Vipps", "amount": 179.80, "transactionType": "Credit",
                      "status": "Processed"}],
    }]
    sale, credit = omnium.documents([json.loads(json.dumps(returned, default=str), parse_float=Decimal)],
                                    {"mode": "order", "department_by_store": {"bergen-bryggen": "20"}})
    assert sale.reference == "omnium-NO1" and credit.reference == "omnium-NO1-retur-R1"
    assert credit.date == dt.date(2026, 11, 27)
    assert lines(credit) == [("1920", "Betaling Vipps", "-179.80", None, None),
                             ("3010", "Retur 15 %", "179.80", "31", "23.45")]
    assert {p.dimensions.get("department") for p in credit.lines} == {"20"}


def test_cash_rounding_and_an_unpaid_rest_are_the_only_balancing_lines():
    cash = order()
    form = cash["orderForm"]
    form["grossRoundoff"] = Decimal("0.10")
    form["total"] = Decimal("1428.00")
    form["payments"] = [{"paymentMethodName": "Cash", "amount": Decimal("1000.00"), "transactionType": "Capture"}]
    [voucher] = omnium.documents([cash], {"mode": "order"})
    by_account = {(p.account, p.description): p for p in voucher.lines}
    assert by_account[("7790", "Øreavrunding")].amount == Decimal("-0.10")
    assert by_account[("1900", "Betaling Cash")].amount == Decimal("1000.00")
    receivable = by_account[("1500", "Utestående")]
    assert receivable.amount == Decimal("428.00") and receivable.customer.name == "Åse Ødegård"


def test_an_order_whose_total_does_not_match_its_lines_is_a_problem_and_holds_back_its_day():
    good = order()
    bad = order()
    bad["id"] = "NO2"
    bad["orderForm"]["total"] = Decimal("1527.90")
    other_day = order()
    other_day["id"] = "NO3"
    other_day["created"] = "2026-11-23T12:00:00Z"

    out = omnium.documents([good, bad, other_day], {"mode": "daily"})

    problems = [d for d in out if isinstance(d, Problem)]
    vouchers = [d for d in out if isinstance(d, Voucher)]
    assert [(p.reference, p.code, p.field) for p in problems] == [("omnium-NO2", "unbalanced", "orderForm.total")]
    assert [v.reference for v in vouchers] == ["omnium-oslo-sentrum-2026-11-23"]


def test_a_vat_rate_without_an_account_is_a_problem_until_the_tenant_maps_it():
    fish = order()
    fish["orderForm"]["lineItems"][1]["taxRate"] = Decimal("11.11")
    fish["orderForm"]["lineItems"][1]["taxTotal"] = Decimal("17.98")
    [problem] = omnium.documents([fish], {"mode": "order"})
    assert problem.code == "missing-account" and "11.11" in problem.message
    [voucher] = omnium.documents([fish], {"mode": "order", "sales_accounts": {"11.11": "3015"},
                                          "vat_codes": {"11.11": "32"}})
    assert ("3015", "Salg 11.11 %", "-179.80", "32", "-17.98") in lines(voucher)


def test_daily_summary_sums_orders_of_a_store_and_day_and_skips_cancelled_ones():
    first, second, cancelled = order(), order(), order()
    second["id"], cancelled["id"] = "NO2", "NO3"
    cancelled["status"] = "Cancelled"
    [summary] = omnium.documents([first, second, cancelled])  # daily is the default mode
    assert summary.reference == "omnium-oslo-sentrum-2026-11-25"
    assert summary.description == "Omnium dagsoppgjør oslo-sentrum 2026-11-25"
    assert ("3000", "Salg 25 %", "-2598.00", "3", "-519.60") in lines(summary)
    assert ("1920", "Betaling Vipps", "2655.80", None, None) in lines(summary)


def test_a_changed_order_maps_to_the_same_reference_and_only_its_latest_version_counts():
    first = order()
    changed = copy.deepcopy(first)
    changed["modified"] = "2026-11-26T08:00:00Z"
    changed["orderForm"]["payments"][1]["paymentMethodName"] = "Klarna"
    [voucher] = omnium.documents([changed, first], {"mode": "order"})
    assert voucher.reference == "omnium-NO1"
    assert ("1920", "Betaling Klarna", "1327.90", None, None) in lines(voucher)


def test_business_days_follow_oslo_time_across_daylight_saving():
    assert omnium.business_day(dt.datetime(2026, 6, 30, 22, 30, tzinfo=dt.UTC)) == dt.date(2026, 7, 1)
    assert omnium.business_day(dt.datetime(2026, 11, 30, 22, 30, tzinfo=dt.UTC)) == dt.date(2026, 11, 30)
    spring = omnium.business_day_end(dt.date(2026, 3, 29)) - omnium.business_day_end(dt.date(2026, 3, 28))
    assert spring == dt.timedelta(hours=23)
    returned = order()
    returned["returnOrderForms"] = [{"storeId": "tromsø", "created": "2026-11-28T12:00:00Z"}]
    assert omnium.business_days_touched(returned) == {("oslo-sentrum", dt.date(2026, 11, 25)),
                                                      ("tromsø", dt.date(2026, 11, 28))}


def test_unknown_options_are_a_config_error():
    with pytest.raises(ConfigError, match="salgskonto"):
        omnium.BookingOptions.from_options({"salgskonto": "3000"})
    with pytest.raises(ConfigError, match="mode"):
        omnium.BookingOptions.from_options({"mode": "weekly"})
    options = omnium.BookingOptions.from_options({"payment_accounts": {"Vipps": "1581"}, "sales_accounts": {25: "3001"}})
    assert options.payment_accounts == {"Cash": "1900", "Vipps": "1581"}
    assert options.sales_accounts["25"] == "3001" and options.sales_accounts["15"] == "3010"


def partly_paid(**fields) -> dict:
    """The order with only the gift card paid: 1,327.90 stays open on the receivable account."""
    unpaid = order()
    unpaid["orderForm"]["payments"] = unpaid["orderForm"]["payments"][:1]
    unpaid.update(fields)
    return unpaid


@pytest.mark.parametrize(("fields", "expected"), [
    ({"customerId": "+4791234567", "customerNumber": "+4791234567", "customerEmail": None},
     {"phone": "+4791234567", "name": "Åse Ødegård"}),
    ({"customerId": "91234567", "customerEmail": None}, {"phone": "+4791234567", "name": "Åse Ødegård"}),
    ({"customerId": "ase@example.no", "customerNumber": "ase@example.no", "customerEmail": None},
     {"email": "ase@example.no", "name": "Åse Ødegård"}),
    ({"customerId": "C7", "customerPhone": "+47 412 34 567"},
     {"number": "C7", "email": "ase@example.no", "phone": "+4741234567", "name": "Åse Ødegård"}),
    ({"customerId": "10042", "customerType": "B2B", "customerName": "Fjordkafé Ålesund AS",
      "billingAddress": {"organizationalNumber": "NO 988 077 917 MVA", "line1": "Kaiveien 2", "postalCode": "6004",
                         "city": "Ålesund", "countryCode": "NO"}},
     {"number": "10042", "organization_number": "988077917", "email": "ase@example.no",
      "name": "Fjordkafé Ålesund AS",
      "address": {"lines": ["Kaiveien 2"], "postal_code": "6004", "city": "Ålesund", "country": "NO"}}),
])
def test_an_omnium_customer_id_that_is_a_phone_number_or_an_e_mail_is_read_as_one(fields, expected):
    [voucher] = omnium.documents([partly_paid(**fields)], {"mode": "order"})
    [receivable] = [line for line in voucher.lines if line.account == "1500"]
    assert receivable.amount == Decimal("1327.90") and receivable.description == "Utestående"
    assert receivable.customer.model_dump(mode="json", exclude_none=True) == expected


def test_an_unpaid_order_without_a_customer_goes_to_the_collective_customer_and_so_does_every_daily_summary():
    anonymous = partly_paid(customerId=None, customerName=None, customerEmail=None)
    [without] = omnium.documents([anonymous], {"mode": "order"})
    assert [line.customer for line in without.lines if line.account == "1500"] == [None]

    options = {"mode": "order", "collective_customer": "10000", "collective_customer_name": "Kontantsalg"}
    [voucher] = omnium.documents([anonymous], options)
    [receivable] = [line for line in voucher.lines if line.account == "1500"]
    assert receivable.customer.number == "10000" and receivable.customer.name == "Kontantsalg"

    [summary] = omnium.documents([partly_paid(), anonymous | {"id": "NO2"}],
                                 {"mode": "daily", "collective_customer": "10000"})
    [receivable] = [line for line in summary.lines if line.account == "1500"]
    assert receivable.amount == Decimal("2655.80") and receivable.customer.number == "10000"
    assert receivable.customer.name == "Samlekunde"
