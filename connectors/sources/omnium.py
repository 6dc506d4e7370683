"""Omnium OMS: pull changed orders over the REST API and turn them into sales vouchers for the books.

API: https://docs.omnium.no/docs/GettingStartedWithAPI/api-developer-guide (swagger at
https://api.omnium.no/documentation/orders; facts we rely on: /work/shared/reference/target-apis.md §9).
Read top to bottom: constants, booking options, pure mapping functions (orders → vouchers), the token auth
as an `httpx.Auth` flow, the client, and `connect` (settings + secret → client).

Two ways into the books, chosen per tenant (`options["mode"]`):
- `"order"`: one sales voucher per order, reference `omnium-<order id>`, dated the Oslo business day the order
  was created; and one voucher per return order form, reference `omnium-<order id>-retur-<return id>`, dated
  the day of the return. A *changed* order maps to the same reference again: the ledger (keyed on reference)
  reports it as already delivered and nothing is posted twice. We do not invent correction postings: the
  events Omnium records explicitly (returns) get their own vouchers; any other later edit of a posted order
  is reported by the ledger as a duplicate for an operator to look at.
- `"daily"` (default): one voucher per store per Europe/Oslo business day, reference
  `omnium-<store>-<yyyy-mm-dd>`: sales per account and VAT code (gross, credit negative, with the VAT as
  Omnium computed it per line), discounts as debit lines on the same accounts (or `discount_account`),
  shipping, gift cards sold as a liability (`gift_card_account`, default 2900 "Forskudd fra kunder": a gift
  card is prepaid by the customer and is not revenue until redeemed; redeeming one is a payment method that
  debits the same account), payments per payment method (debit), and returns of that day as debit lines
  on the sales accounts with the refunds as credits. Orders count on the day they were created; returns on
  the day they were created. A day's summary is built once (by the caller, after the day has closed); an
  order changed after that keeps its summary (same reference, ledger duplicate) — a return on it lands in
  the summary of the return's own day.

Money is Decimal end to end: the client parses JSON numbers with `parse_float=Decimal`. A voucher balances
by construction; the only balancing line is `rounding_account`, for Omnium's `grossRoundoff` (cash paid in
whole kroner) and any other difference up to `max_rounding` between the order total and its lines; a larger
difference is a `Problem`, not a voucher.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from pipeline.errors import BilagsbroError, ConfigError, DataError, Problem, TransientError
from pipeline.model import Origin, Party, Posting, Voucher
from pipeline.ports import NotFound, SecretStore

NAME = "omnium"
OSLO = ZoneInfo("Europe/Oslo")
TAKE = 100  # Search answers 400 above 100 per page
SEARCH_WINDOW = 10_000  # take * page may not exceed this; past it, Scroll
SCROLL_TAKE = 100  # [unverified] the largest page a scroll allows; 100 is always accepted
TOKEN_RENEW_BEFORE = dt.timedelta(minutes=1)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
ORIGIN = Origin(format="omnium")

# -- booking options -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookingOptions:
    """How one tenant books Omnium orders; `from_options` reads the tenant's `options` mapping."""

    mode: str = "daily"  # "daily" (one summary per store and business day) or "order" (one voucher per order)
    sales_accounts: Mapping[str, str] = field(
        default_factory=lambda: {"25": "3000", "15": "3010", "12": "3020", "0": "3100"}
    )  # VAT rate (percent, as text) → revenue account
    vat_codes: Mapping[str, str] = field(default_factory=lambda: {"25": "3", "15": "31", "12": "33", "0": "5"})
    discount_account: str | None = None  # None: discounts go on the line's sales account, as separate lines
    shipping_account: str | None = None  # None: the sales account for the shipping VAT rate
    payment_accounts: Mapping[str, str] = field(default_factory=lambda: {"Cash": "1900"})
    payment_account: str = "1920"  # for payment methods not in payment_accounts
    gift_card_account: str = "2900"
    gift_card_product_types: tuple[str, ...] = ("GiftCard",)
    gift_card_payment_methods: tuple[str, ...] = ("GiftCard",)
    receivable_account: str = "1500"  # what is neither paid nor refunded yet
    rounding_account: str = "7790"
    max_rounding: Decimal = Decimal("1.00")
    excluded_statuses: tuple[str, ...] = ("Cancelled",)
    department_by_store: Mapping[str, str] = field(default_factory=dict)
    reference_prefix: str = "omnium"
    voucher_type: str = "sales"

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> BookingOptions:
        options = dict(options or {})
        unknown = set(options) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown Omnium booking option(s): {', '.join(sorted(unknown))}", connector=NAME)
        if options.get("mode", "daily") not in ("daily", "order"):
            raise ConfigError("Omnium option 'mode' must be 'daily' or 'order'", connector=NAME)
        for name in ("gift_card_product_types", "gift_card_payment_methods", "excluded_statuses"):
            if name in options:
                options[name] = tuple(options[name])
        if "max_rounding" in options:
            options["max_rounding"] = Decimal(str(options["max_rounding"]))
        for name in ("sales_accounts", "vat_codes"):
            if name in options:  # merge over the defaults, so a tenant can change one rate
                options[name] = {**getattr(cls(), name), **{_rate_key(k): v for k, v in options[name].items()}}
        payment_accounts = {**cls().payment_accounts, **options.get("payment_accounts", {})}
        options["payment_accounts"] = payment_accounts
        return cls(**options)


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
                    vat_amount=vat if code is not None else None, dimensions=dims)
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


def _customer(order: Mapping[str, Any]) -> Party | None:
    number = order.get("customerNumber") or order.get("customerId")
    name = order.get("customerName")
    if not (number or name):
        return None
    return Party(number=number or None, name=name or None, email=order.get("customerEmail") or None)


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
               reference=reference, customer=_customer(order))
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
                   reference=ref, customer=_customer(order))
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
            groups[key] = _Entries(o, o.department_by_store.get(key[0]))
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


# -- errors ----------------------------------------------------------------------------------------

_REMEDY: dict[int, type[BilagsbroError]] = {
    400: DataError, 401: ConfigError, 403: ConfigError, 404: DataError, 409: DataError, 422: DataError,
    429: TransientError, 500: TransientError, 502: TransientError, 503: TransientError, 504: TransientError,
}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def error_for(response: httpx.Response, *, tenant: str | None = None, what: str = "Omnium request") -> BilagsbroError:
    """One place that turns an Omnium answer into an error split by remedy."""
    try:
        body = response.json()
        message = body.get("detail") or body.get("title") or body.get("message") if isinstance(body, dict) else str(body)
    except ValueError:
        message = response.text[:500]
    kind = _REMEDY.get(response.status_code, TransientError if response.status_code >= 500 else DataError)
    return kind(f"{what} failed with HTTP {response.status_code}", tenant=tenant, connector=NAME,
                status=response.status_code, provider_message=str(message) if message else None,
                request_id=response.headers.get("x-request-id"), retry_after=_retry_after(response))


# -- auth ------------------------------------------------------------------------------------------


class OmniumToken(httpx.Auth):
    """Bearer token from `POST /api/Token`, fetched on first use, renewed before expiry and after a 401."""

    requires_response_body = True

    def __init__(self, client_id: str, client_secret: str, *, tenant: str | None = None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._tenant = tenant
        self._clock = clock
        self._token: str | None = None
        self._expires = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._lock = threading.Lock()
        self.renewals = 0

    def _token_request(self, request: httpx.Request) -> httpx.Request:
        url = request.url.copy_with(path="/api/Token", query=None).copy_merge_params(
            {"clientId": self._client_id, "clientSecret": self._client_secret, "returnAsJson": "true"})
        return httpx.Request("POST", url)

    def _store(self, response: httpx.Response) -> None:
        if response.status_code in (400, 401, 403):
            raise ConfigError("Omnium refused the API user's client id or secret", tenant=self._tenant,
                              connector=NAME, status=response.status_code, provider_message=response.text[:300])
        if response.status_code != 200:
            raise error_for(response, tenant=self._tenant, what="Omnium token request")
        body = response.json()
        with self._lock:
            self._token = body["accessToken"]
            self._expires = self._clock() + dt.timedelta(seconds=int(body.get("expiresIn", 0)))
            self.renewals += 1

    def _current(self) -> str | None:
        with self._lock:
            if self._token is None or self._clock() >= self._expires - TOKEN_RENEW_BEFORE:
                return None
            return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._current()
        if token is None:
            self._store((yield self._token_request(request)))
            token = self._current() or self._token
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:  # revoked or expired early: one fresh token, one more try
            self._store((yield self._token_request(request)))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request


# -- the client ------------------------------------------------------------------------------------


class OmniumClient:
    """Reads orders from one Omnium tenant; the change feed `pipeline.pull` consumes (`changed`, `key`)."""

    page_size = TAKE

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        tenant: str | None = None,
        stores: Sequence[str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 6,
        max_wait: float = 60.0,
        search_window: int = SEARCH_WINDOW,
        timeout: float = 30.0,
    ) -> None:
        self.tenant = tenant
        self.stores = list(stores) if stores else None
        self.auth = OmniumToken(client_id, client_secret, tenant=tenant)
        self._http = httpx.Client(base_url=base_url.rstrip("/"), auth=self.auth, transport=transport,
                                  timeout=timeout, headers={"Accept": "application/json"})
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._max_wait = max_wait
        self.search_window = search_window
        self.waits: list[float] = []  # every back-off taken, for the trace and for tests

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OmniumClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One call, retried on 429 and 503 after Retry-After (or exponential back-off); reads are idempotent."""
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = self._http.request(method, path, json=body)
            except httpx.TransportError as exc:
                raise TransientError(f"Omnium unreachable: {exc}", tenant=self.tenant, connector=NAME) from exc
            if response.status_code == 200:
                return dict(json.loads(response.content, parse_float=Decimal))
            error = error_for(response, tenant=self.tenant, what=f"Omnium {method} {path}")
            if response.status_code not in (429, 503) or attempt == self._max_attempts:
                raise error
            wait = error.retry_after if error.retry_after is not None else min(2.0 ** attempt, self._max_wait)
            wait = min(wait, self._max_wait)
            self.waits.append(wait)
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def search(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /api/Orders/Search`: one page, `{result, totalHits, …}`."""
        return self._send("POST", "/api/Orders/Search", {"disableFacets": True, **request})

    def _window(self, modified_from: dt.datetime | None, modified_to: dt.datetime | None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if modified_from is not None:
            body["modifiedFrom"] = modified_from.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        if modified_to is not None:
            body["modifiedTo"] = modified_to.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        if self.stores:
            body["selectedStores"] = self.stores
        return body

    def changed(self, since: dt.datetime, until: dt.datetime, *, page: int = 0) -> list[dict[str, Any]]:
        """Orders with since ≤ modified ≤ until, oldest change first, one page of `page_size`."""
        body = {**self._window(since, until), "sortOrder": "ModifiedAscending", "take": self.page_size, "page": page}
        return list(self.search(body).get("result") or [])

    @staticmethod
    def key(order: Mapping[str, Any]) -> tuple[dt.datetime, str]:
        return order_key(order)

    def orders(self, *, modified_from: dt.datetime | None = None, modified_to: dt.datetime | None = None,
               **filters: Any) -> Iterator[list[dict[str, Any]]]:
        """Every order in a window, page by page: Search while it can page, Scroll when the window holds more.

        Search stops at take * page ≤ 10,000; a window with more hits is read through a scroll, which is
        also a consistent snapshot.
        """
        body = {**self._window(modified_from, modified_to), "sortOrder": "ModifiedAscending", **filters}
        first = self.search({**body, "take": TAKE, "page": 0})
        if int(first.get("totalHits") or 0) > self.search_window:
            yield from self.scroll(body)
            return
        page, result = 0, list(first.get("result") or [])
        while result:
            yield result
            if len(result) < TAKE:
                return
            page += 1
            if TAKE * page > self.search_window:  # the window grew past Search's reach while we paged
                raise TransientError("Omnium search window grew past 10,000 hits while paging; retry",
                                     tenant=self.tenant, connector=NAME)
            result = list(self.search({**body, "take": TAKE, "page": page}).get("result") or [])

    def scroll(self, request: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """`POST /api/Orders/Scroll`, then `GET /api/Orders/Scroll/{scrollId}` until `result` is empty."""
        answer = self._send("POST", "/api/Orders/Scroll", {**request, "take": SCROLL_TAKE})
        while answer.get("result"):
            yield list(answer["result"])
            scroll_id = answer.get("scrollId")
            if not scroll_id:
                return
            answer = self._send("GET", f"/api/Orders/Scroll/{scroll_id}")


def connect(settings: Mapping[str, Any], secrets: SecretStore, *, tenant: str | None = None,
            **client_options: Any) -> OmniumClient:
    """The client for one tenant from its settings and the secret store.

    settings: `base_url` (e.g. https://api.omnium.no, https://apitest.omnium.no), `client_id`,
    `client_secret_name` (the secret's name in the store; default `omnium-client-secret`), optional `stores`.
    """
    base_url = settings.get("base_url")
    client_id = settings.get("client_id")
    if not base_url or not client_id:
        raise ConfigError("Omnium needs settings base_url and client_id", tenant=tenant, connector=NAME)
    secret_name = str(settings.get("client_secret_name") or "omnium-client-secret")
    try:
        secret = secrets.get(secret_name)
    except NotFound:
        raise ConfigError(f"secret {secret_name!r} (Omnium client secret) is missing", tenant=tenant,
                          connector=NAME) from None
    return OmniumClient(str(base_url), str(client_id), secret, tenant=tenant, stores=settings.get("stores"),
                        **client_options)


# -- the scheduled pull's view of Omnium (pipeline.ports.PulledSource) ------------------------------


class OmniumSource:
    """Omnium orders as a pulled source: one voucher per order, or daily summaries per store."""

    name = NAME

    def feed(self, settings: Mapping[str, Any], secrets: SecretStore, *, tenant: str) -> OmniumClient:
        return connect(settings, secrets, tenant=tenant)

    def identity(self, item: Mapping[str, Any]) -> str:
        modified, order_id = order_key(item)
        safe = re.sub(r"[^0-9A-Za-z_.-]", "_", order_id)
        return f"{safe}@{modified.astimezone(dt.UTC):%Y%m%dT%H%M%S%f}"

    def dump(self, item: Mapping[str, Any]) -> bytes:
        return order_json(item)

    def load(self, data: bytes) -> dict[str, Any]:
        return read_order(data)

    def periods(self, item: Mapping[str, Any], options: Mapping[str, Any]) -> set[tuple[str, dt.date]]:
        if BookingOptions.from_options(options).mode == "order":
            return set()
        return business_days_touched(item)

    def period_end(self, day: dt.date) -> dt.datetime:
        return business_day_end(day)

    def documents(self, items: Sequence[Mapping[str, Any]], options: Mapping[str, Any],
                  periods: Sequence[tuple[str, dt.date]] | None = None) -> list[Voucher | Problem]:
        return documents(items, options, days=periods)


PULLED = OmniumSource()
