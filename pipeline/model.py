"""The shared form: Bilagsbro's one canonical, public model of vouchers, sales invoices and payments.

Every source translates into these types and every target adapts from them. They are frozen,
money is `Decimal` (never built from a float), collections are tuples, and the invariants that make
a document bookable (a voucher balances, an invoice's total is the sum of its lines) live here, so
that no later stage can meet a document that breaks them.

VAT convention (see docs/decisions/0001-vat-in-the-shared-form.md):
a line's `amount` is always the gross amount, VAT included. `vat_code` is the SAF-T standard VAT
code. `vat_amount`, when present, is the VAT part included in `amount` as the source computed it.
Sources that post VAT on separate lines (SAF-T Financial) fold those postings into the lines they
belong to; targets that compute VAT themselves (Tripletex) receive the gross amount and the code;
targets that take explicit VAT lines split them out again.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pipeline.norway.identifiers import normalise_organisation_number, valid_organisation_number
from pipeline.norway.kid import valid_kid
from pipeline.norway.vat import VAT_CODES

CENT = Decimal("0.01")
_AMOUNT = re.compile(r"^-?\d{1,15}(\.\d{1,2})?$")
_QUANTITY = re.compile(r"^-?\d{1,12}(\.\d{1,6})?$")

TARGET_TERMS = {"terms": "target"}
"""Validation context for a document adapted to a target: its VAT codes are the target's, no longer SAF-T's.

The shared form itself always carries SAF-T standard VAT codes (checked on every source, before any
rule); a tenant's `vat_map` then renames them into its accounting system's codes, and a document in
those terms is validated with this context (see docs/decisions/0002-what-intake-refuses.md).
"""


def _parse_amount(value: Any) -> Decimal:
    """Money enters as a decimal string (or an exact Decimal from our own parsers), never a float."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("amount must be a decimal string such as \"1250.00\", not a number")
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("amount must be a finite decimal")
        if value and value.adjusted() > 14:  # more digits than money has (and quantize would overflow)
            raise ValueError(f"amount {value} has more than 15 digits before the decimal point")
        if value != value.quantize(CENT):
            raise ValueError(f"amount {value} has more than two decimals")
        return value.quantize(CENT)
    if not isinstance(value, str):
        raise ValueError("amount must be a decimal string such as \"1250.00\"")
    text = value.strip()
    if not _AMOUNT.match(text):
        raise ValueError(
            f"amount {value!r} is not a decimal string with at most two decimals, "
            "point as decimal separator (e.g. \"-1250.00\")"
        )
    try:
        return Decimal(text).quantize(CENT)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid numbers
        raise ValueError(f"amount {value!r} is not a number") from exc


Money = Annotated[
    Decimal,
    BeforeValidator(_parse_amount),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="always"),
    WithJsonSchema({"anyOf": [
        {"type": "string", "pattern": _AMOUNT.pattern, "examples": ["1250.00", "-1250.00"]},
        {"type": "number", "description": "read exactly as written (never through a float); a string is better"},
    ]}),
]
"""A signed amount in the document's currency: debit positive, credit negative, two decimals."""


def _parse_quantity(value: Any) -> Decimal:
    """A decimal count (hours, kilos, pieces): like money, never from a float, and never a comma."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("quantity must be a decimal string such as \"1.5\", not a float or boolean")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("quantity must be a finite decimal")
        value = str(value)
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not _QUANTITY.match(value.strip()):
        raise ValueError(
            f"quantity {value!r} is not a decimal number with at most six decimals, point as decimal "
            "separator (e.g. \"1.5\")"
        )
    return Decimal(value.strip())


Quantity = Annotated[
    Decimal,
    BeforeValidator(_parse_quantity),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="always"),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": _QUANTITY.pattern, "examples": ["1", "1.5"]},
                              {"type": "number"}], "default": "1"}),
]


def _date_text(value: Any) -> Any:
    # pydantic reads a number as Unix time; a document's date is written out, never counted in seconds.
    if isinstance(value, (int, float, Decimal)):
        raise ValueError("a date is a string YYYY-MM-DD, not a number")
    return value


Day = Annotated[dt.date, BeforeValidator(_date_text)]


def _saft_vat_code(value: str | None, info: ValidationInfo) -> str | None:
    """A SAF-T standard VAT code, unless the document is already in its target's terms."""
    if value is None or (info.context or {}).get("terms") == "target":
        return value
    code = value.strip()
    if code not in VAT_CODES:
        raise PydanticCustomError(
            "unknown_vat_code",
            "vat_code '{code}' is not a SAF-T standard VAT code (known: {known}); a source's own codes "
            "are mapped to them with its vat_map",
            {"code": value, "known": ", ".join(VAT_CODES)},
        )
    return code


def _kid(value: str | None) -> str | None:
    if value is None:
        return None
    if not valid_kid(value):
        raise PydanticCustomError(
            "invalid_kid", "kid '{kid}' fails both the MOD10 and the MOD11 check digit", {"kid": value})
    return value.strip()


_VAT_CODE_SCHEMA = {"type": "string", "enum": list(VAT_CODES)}


def _no_blank(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
    return value


Text = Annotated[str, BeforeValidator(_no_blank)]

_FROZEN = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Address(BaseModel):
    """A postal address; Norwegian postal codes are four digits, other countries vary."""

    model_config = _FROZEN

    lines: tuple[str, ...] = ()
    postal_code: str | None = None
    city: str | None = None
    country: str = Field("NO", description="ISO 3166-1 alpha-2 country code")


class Party(BaseModel):
    """A customer or supplier as the source knows it; matched to the target's register on adapt."""

    model_config = _FROZEN

    number: Text | None = Field(None, description="The party's number in the source system")
    name: Text | None = None
    organization_number: str | None = Field(
        None, description="Norwegian organisation number (9 digits) for businesses"
    )
    email: str | None = None
    phone: str | None = Field(
        None, description="Telephone number; kept as E.164 (`+4791234567`), eight digits read as Norwegian"
    )
    address: Address | None = None
    delivery_method: Literal["email", "ehf", "paper"] | None = Field(
        None, description="How the customer wants invoices: e-mail, EHF (Peppol e-invoice, needs an organisation "
                          "number registered for it) or paper")

    @model_validator(mode="after")
    def _identified(self) -> Party:
        if not (self.number or self.name or self.organization_number or self.email or self.phone):
            raise ValueError("a customer or supplier needs a number, name, organization_number, email or phone")
        return self

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from pipeline.norway.phone import normalise_phone

        normalised = normalise_phone(value)
        if normalised is None:
            raise ValueError(f"phone {value!r} is not a telephone number (+ and country code, or eight digits)")
        return normalised

    @field_validator("organization_number")
    @classmethod
    def _org_digits(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = normalise_organisation_number(value)
        if not re.fullmatch(r"\d{9}", digits):
            raise ValueError(f"organization_number {value!r} is not nine digits")
        if not valid_organisation_number(digits):
            raise ValueError(f"organization_number {value!r} fails its MOD11 check digit (a typo?)")
        return digits


class Origin(BaseModel):
    """Where a document came from, so that every problem and trace can point back to the source."""

    model_config = _FROZEN

    format: str = Field(..., description="Source format, e.g. 'api', 'gbat10', 'saft-cash-register'")
    file: str | None = None
    line: int | None = Field(None, description="First line (1-based) of the document in the file")


Dimensions = dict[str, str]


class Posting(BaseModel):
    """One line of a voucher: an amount on an account, with VAT and dimensions."""

    model_config = _FROZEN

    account: Text = Field(..., description="Account number in the source's chart (NS 4102 by default)")
    amount: Money
    description: str | None = None
    vat_code: Annotated[str | None, WithJsonSchema({"anyOf": [_VAT_CODE_SCHEMA, {"type": "null"}]})] = Field(
        None, description="SAF-T standard VAT code; amount is gross when set")
    vat_amount: Money | None = Field(None, description="VAT included in amount, as the source computed it")
    dimensions: dict[str, Text] = Field(
        default_factory=dict,
        description="Analysis dimensions: 'department', 'project', or any the tenant maps",
    )
    customer: Party | None = None
    supplier: Party | None = None
    kid: str | None = Field(None, description="Norwegian payment reference (KID), MOD10 or MOD11")
    invoice_number: str | None = None
    due_date: Day | None = None

    _vat_code = field_validator("vat_code")(_saft_vat_code)
    _valid_kid = field_validator("kid")(_kid)

    @model_validator(mode="after")
    def _vat_consistent(self) -> Posting:
        if self.vat_amount is not None:
            if self.vat_code is None:
                raise ValueError("vat_amount is given without a vat_code")
            if self.amount != 0 and abs(self.vat_amount) > abs(self.amount):
                raise ValueError("vat_amount exceeds the gross amount")
            if self.amount * self.vat_amount < 0:
                raise ValueError("vat_amount has the opposite sign of amount")
        if self.customer is not None and self.supplier is not None:
            raise ValueError("a line has either a customer or a supplier, not both")
        return self


class _Document(BaseModel):
    model_config = _FROZEN

    reference: Text = Field(
        ...,
        max_length=200,
        description="Unique per tenant and source; the idempotency key for delivery",
    )
    date: Day
    description: str | None = None
    currency: str = Field("NOK", pattern=r"^[A-Z]{3}$")
    origin: Origin | None = Field(None, description="Set by Bilagsbro: where the document came from")


class Voucher(_Document):
    """A balanced set of postings on one date: a bilag."""

    type: Literal["voucher"] = "voucher"
    voucher_type: str | None = Field(
        None, description="Voucher series in the source, e.g. 'cash', 'sales'; mapped per tenant"
    )
    lines: tuple[Posting, ...] = Field(..., min_length=2)

    @model_validator(mode="after")
    def _balances(self) -> Voucher:
        total = sum((line.amount for line in self.lines), Decimal("0"))
        if total != 0:
            raise ValueError(f"voucher does not balance: lines sum to {total:.2f}, not 0.00")
        if all(line.amount == 0 for line in self.lines):
            # Decision 0002: a voucher that moves no money is refused, not booked with a warning.
            raise PydanticCustomError("zero_voucher", "every line is 0.00: a voucher must move an amount")
        return self


class InvoiceLine(BaseModel):
    """One line of a sales invoice; amount is gross (VAT included), negative on a credit note."""

    model_config = _FROZEN

    description: Text
    amount: Money
    quantity: Quantity = Decimal("1")
    unit_price: Money | None = Field(None, description="Gross price per unit, VAT included")
    product: str | None = None
    account: str | None = Field(None, description="Revenue account; the tenant's rules decide if absent")
    vat_code: Annotated[str, WithJsonSchema(_VAT_CODE_SCHEMA)] = Field(
        "3", description="SAF-T standard VAT code (3 = output VAT, regular rate)")
    vat_amount: Money | None = None
    dimensions: dict[str, Text] = Field(default_factory=dict)

    _vat_code = field_validator("vat_code")(_saft_vat_code)


class SalesInvoice(_Document):
    """An invoice to a customer; a credit note is a sales invoice that `credits` another."""

    type: Literal["sales_invoice"] = "sales_invoice"
    invoice_number: Text
    customer: Party
    due_date: Day | None = None
    kid: str | None = None
    credits: str | None = Field(None, description="Invoice number this credit note credits")
    payment_method: str | None = Field(None, description="How the customer pays, e.g. 'card', 'vipps', 'bank', "
                                                         "'invoice'; the tenant's terms give the due date by it")
    receivable_account: str = Field("1500", description="Customer ledger account (NS 4102: 1500)")
    total: Money = Field(..., description="Gross total; must equal the sum of the lines")
    lines: tuple[InvoiceLine, ...] = Field(..., min_length=1)

    _valid_kid = field_validator("kid")(_kid)

    @model_validator(mode="after")
    def _total_matches(self) -> SalesInvoice:
        total = sum((line.amount for line in self.lines), Decimal("0"))
        if total != self.total:
            raise ValueError(f"invoice total {self.total:.2f} differs from the sum of its lines {total:.2f}")
        if self.credits is not None and self.total > 0:
            raise ValueError("a credit note (credits is set) must have a negative or zero total")
        if self.due_date is not None and self.due_date < self.date:
            raise ValueError("due_date is before the invoice date")
        return self


class Payment(_Document):
    """Money received for an invoice: settles the customer's receivable against a bank account."""

    type: Literal["payment"] = "payment"
    amount: Money = Field(..., description="Amount received; negative for a refund")
    invoice_number: str | None = None
    kid: str | None = None
    customer: Party | None = None
    payment_method: str | None = Field(None, description="e.g. 'card', 'vipps', 'bank'; mapped per tenant")
    bank_account: str = Field("1920", description="Ledger account the money lands on")
    receivable_account: str = Field("1500")

    _valid_kid = field_validator("kid")(_kid)

    @model_validator(mode="after")
    def _identifies_what_is_paid(self) -> Payment:
        if not (self.invoice_number or self.kid or self.customer):
            raise ValueError("a payment needs an invoice_number, a kid or a customer")
        if self.amount == 0:
            raise ValueError("a payment of 0.00 settles nothing")
        return self


Document = Annotated[Voucher | SalesInvoice | Payment, Field(discriminator="type")]
"""Any shared-form document, told apart by its `type`."""

DOCUMENT_TYPES: dict[str, type[BaseModel]] = {
    "voucher": Voucher,
    "sales_invoice": SalesInvoice,
    "payment": Payment,
}
