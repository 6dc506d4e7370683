"""Business NXT's side of the shared form, as pure functions: a voucher → one batch of voucher rows, and the
register's answers → preflight problems. No I/O here.

A Business NXT voucher row carries a debit account, a credit account and one positive amount (how-to "create and
update a batch"); a voucher is the rows of one batch sharing a voucher number, and it balances across them. Our
lines carry signed amounts, one account each, so `rows` pairs debit lines with credit lines, splitting amounts
where they differ (a 1,000 debit against 600 + 400 credits is two rows). Row-level fields — text, organisational
units (department, project), invoice number, KID, due date, customer or supplier — belong to the whole row, so
lines are paired only where those agree; a line no counter-line agrees with goes alone in a row with only its own
side's account, which Visma Business accepts ("Debet konto eller Kredit konto og Beløp", Minimum for enkel
bilagsregistrering, doc.visma.net) and which keeps every posting exactly where the source put it.

A customer's or supplier's line is posted to their number as the account (`creditAccountNo: $cno, customerNo:
$cno` in the how-to): the collective account (1500, 2400) is Business NXT's own for that customer. Dates are
integers yyyymmdd. Money is Decimal throughout and goes on the wire as an exact JSON number.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline.descriptors import Derived, FieldMap, Lands, NotAccepted, Refused
from pipeline.errors import Problem
from pipeline.model import Posting, Voucher
from pipeline.ports import Delivery

NAME = "business-nxt"
TITLE = "Visma Business NXT"
GRAPHQL_URL = "https://business.visma.net/api/graphql-service"  # the service (client credentials) endpoint
TOKEN_URL = "https://connect.visma.com/connect/token"
SCOPE = "business-graphql-service-api:access-group-based"
TEXT_MAX = 200  # Voucher Tekst (Txt) and Ekstratekst (Txt2): Tekst (200) in the Visma Business table docs
DIMENSIONS = ("department", "project")
UNSUPPORTED_DOCUMENTS = ("sales_invoice", "payment")
NOT_ACCEPTED: dict[str, str] = {
    "lines[].dimensions.*": "Business NXT rows carry organisational units; the connection maps department and "
                            "project to two of them (org_units), other dimensions have no place",
    "voucher_type": "a source's voucher series is not mapped: the connection's voucher series and type are used",
}
_DIGITS = re.compile(r"^[0-9]{1,9}$")
_ROW = "vouchers[]"
# The public field map (docs/field-map.md): where each field lands in a batch's rows (batch_input below), with the
# connection's default organisational units (department 1, project 2). Proven by the contract suite.
FIELD_MAP: FieldMap = {"voucher": {
    "reference": Lands(f"{_ROW}.additionalText", "in every row's Ekstratekst, where find reads it back"),
    "date": Lands(f"{_ROW}.voucherDate", "as an integer yyyymmdd; also the rows' and the batch's valueDate"),
    "description": Lands("description", f"the batch's description (at most {TEXT_MAX} characters); a row whose "
                                        "lines have no text takes it"),
    "currency": Refused("the shared form carries no exchange rate, which another currency needs: it is a preflight "
                        "problem (unsupported-currency)", accepted=("NOK",)),
    "voucher_type": NotAccepted(NOT_ACCEPTED["voucher_type"]),
    "lines[].account": Lands(f"{_ROW}.debitAccountNo|creditAccountNo", "as an integer; a debit line and a credit "
                                                                       "line share a row where their row fields "
                                                                       "agree (amounts split where they differ), "
                                                                       "else a line has a row of its own side"),
    "lines[].amount": Lands(f"{_ROW}.amountDomestic", "the paired lines' common amount, positive (the side says "
                                                      "debit or credit)"),
    "lines[].description": Lands(f"{_ROW}.text", "a row's text: its lines' texts joined with “ / ”, else the "
                                                 "voucher's description (at most 200 characters)"),
    "lines[].vat_code": Lands(f"{_ROW}.debitTaxCode|creditTaxCode", "as an integer: the company's tax code with that "
                                                                    "number"),
    "lines[].vat_amount": Derived("not sent: Business NXT computes the VAT from the tax code"),
    "lines[].dimensions.department": Lands(f"{_ROW}.orgUnit1", "as an integer, in the organisational unit the "
                                                               "connection's org_units names for it (1 by default)"),
    "lines[].dimensions.project": Lands(f"{_ROW}.orgUnit2", "as an integer, in the organisational unit the "
                                                            "connection's org_units names for it (2 by default)"),
    "lines[].dimensions.*": NotAccepted(NOT_ACCEPTED["lines[].dimensions.*"]),
    "lines[].customer": Lands(f"{_ROW}.customerNo", "the customer's number (matched by number only), also as the "
                                                    "row's account: Business NXT books it on its own collective "
                                                    "account"),
    "lines[].supplier": Lands(f"{_ROW}.supplierNo", "the supplier's number, also as the row's account"),
    "lines[].kid": Lands(f"{_ROW}.cid", "as is (KID)"),
    "lines[].invoice_number": Lands(f"{_ROW}.invoiceNo", "as is"),
    "lines[].due_date": Lands(f"{_ROW}.dueDate", "as an integer yyyymmdd"),
}}


def yyyymmdd(day: dt.date) -> int:
    """Business NXT's dates: integers such as 20260323."""
    return day.year * 10000 + day.month * 100 + day.day


def _day(value: int) -> str:
    return f"{value // 10000:04d}-{value // 100 % 100:02d}-{value % 100:02d}"


def number(value: str | None) -> int | None:
    """An account, customer, tax code or org unit number as Business NXT keeps it (an integer), or None."""
    text = (value or "").strip()
    return int(text) if _DIGITS.match(text) else None


def encode(value: Any) -> bytes:
    """JSON as Business NXT reads it: Decimals as exact numbers (never via float), æøå as UTF-8."""
    marker = "\x00D"

    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            return f"{marker}{obj}"
        raise TypeError(type(obj).__name__)

    text = json.dumps(value, default=default, ensure_ascii=False, separators=(",", ":"))
    return re.sub(r'"\\u0000D(-?[0-9.]+)"', r"\1", text).encode("utf-8")


# -- the register -------------------------------------------------------------------------------------------

@dataclass
class Register:
    """What the company has, by our numbers (hits only: pipeline.lookups keeps them per connection)."""

    accounts: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    tax_codes: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    customers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    suppliers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    org_units: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # "1:200" → org unit 200 of kind 1
    locked_until: int = 0  # the company's period lock, yyyymmdd: no voucher dated on or before it is updated


def org_unit_key(kind: int, value: str) -> str:
    return f"{kind}:{value}"


def problems_for(voucher: Voucher, register: Register, org_units: Mapping[str, int]) -> list[Problem]:
    """Everything this voucher needs that the company lacks, each on its line and field."""
    found: list[Problem] = []

    def add(message: str, where: str, code: str) -> None:
        found.append(Problem(message, field=where, reference=voucher.reference, code=code))

    if register.locked_until and yyyymmdd(voucher.date) <= register.locked_until:
        add(f"{voucher.date} is in a locked period: Business NXT takes no vouchers dated on or before "
            f"{_day(register.locked_until)}", "date", "closed-period")
    if voucher.currency != "NOK":
        add(f"Business NXT vouchers are taken in NOK here; {voucher.currency} needs an exchange rate the shared "
            "form does not carry", "currency", "unsupported-currency")
    for i, line in enumerate(voucher.lines):
        party = line.customer or line.supplier
        if party is None:
            account = register.accounts.get(line.account)
            if account is None:
                add(f"account {line.account} does not exist in Business NXT" if number(line.account) is not None
                    else f"account {line.account!r} is no Business NXT account number (integers)",
                    f"lines[{i}].account", "missing-account")
            elif account.get("barred"):
                add(f"account {line.account} is barred (sperret) in Business NXT", f"lines[{i}].account",
                    "missing-account")
            elif line.vat_code and int(account.get("taxCode") or 0) not in (0, number(line.vat_code)):
                add(f"account {line.account} takes only tax code {account['taxCode']} in Business NXT, not "
                    f"{line.vat_code}", f"lines[{i}].vat_code", "vat-code-not-allowed")
        else:
            kind, table = ("customer", register.customers) if line.customer else ("supplier", register.suppliers)
            if not party.number or party.number not in table:
                what = f"{kind} {party.number}" if party.number else f"{kind} {party.name or ''} (no number)".strip()
                add(f"{what} does not exist in Business NXT (matched by {kind} number)", f"lines[{i}].{kind}",
                    f"missing-{kind}")
        if line.vat_code is not None and line.vat_code not in register.tax_codes:
            add(f"tax code {line.vat_code} does not exist in Business NXT", f"lines[{i}].vat_code",
                "unknown-vat-code")
        for dimension, unit in org_units.items():
            value = line.dimensions.get(dimension)
            if value is not None and org_unit_key(unit, value) not in register.org_units:
                add(f"{dimension} {value} does not exist in Business NXT (organisational unit {unit})",
                    f"lines[{i}].dimensions.{dimension}", f"missing-{dimension}")
    return found


# -- rows ---------------------------------------------------------------------------------------------------

@dataclass
class _Side:
    index: int
    line: Posting
    left: Decimal


def _row_key(line: Posting, org_units: Mapping[str, int]) -> tuple[Any, ...]:
    return tuple(line.dimensions.get(d) for d in org_units)


def _together(debit: Posting, credit: Posting, org_units: Mapping[str, int]) -> bool:
    """May these two lines share a row (one text, one set of org units, one invoice number, KID, due date)?"""
    if _row_key(debit, org_units) != _row_key(credit, org_units):
        return False
    for name in ("invoice_number", "kid", "due_date"):
        mine, theirs = getattr(debit, name), getattr(credit, name)
        if mine is not None and theirs is not None and mine != theirs:
            return False
    both_customers = debit.customer is not None and credit.customer is not None
    both_suppliers = debit.supplier is not None and credit.supplier is not None
    return not (both_customers or both_suppliers)


def _side(line: Posting, prefix: str) -> dict[str, Any]:
    party = line.customer or line.supplier
    account = number(party.number if party is not None else line.account)
    fields: dict[str, Any] = {f"{prefix}AccountNo": account}
    if line.customer is not None:
        fields["customerNo"] = account
    if line.supplier is not None:
        fields["supplierNo"] = account
    if line.vat_code is not None:
        fields[f"{prefix}TaxCode"] = number(line.vat_code)
    return fields


def _shared(lines: Sequence[Posting], voucher: Voucher, org_units: Mapping[str, int]) -> dict[str, Any]:
    texts = list(dict.fromkeys(line.description for line in lines if line.description))
    fields: dict[str, Any] = {"text": (" / ".join(texts) or voucher.description or voucher.reference)[:TEXT_MAX]}
    for dimension, kind in org_units.items():
        value = next((line.dimensions[dimension] for line in lines if dimension in line.dimensions), None)
        if value is not None:
            fields[f"orgUnit{kind}"] = number(value)
    for line in lines:
        if line.invoice_number:
            fields["invoiceNo"] = line.invoice_number
        if line.kid:
            fields["cid"] = line.kid
        if line.due_date:
            fields["dueDate"] = yyyymmdd(line.due_date)
    return fields


def rows(voucher: Voucher, org_units: Mapping[str, int]) -> list[tuple[dict[str, Any], tuple[int, ...]]]:
    """The voucher's rows (without voucher number and dates) and, for each, the indexes of the lines it carries."""
    debits = [_Side(i, line, line.amount) for i, line in enumerate(voucher.lines) if line.amount > 0]
    credits = [_Side(i, line, -line.amount) for i, line in enumerate(voucher.lines) if line.amount < 0]
    out: list[tuple[dict[str, Any], tuple[int, ...]]] = []
    for debit in debits:
        for credit in credits:
            if debit.left == 0:
                break
            if credit.left == 0 or not _together(debit.line, credit.line, org_units):
                continue
            amount = min(debit.left, credit.left)
            debit.left -= amount
            credit.left -= amount
            row = {**_side(debit.line, "debit"), **_side(credit.line, "credit"),
                   **_shared([debit.line, credit.line], voucher, org_units), "amountDomestic": amount}
            out.append((row, (debit.index, credit.index)))
    for side, prefix in ((debits, "debit"), (credits, "credit")):
        for alone in side:
            if alone.left:  # no counter-line shares its row fields: its own side only
                row = {**_side(alone.line, prefix), **_shared([alone.line], voucher, org_units),
                       "amountDomestic": alone.left}
                out.append((row, (alone.index,)))
    return out


def batch_input(voucher: Voucher, *, reference: str, voucher_no: int, series: int, voucher_type: int | None,
                org_units: Mapping[str, int]) -> dict[str, Any]:
    """One batch holding the voucher: our reference in every row's additionalText (Ekstratekst), so the rows
    can be found again before and after the batch is updated."""
    day = yyyymmdd(voucher.date)
    vouchers = []
    for row, _ in rows(voucher, org_units):
        full = {"voucherNo": voucher_no, "voucherDate": day, "valueDate": day, **row, "additionalText": reference}
        if voucher_type is not None:
            full["voucherType"] = voucher_type
        vouchers.append(full)
    batch: dict[str, Any] = {"voucherSeriesNo": series, "valueDate": day, "vouchers": vouchers}
    if voucher.description:
        batch["description"] = voucher.description[:TEXT_MAX]
    return batch


def not_accepted(voucher: Voucher, org_units: Mapping[str, int]) -> tuple[str, ...]:
    out = [f"lines[{i}].dimensions.{d}" for i, line in enumerate(voucher.lines) for d in line.dimensions
           if d not in org_units]
    if voucher.voucher_type:
        out.append("voucher_type")
    return tuple(out)


def delivery_of(batch: Mapping[str, Any], *, draft: bool, not_accepted: Iterable[str] = (),
                company: int | None = None, **details: Any) -> Delivery:
    """Our Delivery for a batch: `batch:<batchNo>/voucher:<voucherNo>` while unposted; after the update the batch
    number is freed for reuse, so a posted voucher is `voucher:<voucherNo>` (its journal in the details, when
    known)."""
    voucher_no = batch.get("voucherNo")
    remote_id = f"batch:{batch.get('batchNo')}/voucher:{voucher_no}" if draft else f"voucher:{voucher_no}"
    return Delivery(remote_id=remote_id, draft=draft, not_accepted=tuple(not_accepted),
                    details={k: v for k, v in {"company": company, "batch": batch.get("batchNo"),
                                               "journal": batch.get("journalNo"), "voucher_no": voucher_no,
                                               **details}.items() if v is not None})
