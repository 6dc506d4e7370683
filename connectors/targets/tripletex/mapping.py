"""Tripletex's side of the shared form: constants, wire models and pure mapping (vouchers → payloads).

No I/O here: the package's `TripletexTarget` resolves ids and sends what these functions build.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipeline.descriptors import Derived, FieldMap, Lands, NotAccepted, Refused
from pipeline.errors import Problem
from pipeline.model import Posting, Voucher
from pipeline.norway.phone import is_mobile
from pipeline.ports import Delivery

NAME = "tripletex"
PRODUCTION_URL = "https://tripletex.no/v2"
TEST_URL = "https://api-test.tripletex.tech/v2"
SESSION_DAYS = 1  # a session token lives until its expirationDate; renewed on 401 anyway
LOOKUP_CHUNK = 100  # numbers per bulk lookup, to keep URLs short
# "External voucher number. Maximum 70 characters." (Voucher.externalVoucherNumber in Tripletex's spec after
# 2.72.00, as newer copies of openapi.json quote it; 2.72.00 itself says only "External voucher number.").
# A longer reference becomes its first 53 characters, "~" and 16 hex digits of its SHA-256: readable,
# deterministic (so `find` searches with the same value) and apart from any other reference. The full
# reference stays in our ledger and in the voucher's description.
EXTERNAL_NUMBER_MAX = 70
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
UNSUPPORTED_DOCUMENTS: tuple[str, ...] = ()  # sales invoices and payments: invoicing.py, sales.py

# The public field map (docs/field-map.md): where each field of a voucher lands in `POST /ledger/voucher`
# (voucher_payload below), proven by the contract suite against the sandbox.
FIELD_MAP: FieldMap = {"voucher": {
    "reference": Lands("externalVoucherNumber", f"as is; past {EXTERNAL_NUMBER_MAX} characters its first 53, "
                                                "“~” and 16 hex digits of its SHA-256, the whole reference then "
                                                "added to the voucher's description"),
    "date": Lands("date", "as is, on the voucher and on each posting"),
    "description": Lands("description", "as is (the reference when there is none); a posting without a "
                                        "description of its own takes it"),
    "currency": Refused("Tripletex needs the NOK amount beside an amount in another currency, and the shared form "
                        "holds no exchange rate: another currency is a preflight problem (unsupported-currency)",
                        accepted=("NOK",)),
    "voucher_type": NotAccepted(NOT_ACCEPTED["voucher_type"]),
    "lines[].account": Lands("postings[].account", "the account's Tripletex id, looked up by its number"),
    "lines[].amount": Lands("postings[].amountGross", "as is: gross (VAT included) and signed; the same in "
                                                      "amountGrossCurrency"),
    "lines[].description": Lands("postings[].description", "as is"),
    "lines[].vat_code": Lands("postings[].vatType", "the Tripletex VAT type with that number, by its id "
                                                    "(Tripletex numbers its VAT types after the SAF-T codes)"),
    "lines[].vat_amount": Derived("Tripletex computes the VAT itself from amountGross and the VAT type and posts it "
                                  "(its own rounding); the source's figure is not sent"),
    "lines[].dimensions.department": Lands("postings[].department", "the department's id, looked up by its number"),
    "lines[].dimensions.project": Lands("postings[].project", "the project's id, looked up by its number"),
    "lines[].dimensions.*": NotAccepted(NOT_ACCEPTED["lines[].dimensions.*"]),
    "lines[].customer": Lands("postings[].customer", "the customer's id, matched by customer number, organisation "
                                                     "number, e-mail or mobile phone (created once when the "
                                                     "connection's create_customers is on)"),
    "lines[].supplier": Lands("postings[].supplier", "the supplier's id, matched by supplier number, organisation "
                                                     "number or e-mail"),
    "lines[].kid": NotAccepted(NOT_ACCEPTED["lines[].kid"]),
    "lines[].invoice_number": Lands("postings[].invoiceNumber", "as is"),
    "lines[].due_date": Lands("postings[].termOfPayment", "as an ISO date [unverified: the spec does not say what "
                                                          "termOfPayment holds; in Tripletex's screens it is the due "
                                                          "date of an open item]"),
}}


# -- wire models ------------------------------------------------------------------------------------

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


def party_keys(party: Any) -> tuple[str, ...]:
    """Every way a customer/supplier can be looked up, best first: 'number:…', 'org:…', 'email:…', 'phone:…'."""
    if party is None:
        return ()
    keys = []
    if party.number:
        keys.append(f"number:{party.number}")
    if party.organization_number:
        keys.append(f"org:{party.organization_number}")
    if party.email:
        keys.append(f"email:{party.email.strip().lower()}")
    if getattr(party, "phone", None):
        keys.append(f"phone:{party.phone}")
    return tuple(keys)


def party_key(party: Any) -> str | None:
    """The best way a customer/supplier is looked up (None: a name only, which is ambiguous)."""
    keys = party_keys(party)
    return keys[0] if keys else None


def matched(party: Any, found: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The register record a party resolved to: the first of its keys that matched (an ambiguous one too)."""
    return next((found[key] for key in party_keys(party) if key in found), None)


def creatable(party: Any) -> str | None:
    """Why Bilagsbro may not create this customer (None: it may). Only a customer it can find again —
    by organisation number, e-mail, phone or a numeric customer number — is created, so that a retry after
    an unknown outcome looks it up instead of creating it twice."""
    if not (party.organization_number or party.email or getattr(party, "phone", None)
            or (party.number and party.number.isdigit())):
        return "it has no organisation number, e-mail, phone or numeric customer number to find it by"
    return None


def customer_payload(party: Any) -> dict[str, Any]:
    """The body of `POST /customer` for a party (spec: Customer; `name` is what Tripletex insists on)."""
    body: dict[str, Any] = {"name": party.name or party.email or getattr(party, "phone", None) or party.number,
                            "isPrivateIndividual": party.organization_number is None}
    if party.number and party.number.isdigit():
        body["customerNumber"] = int(party.number)
    if party.organization_number:
        body["organizationNumber"] = party.organization_number
    if party.email:
        body["email"] = party.email.strip()
    phone = getattr(party, "phone", None)
    if phone:
        # Only phoneNumberMobile can be searched (GET /customer has no phoneNumber filter): a mobile number
        # goes there, so that the customer is found by it next time; other numbers to phoneNumber.
        body["phoneNumberMobile" if is_mobile(phone) else "phoneNumber"] = phone
    if party.address is not None:
        address: dict[str, Any] = {}
        if party.address.lines:
            address["addressLine1"] = party.address.lines[0]
        if len(party.address.lines) > 1:
            address["addressLine2"] = ", ".join(party.address.lines[1:])
        if party.address.postal_code:
            address["postalCode"] = party.address.postal_code
        if party.address.city:
            address["city"] = party.address.city
        if address:  # country is an object with Tripletex's own id: left to Tripletex's default (Norway)
            body["postalAddress"] = address
    method = getattr(party, "delivery_method", None)
    if method is not None:  # Customer.invoiceSendMethod (spec enum: EMAIL, EHF, …, PAPER)
        body["invoiceSendMethod"] = method.upper()
        if method == "email" and party.email:
            body["invoiceEmail"] = party.email.strip()
    return body


def not_accepted(voucher: Voucher) -> tuple[str, ...]:
    fields: list[str] = []
    if voucher.voucher_type:
        fields.append("voucher_type")
    for i, line in enumerate(voucher.lines):
        if line.kid:
            fields.append(f"lines[{i}].kid")
        fields.extend(f"lines[{i}].dimensions.{name}" for name in line.dimensions if name not in DIMENSIONS)
    return tuple(fields)


def problems_for(voucher: Voucher, register: Register, *, create_customers: bool = False) -> list[Problem]:
    """Everything in the register this voucher needs and Tripletex lacks, each located by field.

    With `create_customers`, a missing customer Bilagsbro may create (see `creatable`) is no problem.
    """
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
            keys = party_keys(party)
            found = matched(party, parties)
            named = " / ".join(k.replace(":", " ", 1) for k in keys)
            if not keys:
                problem(code, f"{at}.{role}", f"{role} {party.name!r} has no number, organisation number, "
                        "e-mail or phone to match in Tripletex")
            elif found is not None and found.get("_ambiguous"):
                problem(f"ambiguous-{role}", f"{at}.{role}",
                        f"{role} {named}: {len(found['_ambiguous'])} {role}s in Tripletex match "
                        f"{found['_key'].replace(':', ' ', 1)} (ids {', '.join(map(str, found['_ambiguous']))}); "
                        "merge them in Tripletex or give the source a customer number")
            elif found is None:
                why = creatable(party) if role == "customer" else "suppliers are not created"
                if not (create_customers and why is None):
                    hint = (f" and cannot be created: {why}" if create_customers else
                            " (the Tripletex connection may create missing customers: setting create_customers)"
                            if role == "customer" else "")
                    problem(code, f"{at}.{role}", f"{role} {named} does not exist in Tripletex{hint}")
            elif found.get("isInactive"):
                problem(code, f"{at}.{role}", f"{role} {named} is inactive in Tripletex")
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
            for code, message in vat_rules(line, account, register):
                problem(code, f"{at}.vat_code", message)
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


def vat_type_by_id(register: Register, vat_id: Any) -> dict[str, Any] | None:
    return next((v for v in register.vat_types.values() if v.get("id") == vat_id), None)


def _named(vat: Mapping[str, Any] | None, vat_id: Any) -> str:
    return f"{vat['number']} ({vat.get('name')})" if vat else f"with Tripletex id {vat_id}"


def vat_rules(line: Posting, account: Mapping[str, Any], register: Register) -> list[tuple[str, str]]:
    """An account locked to one VAT code (`vatLocked` + `vatType`) or limited to some (`legalVatTypes`,
    changelog 2.59.1): Tripletex refuses any other — "Kontoen 3000 Salgsinntekt, avgiftspliktig er låst til
    mva-kode 3" on field postings.vatType.id. A line with no VAT code is refused on an account locked to a
    code other than 0 [unverified: Tripletex may apply the locked code instead, which would book VAT the
    source did not charge — so it is a problem either way]."""
    used = register.vat_types.get(line.vat_code) if line.vat_code is not None else None
    locked_id = (account.get("vatType") or {}).get("id") if account.get("vatLocked") else None
    if locked_id is not None:
        locked = vat_type_by_id(register, locked_id)
        if line.vat_code is None:
            if locked is not None and str(locked.get("number")) != "0":
                return [("vat-locked-account", f"account {line.account} is locked to VAT code {_named(locked, locked_id)}"
                                               " in Tripletex; the line has no VAT code")]
        elif used is not None and used.get("id") != locked_id:
            return [("vat-locked-account", f"account {line.account} is locked to VAT code {_named(locked, locked_id)} "
                                           f"in Tripletex; the line has VAT code {line.vat_code}")]
        return []
    legal = [ref.get("id") for ref in account.get("legalVatTypes") or () if isinstance(ref, Mapping)]
    if legal and used is not None and used.get("id") not in legal:
        allowed = ", ".join(str((vat_type_by_id(register, i) or {}).get("number", f"id {i}")) for i in legal)
        return [("vat-code-not-allowed", f"VAT code {line.vat_code} is not allowed on account {line.account} in "
                                         f"Tripletex (allowed: {allowed})")]
    return []


def vat_ids_to_name(line: Posting, register: Register) -> set[Any]:
    """The ids of VAT types a problem about this line would name and the register does not know yet."""
    account = register.accounts.get(line.account)
    if account is None:
        return set()
    known = {v.get("id") for v in register.vat_types.values()}
    used = register.vat_types.get(line.vat_code) if line.vat_code is not None else None
    if account.get("vatLocked"):
        ids = {(account.get("vatType") or {}).get("id")}
    else:
        legal = {ref.get("id") for ref in account.get("legalVatTypes") or () if isinstance(ref, Mapping)}
        ids = legal if legal and used is not None and used.get("id") not in legal else set()
    return {i for i in ids if i is not None and i not in known}


def balance_per_date(voucher: Voucher, body: Mapping[str, Any]) -> list[Problem]:
    """Tripletex balances a voucher per posting date ("Summen av posteringene for 2023-11-02 er ikke lik 0.",
    tripletex-api2 issue 87): the payload is checked so, whatever dates its postings carry."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for posting in body.get("postings") or ():
        sums[str(posting.get("date") or body.get("date"))] += Decimal(posting.get("amountGross") or 0)
    origin = voucher.origin
    return [Problem(f"the postings dated {day} sum to {total:.2f}, not 0.00: Tripletex balances a voucher per "
                    "posting date", field="lines", reference=voucher.reference, code="unbalanced-date",
                    file=origin.file if origin else None, line=origin.line if origin else None)
            for day, total in sorted(sums.items()) if total != 0]


def _ref(record: Mapping[str, Any] | None) -> dict[str, int] | None:
    return {"id": int(record["id"])} if record is not None and "id" in record else None


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
        payload["customer"] = _ref(matched(line.customer, register.customers))
    if line.supplier is not None:
        payload["supplier"] = _ref(matched(line.supplier, register.suppliers))
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
    number = external_number(voucher.reference)
    description = voucher.description if voucher.description and voucher.description.strip() else voucher.reference
    if number != voucher.reference and voucher.reference not in description:
        description = f"{description} (ref. {voucher.reference})"  # the full reference, where a reader sees it
    body: dict[str, Any] = {
        "date": voucher.date.isoformat(),
        "description": description,  # required by Tripletex: never empty (a reference is never blank)
        "externalVoucherNumber": number,
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
        details={**{k: voucher.get(k) for k in ("number", "tempNumber", "year", "externalVoucherNumber")
                    if voucher.get(k) is not None},
                 # what Tripletex knows the voucher by (our reference, shortened past 70 characters)
                 **({"target_reference": voucher["externalVoucherNumber"]}
                    if voucher.get("externalVoucherNumber") else {})},
    )




def found_once(exact: list[dict[str, Any]]) -> Delivery | None:
    """The Delivery `find` reports for the vouchers carrying one reference: the first, with any doubles named."""
    if not exact:
        return None
    first = delivery_of(min(exact, key=lambda v: int(v["id"])))
    if len(exact) > 1:  # a double made outside our ledger: say so rather than pick silently
        first.details["duplicates"] = sorted(int(v["id"]) for v in exact)
    return first
