"""PowerOffice GO's side of the shared form: constants, the register of ids, and pure mapping to its two voucher shapes.

No I/O here: the target (target.py) resolves ids through the connection's lookups and sends what these build.

Two shapes (reference/target-apis.md §2.2–2.3; the generated clients pacely-ai/poweroffice-node and
stianwe/PowerOfficeGoV2, from PowerOffice's per-domain OpenAPI files):

- **Draft** — `POST /JournalEntryVouchers/ManualJournals`, `ManualJournalEntryVoucherPostDto`: header `VoucherDate`,
  `CurrencyCode`, `Description`, `ManualVoucherLines[]`; a line has `DebitAccountId` / `CreditAccountId`,
  `DebitVatId` / `CreditVatId` and a **gross, unsigned** `CurrencyAmount`. We fill one side per line: a positive
  shared-form amount is a debit, a negative one a credit [unverified: that Go takes a line with one side only —
  its journal-entry view does, and a line with both sides would be a transfer between two accounts, which the
  shared form does not say]. There is no `ExternalImportReference` on drafts.
- **Direct** — `POST /Vouchers/ManualJournals`, `ManualVoucherPostDto`: `VoucherLines[]` with `AccountId`, a
  **signed** gross `CurrencyAmount` (never 0), a required `VatId`, and the header's `ExternalImportReference`
  ("only one instance of the reference can exist on the client").

Sub-ledgers: a line with a customer (supplier) is posted on the customer's sub-ledger account
(`CustomerDto.SubledgerAccountId`: "the id of the general ledger account or the subledger account"); Go books its
effect on the general ledger account of the sub-ledger number series the customer number falls in
(`SubLedgerNumberSeriesDto.GeneralLedgerAccountNo`), which must be the line's account.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline.descriptors import Derived, FieldMap, Lands, NotAccepted, Refused
from pipeline.errors import Problem
from pipeline.model import Party, Posting, Voucher
from pipeline.norway.phone import normalise_phone
from pipeline.ports import Delivery

NAME = "poweroffice-go"
TITLE = "PowerOffice GO"
PRODUCTION_URL = "https://goapi.poweroffice.net/v2"
DEMO_URL = "https://goapi.poweroffice.net/Demo/v2"
SUBSCRIPTION_HEADER = "Ocp-Apim-Subscription-Key"
SUBSCRIPTION_PARAM = "subscription-key"
# Our reference as PowerOffice keeps it: `ExternalImportReference` on direct vouchers and the marker at the end of
# the header description on drafts. Its length limit on vouchers is not documented [unverified]; customers' is 50
# ("Max length 50 characters", CustomerDto), so 50 it is: a longer reference becomes its first 33 characters, "~"
# and 16 hex digits of its SHA-256 — deterministic, so `find` searches for the same value.
REFERENCE_MAX = 50
DIMENSIONS = ("department", "project")
NO_VAT = "0"  # SAF-T "no VAT treatment": what a line without a VAT code is sent with (`VatId` is required)
NOT_ACCEPTED: dict[str, str] = {
    "lines[].kid": "a manual voucher line in PowerOffice GO has no KID field (bank journals have Cid; not used)",
    "lines[].invoice_number": "a manual voucher line has no invoice number (outgoing-invoice vouchers have one; "
                              "not implemented)",
    "lines[].due_date": "a manual voucher line has no due date",
    "lines[].dimensions.*": "PowerOffice GO lines take department and project here; Dim1–3 and location are not "
                            "mapped",
    "voucher_type": "PowerOffice GO decides the voucher type of a manual voucher itself",
}

_LINE = "ManualVoucherLines[]"
# The public field map (docs/field-map.md), for a draft (ManualJournalEntryVoucherPostDto: draft_payload below), the
# default; `how` says where a direct posting (ManualVoucherPostDto) differs. Proven by the contract suite.
FIELD_MAP: FieldMap = {"voucher": {
    "reference": Lands("Description", f"ends the header description as [reference] (past {REFERENCE_MAX} characters "
                                      "shortened with a hash), where find looks for it; a direct posting also has "
                                      "it as ExternalImportReference"),
    "date": Lands("VoucherDate", "as is; also each line's PostingDate"),
    "description": Lands("Description", "the header description, before the [reference]; a line without a text of "
                                        "its own takes it"),
    "currency": Refused("PowerOffice GO would convert another currency at its own ECB rate, and the shared form "
                        "carries none: another currency is a preflight problem (unsupported-currency)",
                        accepted=("NOK",)),
    "voucher_type": NotAccepted(NOT_ACCEPTED["voucher_type"]),
    "lines[].account": Lands(f"{_LINE}.DebitAccountId|CreditAccountId", "the account's id, on the debit or the credit "
                                                                       "side by the amount's sign (a direct posting: "
                                                                       "AccountId)"),
    "lines[].amount": Lands(f"{_LINE}.CurrencyAmount", "gross and unsigned, its sign deciding the side (a direct "
                                                       "posting: signed); a 0.00 line is a preflight problem"),
    "lines[].description": Lands(f"{_LINE}.Description", "as is (the voucher's description when the line has none)"),
    "lines[].vat_code": Lands(f"{_LINE}.DebitVatId|CreditVatId", "the id of the VAT code with that number "
                                                                "(PowerOffice GO's codes are the SAF-T numbers); a "
                                                                "line without one is sent with code 0, VatId being "
                                                                "required"),
    "lines[].vat_amount": Derived("PowerOffice GO computes the VAT from the gross amount and the VAT code; the "
                                  "source's figure is not sent"),
    "lines[].dimensions.department": Lands(f"{_LINE}.DepartmentId", "the department's id, looked up by its code"),
    "lines[].dimensions.project": Lands(f"{_LINE}.ProjectId", "the project's id, looked up by its code"),
    "lines[].dimensions.*": NotAccepted(NOT_ACCEPTED["lines[].dimensions.*"]),
    "lines[].customer": Lands(f"{_LINE}.DebitAccountId|CreditAccountId", "the customer's sub-ledger account "
                                                                        "(SubledgerAccountId), the customer found by "
                                                                        "number, organisation number, e-mail or phone; "
                                                                        "the line's account must be its number "
                                                                        "series' ledger account"),
    "lines[].supplier": Lands(f"{_LINE}.DebitAccountId|CreditAccountId", "the supplier's sub-ledger account, found "
                                                                        "as a customer is"),
    "lines[].kid": NotAccepted(NOT_ACCEPTED["lines[].kid"]),
    "lines[].invoice_number": NotAccepted(NOT_ACCEPTED["lines[].invoice_number"]),
    "lines[].due_date": NotAccepted(NOT_ACCEPTED["lines[].due_date"]),
}}


@dataclass
class Register:
    """PowerOffice GO's records by our numbers, per kind; filled by the connection's lookups."""

    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # "1500" → GeneralLedgerAccountDto
    vat_codes: dict[str, dict[str, Any]] = field(default_factory=dict)  # "3" → VatCodeDto
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # party key → CustomerDto
    suppliers: dict[str, dict[str, Any]] = field(default_factory=dict)
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)  # code → DepartmentDto
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    series: list[dict[str, Any]] = field(default_factory=list)  # SubLedgerNumberSeriesDto
    lock_date: str | None = None  # LockDateSettingsDto.LockDate: nothing on or before it


# -- references -------------------------------------------------------------------------------------------------

def external_reference(reference: str) -> str:
    """Our reference as PowerOffice GO keeps it (see REFERENCE_MAX)."""
    if len(reference) <= REFERENCE_MAX:
        return reference
    digest = hashlib.sha256(reference.encode("utf-8")).hexdigest()[:16]
    return f"{reference[:REFERENCE_MAX - 17]}~{digest}"


def marker(reference: str) -> str:
    """What ends a draft's header description: how `find` knows a journal-entry voucher is ours."""
    return f"[{external_reference(reference)}]"


def header_description(voucher: Voucher) -> str:
    text = (voucher.description or "").strip()
    return f"{text} {marker(voucher.reference)}" if text else marker(voucher.reference)


def is_ours(description: Any, reference: str) -> bool:
    return isinstance(description, str) and description.rstrip().endswith(marker(reference))


# -- parties ----------------------------------------------------------------------------------------------------

def party_keys(party: Party | None) -> tuple[str, ...]:
    """How a customer/supplier is found, best first: 'number:…', 'org:…', 'email:…', 'phone:…'."""
    if party is None:
        return ()
    keys = []
    if party.number:
        keys.append(f"number:{party.number}")
    if party.organization_number:
        keys.append(f"org:{party.organization_number}")
    if party.email:
        keys.append(f"email:{party.email.strip().lower()}")
    if party.phone:
        keys.append(f"phone:{party.phone}")
    return tuple(keys)


def index_keys(record: Mapping[str, Any]) -> list[str]:
    """The keys a CustomerDto / SupplierDto is found by (the inverse of party_keys)."""
    keys = [f"number:{record['Number']}"] if record.get("Number") is not None else []
    org = re.sub(r"\s", "", str(record.get("OrganizationNumber") or ""))
    if org:
        keys.append(f"org:{org}")
    if record.get("EmailAddress"):
        keys.append(f"email:{str(record['EmailAddress']).strip().lower()}")
    phone = normalise_phone(str(record.get("PhoneNumber") or ""))
    if phone:
        keys.append(f"phone:{phone}")
    return keys


def matched(party: Party | None, found: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    return next((found[key] for key in party_keys(party) if key in found), None)


# -- preflight --------------------------------------------------------------------------------------------------

def not_accepted(voucher: Voucher) -> tuple[str, ...]:
    fields: list[str] = ["voucher_type"] if voucher.voucher_type else []
    for i, line in enumerate(voucher.lines):
        fields.extend(f"lines[{i}].{name}" for name in ("kid", "invoice_number", "due_date") if getattr(line, name))
        fields.extend(f"lines[{i}].dimensions.{d}" for d in line.dimensions if d not in DIMENSIONS)
    return tuple(fields)


def series_of(register: Register, kind: str, number: Any) -> dict[str, Any] | None:
    """The sub-ledger number series (kind "Customer" or "Supplier") a customer/supplier number falls in."""
    try:
        value = int(number)
    except (TypeError, ValueError):
        return None
    return next((s for s in register.series if s.get("SubLedgerNumberSeriesType") == kind
                 and int(s.get("FromInclusive") or 0) <= value <= int(s.get("ToInclusive") or 0)), None)


def ledger_accounts(register: Register, kind: str) -> set[str]:
    """The general ledger accounts sub-ledger lines of a kind book on (1500, 2400, …)."""
    return {str(s.get("GeneralLedgerAccountNo")) for s in register.series if s.get("SubLedgerNumberSeriesType") == kind}


def vat_code_for(line: Posting) -> str:
    return line.vat_code if line.vat_code is not None else NO_VAT


def _valid_on(vat: Mapping[str, Any], day: str) -> bool:
    return bool(vat.get("IsActive", True)) and str(vat.get("ValidFrom") or "0000")[:10] <= day \
        and day <= str(vat.get("ValidTo") or "9999")[:10]


def problems_for(voucher: Voucher, register: Register) -> list[Problem]:
    """Everything this voucher needs that PowerOffice GO lacks or refuses, each on its field."""
    problems: list[Problem] = []
    origin = voucher.origin
    day = voucher.date.isoformat()

    def problem(code: str, where: str, message: str) -> None:
        problems.append(Problem(message, field=where, reference=voucher.reference, code=code,
                                file=origin.file if origin else None, line=origin.line if origin else None))

    if voucher.currency != "NOK":
        problem("unsupported-currency", "currency",
                f"PowerOffice GO would convert {voucher.currency} at its own ECB rate of the posting date; the shared "
                "form carries no rate, so only NOK vouchers are delivered")
    if register.lock_date and day <= register.lock_date:
        problem("closed-period", "date", f"PowerOffice GO is locked for entries up to and including "
                f"{register.lock_date} (lock date); a voucher dated {day} cannot be booked there")
    for i, line in enumerate(voucher.lines):
        at = f"lines[{i}]"
        if line.amount == 0:
            problem("zero-line", f"{at}.amount", "PowerOffice GO refuses a line of 0.00")
        account = register.accounts.get(line.account)
        if account is None:
            problem("missing-account", f"{at}.account", f"account {line.account} does not exist in PowerOffice GO")
        elif not account.get("IsActive", True):
            problem("inactive-account", f"{at}.account", f"account {line.account} is inactive in PowerOffice GO")
        code = vat_code_for(line)
        vat = register.vat_codes.get(code)
        if vat is None or not _valid_on(vat, day):
            why = "is not a VAT code" if vat is None else f"is not active on {day}"
            extra = "" if line.vat_code is not None else " (a line without a VAT code is sent with code 0)"
            problem("unknown-vat-code", f"{at}.vat_code", f"VAT code {code} {why} in PowerOffice GO{extra}")
        elif account is not None and account.get("IsVatCodeLocked") and account.get("VatCodeId") != vat.get("Id"):
            locked = account.get("VatCode") or next((c for c, v in register.vat_codes.items()
                                                     if v.get("Id") == account.get("VatCodeId")), "?")
            problem("vat-locked-account", f"{at}.vat_code", f"account {line.account} is locked to VAT code {locked} "
                    f"in PowerOffice GO; the line has VAT code {code}")
        if account is not None:
            if account.get("IsDepartmentRequired") and "department" not in line.dimensions:
                problem("department-required", f"{at}.dimensions.department",
                        f"account {line.account} requires a department in PowerOffice GO")
            if account.get("IsProjectRequired") and "project" not in line.dimensions:
                problem("project-required", f"{at}.dimensions.project",
                        f"account {line.account} requires a project in PowerOffice GO")
        for role, kind, table in (("customer", "Customer", register.customers),
                                  ("supplier", "Supplier", register.suppliers)):
            party = getattr(line, role)
            if party is None:
                if line.account in ledger_accounts(register, kind):
                    problem(f"{role}-required", f"{at}.{role}", f"account {line.account} is PowerOffice GO's "
                            f"{role} ledger: the line needs a {role}")
                continue
            keys = party_keys(party)
            named = " / ".join(k.replace(":", " ", 1) for k in keys) or repr(party.name)
            found = matched(party, table)
            if not keys:
                problem(f"missing-{role}", f"{at}.{role}", f"{role} {named} has no number, organisation number, "
                        "e-mail or phone to find in PowerOffice GO")
            elif found is not None and found.get("_ambiguous"):
                problem(f"ambiguous-{role}", f"{at}.{role}", f"{role} {named}: {len(found['_ambiguous'])} {role}s in "
                        f"PowerOffice GO match {found['_key'].replace(':', ' ', 1)}; give the source their number")
            elif found is None:
                problem(f"missing-{role}", f"{at}.{role}", f"{role} {named} does not exist in PowerOffice GO")
            elif not found.get("IsActive", True):
                problem(f"missing-{role}", f"{at}.{role}", f"{role} {named} is inactive in PowerOffice GO")
            else:
                series = series_of(register, kind, found.get("Number"))
                ledger = str(series.get("GeneralLedgerAccountNo")) if series else None
                if ledger != line.account:
                    problem(f"{role}-account-mismatch", f"{at}.account",
                            f"{role} {found.get('Number')} is kept on account {ledger or '(no sub-ledger series)'} in "
                            f"PowerOffice GO; the line books on {line.account}")
        for dimension, table in (("department", register.departments), ("project", register.projects)):
            wanted = line.dimensions.get(dimension)
            if wanted is not None:
                record = table.get(wanted)
                if record is None or not record.get("IsActive", True):
                    problem(f"missing-{dimension}", f"{at}.dimensions.{dimension}",
                            f"{dimension} {wanted} does not exist or is inactive in PowerOffice GO")
    return problems


# -- payloads ---------------------------------------------------------------------------------------------------

def _account_id(line: Posting, register: Register) -> Any:
    for role, table in (("customer", register.customers), ("supplier", register.suppliers)):
        party = getattr(line, role)
        if party is not None:
            record = matched(party, table)
            return record.get("SubledgerAccountId") if record else None
    account = register.accounts.get(line.account)
    return account.get("Id") if account else None


def _dimensions(line: Posting, register: Register) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "department" in line.dimensions:
        out["DepartmentId"] = (register.departments.get(line.dimensions["department"]) or {}).get("Id")
    if "project" in line.dimensions:
        out["ProjectId"] = (register.projects.get(line.dimensions["project"]) or {}).get("Id")
    return out


def _text(line: Posting, voucher: Voucher) -> str | None:
    return line.description or voucher.description or None


def draft_payload(voucher: Voucher, register: Register) -> dict[str, Any]:
    """The body of `POST /JournalEntryVouchers/ManualJournals` (ManualJournalEntryVoucherPostDto)."""
    lines = []
    for line in voucher.lines:
        side = "Debit" if line.amount > 0 else "Credit"
        body: dict[str, Any] = {f"{side}AccountId": _account_id(line, register),
                                f"{side}VatId": (register.vat_codes.get(vat_code_for(line)) or {}).get("Id"),
                                "CurrencyAmount": abs(line.amount), "PostingDate": voucher.date.isoformat(),
                                **_dimensions(line, register)}
        if _text(line, voucher):
            body["Description"] = _text(line, voucher)
        lines.append(body)
    return {"VoucherDate": voucher.date.isoformat(), "CurrencyCode": voucher.currency,
            "Description": header_description(voucher), "ManualVoucherLines": lines}


def direct_payload(voucher: Voucher, register: Register) -> dict[str, Any]:
    """The body of `POST /Vouchers/ManualJournals` (ManualVoucherPostDto), with our ExternalImportReference."""
    lines = []
    for line in voucher.lines:
        body: dict[str, Any] = {"AccountId": _account_id(line, register), "CurrencyAmount": line.amount,
                                "VatId": (register.vat_codes.get(vat_code_for(line)) or {}).get("Id"),
                                "PostingDate": voucher.date.isoformat(), **_dimensions(line, register)}
        if _text(line, voucher):
            body["Description"] = _text(line, voucher)
        lines.append(body)
    return {"VoucherDate": voucher.date.isoformat(), "CurrencyCode": voucher.currency,
            "Description": header_description(voucher), "ExternalImportReference": external_reference(voucher.reference),
            "VoucherLines": lines}


_NUMBER = re.compile(r'"\\u0000D(-?[0-9.]+)"')


def encode(payload: Any) -> bytes:
    """JSON with Decimal amounts as exact JSON numbers (never through float), æøå as UTF-8."""
    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"\x00D{value:f}"
        raise TypeError(type(value).__name__)
    return _NUMBER.sub(r"\1", json.dumps(payload, default=default, ensure_ascii=False)).encode("utf-8")


def delivery(voucher_id: Any, *, draft: bool, reference: str, not_accepted: Sequence[str] = (),
             **details: Any) -> Delivery:
    return Delivery(remote_id=str(voucher_id), draft=draft, not_accepted=tuple(not_accepted),
                    details={**{k: v for k, v in details.items() if v is not None},
                             "target_reference": external_reference(reference)})
