"""SAF-T Cash Register 1.00: the export every Norwegian till must produce, booked as daily settlements.

Format: Skatteetaten's `Norwegian_SAF-T_Cash_Register_Schema_v_1.00.xsd` and code lists
(https://github.com/Skatteetaten/saf-t, folder "Cash Register"; our copies: ../shared/specs/saf-t/).
`auditfile/company/location/cashregister/cashtransaction` holds each receipt: `ctLine`s (gross
`lineAmntIn`, with `vat/vatCode` in the till's own codes, mapped to SAF-T standard codes by
`company/vatCodeDetails`), `rounding/roundingAmnt` and `payment`s (`paymentType` is a `basicID` of
basicType 12, whose `predefinedBasicID` says cash 12001, debit card 12002, gift token 12005, ...).

One voucher per register (or per location, `group_by="location"`) and business day (`transDate`),
reference `saft-cr-<companyIdent>-<registerID or location>-<yyyy-mm-dd>`:
- sales per revenue account and VAT code, credit (negative), gross, with `vat_amount`; returns are
  negative `lineAmntIn` in the same lines, so they reduce the sales;
- payments per account, debit; rounding as the file states it (`-roundingAmnt`) on the rounding account.
Signs: the official example writes a return as `-16.40` with `amntTp` D, a sale as `32.80` C. We take the
sign of the number, except that a positive amount marked D is made negative (tills that write unsigned
amounts with a side marker). Void (`voidTransaction`) and training (`trainingID`) receipts are left out,
and so are opening-float declarations (predefined 11007) by default (`skip_transaction_types`).

Each receipt must balance on its own (lines + rounding = payments): we never invent a plug. A receipt
that does not, or that has a bad value or an unmapped VAT code or payment type, is a `Problem` with its
line, and the settlement of its register and day is withheld as a whole (`code="incomplete-settlement"`):
a daily settlement missing a receipt would book too little revenue without anyone noticing. A receipt
whose `transDate` is unreadable could belong to any day, so every settlement of its register is withheld.
Transaction-level `discount`/`raise`/`vat` are summaries of the lines and are not booked separately (the
balance check catches a till whose lines do not already include them). When the XML breaks, settlements
of registers closed before the break come through; the open one is withheld.

Accounts, in order: the tenant's `options` (`article_group_accounts` by `artGroupID`, `sales_accounts` by
standard VAT code, `payment_accounts` by `paymentType` or predefined code, `rounding_account`), then the
account the till wrote (`lineAmntInAccID`, `payment/accID`, `rounding/accID`), then the defaults below
(the same as the Omnium daily summary's, so a tenant's tills and web shop land alike).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any, Literal

from lxml import etree
from pydantic import Field, ValidationError

from connectors.sources.saft_common import (
    ZERO,
    FieldError,
    amount,
    child,
    children,
    date,
    iterparse,
    local,
    release,
    root_name,
    syntax_line,
    text,
)
from pipeline import checked
from pipeline.descriptors import Code, FormatDescriptor, Settings
from pipeline.errors import Problem
from pipeline.model import Origin, Posting, Voucher

NAME = "saft-cash-register"
NAMESPACE = "urn:StandardAuditFile-Taxation-CashRegister:NO"

SALES_ACCOUNTS = {
    "3": "3000",
    "31": "3010",
    "33": "3020",
    "32": "3000",
    "5": "3100",
    "51": "3100",
    "52": "3100",
    "6": "3200",
}  # standard VAT code → NS 4102 revenue
PAYMENT_ACCOUNTS = {  # PredefinedBasicID-12 → account; loyalty, bottle deposit and "other" need the tenant
    "12001": "1900",  # cash
    "12002": "1920",  # debit card: settled to the bank
    "12003": "1920",  # credit card
    "12004": "1920",  # bank account
    "12005": "2900",  # gift token: redeems "Forskudd fra kunder"
    "12006": "1500",  # customer account: a receivable
    "12009": "1920",  # cheque
    "12010": "2900",  # credit note (tilgodelapp): a prepayment owed to the customer
    "12011": "1920",  # mobile apps (Vipps, ...)
}
ROUNDING_ACCOUNT = "7790"
STANDARD_VAT_CODES = frozenset(
    "0 1 11 12 13 14 15 20 21 22 3 31 32 33 5 51 52 6 7 81 82 83 84 85 86 87 88 89 91 92".split()
)  # Standard_Tax_Codes.csv
SKIP_TRANSACTION_TYPES = ("11007",)  # cash declaration: the opening float is counted, not sold

_TAGS = (
    "company",
    "companyIdent",
    "curCode",
    "vatCodeDetail",
    "basic",
    "location",
    "name",
    "cashregister",
    "registerID",
    "cashtransaction",
)
_REFERENCE_UNSAFE = re.compile(r"[^\w.\-]+")


class Rules(Settings):
    """How one tenant books its tills: the format's options (`FORMAT.settings`), read by `from_options`."""

    group_by: Literal["register", "location"] = Field("register", description=(
        "One daily settlement voucher per cash register (default) or per location"))
    sales_accounts: dict[str, Code] = Field(default_factory=dict, description="SAF-T standard VAT code → revenue account")
    article_group_accounts: dict[str, Code] = Field(default_factory=dict, description="artGroupID → revenue account")
    payment_accounts: dict[str, Code] = Field(default_factory=dict, description="paymentType or 12xxx → account")
    rounding_account: Code | None = Field(None, description="Cash rounding (default the file's, else 7790)")
    vat_codes: dict[str, Code] = Field(default_factory=dict, description="The till's vatCode → SAF-T standard code")
    skip_transaction_types: tuple[Code, ...] = Field(SKIP_TRANSACTION_TYPES, description=(
        "transType or predefined 11xxx codes left out (default 11007, the opening float)"))
    voucher_type: str = Field("cash", max_length=40)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Rules:
        """The rules from a tenant's options; other formats' options beside them (vat_map) are not ours."""
        return cls.read({name: options[name] for name in cls.model_fields if name in options}, connector=NAME)


# -- the file's own master data, kept while the transactions stream past ---------------------------------


@dataclass
class _Basics:
    company: str = "unknown"
    currency: str = "NOK"
    vat_codes: dict[str, str] = field(default_factory=dict)  # till code → standard code
    predefined: dict[tuple[str, str], str] = field(default_factory=dict)  # (basicType, basicID) → 12xxx
    names: dict[tuple[str, str], str] = field(default_factory=dict)  # (basicType, basicID) → basicDesc


@dataclass
class _Settlement:
    """The running totals of one register (or location) and day."""

    reference: str
    day: dt.date
    label: str
    line: int | None
    sales: dict[tuple[str, str | None], list[Decimal]] = field(default_factory=dict)  # → [gross, vat]
    payments: dict[str, Decimal] = field(default_factory=dict)
    payment_names: dict[str, set[str]] = field(default_factory=dict)
    rounding: dict[str, Decimal] = field(default_factory=dict)
    broken: bool = False


def sniff(head: bytes, file_name: str) -> bool:
    """A SAF-T Cash Register file: root `auditfile` in the Cash Register namespace (or a bare `auditfile`)."""
    return NAMESPACE.encode() in head[:16384] or root_name(head) == "auditfile"  # Financial's is AuditFile


def parse(data: IO[bytes], *, file_name: str, options: Mapping[str, Any]) -> Iterator[Voucher | Problem]:
    """Daily settlements and problems; a file with nothing to book says so (silence looks like success)."""
    said = False
    for item in _parse(data, file_name=file_name, options=options):
        said = True
        yield item
    if not said:
        yield Problem("nothing to book in this SAF-T Cash Register file: no cash transactions, or only void, "
                      "training and opening-float ones, or days whose receipts cancel out", file=file_name,
                      code="empty")


def _parse(data: IO[bytes], *, file_name: str, options: Mapping[str, Any]) -> Iterator[Voucher | Problem]:
    rules = Rules.from_options(options)
    basics = _Basics()
    settlements: dict[str, _Settlement] = {}
    closed: set[str] = set()
    open_keys: set[str] = set()
    location_no = 0
    location_name: str | None = None
    register: str | None = None
    tainted: set[str] = set()
    try:
        for event, element in iterparse(data, _TAGS, events=("start", "end")):
            name = local(element.tag)
            parent = local(element.getparent().tag) if element.getparent() is not None else ""
            if event == "start":
                if name == "location":
                    location_no, location_name, register = location_no + 1, None, None
                elif name == "cashregister":
                    register = None
                continue
            if name == "companyIdent" and parent == "company":
                basics.company = (element.text or "").strip() or basics.company
            elif name == "curCode" and parent == "header":
                basics.currency = (element.text or "").strip() or basics.currency
            elif name == "vatCodeDetail":
                code, standard = text(element, "vatCode"), text(element, "standardVatCode")
                if code is not None and standard is not None:
                    basics.vat_codes[code] = standard
            elif name == "basic":
                key = (text(element, "basicType") or "", text(element, "basicID") or "")
                if (predefined := text(element, "predefinedBasicID")) is not None:
                    basics.predefined[key] = predefined
                if (desc := text(element, "basicDesc")) is not None:
                    basics.names[key] = desc
            elif name == "name" and parent == "location":
                location_name = (element.text or "").strip() or None
            elif name == "registerID" and parent == "cashregister":
                register = (element.text or "").strip() or None
            elif name == "cashtransaction":
                where = location_name or f"location-{location_no}"
                group = where if rules.group_by == "location" else (register or f"{where}-register")
                result = _transaction(element, group, rules, basics, file_name)
                release(element)
                if isinstance(result, Problem):  # not even its day is known: no day of its group is complete
                    tainted.add(group)
                    yield result
                    continue
                if result is None:
                    continue
                day, first_line, contribution = result
                reference = _reference(basics.company, group, day)
                settlement = settlements.get(reference)
                if settlement is None:
                    settlement = settlements[reference] = _Settlement(reference, day, group, first_line)
                open_keys.add(reference)
                if isinstance(contribution, Problem):
                    settlement.broken = True
                    yield contribution
                else:
                    _add(settlement, contribution)
            elif name == "cashregister" and rules.group_by == "register" or name == "location":
                closed |= open_keys
                open_keys = set()
    except etree.XMLSyntaxError as error:
        yield Problem(
            f"the XML breaks here: {error.msg}", file=file_name, line=syntax_line(error), code="malformed"
        )
        for reference in sorted(open_keys):
            yield Problem(
                "settlement withheld: the file breaks before this register's transactions end",
                file=file_name,
                line=settlements[reference].line,
                reference=reference,
                code="incomplete-settlement",
            )
    else:
        closed |= open_keys
    for reference, settlement in settlements.items():
        if reference not in closed:
            continue
        if settlement.broken or settlement.label in tainted:
            yield Problem(
                "settlement withheld: a transaction of this register and day is wrong (see above)"
                if settlement.broken
                else "settlement withheld: a transaction of this register has no valid date (see above)",
                file=file_name,
                line=settlement.line,
                reference=reference,
                code="incomplete-settlement",
            )
            continue
        yield from _voucher(settlement, rules, basics.currency, file_name)


# -- pure mapping: one cash transaction → its share of the day's settlement -----------------------------


@dataclass
class _Contribution:
    sales: list[tuple[str, str | None, Decimal, Decimal]]  # account, vat code, gross, vat
    payments: list[tuple[str, str, Decimal]]  # account, name, amount
    rounding: tuple[str, Decimal] | None


def _reference(company: str, group: str, day: dt.date) -> str:
    return _REFERENCE_UNSAFE.sub("-", f"saft-cr-{company}-{group}-{day.isoformat()}")[:200]


def _signed(value: Decimal, side: str | None) -> Decimal:
    """The number's own sign wins; a positive amount marked D (debit) is a return written unsigned."""
    return ZERO - abs(value) if side == "D" else value


def _transaction(
    element: Any, group: str, rules: Rules, basics: _Basics, file_name: str
) -> tuple[dt.date, int | None, _Contribution | Problem] | Problem | None:
    """A receipt's share of its day; a Problem alone when even its day is unknown; None when skipped."""
    line = element.sourceline
    trans_id = text(element, "transID") or text(element, "nr") or "?"
    path = f"cashtransaction[transID={trans_id}]"
    if (text(element, "voidTransaction") or "").lower() in ("true", "1") or (
        text(element, "trainingID") or ""
    ).lower() in ("true", "1"):
        return None
    trans_type = text(element, "transType") or ""
    predefined = basics.predefined.get(("11", trans_type), trans_type)
    if trans_type in rules.skip_transaction_types or predefined in rules.skip_transaction_types:
        return None
    try:
        day = date(element, "transDate", path)
    except FieldError as error:
        return Problem(
            f"register {group}, transaction {trans_id}: {error.message}",
            field=error.field,
            file=file_name,
            line=error.line,
            code="invalid",
        )
    try:
        return day, line, _contribution(element, path, rules, basics)
    except FieldError as error:
        return (
            day,
            line,
            Problem(
                f"register {group}, transaction {trans_id}: {error.message}",
                field=error.field,
                file=file_name,
                line=error.line,
                reference=_reference(basics.company, group, day),
                code=error.code,
            ),
        )


def _contribution(element: Any, path: str, rules: Rules, basics: _Basics) -> _Contribution:
    sales: list[tuple[str, str | None, Decimal, Decimal]] = []
    for ct_line in children(element, "ctLine"):
        line_path = f"{path}/ctLine[lineID={text(ct_line, 'lineID') or '?'}]"
        gross = _signed(amount(ct_line, "lineAmntIn", line_path) or ZERO, text(ct_line, "amntTp"))
        vat = child(ct_line, "vat")
        vat_code: str | None = None
        vat_amount = ZERO
        if vat is not None:
            own = text(vat, "vatCode")
            if own is not None:
                vat_code = rules.vat_codes.get(own) or basics.vat_codes.get(own) or _standard_or_none(own)
                if vat_code is None:
                    raise FieldError(
                        f"VAT code {own!r} is neither in vatCodeDetails nor a SAF-T standard code "
                        "(option vat_codes)",
                        field=f"{line_path}/vat/vatCode",
                        line=vat.sourceline,
                        code="unknown-vat-code",
                    )
            vat_amount = _signed(amount(vat, "vatAmnt", f"{line_path}/vat") or ZERO, text(vat, "vatAmntTp"))
        account = (
            rules.article_group_accounts.get(text(ct_line, "artGroupID") or "")
            or (rules.sales_accounts.get(vat_code) if vat_code else None)
            or text(ct_line, "lineAmntInAccID")
            or (SALES_ACCOUNTS.get(vat_code) if vat_code else None)
        )
        if account is None:
            raise FieldError(
                f"no revenue account for VAT code {vat_code or '(none)'} (options sales_accounts, "
                "article_group_accounts)",
                field=line_path,
                line=ct_line.sourceline,
                code="missing-account",
            )
        sales.append((account, vat_code, gross, vat_amount if vat_code else ZERO))
    payments: list[tuple[str, str, Decimal]] = []
    for payment in children(element, "payment"):
        kind = text(payment, "paymentType") or ""
        pay_path = f"{path}/payment[paymentType={kind}]"
        paid = amount(payment, "paidAmnt", pay_path) or ZERO
        predefined = basics.predefined.get(("12", kind), kind)
        account = (
            rules.payment_accounts.get(kind)
            or rules.payment_accounts.get(predefined)
            or text(payment, "accID")
            or PAYMENT_ACCOUNTS.get(predefined)
        )
        if account is None:
            raise FieldError(
                f"no account for payment type {kind!r} (option payment_accounts)",
                field=f"{pay_path}/paymentType",
                line=payment.sourceline,
                code="missing-account",
            )
        payments.append((account, basics.names.get(("12", kind), kind), paid))
    rounding: tuple[str, Decimal] | None = None
    node = child(element, "rounding")
    if node is not None and (value := amount(node, "roundingAmnt", f"{path}/rounding", required=False)):
        rounding = (rules.rounding_account or text(node, "accID") or ROUNDING_ACCOUNT, value)
    difference = (
        sum((s[2] for s in sales), ZERO)
        + (rounding[1] if rounding else ZERO)
        - sum((p[2] for p in payments), ZERO)
    )
    if difference:
        raise FieldError(
            f"lines and rounding differ from the payments by {difference:.2f}",
            field=path,
            line=element.sourceline,
            code="unbalanced",
        )
    return _Contribution(sales, payments, rounding)


def _standard_or_none(code: str) -> str | None:
    return code if code in STANDARD_VAT_CODES else None


def _add(settlement: _Settlement, contribution: _Contribution) -> None:
    for account, vat_code, gross, vat in contribution.sales:
        totals = settlement.sales.setdefault((account, vat_code), [ZERO, ZERO])
        totals[0] += gross
        totals[1] += vat
    for account, label, paid in contribution.payments:
        settlement.payments[account] = settlement.payments.get(account, ZERO) + paid
        settlement.payment_names.setdefault(account, set()).add(label)
    if contribution.rounding is not None:
        account, value = contribution.rounding
        settlement.rounding[account] = settlement.rounding.get(account, ZERO) + value


def _voucher(
    settlement: _Settlement, rules: Rules, currency: str, file_name: str
) -> Iterator[Voucher | Problem]:
    try:
        lines = _postings(settlement)
        if len(lines) < 2:
            return  # a day whose receipts cancel out: nothing to book
        values: dict[str, Any] = {
            "reference": settlement.reference, "date": settlement.day, "currency": currency,
            "description": f"Dagsoppgjør {settlement.label} {settlement.day.isoformat()}",
            "voucher_type": rules.voucher_type, "lines": tuple(lines),
        }
        yield checked.voucher({**values, "origin": checked.origin(NAME, file_name, settlement.line)}) or Voucher(
            **values, origin=Origin(format=NAME, file=file_name, line=settlement.line))
    except ValidationError as error:
        yield Problem(
            f"settlement cannot be booked: {error.errors()[0]['msg']}",
            file=file_name,
            line=settlement.line,
            reference=settlement.reference,
            code="invalid",
        )


def _postings(settlement: _Settlement) -> list[Posting]:
    lines: list[Posting] = []
    for (account, vat_code), (gross, vat) in sorted(
        settlement.sales.items(), key=lambda i: (i[0][0], i[0][1] or "")
    ):
        if gross or vat:
            lines.append(_posting(
                account=account,
                amount=ZERO - gross,
                vat_code=vat_code,  # ZERO-: no "-0.00"
                vat_amount=ZERO - vat if vat_code else None,
                description=f"Salg mva-kode {vat_code}" if vat_code else "Salg",
            ))
    for account, paid in sorted(settlement.payments.items()):
        if paid:
            lines.append(_posting(
                account=account,
                amount=paid,
                description=", ".join(sorted(settlement.payment_names[account])),
            ))
    for account, value in sorted(settlement.rounding.items()):
        if value:
            lines.append(_posting(account=account, amount=ZERO - value, description="Øreavrunding"))
    return lines


def _posting(**values: Any) -> Posting:
    """`Posting(**values)`, checked in plain Python when it can be (pipeline/checked.py)."""
    return checked.posting(values) or Posting(**values)


FORMAT = FormatDescriptor(
    name=NAME,
    title="SAF-T Cash Register 1.00",
    settings=Rules,
    parse=parse,
    sniff=sniff,
    notes="a daily settlement voucher per register (or location) and day",
)
