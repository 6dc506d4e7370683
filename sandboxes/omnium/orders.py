"""Omnium-shaped orders for the sandbox: a seeded generator, changes over time, and the sandbox's own totals.

Shapes follow the Omnium swagger as mirrored in sigvardt/omnium-oms-skill (`OmniumOrder`, `OmniumOrderForm`,
`OmniumOrderLine`, `OmniumPayment`, `OmniumShipment`, `OmniumDiscount`, `OmniumReturnOrderForm`; see
/work/shared/reference/target-apis.md §9). Amounts are `Decimal` here and JSON numbers on the wire, as Omnium
sends them. Only the fields a bookkeeping integration reads are generated; everything else is absent.

The totals are computed from the generator's own bookkeeping facts (not by re-reading the JSON), so tests
compare what the connector maps against an independent sum.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
CENT = Decimal("0.01")
STORES = ("oslo-sentrum", "bergen-bryggen", "tromsø")

# (code, display name, gross unit price, VAT rate in percent, product type)
PRODUCTS: tuple[tuple[str, str, str, str, str], ...] = (
    ("1001", "Brunost Gudbrandsdalsost 500 g", "89.90", "15", "Food"),
    ("1002", "Blåbærsyltetøy 400 g", "54.50", "15", "Food"),
    ("2001", "Strikkegenser Ålesund", "1299.00", "25", "Clothing"),
    ("2002", "Ullsokker Røros", "249.00", "25", "Clothing"),
    ("2003", "Votter «Nordlys»", "399.00", "25", "Clothing"),
    ("3001", "Kinobillett Colosseum", "145.00", "12", "Ticket"),
    ("4001", "Avis Dagbladet", "40.00", "0", "Newspaper"),
    ("9001", "Gavekort", "500.00", "0", "GiftCard"),
)
METHODS = ("Vipps", "Klarna", "Adyen")
NAMES = ("Åse Ødegård", "Bjørn Æsøy", "Kari Nordmann", "Øystein Lø", "Mari Bråten", "Håkon Sæther")
CITIES = (("0150", "Oslo"), ("5003", "Bergen"), ("9008", "Tromsø"), ("1338", "Bærum"))


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def vat_part(gross: Decimal, rate: Decimal) -> Decimal:
    """The VAT included in a gross amount, as Omnium rounds it per line (half up to øre)."""
    return money(gross * rate / (100 + rate))


def wire_time(value: dt.datetime) -> str:
    """ISO 8601 in UTC with seven fractional digits and a Z, as .NET serialises DateTime."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def business_day(value: dt.datetime) -> dt.date:
    return value.astimezone(OSLO).date()


@dataclass
class DayTotals:
    """What the sandbox itself knows one store sold and took back on one Oslo business day."""

    orders: int = 0
    sales: Decimal = Decimal("0.00")  # sum of orderForm.total for orders created that day
    sales_by_rate: dict[Decimal, Decimal] = field(default_factory=lambda: defaultdict(lambda: Decimal("0.00")))
    vat_by_rate: dict[Decimal, Decimal] = field(default_factory=lambda: defaultdict(lambda: Decimal("0.00")))
    gift_cards_sold: Decimal = Decimal("0.00")
    rounding: Decimal = Decimal("0.00")
    payments: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: Decimal("0.00")))
    returns: Decimal = Decimal("0.00")  # sum of returnOrderForm.total for returns created that day
    returns_by_rate: dict[Decimal, Decimal] = field(default_factory=lambda: defaultdict(lambda: Decimal("0.00")))
    unpaid: Decimal = Decimal("0.00")  # sales not paid (yet): what a summary puts on the receivable account


def _line(rng: random.Random, line_id: str, product: tuple[str, str, str, str, str]) -> dict[str, Any]:
    code, name, price, rate_text, product_type = product
    rate = Decimal(rate_text)
    placed = Decimal(price)
    quantity = Decimal(1 if product_type == "GiftCard" else rng.choice((1, 1, 1, 2, 3)))
    discounted = Decimal("0.00")
    if product_type != "GiftCard" and rng.random() < 0.2:
        discounted = money(placed * quantity * Decimal(rng.choice((10, 15, 20, 30))) / 100)
    extended = placed * quantity - discounted
    tax = vat_part(extended, rate)
    return {
        "lineItemId": line_id,
        "code": code,
        "displayName": name,
        "productType": product_type,
        "isVirtualProduct": product_type == "GiftCard",
        "quantity": quantity,
        "placedPrice": placed,
        "placedPriceExclTax": money(placed * 100 / (100 + rate)),
        "taxRate": rate,
        "discounted": discounted,
        "discountedPrice": extended,
        "extendedPrice": extended,
        "extendedPriceExclTax": extended - tax,
        "taxTotal": tax,
        "returnQuantity": Decimal("0"),
    }


def generate_order(
    rng: random.Random, number: int, store: str, created: dt.datetime, *, cancelled: bool = False,
    products: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One order; `products` (codes from PRODUCTS, e.g. "9001" for a gift card) instead of a random basket."""
    order_id = f"NO{number:07d}"
    pos = rng.random() < 0.4
    if products is not None:
        chosen = [next(p for p in PRODUCTS if p[0] == code) for code in products]
    else:
        basket = [p for p in PRODUCTS if p[4] != "GiftCard"]
        chosen = [rng.choice(basket) for _ in range(rng.choice((1, 1, 2, 2, 3, 4)))]
        if rng.random() < 0.04:
            chosen.append(PRODUCTS[-1])
    lines = [_line(rng, f"{order_id}-{i + 1}", p) for i, p in enumerate(chosen)]
    sub_total = sum((line["extendedPrice"] for line in lines), Decimal("0.00"))
    shipping_sub = Decimal("0.00") if pos else Decimal(rng.choice(("0.00", "49.00", "79.00")))
    shipping_discount = shipping_sub if shipping_sub and rng.random() < 0.3 else Decimal("0.00")
    shipping_total = shipping_sub - shipping_discount
    shipping_tax = vat_part(shipping_total, Decimal("25"))
    method = "Cash" if pos and rng.random() < 0.3 else rng.choice(METHODS)
    roundoff = Decimal("0.00")
    if method == "Cash":  # cash is paid in whole kroner: Omnium's grossRoundoff is added to the total
        roundoff = (sub_total + shipping_total).quantize(Decimal("1"), rounding=ROUND_HALF_UP) - (
            sub_total + shipping_total
        )
    total = sub_total + shipping_total + roundoff
    tax_total = sum((line["taxTotal"] for line in lines), Decimal("0.00")) + shipping_tax
    discounts = []
    for line in lines:
        if line["discounted"]:
            discounts.append({
                "discountId": f"D-{line['lineItemId']}",
                "discountName": rng.choice(("Sommersalg 20 %", "Medlemsrabatt", "Black Week – æøå")),
                "discountType": "LineItem",
                "discountSource": "Campaign",
                "discountAmount": line["discounted"],
            })
    if shipping_discount:
        discounts.append({
            "discountId": f"D-{order_id}-frakt", "discountName": "Fri frakt", "discountType": "Shipping",
            "discountSource": "Campaign", "discountAmount": shipping_discount,
        })
    payments = []
    if not cancelled:
        remaining = total
        if rng.random() < 0.08 and total > 100:
            gift = money(min(Decimal("100.00"), remaining))
            payments.append(_payment(order_id, 1, "GiftCard", gift, "Capture", created))
            remaining -= gift
        if remaining:
            payments.append(_payment(order_id, len(payments) + 1, method, remaining, "Capture", created))
    name = rng.choice(NAMES)
    postal, city = rng.choice(CITIES)
    return {
        "id": order_id,
        "orderNumber": order_id,
        "status": "Cancelled" if cancelled else "Completed",
        "orderType": "Pos" if pos else rng.choice(("Online", "ClickAndCollect")),
        "orderOrigin": "OMS",
        "marketId": "NOR",
        "storeId": store,
        "billingCurrency": "NOK",
        "customerId": f"C{rng.randrange(1, 900):04d}",
        "customerName": name,
        "customerEmail": "kunde@example.no",
        "billingAddress": {"name": name, "line1": "Storgata 1", "postalCode": postal, "city": city,
                           "countryCode": "NO", "countryName": "Norge"},
        "created": created,
        "modified": created,
        "completed": None if cancelled else created,
        "versionId": "1",
        "externalIds": [],
        "tags": [],
        "netTotal": total,
        "netTotalExclTax": total - tax_total,
        "orderForm": {
            "lineItems": lines,
            "payments": payments,
            "shipments": [{
                "shipmentId": f"{order_id}-S1",
                "shippingMethodName": "Hent i butikk" if pos else rng.choice(("Posten", "Helthjem")),
                "shipmentTaxRate": Decimal("25"),
                "shippingSubTotal": shipping_sub,
                "shippingDiscountAmount": shipping_discount,
                "shippingTotal": shipping_total,
                "shippingTax": shipping_tax,
                "warehouseCode": store,
                "status": "Shipped",
                "discounts": [d for d in discounts if d["discountType"] == "Shipping"],
            }],
            "discounts": discounts,
            "discountAmount": sum((d["discountAmount"] for d in discounts), Decimal("0.00")),
            "grossRoundoff": roundoff or None,
            "subTotal": sub_total,
            "shippingSubTotal": shipping_sub,
            "shippingDiscountTotal": shipping_discount,
            "shippingTotal": shipping_total,
            "taxTotal": tax_total,
            "total": total,
            "totalExclTax": total - tax_total,
        },
        "returnOrderForms": [],
    }


def _payment(order_id: str, n: int, method: str, amount: Decimal, kind: str, at: dt.datetime) -> dict[str, Any]:
    return {
        "id": f"{order_id}-P{n}",
        "paymentMethodName": method,
        "paymentType": {"Klarna": "Invoice", "Adyen": "Card"}.get(method, method),
        "amount": amount,
        "transactionType": kind,
        "status": "Processed",
        "transactionId": f"T-{order_id}-{n}",
        "created": at,
        "paidDate": at,
    }


def add_return(order: dict[str, Any], at: dt.datetime, rng: random.Random) -> dict[str, Any] | None:
    """Return one (non gift card) line of a completed order in full, refunded to its first card/app payment."""
    form = order["orderForm"]
    candidates = [line for line in form["lineItems"] if line["productType"] != "GiftCard" and not line["returnQuantity"]]
    refundable = [p for p in form["payments"] if p["paymentMethodName"] != "GiftCard"]
    if order["status"] == "Cancelled" or not candidates or not refundable:
        return None
    line = rng.choice(candidates)
    line["returnQuantity"] = line["quantity"]
    returned = {**line, "returnQuantity": line["quantity"], "returnReason": "Feil størrelse"}
    number = len(order["returnOrderForms"]) + 1
    credit = _payment(order["id"], 100 + number, refundable[0]["paymentMethodName"], line["extendedPrice"], "Credit", at)
    form_ = {
        "returnId": f"{order['id']}-R{number}",
        "rmaNumber": f"RMA-{order['id']}-{number}",
        "status": "Completed",
        "returnType": "Return",
        "returnComment": "Kunden ångret – byttet størrelse",
        "storeId": order["storeId"],
        "created": at,
        "modified": at,
        "creditPayment": True,
        "creditAmount": line["extendedPrice"],
        "lineItems": [returned],
        "payments": [credit],
        "shipments": [],
        "discounts": [],
        "subTotal": line["extendedPrice"],
        "shippingCreditedTotal": Decimal("0.00"),
        "shippingTotal": Decimal("0.00"),
        "taxTotal": line["taxTotal"],
        "total": line["extendedPrice"],
        "totalExclTax": line["extendedPrice"] - line["taxTotal"],
    }
    order["returnOrderForms"].append(form_)
    order["netTotal"] = form["total"] - sum((r["total"] for r in order["returnOrderForms"]), Decimal("0.00"))
    return form_


def pay_only(order: dict[str, Any], paid: Decimal, *, gift_card: Decimal = Decimal("0.00")) -> None:
    """Capture only `paid` of the order's total, in one payment by its first method (after `gift_card` paid
    with a gift card, when given); the rest stays open."""
    form = order["orderForm"]
    methods = [p["paymentMethodName"] for p in form["payments"] if p["paymentMethodName"] != "GiftCard"]
    method = methods[-1] if methods else "Klarna"
    at = order["created"]
    payments = [_payment(order["id"], 1, "GiftCard", gift_card, "Capture", at)] if gift_card else []
    if paid:
        payments.append(_payment(order["id"], len(payments) + 1, method, paid, "Capture", at))
    form["payments"] = payments


def change_quantity(order: dict[str, Any], at: dt.datetime, *, extra: int = 1) -> Decimal:
    """A line's quantity changed after the sale (an item added at the till, a web order amended): the line,
    the order's totals and its last captured payment follow. Returns the change of the order total."""
    form = order["orderForm"]
    line = next(item for item in form["lineItems"] if item["productType"] != "GiftCard")
    rate = line["taxRate"]
    line["quantity"] += extra
    line["extendedPrice"] = line["discountedPrice"] = line["placedPrice"] * line["quantity"] - line["discounted"]
    line["taxTotal"] = vat_part(line["extendedPrice"], rate)
    line["extendedPriceExclTax"] = line["extendedPrice"] - line["taxTotal"]
    sub_total = sum((item["extendedPrice"] for item in form["lineItems"]), Decimal("0.00"))
    shipping_total = form["shippingTotal"]
    payments = [p for p in form["payments"] if p["transactionType"] == "Capture"]
    roundoff = Decimal("0.00")
    if payments and payments[-1]["paymentMethodName"] == "Cash":
        roundoff = (sub_total + shipping_total).quantize(Decimal("1"), rounding=ROUND_HALF_UP) - (
            sub_total + shipping_total)
    total = sub_total + shipping_total + roundoff
    delta: Decimal = total - form["total"]
    form["subTotal"], form["grossRoundoff"], form["total"] = sub_total, roundoff or None, total
    form["taxTotal"] = sum((item["taxTotal"] for item in form["lineItems"]), Decimal("0.00")) + sum(
        (s["shippingTax"] for s in form["shipments"]), Decimal("0.00"))
    form["totalExclTax"] = total - form["taxTotal"]
    if payments:
        payments[-1]["amount"] += delta
    order["netTotal"] = total - sum((r["total"] for r in order["returnOrderForms"]), Decimal("0.00"))
    order["netTotalExclTax"] = form["totalExclTax"]
    order["modified"] = at
    return delta


def seed(
    rng: random.Random,
    *,
    n: int,
    stores: Sequence[str],
    days: int,
    until: dt.datetime,
    first_number: int = 1,
) -> list[dict[str, Any]]:
    """`n` orders over the `days` Oslo business days before `until` (returns up to an hour before it), some
    cancelled, some returned, some tied.

    About 2 % share their modified time with the previous order, and one burst of 150 orders shares a
    single modified time, so a puller's tie-breaking and paging within one timestamp are exercised.
    """
    last_day = business_day(until) - dt.timedelta(days=1)
    orders: list[dict[str, Any]] = []
    for i in range(n):
        day = last_day - dt.timedelta(days=rng.randrange(days))
        opening = dt.datetime.combine(day, dt.time(8, 0), OSLO)
        created = (opening + dt.timedelta(seconds=rng.randrange(14 * 3600), milliseconds=rng.randrange(1000)))
        created = created.astimezone(dt.UTC)
        order = generate_order(rng, first_number + i, rng.choice(list(stores)), created,
                               cancelled=rng.random() < 0.02)
        order["modified"] = created + dt.timedelta(seconds=rng.randrange(1, 900))
        if orders and rng.random() < 0.02:
            order["modified"] = max(orders[-1]["modified"], order["created"])
        if rng.random() < 0.05:
            at = order["modified"] + dt.timedelta(hours=rng.randrange(1, 60))
            if at < until - dt.timedelta(hours=1) and add_return(order, at, rng) is not None:
                order["modified"] = at
                order["versionId"] = "2"
        orders.append(order)
    burst = [o for o in orders if o["status"] != "Cancelled" and not o["returnOrderForms"]][:150]
    if burst:
        moment = max(o["modified"] for o in burst)
        for order in burst:
            order["modified"] = moment
    return orders


def totals(orders: Iterable[dict[str, Any]]) -> dict[tuple[str, dt.date], DayTotals]:
    """Per (store, Oslo business day): sales by order creation, returns by return creation."""
    days: dict[tuple[str, dt.date], DayTotals] = defaultdict(DayTotals)
    for order in orders:
        if order["status"] == "Cancelled":
            continue
        form = order["orderForm"]
        day = days[(order["storeId"], business_day(order["created"]))]
        day.orders += 1
        day.sales += form["total"]
        day.rounding += form["grossRoundoff"] or Decimal("0.00")
        for line in form["lineItems"]:
            if line["productType"] == "GiftCard":
                day.gift_cards_sold += line["extendedPrice"]
            else:
                day.sales_by_rate[line["taxRate"]] += line["extendedPrice"]
                day.vat_by_rate[line["taxRate"]] += line["taxTotal"]
        for shipment in form["shipments"]:
            day.sales_by_rate[shipment["shipmentTaxRate"]] += shipment["shippingTotal"]
            day.vat_by_rate[shipment["shipmentTaxRate"]] += shipment["shippingTax"]
        day.unpaid += form["total"]
        for payment in form["payments"]:
            signed = payment["amount"] if payment["transactionType"] == "Capture" else -payment["amount"]
            day.payments[payment["paymentMethodName"]] += signed
            day.unpaid -= signed
        for returned in order["returnOrderForms"]:
            rday = days[(returned["storeId"], business_day(returned["created"]))]
            rday.returns += returned["total"]
            for line in returned["lineItems"]:
                rday.returns_by_rate[line["taxRate"]] += line["extendedPrice"]
            for payment in returned["payments"]:
                rday.payments[payment["paymentMethodName"]] -= payment["amount"]
    return dict(days)
