"""Omnium orders into the books: booking options and the pure mapping of orders to vouchers.

Per-order vouchers or daily summaries per store and Europe/Oslo business day; see the package docstring."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field, model_validator

from connectors.sources.omnium.customers import collective_customer, order_customer
from pipeline.descriptors import Code, Settings
from pipeline.errors import ConfigError, Problem
from pipeline.model import Origin, Party, Posting, Voucher

NAME = "omnium"
OSLO = ZoneInfo("Europe/Oslo")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
ORIGIN = Origin(format="omnium")


# -- booking options -------------------------------------------------------------------------------


_SALES_ACCOUNTS = {"25": "3000", "15": "3010", "12": "3020", "0": "3100"}
_VAT_CODES = {"25": "3", "15": "31", "12": "33", "0": "5"}
_PAYMENT_ACCOUNTS = {"Cash": "1900"}


def _decimal(value: Any) -> Any:
    """A JSON number or numeric text, exactly (a float's shortest text, never its binary value)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    return Decimal(str(value))


class BookingOptions(Settings):
    """How one tenant books Omnium orders (the source's `booking` setting); `from_options` reads the mapping.

    `sales_accounts`, `vat_codes` and `payment_accounts` are merged over the defaults, so a tenant can change
    one rate or add one payment method; rates are keyed as Omnium writes them (25, 25.0 and "25.00" are "25").
    """

    mode: Literal["daily", "order"] = Field("daily", description=(
        '"daily": one summary per store and Oslo business day; "order": one voucher per order'))
    sales_accounts: dict[str, Code] = Field(default_factory=lambda: dict(_SALES_ACCOUNTS),
                                            description="VAT rate (percent) → revenue account")
    vat_codes: dict[str, Code] = Field(default_factory=lambda: dict(_VAT_CODES),
                                       description="VAT rate (percent) → SAF-T standard VAT code")
    discount_account: Code | None = Field(None, description="None: discounts on the line's sales account")
    shipping_account: Code | None = Field(None, description="None: the sales account for the shipping VAT rate")
    payment_accounts: dict[str, Code] = Field(default_factory=lambda: dict(_PAYMENT_ACCOUNTS),
                                              description="payment method → account")
    payment_account: Code = Field("1920", description="for payment methods not in payment_accounts")
    gift_card_account: Code = "2900"
    gift_card_product_types: tuple[str, ...] = ("GiftCard",)
    gift_card_payment_methods: tuple[str, ...] = ("GiftCard",)
    receivable_account: Code = Field("1500", description="what is neither paid nor refunded yet")
    # The customer on receivable lines that name none: every daily summary's, and a per-order voucher's when
    # the order has no customer. A customer number in the accounting system ("Kontantsalg"/"Samlekunde"):
    # an accounting system with a customer sub-ledger (Tripletex) takes no line on 1500 without one.
    collective_customer: Code | None = None
    collective_customer_name: str = "Samlekunde"
    rounding_account: Code = "7790"
    max_rounding: Annotated[Decimal, BeforeValidator(_decimal)] = Decimal("1.00")
    excluded_statuses: tuple[str, ...] = ("Cancelled",)
    department_by_store: dict[str, Code] = Field(default_factory=dict)
    reference_prefix: str = "omnium"
    voucher_type: str = "sales"

    @model_validator(mode="before")
    @classmethod
    def _over_the_defaults(cls, values: Any) -> Any:
        if not isinstance(values, Mapping):
            return values
        merged = dict(values)
        for name, defaults in (("sales_accounts", _SALES_ACCOUNTS), ("vat_codes", _VAT_CODES)):
            given = merged.get(name)
            if isinstance(given, Mapping):
                try:
                    merged[name] = {**defaults, **{_rate_key(k): v for k, v in given.items()}}
                except (ArithmeticError, ValueError, InvalidOperation):
                    pass  # a rate that is no number: the field's own validation names it
        if isinstance(merged.get("payment_accounts"), Mapping):
            merged["payment_accounts"] = {**_PAYMENT_ACCOUNTS, **merged["payment_accounts"]}
        return merged

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> BookingOptions:
        """The options from a tenant's mapping; an unknown name or a bad value is a ConfigError naming it."""
        given = dict(options or {})
        unknown = sorted(set(given) - set(cls.model_fields))
        if unknown:
            raise ConfigError(f"unknown Omnium booking option(s): {', '.join(unknown)}; known: "
                              f"{', '.join(cls.model_fields)}", connector=NAME,
                              problems=tuple(Problem("not a booking option", field=f"booking.{name}",
                                                     code="invalid-setting") for name in unknown))
        return cls.read(given, connector=NAME, prefix="booking")


def accounts_named(options: BookingOptions) -> dict[str, list[str]]:
    """Every account the options book on → the options that name it (`sales_accounts.25`, `payment_account`,
    …): what must exist in the tenant's chart before the first order is booked."""
    named: dict[str, list[str]] = defaultdict(list)
    for rate, account in sorted(options.sales_accounts.items()):
        named[account].append(f"sales_accounts.{rate}")
    for method, account in sorted(options.payment_accounts.items()):
        named[account].append(f"payment_accounts.{method}")
    for name in ("payment_account", "gift_card_account", "receivable_account", "rounding_account",
                 "discount_account", "shipping_account"):
        account = getattr(options, name)
        if account:
            named[account].append(name)
    return dict(named)


# -- pure mapping: orders → vouchers --------------------------------------------------------------


def _dec(value: Any) -> Decimal:
    """A JSON number parsed by our client (Decimal or int) or a numeric string; never a float."""
    if value is None:
        return ZERO
    if isinstance(value, float):
        raise ValueError("amount arrived as a float; parse Omnium JSON with parse_float=Decimal")
    return Decimal(str(value))


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _rate_key(rate: Any) -> str:
    """25, 25.0, "25.00" → "25"; 11.11 stays "11.11"."""
    text = format(_dec(rate).normalize(), "f")
    return text


def vat_part(gross: Decimal, rate: Decimal) -> Decimal:
    """The VAT included in a gross amount, rounded half up to øre as Omnium rounds per line."""
    return _money(gross * rate / (100 + rate))


def parse_time(value: str) -> dt.datetime:
    """Omnium's date-times ('2026-11-20T10:15:30.1234567Z'): always aware, in UTC."""
    parsed = dt.datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def business_day(moment: dt.datetime) -> dt.date:
    """The Europe/Oslo calendar day a UTC moment belongs to (timers run in UTC; the books in Oslo)."""
    return moment.astimezone(OSLO).date()


def business_day_end(day: dt.date) -> dt.datetime:
    """The UTC moment an Oslo business day ends (midnight Oslo, 23 or 25 hours long on DST days)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), OSLO).astimezone(dt.UTC)


_MARKED_NUMBER = re.compile(r'"\\u0000D(-?[0-9.]+)"')


def order_json(order: Mapping[str, Any]) -> bytes:
    """One order as UTF-8 JSON with its amounts exact, for the raw store (`json` cannot write a Decimal)."""
    def number(value: Any) -> str:
        if isinstance(value, Decimal):
            return f"\x00D{value}"
        raise TypeError(f"{type(value).__name__} is not JSON")
    text = json.dumps(order, default=number, ensure_ascii=False, separators=(",", ":"))
    return _MARKED_NUMBER.sub(r"\1", text).encode("utf-8")


def read_order(data: bytes | str) -> dict[str, Any]:
    """An order back from `order_json` (or straight from Omnium), amounts as Decimal."""
    return dict(json.loads(data, parse_float=Decimal))


def order_key(order: Mapping[str, Any]) -> tuple[dt.datetime, str]:
    """(modified, id): the order's place in the change feed."""
    return parse_time(order["modified"]), str(order["id"])


def business_days_touched(order: Mapping[str, Any]) -> set[tuple[str, dt.date]]:
    """Every (store, business day) whose daily summary this order version contributes to.

    For the caller's index of raw orders: the summary of (store, day) needs every order listed here.
    """
    days = {(str(order.get("storeId") or ""), business_day(parse_time(order["created"])))}
    for returned in order.get("returnOrderForms") or ():
        store = str(returned.get("storeId") or order.get("storeId") or "")
        days.add((store, business_day(parse_time(returned["created"]))))
    return days


def latest_versions(orders: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One version per order id, the most recently modified: a changed order counts once, as it is now."""
    latest: dict[str, Mapping[str, Any]] = {}
    for order in orders:
        seen = latest.get(str(order["id"]))
        if seen is None or order_key(order) >= order_key(seen):
            latest[str(order["id"])] = order
    return list(latest.values())


@dataclass
class _Entries:
    """Postings being collected for one voucher, summed per (account, VAT code, description)."""

    options: BookingOptions
    department: str | None
    amounts: dict[tuple[str, str | None, str], list[Decimal]] = field(default_factory=lambda: defaultdict(lambda: [ZERO, ZERO]))
    extra: list[Posting] = field(default_factory=list)
    customers: Mapping[str, Party] = field(default_factory=dict)  # account → the customer on its lines

    def add(self, account: str, amount: Decimal, description: str, vat_code: str | None = None, vat: Decimal = ZERO) -> None:
        if amount == 0 and vat == 0:
            return
        slot = self.amounts[(account, vat_code, description)]
        slot[0] += amount
        slot[1] += vat

    def postings(self) -> tuple[Posting, ...]:
        dims = {"department": self.department} if self.department else {}
        lines = [
            Posting(account=account, amount=amount, description=description, vat_code=code,
                    vat_amount=vat if code is not None else None, dimensions=dims,
                    customer=self.customers.get(account))
            for (account, code, description), (amount, vat) in self.amounts.items()
            if amount != 0
        ]
        lines.sort(key=lambda p: (p.account, p.description or ""))
        return tuple(lines + self.extra)


def _sale_entries(entries: _Entries, order: Mapping[str, Any], reference: str, sign: int) -> Decimal:
    """Adds one order form's lines and shipping (credit for a sale: sign -1); returns their gross sum."""
    o = entries.options
    form = order["orderForm"] if sign < 0 else order
    gross_sum = ZERO
    for line in form.get("lineItems") or ():
        extended = _dec(line.get("extendedPrice"))
        gross_sum += extended
        if line.get("productType") in o.gift_card_product_types:
            entries.add(o.gift_card_account, sign * extended, "Gavekort solgt" if sign < 0 else "Gavekort returnert")
            continue
        rate = _rate_key(line.get("taxRate") if line.get("taxRate") is not None else "25")
        account, code = _account_for(o, rate, reference, f"lineItems[{line.get('lineItemId')}].taxRate")
        tax = _dec(line.get("taxTotal"))
        discount = _dec(line.get("discounted")) if sign < 0 else ZERO
        discount_vat = vat_part(discount, _dec(rate))
        label = "Salg" if sign < 0 else "Retur"
        entries.add(account, sign * (extended + discount), f"{label} {rate} %", code, sign * (tax + discount_vat))
        if discount:
            entries.add(o.discount_account or account, discount, f"Rabatt {rate} %", code, discount_vat)
    for shipment in form.get("shipments") or ():
        rate = _rate_key(shipment.get("shipmentTaxRate") if shipment.get("shipmentTaxRate") is not None else "25")
        account, code = _account_for(o, rate, reference, "shipments.shipmentTaxRate")
        account = o.shipping_account or account
        total = _dec(shipment.get("shippingTotal"))
        gross_sum += total
        discount = _dec(shipment.get("shippingDiscountAmount"))
        discount_vat = vat_part(discount, _dec(rate))
        entries.add(account, -(total + discount), f"Frakt {rate} %", code, -(_dec(shipment.get("shippingTax")) + discount_vat))
        if discount:
            entries.add(o.discount_account or account, discount, f"Fraktrabatt {rate} %", code, discount_vat)
    if sign > 0:  # a return form: shipping credited back to the customer
        credited = _dec(form.get("shippingCreditedTotal"))
        if credited:
            account, code = _account_for(o, "25", reference, "shippingCreditedTotal")
            entries.add(o.shipping_account or account, credited, "Frakt kreditert 25 %", code, vat_part(credited, Decimal(25)))
            gross_sum += credited
    return gross_sum


def _account_for(o: BookingOptions, rate: str, reference: str, where: str) -> tuple[str, str]:
    if rate not in o.sales_accounts or rate not in o.vat_codes:
        raise _MappingProblem(Problem(
            f"no sales account or VAT code configured for VAT rate {rate} % (options sales_accounts, vat_codes)",
            field=where, reference=reference, code="missing-account"))
    return o.sales_accounts[rate], o.vat_codes[rate]


class _MappingProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _payment_entries(entries: _Entries, payments: Iterable[Mapping[str, Any]]) -> Decimal:
    """Debits captured payments and credits refunds, per payment method; returns the net received."""
    o = entries.options
    net = ZERO
    for payment in payments:
        if (payment.get("status") or "Processed") != "Processed":
            continue
        kind = payment.get("transactionType") or "Capture"
        if kind in ("Capture", "Sale"):
            amount = _dec(payment.get("amount"))
        elif kind in ("Credit", "Refund"):
            amount = -_dec(payment.get("amount"))
        else:  # Authorization, Void, …: no money has moved
            continue
        method = str(payment.get("paymentMethodName") or "Ukjent")
        if method in o.gift_card_payment_methods:
            account = o.gift_card_account
        else:
            account = o.payment_accounts.get(method, o.payment_account)
        entries.add(account, amount, f"Betaling {method}")
        net += amount
    return net


def _close(entries: _Entries, *, total: Decimal, lines_gross: Decimal, received: Decimal, sign: int,
           reference: str, customer: Party | None) -> None:
    """Rounding (total vs its lines) and the receivable (total vs what was paid) make the voucher balance."""
    o = entries.options
    rounding = total - lines_gross
    if abs(rounding) > o.max_rounding:
        raise _MappingProblem(Problem(
            f"order total {total:.2f} differs from its lines and shipping {lines_gross:.2f} by more than "
            f"max_rounding {o.max_rounding:.2f}", field="orderForm.total", reference=reference, code="unbalanced"))
    entries.add(o.rounding_account, sign * rounding, "Øreavrunding")
    open_amount = -sign * total - received  # sale: total not yet paid; return: refund not yet paid out
    if open_amount:
        entries.extra.append(Posting(account=o.receivable_account, amount=open_amount,
                                     description="Utestående" if open_amount > 0 else "Til utbetaling",
                                     customer=customer))


def order_vouchers(order: Mapping[str, Any], options: BookingOptions) -> list[Voucher | Problem]:
    """Mode "order": the sale of one order, and one voucher per return order form on it."""
    o = options
    order_id = str(order.get("id") or "")
    reference = f"{o.reference_prefix}-{order_id}"
    if not order_id:
        return [Problem("order without id", field="id", code="invalid")]
    if order.get("status") in o.excluded_statuses:
        return []
    out: list[Voucher | Problem] = []
    store = str(order.get("storeId") or "")
    try:
        entries = _Entries(o, o.department_by_store.get(store))
        form = order["orderForm"]
        gross = _sale_entries(entries, order, reference, -1)
        received = _payment_entries(entries, form.get("payments") or ())
        _close(entries, total=_dec(form.get("total")), lines_gross=gross, received=received, sign=-1,
               reference=reference, customer=order_customer(order) or collective_customer(o))
        created = parse_time(order["created"])
        out.append(Voucher(reference=reference, date=business_day(created), voucher_type=o.voucher_type,
                           description=f"Omnium ordre {order.get('orderNumber') or order_id} ({store})",
                           lines=entries.postings(), origin=ORIGIN))
    except _MappingProblem as exc:
        out.append(exc.problem)
    except (KeyError, ValueError, ArithmeticError) as exc:
        out.append(Problem(f"cannot book order: {exc}", reference=reference, code="invalid"))
    for returned in order.get("returnOrderForms") or ():
        return_id = str(returned.get("returnId") or returned.get("rmaNumber") or "")
        ref = f"{reference}-retur-{return_id}"
        try:
            rstore = str(returned.get("storeId") or store)
            entries = _Entries(o, o.department_by_store.get(rstore))
            gross = _sale_entries(entries, returned, ref, +1)
            refunded = _payment_entries(entries, returned.get("payments") or ())
            _close(entries, total=_dec(returned.get("total")), lines_gross=gross, received=refunded, sign=+1,
                   reference=ref, customer=order_customer(order) or collective_customer(o))
            out.append(Voucher(reference=ref, date=business_day(parse_time(returned["created"])),
                               voucher_type=o.voucher_type, lines=entries.postings(), origin=ORIGIN,
                               description=f"Omnium retur {returned.get('rmaNumber') or return_id} på ordre {order_id}"))
        except _MappingProblem as exc:
            out.append(exc.problem)
        except (KeyError, ValueError, ArithmeticError) as exc:
            out.append(Problem(f"cannot book return: {exc}", reference=ref, code="invalid"))
    return out


def summary_reference(store: str, day: dt.date, options: BookingOptions) -> str:
    return f"{options.reference_prefix}-{store}-{day.isoformat()}"


def daily_summaries(
    orders: Iterable[Mapping[str, Any]],
    options: BookingOptions,
    *,
    days: Iterable[tuple[str, dt.date]] | None = None,
) -> list[Voucher | Problem]:
    """Mode "daily": one voucher per (store, Oslo business day) the orders touch, or only for `days`.

    Pass every order that touches the day (see `business_days_touched`); versions of the same order are
    reduced to the latest. A (store, day) with any order that cannot be booked yields that order's problem
    and no voucher, so a summary is never short by a silently skipped order.
    """
    o = options
    wanted = set(days) if days is not None else None
    groups: dict[tuple[str, dt.date], _Entries] = {}
    problems: dict[tuple[str, dt.date], list[Problem]] = defaultdict(list)

    def group(key: tuple[str, dt.date]) -> _Entries | None:
        if wanted is not None and key not in wanted:
            return None
        if key not in groups:
            collective = collective_customer(o)
            groups[key] = _Entries(o, o.department_by_store.get(key[0]),
                                   customers={o.receivable_account: collective} if collective else {})
        return groups[key]

    for order in latest_versions(orders):
        order_id = str(order.get("id"))
        store = str(order.get("storeId") or "")
        try:
            sale_key = (store, business_day(parse_time(order["created"])))
        except (KeyError, ValueError) as exc:
            problems[("", dt.date.min)].append(Problem(f"order without a valid created time: {exc}",
                                                       reference=f"{o.reference_prefix}-{order_id}"))
            continue
        if order.get("status") in o.excluded_statuses:
            continue
        entries = group(sale_key)
        if entries is not None:
            ref = f"{o.reference_prefix}-{order_id}"
            try:
                scratch = _Entries(o, entries.department)
                form = order["orderForm"]
                gross = _sale_entries(scratch, order, ref, -1)
                paid = _payment_entries(scratch, form.get("payments") or ())
                total = _dec(form.get("total"))
                _close(scratch, total=total, lines_gross=gross, received=paid, sign=-1, reference=ref, customer=None)
                _merge(entries, scratch)
            except _MappingProblem as exc:
                problems[sale_key].append(exc.problem)
            except (KeyError, ValueError, ArithmeticError) as exc:
                problems[sale_key].append(Problem(f"cannot book order: {exc}", reference=ref))
        for returned in order.get("returnOrderForms") or ():
            ref = f"{o.reference_prefix}-{order_id}-retur-{returned.get('returnId')}"
            try:
                rkey = (str(returned.get("storeId") or store), business_day(parse_time(returned["created"])))
                rentries = group(rkey)
                if rentries is None:
                    continue
                scratch = _Entries(o, rentries.department)
                gross = _sale_entries(scratch, returned, ref, +1)
                refunded = _payment_entries(scratch, returned.get("payments") or ())
                _close(scratch, total=_dec(returned.get("total")), lines_gross=gross, received=refunded, sign=+1,
                       reference=ref, customer=None)
                _merge(rentries, scratch)
            except _MappingProblem as exc:
                problems[rkey].append(exc.problem)
            except (KeyError, ValueError, ArithmeticError) as exc:
                problems[(store, dt.date.min)].append(Problem(f"cannot book return: {exc}", reference=ref))
    out: list[Voucher | Problem] = []
    for key in sorted(set(groups) | set(problems)):
        if problems.get(key):
            out.extend(problems[key])
            continue
        store, day = key
        postings = groups[key].postings()
        if not postings:
            continue
        out.append(Voucher(reference=summary_reference(store, day, o), date=day, voucher_type=o.voucher_type,
                           description=f"Omnium dagsoppgjør {store} {day.isoformat()}", lines=postings,
                           origin=ORIGIN))
    return out


def _merge(into: _Entries, scratch: _Entries) -> None:
    for key, (amount, vat) in scratch.amounts.items():
        slot = into.amounts[key]
        slot[0] += amount
        slot[1] += vat
    for posting in scratch.extra:  # summary: the receivable is one line per day, without a customer
        into.add(posting.account, posting.amount, posting.description or "Utestående")


def documents(orders: Iterable[Mapping[str, Any]], options: Mapping[str, Any] | BookingOptions | None = None,
              *, days: Iterable[tuple[str, dt.date]] | None = None) -> list[Voucher | Problem]:
    """The mapping entry point: orders (as Omnium sends them) → vouchers and problems, per the tenant's mode."""
    o = options if isinstance(options, BookingOptions) else BookingOptions.from_options(options)
    if o.mode == "daily":
        return daily_summaries(orders, o, days=days)
    out: list[Voucher | Problem] = []
    for order in latest_versions(orders):
        out.extend(order_vouchers(order, o))
    return out


