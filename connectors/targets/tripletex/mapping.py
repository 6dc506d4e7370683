"""Tripletex's side of the shared form: constants, wire models and pure mapping (vouchers → payloads).

No I/O here: the package's `TripletexTarget` resolves ids and sends what these functions build.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline.errors import Problem
from pipeline.model import Posting, Voucher
from pipeline.ports import Delivery

NAME = "tripletex"
PRODUCTION_URL = "https://tripletex.no/v2"
TEST_URL = "https://api-test.tripletex.tech/v2"
SESSION_DAYS = 1  # a session token lives until its expirationDate; renewed on 401 anyway
LOOKUP_CHUNK = 100  # numbers per bulk lookup, to keep URLs short
# The spec gives `externalVoucherNumber` no maxLength [unverified: the real column limit]. We keep it
# to 100 characters: a longer reference becomes its first 83 characters, "~" and 16 hex digits of its
# SHA-256 — deterministic, so `find` searches with the same value.
EXTERNAL_NUMBER_MAX = 100
SECRET_PARAMS = ("consumerToken", "employeeToken", "token")
SECRET_FIELDS = ("token", "encryptionKey")

# Fields of the shared form Tripletex's manual voucher has no place for; reported in
# `Delivery.not_accepted` (e.g. "lines[1].kid"), never invented or hidden in another field.
NOT_ACCEPTED: dict[str, str] = {
    "lines[].kid": "KID belongs to Tripletex invoices; a manual voucher posting has no KID field "
                   "(Posting.externalRef is read-only)",
    "lines[].dimensions.*": "Tripletex postings take department and project; other dimensions have no field",
    "voucher_type": "mapping a source voucher series to a Tripletex voucherType is not implemented; "
                    "Tripletex uses its default type for manual vouchers",
}
DIMENSIONS = ("department", "project")
UNSUPPORTED_DOCUMENTS = ("sales_invoice", "payment")


# -- wire models ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """A tenant's Tripletex settings (context.settings); the tokens are secret *names*."""

    base_url: str = PRODUCTION_URL
    company_id: str = "0"
    direct_posting: bool = False
    consumer_token_secret: str = ""
    employee_token_secret: str = ""
    timeout: float = 30.0

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> Settings:
        names = settings.get("secrets") or {}
        return cls(
            base_url=str(settings.get("base_url") or PRODUCTION_URL).rstrip("/"),
            company_id=str(settings.get("company_id") or "0"),
            direct_posting=bool(settings.get("direct_posting", False)),
            consumer_token_secret=str(names.get("consumer_token") or ""),
            employee_token_secret=str(names.get("employee_token") or ""),
            timeout=float(settings.get("timeout") or 30.0),
        )


@dataclass
class Register:
    """Tripletex ids by our numbers, per kind; what a voucher needs, resolved or known missing."""

    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # "1500" → Account
    vat_types: dict[str, dict[str, Any]] = field(default_factory=dict)  # "3" → VatType
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # party key → Customer
    suppliers: dict[str, dict[str, Any]] = field(default_factory=dict)
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)


# -- pure mapping -----------------------------------------------------------------------------------

def external_number(reference: str) -> str:
    """Our reference as Tripletex's externalVoucherNumber (see EXTERNAL_NUMBER_MAX)."""
    if len(reference) <= EXTERNAL_NUMBER_MAX:
        return reference
    digest = hashlib.sha256(reference.encode("utf-8")).hexdigest()[:16]
    return f"{reference[:EXTERNAL_NUMBER_MAX - 17]}~{digest}"


def party_key(party: Any) -> str | None:
    """How a customer/supplier is looked up: 'number:…', 'org:…' or 'email:…' (None: name only)."""
    if party is None:
        return None
    if party.number:
        return f"number:{party.number}"
    if party.organization_number:
        return f"org:{party.organization_number}"
    if party.email:
        return f"email:{party.email.strip().lower()}"
    return None


def not_accepted(voucher: Voucher) -> tuple[str, ...]:
    fields: list[str] = []
    if voucher.voucher_type:
        fields.append("voucher_type")
    for i, line in enumerate(voucher.lines):
        if line.kid:
            fields.append(f"lines[{i}].kid")
        fields.extend(f"lines[{i}].dimensions.{name}" for name in line.dimensions if name not in DIMENSIONS)
    return tuple(fields)


def problems_for(voucher: Voucher, register: Register) -> list[Problem]:
    """Everything in the register this voucher needs and Tripletex lacks, each located by field."""
    problems: list[Problem] = []

    def problem(code: str, where: str, message: str) -> None:
        problems.append(Problem(message, field=where, reference=voucher.reference, code=code,
                                file=voucher.origin.file if voucher.origin else None,
                                line=voucher.origin.line if voucher.origin else None))

    if voucher.currency != "NOK":
        problem("unsupported-currency", "currency",
                f"Tripletex needs the NOK amount beside the {voucher.currency} amount; "
                "the shared form carries no exchange rate")
    for i, line in enumerate(voucher.lines):
        at = f"lines[{i}]"
        account = register.accounts.get(line.account)
        if account is None:
            problem("missing-account", f"{at}.account", f"account {line.account} does not exist in Tripletex")
        elif account.get("isInactive"):
            problem("inactive-account", f"{at}.account", f"account {line.account} is inactive in Tripletex")
        if line.vat_code is not None and line.vat_code not in register.vat_types:
            problem("unknown-vat-code", f"{at}.vat_code", f"VAT code {line.vat_code} is not a Tripletex VAT type")
        for role, parties, code in (("customer", register.customers, "missing-customer"),
                                    ("supplier", register.suppliers, "missing-supplier")):
            party = getattr(line, role)
            if party is None:
                continue
            key = party_key(party)
            if key is None:
                problem(code, f"{at}.{role}",
                        f"{role} {party.name!r} has no number, organisation number or e-mail to match in Tripletex")
            elif key not in parties:
                problem(code, f"{at}.{role}", f"{role} {key.replace(':', ' ', 1)} does not exist in Tripletex")
            elif parties[key].get("isInactive"):
                problem(code, f"{at}.{role}", f"{role} {key.replace(':', ' ', 1)} is inactive in Tripletex")
        if account is not None:
            ledger_type = account.get("ledgerType")
            if ledger_type == "CUSTOMER" and line.customer is None:
                problem("customer-required", f"{at}.customer",
                        f"account {line.account} is a customer ledger account: the line needs a customer")
            if ledger_type == "VENDOR" and line.supplier is None:
                problem("supplier-required", f"{at}.supplier",
                        f"account {line.account} is a supplier ledger account: the line needs a supplier")
            if account.get("requiresDepartment") and "department" not in line.dimensions:
                problem("department-required", f"{at}.dimensions.department",
                        f"account {line.account} requires a department in Tripletex")
            if account.get("requiresProject") and "project" not in line.dimensions:
                problem("project-required", f"{at}.dimensions.project",
                        f"account {line.account} requires a project in Tripletex")
        department = line.dimensions.get("department")
        if department is not None:
            found = register.departments.get(department)
            if found is None or found.get("isInactive"):
                problem("missing-department", f"{at}.dimensions.department",
                        f"department {department} does not exist or is inactive in Tripletex")
        project = line.dimensions.get("project")
        if project is not None:
            found = register.projects.get(project)
            if found is None or found.get("isClosed"):
                problem("missing-project", f"{at}.dimensions.project",
                        f"project {project} does not exist or is closed in Tripletex")
    return problems


def _ref(record: Mapping[str, Any] | None) -> dict[str, int] | None:
    return {"id": int(record["id"])} if record is not None else None


def posting_payload(row: int, line: Posting, voucher: Voucher, register: Register) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "row": row,  # rows from 1: row 0 is Tripletex's own (generated VAT postings)
        "date": voucher.date.isoformat(),
        "description": line.description or voucher.description or "",
        "account": _ref(register.accounts.get(line.account)),
        "amountGross": line.amount,
        "amountGrossCurrency": line.amount,  # NOK only: the currency amount is the NOK amount
    }
    if line.vat_code is not None:
        payload["vatType"] = _ref(register.vat_types.get(line.vat_code))
    if line.customer is not None:
        payload["customer"] = _ref(register.customers.get(party_key(line.customer) or ""))
    if line.supplier is not None:
        payload["supplier"] = _ref(register.suppliers.get(party_key(line.supplier) or ""))
    if "department" in line.dimensions:
        payload["department"] = _ref(register.departments.get(line.dimensions["department"]))
    if "project" in line.dimensions:
        payload["project"] = _ref(register.projects.get(line.dimensions["project"]))
    if line.invoice_number:
        payload["invoiceNumber"] = line.invoice_number
    if line.due_date is not None:
        # Posting.termOfPayment is a string in the spec with no description; in the Tripletex UI it
        # is the due date of an open item, so it takes the ISO date [unverified].
        payload["termOfPayment"] = line.due_date.isoformat()
    return payload


def voucher_payload(voucher: Voucher, register: Register) -> dict[str, Any]:
    """The body of `POST /ledger/voucher`: a pure function of the voucher and the resolved register."""
    body: dict[str, Any] = {
        "date": voucher.date.isoformat(),
        "description": voucher.description or voucher.reference,
        "externalVoucherNumber": external_number(voucher.reference),
        "postings": [posting_payload(i, line, voucher, register) for i, line in enumerate(voucher.lines, 1)],
    }
    return body


_NUMBER = re.compile(r'"\\u0000D(-?[0-9.]+)"')


def encode(payload: Any) -> bytes:
    """JSON with Decimal amounts as exact JSON numbers (never through float), æøå as UTF-8."""
    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"\x00D{value:f}"
        raise TypeError(type(value).__name__)
    return _NUMBER.sub(r"\1", json.dumps(payload, default=default, ensure_ascii=False)).encode("utf-8")


def delivery_of(voucher: Mapping[str, Any], *, not_accepted: tuple[str, ...] = ()) -> Delivery:
    """Our Delivery from Tripletex's Voucher: a voucher without a ledger number is non-posted (a draft)."""
    number = voucher.get("number") or 0
    return Delivery(
        remote_id=str(voucher["id"]),
        draft=not number,
        url=voucher.get("url"),
        not_accepted=not_accepted,
        details={k: voucher.get(k) for k in ("number", "tempNumber", "year", "externalVoucherNumber")
                 if voucher.get(k) is not None},
    )


