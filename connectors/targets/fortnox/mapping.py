"""Fortnox's side of the shared form: constants and pure mapping (a voucher → `POST /3/vouchers`).

Facts: reference/target-apis.md §8; https://apps.fortnox.se/apidocs (not stored here: checked against the generated
client ThorinEk/fortnox-php-api-client docs/Model/Voucher.md, VoucherVoucherRow.md).

- One voucher is one Fortnox voucher `{"Voucher": {VoucherSeries, TransactionDate, Description, Comments,
  VoucherRows: [{Account, Debit, Credit, Description, CostCenter, Project}]}}` in the connection's voucher series,
  in the financial year its date falls in (`?financialyear=ID`).
- A row has no VAT code: a line whose SAF-T code puts VAT in its amount becomes two rows, the net amount on the
  line's account and the VAT on the VAT account of the code (2700 output, 2710 input, or the tenant's
  `vat_accounts`). [unverified] that Fortnox accepts a row's VAT as a plain row on a VAT account without a VAT code
  on the account row (it is how Fortnox's manual vouchers book VAT; an account's own `VATCode` is only a default
  in Fortnox's UI). Codes whose VAT goes both ways (reverse charge, import) are refused, not guessed.
- `ReferenceNumber` and `ReferenceType` are read-only (set by Fortnox for vouchers it makes from invoices), so our
  reference travels at the start of `Description` as `[reference]` and whole in `Comments`; `find` reads it back.
- Fortnox has no draft for a voucher: a voucher is booked when created. Nothing is sent without the tenant's
  opt-in to direct posting (`OPT_IN`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline.descriptors import FieldMap, Lands, NotAccepted, Refused
from pipeline.norway.vat import VAT_CODES, vat_of_gross

NAME = "fortnox"
PRODUCTION_URL = "https://api.fortnox.se/3"
AUTH_URL = "https://apps.fortnox.se/oauth-v1/auth"
TOKEN_URL = "https://apps.fortnox.se/oauth-v1/token"
# `archive`, `customer`, `supplier`: the documents attached to vouchers and the parties, for reading the books back
# (connectors/ledgers/fortnox.py).
SCOPES = ("bookkeeping", "companyinformation", "costcenter", "project", "archive", "customer", "supplier", "inbox")
DESCRIPTION_MAX = 200  # [unverified] Fortnox's limit on Voucher.Description; kept short either way
MARKER_MAX = 60
PAGE_LIMIT = 500  # the largest `limit` Fortnox's lists take [unverified: 500]
ACCOUNT = re.compile(r"^\d{4}$")  # Fortnox's accounts are four-digit integers (BAS; NS 4102 in Norway)
OUTPUT_VAT, INPUT_VAT = "2700", "2710"
ØRE = Decimal("0.01")

OPT_IN = ("Fortnox has no draft for a voucher: a voucher is booked the moment Bilagsbro creates it. The connection "
          "must opt in to direct posting (bilagsbro connect TENANT fortnox --direct-posting, or \"direct_posting\": "
          "true) before anything is sent; a booked voucher is corrected in Fortnox with a reversing voucher")

NOT_ACCEPTED: dict[str, str] = {
    "lines[].kid": "a Fortnox voucher row has no KID field",
    "lines[].invoice_number": "a Fortnox voucher row has no invoice number field",
    "lines[].due_date": "a Fortnox voucher row has no due date field",
    "lines[].customer": "a Fortnox voucher row has no customer: Fortnox keeps its customer ledger through invoices",
    "lines[].supplier": "a Fortnox voucher row has no supplier: Fortnox keeps its supplier ledger through supplier "
                        "invoices",
    "lines[].dimensions.*": "Fortnox takes a cost centre (our department) and a project on a row, nothing else",
    "voucher_type": "the connection's voucher series (setting voucher_series) decides where a voucher goes",
}
UNSUPPORTED_DOCUMENTS = ("sales_invoice", "payment")

_ROW = "Voucher.VoucherRows[]"
FIELD_MAP: FieldMap = {"voucher": {
    "reference": Lands("Voucher.Description", f"opens the description as [reference] (past {MARKER_MAX} characters, "
                                              "or with brackets, shortened with a digest) and is kept whole in "
                                              "Comments: ReferenceNumber is read-only in Fortnox; `find` reads it back"),
    "date": Lands("Voucher.TransactionDate", "as is; it must fall in one of the company's financial years"),
    "description": Lands("Voucher.Description", f"after the [reference], shortened to {DESCRIPTION_MAX} characters"),
    "currency": Refused("a Fortnox voucher is in the company's currency (SEK or NOK) only, and the shared form "
                        "holds no exchange rate: another currency is a preflight problem", accepted=("NOK",)),
    "voucher_type": NotAccepted(NOT_ACCEPTED["voucher_type"]),
    "lines[].account": Lands(f"{_ROW}.Account", "as an integer; the net amount of a line with VAT, its VAT on the "
                                                "VAT account of a row of its own"),
    "lines[].amount": Lands(f"{_ROW}.Debit|Credit", "a positive amount as Debit, a negative one as Credit (without "
                                                    "sign); net of VAT where the VAT code puts VAT in it"),
    "lines[].description": Lands(f"{_ROW}.Description", "as is"),
    "lines[].vat_code": Lands(f"{_ROW}.Description", "no VAT code on a Fortnox row: the code picks the VAT row's "
                                                     "account (2700 output, 2710 input, or the tenant's vat_accounts) "
                                                     "and rate, and is named in its text (\"MVA 3\"); reverse charge "
                                                     "and import codes are preflight problems"),
    "lines[].vat_amount": Lands(f"{_ROW}.Debit|Credit", "the amount of the VAT row (and the line's net is gross − "
                                                        "VAT); without it, the VAT the gross holds at the code's rate"),
    "lines[].dimensions.department": Lands(f"{_ROW}.CostCenter", "the cost centre's code"),
    "lines[].dimensions.project": Lands(f"{_ROW}.Project", "the project's number"),
    "lines[].dimensions.*": NotAccepted(NOT_ACCEPTED["lines[].dimensions.*"]),
    "lines[].customer": NotAccepted(NOT_ACCEPTED["lines[].customer"]),
    "lines[].supplier": NotAccepted(NOT_ACCEPTED["lines[].supplier"]),
    "lines[].kid": NotAccepted(NOT_ACCEPTED["lines[].kid"]),
    "lines[].invoice_number": NotAccepted(NOT_ACCEPTED["lines[].invoice_number"]),
    "lines[].due_date": NotAccepted(NOT_ACCEPTED["lines[].due_date"]),
}}


@dataclass
class Register:
    """What the vouchers need from Fortnox, as looked up: hits only (a miss is asked again next time)."""

    accounts: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # "3000" → Account
    cost_centers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    projects: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    years: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # "2026-11-04" → FinancialYear
    series: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # "A" → VoucherSeries


def marker(reference: str) -> str:
    """Our reference as it opens the description: `[reference]`, or — long, or with brackets — its first 43
    characters, "~" and 16 hex digits of its SHA-256: readable, deterministic, apart from every other reference."""
    if len(reference) <= MARKER_MAX and not re.search(r"[\[\]\x00-\x1f]", reference):
        return f"[{reference}]"
    digest = hashlib.sha256(reference.encode("utf-8")).hexdigest()[:16]
    readable = re.sub(r"[\x00-\x1f]", " ", reference[:MARKER_MAX - 17]).replace("[", "(").replace("]", ")")
    return f"[{readable}~{digest}]"


def carries(description: str | None, reference: str) -> bool:
    """Whether a voucher's description is ours for `reference`: it must *open* with the marker."""
    text, mark = description or "", marker(reference)
    return text == mark or text.startswith(mark + " ")


def comments(reference: str) -> str:
    return f"Bilagsbro: {reference}"


def description(reference: str, text: str | None) -> str:
    said = " ".join((text or "").split())
    full = f"{marker(reference)} {said}".strip()
    return full if len(full) <= DESCRIPTION_MAX else full[:DESCRIPTION_MAX - 1].rstrip() + "…"


def vat_account(code: str, overrides: Mapping[str, str]) -> str | None:
    """The account a VAT code's VAT is booked on, or None when the code puts no VAT in a line's amount."""
    if code in overrides:
        return overrides[code]
    known = VAT_CODES.get(code)
    if known is None or not known.vat_in_amount:
        return None
    return OUTPUT_VAT if known.direction == "output" else INPUT_VAT


def refused_vat(code: str, overrides: Mapping[str, str]) -> str | None:
    """Why a line's VAT code cannot be booked in Fortnox, or None when it can."""
    known = VAT_CODES.get(code)
    if known is None:
        return f"{code!r} is not a SAF-T standard VAT code"
    if code in overrides:
        return None
    if known.reverse_charge or known.imported:
        return (f"VAT code {code} ({known.description_eng}) books VAT both ways, and a Fortnox voucher row has no VAT "
                "code: map the code to another in the tenant's VAT map, or post such vouchers by hand")
    return None


def split(amount: Decimal, code: str | None, vat_amount: Decimal | None) -> tuple[Decimal, Decimal]:
    """(net, VAT) of a line's gross amount: the VAT the source gave, else the VAT the gross holds at the code's
    rate; no VAT for a code that puts none in the amount."""
    known = VAT_CODES.get(code) if code else None
    if known is None or not known.vat_in_amount:
        return amount, Decimal("0.00")
    vat = vat_amount if vat_amount is not None else vat_of_gross(amount, known.code)
    return amount - vat, vat


def row(account: str, amount: Decimal, text: str | None, dimensions: Mapping[str, str]) -> dict[str, Any]:
    """One voucher row: a positive amount as Debit, a negative one as Credit without its sign (only one of them)."""
    wire: dict[str, Any] = {"Account": int(account)}
    if amount < 0:
        wire["Credit"] = -amount
    else:
        wire["Debit"] = amount
    if text:
        wire["Description"] = text[:100]  # [unverified] the row's limit; the voucher's full text is kept anyway
    if dimensions.get("department"):
        wire["CostCenter"] = dimensions["department"]
    if dimensions.get("project"):
        wire["Project"] = dimensions["project"]
    return wire


_NUMBER = re.compile(r'"\\u0000D(-?[0-9.]+)"')


def encode(payload: Any) -> bytes:
    """JSON with Decimal amounts as exact JSON numbers (never through float), æøå as UTF-8."""
    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"\x00D{value.quantize(ØRE):f}"
        raise TypeError(type(value).__name__)
    return _NUMBER.sub(r"\1", json.dumps(payload, default=default, ensure_ascii=False)).encode("utf-8")
