"""Visma.net's side of the shared form: constants, the register of what a voucher needs, and pure mapping.

No I/O here: `target.py` looks things up and sends what these functions build. Facts and sources:
reference/target-apis.md §7, the official spec `../shared/specs/visma-net/swagger.json` (Visma.net ERP API,
2025-04-24), and docs/fidelity.md (what is modelled, what is unverified).

- A voucher is a journal transaction (`JournalTransactionUpdateDto`): every scalar wrapped as `{"value": …}`,
  lines with `debitAmountInCurrency`/`creditAmountInCurrency` (never signed), `hold` true for a draft.
- **VAT**: a line's `vat_code` (a Visma.net VAT ID after the tenant's VAT map) is split into a net line and a
  VAT line on the VAT's own payable (output) or claimable (input) account, both carrying `vatId`; the net line
  also carries the account's VAT category (`vatCodeId`), and the batch `createVatTransaction`. The VAT part is the
  source's `vat_amount`, else gross × rate / (100 + rate) rounded half-up to øre, the rate from the VAT's schedule
  on the voucher date (decision 0001). Where the source's VAT differs from the rate's, `skipVatAmountValidation`
  keeps the source's. [unverified] how Visma.net pairs the net line and its VAT line into one VAT transaction:
  the books balance on the right accounts either way.
- **Our reference** travels in every line's `referenceNumber` ("Ref. no."), at most `REFERENCE_MAX` characters;
  a longer one is shortened deterministically (`short_reference`), and the full one is kept in the batch
  description and in our ledger.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pipeline.descriptors import FieldMap, Lands, NotAccepted, Refused
from pipeline.model import Posting, Voucher
from pipeline.ports import Delivery

NAME = "visma-net"
TITLE = "Visma.net ERP"
PRODUCTION_URL = "https://api.finance.visma.net"  # the spec's server; the old integration.visma.net/API is retired
TOKEN_URL = "https://connect.visma.com/connect/token"
SCOPE = "vismanet_erp_service_api"  # [unverified] that releasing a journal transaction needs `:update`
READ, CREATE, UPDATE = f"{SCOPE}:read", f"{SCOPE}:create", f"{SCOPE}:update"
# GLTran.RefNbr is 15 characters in Acumatica, which Visma.net ERP is built on [unverified for Visma.net]: a
# longer reference becomes its first 5 characters, "~" and 9 characters of base32 of its SHA-256 (45 bits).
REFERENCE_MAX = 15
CURRENCIES = ("NOK",)
DIMENSIONS = ("department", "project")
UNSUPPORTED_DOCUMENTS: tuple[str, ...] = ()  # every document of the shared form is delivered
DRAFT_STATUSES = ("Hold", "Balanced")  # not yet released: nothing is in the ledger
ØRE = Decimal("0.01")

NOT_ACCEPTED: dict[str, str] = {
    "lines[].kid": "a journal transaction line has no KID field; KID belongs to customer invoices and payments",
    "lines[].customer": "a journal transaction line takes no customer: customer-ledger entries come from customer "
                        "invoices and payments (send those as sales_invoice and payment)",
    "lines[].supplier": "a journal transaction line takes no supplier: supplier-ledger entries come from supplier "
                        "invoices and payments, which this connector does not deliver",
    "lines[].invoice_number": "a journal transaction line has no invoice number field",
    "lines[].due_date": "a journal transaction line has no due date field",
    "lines[].dimensions.*": "Visma.net journal lines take department (a subaccount segment) and project only",
    "voucher_type": "a source's voucher series is not mapped to a Visma.net transaction code",
}
_LINE = "journalTransactionLines[]"
_AMOUNT = f"{_LINE}.debitAmountInCurrency|creditAmountInCurrency.value"
# The public field map (docs/field-map.md): what journal_transaction() does with each field, for a journal
# transaction on hold (the default; direct posting releases the same transaction). Proven by the contract suite.
FIELD_MAP: FieldMap = {"voucher": {
    "reference": Lands(f"{_LINE}.referenceNumber.value", f"every line's Ref. no.; past {REFERENCE_MAX} characters "
                                                         "shortened with a hash, the full reference then added to the "
                                                         "transaction's description"),
    "date": Lands("transactionDate.value", "as a date and time at midnight; the financial period is the one the date "
                                           "falls in"),
    "description": Lands("description.value", "the transaction's description (our reference where there is none), "
                                              "and the text of a line without its own"),
    "currency": Refused("the Visma.net connector delivers NOK only: another currency needs an exchange rate the "
                        "shared form does not carry (unsupported-currency)", accepted=CURRENCIES),
    "voucher_type": NotAccepted(NOT_ACCEPTED["voucher_type"]),
    "lines[].account": Lands(f"{_LINE}.accountNumber.value", "as is; a line's VAT goes to the VAT's own payable or "
                                                             "claimable account"),
    "lines[].amount": Lands(_AMOUNT, "unsigned, on the debit or the credit side by its sign; a line with a VAT code "
                                     "is split into its net amount and a VAT line"),
    "lines[].description": Lands(f"{_LINE}.transactionDescription.value", "as is (the VAT line's: «MVA <code>: …»)"),
    "lines[].vat_code": Lands(f"{_LINE}.vatId.value", "as is, on the net line and its VAT line (the account's VAT "
                                                      "category as vatCodeId)"),
    "lines[].vat_amount": Lands(_AMOUNT, "the VAT line's amount (the net line has the rest); without it, gross × "
                                         "rate / (100 + rate) at the rate on the voucher's date, half-up to øre; a "
                                         "figure differing from the rate's is kept (skipVatAmountValidation)"),
    "lines[].dimensions.department": Lands(f"{_LINE}.subaccount[].segmentValue", "the subaccount segment the setting "
                                                                                 "department_segment names"),
    "lines[].dimensions.project": Lands(f"{_LINE}.project.value", "as is"),
    "lines[].dimensions.*": NotAccepted(NOT_ACCEPTED["lines[].dimensions.*"]),
    "lines[].customer": NotAccepted(NOT_ACCEPTED["lines[].customer"]),
    "lines[].supplier": NotAccepted(NOT_ACCEPTED["lines[].supplier"]),
    "lines[].kid": NotAccepted(NOT_ACCEPTED["lines[].kid"]),
    "lines[].invoice_number": NotAccepted(NOT_ACCEPTED["lines[].invoice_number"]),
    "lines[].due_date": NotAccepted(NOT_ACCEPTED["lines[].due_date"]),
}}


@dataclass
class Register:
    """What the vouchers need from the company, by our keys; views of the connection's lookups."""

    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # "3000" → AccountDto
    vats: dict[str, dict[str, Any]] = field(default_factory=dict)  # "3" → VatInformationDto
    vat_categories: dict[str, dict[str, Any]] = field(default_factory=dict)  # "03" → VatCategoryDto
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)  # "1" → DtoSegmentValue
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)  # "100" → ProjectDto
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # "ABO-PAPIR" → InventoryDto (invoice lines)
    periods: list[dict[str, Any]] = field(default_factory=list)  # FinancialPeriodDto


@dataclass(frozen=True)
class Options:
    """The connection's settings that shape a payload."""

    draft: bool = True
    branch: str | None = None
    department_segment: int = 1


# -- references and periods -------------------------------------------------------------------------------------


def short_reference(reference: str) -> str:
    """Our reference as the lines' `referenceNumber` (see REFERENCE_MAX)."""
    if len(reference) <= REFERENCE_MAX:
        return reference
    digest = base64.b32encode(hashlib.sha256(reference.encode("utf-8")).digest()).decode("ascii")
    return f"{reference[:REFERENCE_MAX - 10]}~{digest[:9]}"


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def period_of(day: dt.date, periods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The financial period a date falls in (`startDate` ≤ day ≤ `endDate`); an adjustment period (no days of
    its own) never wins over a month."""
    covering = [p for p in periods if (start := _day(p.get("startDate"))) and (end := _day(p.get("endDate")))
                and start <= day <= end]
    return min(covering, key=lambda p: (_day(p.get("startDate")) == _day(p.get("endDate")), str(p.get("period"))),
               default=None)


def period_id(period: Mapping[str, Any]) -> str:
    """`FinancialPeriodDto.period` as YYYYPP (the journal's `financialPeriod` and the GET filter `periodId`)."""
    return re.sub(r"\D", "", str(period.get("period") or ""))


# -- VAT --------------------------------------------------------------------------------------------------------


def rate_on(vat: Mapping[str, Any], day: dt.date) -> tuple[Decimal, str | None] | None:
    """The VAT's rate (%) and its reporting group type ("Output"/"Input") on a date: the latest schedule row
    starting on or before it."""
    rows = [(start, row) for row in vat.get("schedules") or () if (start := _day(row.get("startDate"))) and start <= day]
    if not rows:
        return None
    _, row = max(rows, key=lambda pair: pair[0])
    return Decimal(str(row.get("vatRate") or 0)), row.get("groupType")


def vat_part(line: Posting, rate: Decimal) -> Decimal:
    """The VAT inside a gross amount: the source's, else computed from the rate (half-up to øre)."""
    if line.vat_amount is not None:
        return line.vat_amount
    return computed_vat(line.amount, rate)


def computed_vat(gross: Decimal, rate: Decimal) -> Decimal:
    if rate == 0:
        return Decimal("0.00")
    return (gross * rate / (100 + rate)).quantize(ØRE, rounding=ROUND_HALF_UP)


def vat_account(vat: Mapping[str, Any], group: str | None) -> str | None:
    """Where the VAT of a line goes: the claimable account for input VAT, else the payable account."""
    accounts = vat.get("glAccounts") or {}
    which = accounts.get("vatClaimableAccount") if group == "Input" else accounts.get("vatPayableAccount")
    number = (which or {}).get("number")
    return str(number) if number else None


# -- the payload (pure) ------------------------------------------------------------------------------------------


def _v(value: Any) -> dict[str, Any]:
    return {"value": value}


def _amount(line: dict[str, Any], amount: Decimal) -> None:
    if amount < 0:
        line["creditAmountInCurrency"] = _v(-amount)
    else:
        line["debitAmountInCurrency"] = _v(amount)


def journal_lines(voucher: Voucher, register: Register, options: Options) -> tuple[list[dict[str, Any]], list[int], bool]:
    """The lines of the journal transaction, which of our lines each came from, and whether any VAT the source
    gave differs from the rate's (then Visma.net must not recompute it)."""
    reference = short_reference(voucher.reference)
    out: list[dict[str, Any]] = []
    origin: list[int] = []
    differs = False
    for i, posting in enumerate(voucher.lines):
        text = posting.description or voucher.description or voucher.reference
        base: dict[str, Any] = {"operation": "Insert", "accountNumber": _v(posting.account),
                                "referenceNumber": _v(reference), "transactionDescription": _v(text)}
        department = posting.dimensions.get("department")
        if department is not None:
            base["subaccount"] = [{"segmentId": options.department_segment, "segmentValue": department}]
        if "project" in posting.dimensions:
            base["project"] = _v(posting.dimensions["project"])
        amount, vat_line = posting.amount, None
        vat = register.vats.get(str(posting.vat_code)) if posting.vat_code is not None else None
        if vat is not None:
            base["vatId"] = _v(str(posting.vat_code))
            category = (register.accounts.get(posting.account) or {}).get("taxCategory")
            if category:
                base["vatCodeId"] = _v(str(category))
            found = rate_on(vat, voucher.date)
            rate, group = found if found is not None else (Decimal(0), None)
            part = vat_part(posting, rate)
            differs = differs or (posting.vat_amount is not None and part != computed_vat(posting.amount, rate))
            target = vat_account(vat, group)
            if part != 0 and target is not None and not vat.get("statisticalVat"):
                amount = posting.amount - part
                vat_line = {"operation": "Insert", "accountNumber": _v(target), "referenceNumber": _v(reference),
                            "transactionDescription": _v(f"MVA {posting.vat_code}: {text}"), "vatId": _v(str(posting.vat_code))}
                _amount(vat_line, part)
        _amount(base, amount)
        out.append(base)
        origin.append(i)
        if vat_line is not None:
            out.append(vat_line)
            origin.append(i)
    return out, origin, differs


def journal_transaction(voucher: Voucher, register: Register, options: Options) -> dict[str, Any]:
    """The body of `POST /v2/journaltransaction`: a pure function of the voucher, the register and the options."""
    lines, _, differs = journal_lines(voucher, register, options)
    description = voucher.description if voucher.description and voucher.description.strip() else voucher.reference
    if short_reference(voucher.reference) != voucher.reference and voucher.reference not in description:
        description = f"{description} (ref. {voucher.reference})"  # the full reference, where a reader sees it
    body: dict[str, Any] = {"hold": _v(options.draft), "transactionDate": _v(f"{voucher.date.isoformat()}T00:00:00"),
                            "description": _v(description)}
    period = period_of(voucher.date, register.periods)
    if period is not None:
        body["financialPeriod"] = _v(period_id(period))
    if options.branch:
        body["branch"] = _v(options.branch)
    if any("vatId" in line for line in lines):
        body["createVatTransaction"] = _v(True)
    if differs:
        body["skipVatAmountValidation"] = _v(True)
    body["journalTransactionLines"] = lines
    return body


def not_accepted(voucher: Voucher) -> tuple[str, ...]:
    fields: list[str] = ["voucher_type"] if voucher.voucher_type else []
    for i, line in enumerate(voucher.lines):
        fields.extend(f"lines[{i}].{name}" for name in ("kid", "customer", "supplier", "invoice_number", "due_date")
                      if getattr(line, name) is not None)
        fields.extend(f"lines[{i}].dimensions.{name}" for name in line.dimensions if name not in DIMENSIONS)
    return tuple(fields)


_NUMBER = re.compile(r'"\\u0000D(-?[0-9.]+)"')


def encode(payload: Any) -> bytes:
    """JSON with Decimal amounts as exact JSON numbers (never through float), æøå as UTF-8."""
    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"\x00D{value:f}"
        raise TypeError(type(value).__name__)
    return _NUMBER.sub(r"\1", json.dumps(payload, default=default, ensure_ascii=False)).encode("utf-8")


def delivery_of(batch: Mapping[str, Any], *, reference: str, not_accepted: tuple[str, ...] = ()) -> Delivery:
    """Our Delivery from a journal transaction: on hold or balanced is a draft; released is in the ledger."""
    status = str(batch.get("status") or "Hold")
    details = {"batch_number": batch.get("batchNumber"), "status": status, "target_reference": short_reference(reference)}
    for ours, theirs in (("financial_period", "financialPeriod"), ("duplicates", "duplicates"), ("release", "release"),
                         ("release_refused", "release_refused")):
        if batch.get(theirs):
            details[ours] = batch[theirs]
    return Delivery(remote_id=str(batch["batchNumber"]), draft=status in DRAFT_STATUSES, not_accepted=not_accepted,
                    details=details)
