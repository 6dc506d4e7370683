"""Who an Omnium order's customer is, as a party an accounting system can find (or create) again.

Omnium's `customerId` is "typically set to the customer's phone number" and `customerNumber` "in most cases
the same value" (OmniumOrder in the swagger mirror, reference/target-apis.md §9); `customerPhone` carries the
number "with prefix, e.g. +4740000000". So an id is read as what it is — a phone number or an e-mail — and only
otherwise as a customer number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pipeline.model import Address, Party
from pipeline.norway.identifiers import normalise_organisation_number, valid_organisation_number
from pipeline.norway.phone import is_mobile, normalise_phone

if TYPE_CHECKING:
    from connectors.sources.omnium.booking import BookingOptions


def collective_customer(o: BookingOptions) -> Party | None:
    """The tenant's collective customer (booking option `collective_customer`), or None."""
    if not o.collective_customer:
        return None
    return Party(number=o.collective_customer, name=o.collective_customer_name)


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _as_phone(value: str) -> str | None:
    """An Omnium customer id that is a phone number: '+4740000000' (Omnium's own example), '004740000000',
    or eight digits beginning with 4 or 9 (a Norwegian mobile number: "typically the customer's phone number")."""
    phone = normalise_phone(value)
    if phone is None:
        return None
    digits = value.strip()
    if digits.startswith(("+", "00")) or is_mobile(phone):
        return phone
    return None


def order_customer(order: Mapping[str, Any]) -> Party | None:
    """The order's customer as a party the accounting system can find (or create) by number, organisation
    number, e-mail or phone. Omnium's `customerId` (and often `customerNumber`) is typically the customer's
    phone number or e-mail: such an id is read as what it is, not as a customer number."""
    billing = order.get("billingAddress") or {}
    email = _text(order.get("customerEmail")) or _text(billing.get("email"))
    phone_text = _text(order.get("customerPhone")) or _text(billing.get("phone"))
    phone = normalise_phone(phone_text) if phone_text else None
    number = None
    for value in (_text(order.get("customerNumber")), _text(order.get("customerId"))):
        if value is None:
            continue
        if "@" in value:
            email = email or value
        elif (as_phone := _as_phone(value)) is not None:
            phone = phone or as_phone
        else:
            number = number or value
    org_text = _text(billing.get("organizationalNumber"))
    organization = normalise_organisation_number(org_text) if org_text and valid_organisation_number(org_text) else None
    name = _text(order.get("customerName")) or _text(billing.get("organization")) or _text(billing.get("name"))
    if not (number or name or email or phone or organization):
        return None
    lines = tuple(line for line in (_text(billing.get("line1")), _text(billing.get("line2"))) if line)
    address = Address(lines=lines, postal_code=_text(billing.get("postalCode")), city=_text(billing.get("city")),
                      country=_text(billing.get("countryCode")) or "NO") if lines or billing.get("city") else None
    return Party(number=number, name=name, organization_number=organization, email=email, phone=phone,
                 address=address)
