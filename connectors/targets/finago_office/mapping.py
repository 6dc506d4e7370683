"""Finago Office's side of the shared form: constants and pure mapping, vouchers → SaveBundleList's BundleList.

No I/O here: the target looks things up and sends what these functions build (plain dicts in the WSDL's names,
which zeep turns into the envelope).

- A voucher is one bundle holding one voucher: its entries carry the signed amount (debit +, credit −
  [unverified sign convention; both the sandbox and this mapping use it]), the account, the VAT code (`TaxNo`),
  customer or supplier (`CustomerId`: both are companies in 24SevenOffice's CRM), department, project, KID
  (`InvoiceOcr`), due date and text (`Comment`).
- Drafts (`SaveOption=1`, a bundle in the journal for review) carry gross amounts with `BundleDirectAccounting=false`:
  24SevenOffice calculates the VAT. A direct posting (`SaveOption=0`) has no such calculation, so the VAT is
  split out here: the line's net amount with its VAT code and `VatAmount`, and the VAT as its own entry on the VAT
  code's account (`TaxCodeElement.AccountNo`) [unverified that this is how the ledger wants it].
- Our reference travels as a marker in `InvoiceReferenceNo` on every entry that has no invoice number of its own
  (an invoice number is kept where the line has one: it matches open items). It is what `find` searches for
  (`GetTransactions(InvoiceNo=…)`) and what 24SevenOffice's own duplicate warning (`invoicealreadyexists`, never
  ignored by us) recognises.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pipeline.descriptors import Derived, FieldMap, Lands, NotAccepted, Refused
from pipeline.model import Posting, Voucher
from pipeline.ports import Delivery

NAME = "finago-office"
PRODUCTION_URL = "https://api.24sevenoffice.com"
WEBSERVICES_URL = "https://webservices.24sevenoffice.com"
# The services used: name → (endpoint path, domain). 24SevenOffice runs them on two domains
# (developer.24sevenoffice.com/faq); ProjectService lives on "webservices". Paths as the WSDLs' soap:address.
SERVICES: dict[str, tuple[str, str]] = {
    "auth": ("/authenticate/v001/authenticate.asmx", "api"),
    "account": ("/Economy/Account/V004/Accountservice.asmx", "api"),
    "transaction": ("/Economy/Accounting/V001/TransactionService.asmx", "api"),
    "client": ("/Client/V001/ClientService.asmx", "api"),
    "company": ("/CRM/Company/V001/CompanyService.asmx", "api"),
    "project": ("/Project/V001/ProjectService.asmx", "webservices"),
}
CENT = Decimal("0.01")
ACCOUNT_MAX = 32767  # AccountNo is an xs:short in GetAccountList and GetTransactions
# [unverified] how long InvoiceReferenceNo may be: a longer reference is shortened deterministically (first 13
# characters, "~", 16 hex digits of its SHA-256), so `find` searches with the same marker.
MARKER_MAX = 30
BUNDLE_PREFIX = "Bilagsbro "
RESENT = " (sendt på nytt: se etter dublett)"  # the name of a draft sent again when the journal could not be read
DIMENSIONS = ("department", "project")
UNSUPPORTED_DOCUMENTS = ("sales_invoice", "payment")
NOT_ACCEPTED: dict[str, str] = {
    "lines[].dimensions.*": "Finago Office entries take department and project; other dimensions "
                            "(UserDefinedDimensions) are not mapped",
    "voucher_type": "every voucher is registered as the connection's voucher type (setting transaction_type); a "
                    "source's voucher series is not mapped",
}
SECRET_FIELDS = ("ApplicationId", "LoginResult", "SessionId", "ASP.NET_SessionId")
_ENTRY = "Bundles.Bundle[].Vouchers.Voucher[].Entries.Entry[]"
# The public field map (docs/field-map.md), for a draft bundle (bundle_list below), the default; `how` says where a
# direct posting differs. Proven by the contract suite.
FIELD_MAP: FieldMap = {"voucher": {
    "reference": Lands("Bundles.Bundle[].Name", f"the draft bundle's name, «{BUNDLE_PREFIX}<reference>»; and the "
                                                "InvoiceReferenceNo of every entry without an invoice number of its "
                                                f"own (past {MARKER_MAX} characters shortened with a hash), where find "
                                                "searches"),
    "date": Lands(f"{_ENTRY}.Date", "as a date and time at midnight"),
    "description": Lands(f"{_ENTRY}.Comment", "each entry's text: the voucher's description, then the line's"),
    "currency": Refused("Finago Office needs the NOK amount beside another currency's, and the shared form carries "
                        "no exchange rate: another currency is a preflight problem (unsupported-currency)",
                        accepted=("NOK",)),
    "voucher_type": NotAccepted(NOT_ACCEPTED["voucher_type"]),
    "lines[].account": Lands(f"{_ENTRY}.AccountNo", "as an integer"),
    "lines[].amount": Lands(f"{_ENTRY}.Amount", "signed and gross on a draft (24SevenOffice calculates the VAT); a "
                                                "direct posting sends it net with VatAmount, and the VAT as an entry "
                                                "of its own on the VAT code's account [unverified]"),
    "lines[].description": Lands(f"{_ENTRY}.Comment", "after the voucher's description"),
    "lines[].vat_code": Lands(f"{_ENTRY}.TaxNo", "as is (the tax code with that number)"),
    "lines[].vat_amount": Derived("on a draft 24SevenOffice calculates the VAT from the gross amount and the tax "
                                  "code; a direct posting sends the source's figure as VatAmount"),
    "lines[].dimensions.department": Lands(f"{_ENTRY}.DepartmentId", "as an integer"),
    "lines[].dimensions.project": Lands(f"{_ENTRY}.ProjectId", "as an integer"),
    "lines[].dimensions.*": NotAccepted(NOT_ACCEPTED["lines[].dimensions.*"]),
    "lines[].customer": Lands(f"{_ENTRY}.CustomerId", "the company's id in 24SevenOffice's CRM, found by customer "
                                                      "number, organisation number or e-mail"),
    "lines[].supplier": Lands(f"{_ENTRY}.CustomerId", "the company's id in the CRM (suppliers are companies there "
                                                      "too), found as a customer is"),
    "lines[].kid": Lands(f"{_ENTRY}.InvoiceOcr", "as is"),
    "lines[].invoice_number": Lands(f"{_ENTRY}.InvoiceReferenceNo", "as is, in place of our reference"),
    "lines[].due_date": Lands(f"{_ENTRY}.DueDate", "as a date and time at midnight"),
}}


@dataclass
class Register:
    """What the vouchers need from Finago Office, as it answered (hits only)."""

    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # "1920" → AccountData
    tax_codes: dict[str, dict[str, Any]] = field(default_factory=dict)  # "3" → TaxCodeElement
    years: dict[str, dict[str, Any]] = field(default_factory=dict)  # "2026" → FiscalYear
    types: dict[str, dict[str, Any]] = field(default_factory=dict)  # TypeNo → TypeData
    departments: dict[str, dict[str, Any]] = field(default_factory=dict)  # "1" → Department
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)  # "100" → Project
    companies: dict[str, dict[str, Any]] = field(default_factory=dict)  # party key → Company (or _ambiguous)


def marker(reference: str) -> str:
    """Our reference as 24SevenOffice keeps it in InvoiceReferenceNo."""
    if len(reference) <= MARKER_MAX:
        return reference
    return f"{reference[:13]}~{hashlib.sha256(reference.encode('utf-8')).hexdigest()[:16]}"


def bundle_name(reference: str, *, resent: bool = False) -> str:
    """The bundle's name in the journal (drafts only: "not applicable when SaveOption = 0")."""
    return BUNDLE_PREFIX + reference + (RESENT if resent else "")


def split(gross: Decimal, rate: Decimal, vat_amount: Decimal | None) -> tuple[Decimal, Decimal]:
    """A gross amount as (net, VAT): the source's VAT where it gave one, else computed and rounded to øre."""
    vat = vat_amount if vat_amount is not None else (gross * rate / (100 + rate)).quantize(CENT, ROUND_HALF_UP)
    return gross - vat, vat


def _moment(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00"


def _dimension(line: Posting, name: str) -> int | None:
    value = line.dimensions.get(name)
    return int(value) if value is not None and value.isdigit() else None


def party_keys(line: Posting) -> tuple[str, ...]:
    party = line.customer or line.supplier
    if party is None:
        return ()
    keys = []
    if party.number and party.number.isdigit():
        keys.append(f"number:{int(party.number)}")
    if party.organization_number:
        keys.append(f"org:{party.organization_number}")
    if party.email:
        keys.append(f"email:{party.email.lower()}")
    return tuple(keys)


def company(line: Posting, register: Register) -> dict[str, Any] | None:
    """The company (customer or supplier) a line names, by number, organisation number or e-mail, best first."""
    for key in party_keys(line):
        if key in register.companies:
            return register.companies[key]
    return None


def comment(voucher: Voucher, line: Posting) -> str:
    """The entry's text: the voucher's description and the line's, both kept (24SevenOffice has text per entry)."""
    texts = [t for t in (voucher.description, line.description) if t]
    return ": ".join(dict.fromkeys(texts))


def entries(voucher: Voucher, register: Register, *, draft: bool) -> list[dict[str, Any]]:
    """The voucher's entries; a direct posting's VAT as entries of their own."""
    ours = marker(voucher.reference)
    out: list[dict[str, Any]] = []
    for line in voucher.lines:
        reference = line.invoice_number or ours
        account: int | str = int(line.account) if line.account.isdigit() else line.account  # (preflight refuses it)
        entry: dict[str, Any] = {"Date": _moment(voucher.date), "AccountNo": account, "Amount": line.amount,
                                 "InvoiceReferenceNo": reference, "Comment": comment(voucher, line)}
        found = company(line, register)
        if found is not None and not found.get("_ambiguous"):
            entry["CustomerId"] = int(found["Id"])
        for name, key in (("department", "DepartmentId"), ("project", "ProjectId")):
            number = _dimension(line, name)
            if number is not None:
                entry[key] = number
        if line.kid:
            entry["InvoiceOcr"] = line.kid
        if line.due_date:
            entry["DueDate"] = _moment(line.due_date)
        code = register.tax_codes.get(line.vat_code) if line.vat_code is not None else None
        if line.vat_code is not None:
            entry["TaxNo"] = line.vat_code
        rate = Decimal(str(code["TaxRate"])) if code and code.get("TaxRate") is not None else Decimal(0)
        if draft or not rate or not code or code.get("AccountNo") is None:
            out.append(entry)
            continue
        net, vat = split(line.amount, rate, line.vat_amount)
        out.append({**entry, "Amount": net, "VatAmount": vat})
        out.append({"Date": entry["Date"], "AccountNo": int(code["AccountNo"]), "Amount": vat,
                    "InvoiceReferenceNo": reference, "Comment": f"MVA {line.vat_code}: {entry['Comment']}".rstrip(": ")})
    return out


def bundle_list(voucher: Voucher, register: Register, *, draft: bool, year: int, transaction_no: int,
                voucher_type: int, resent: bool = False) -> dict[str, Any]:
    """SaveBundleList's BundleList for one voucher: a draft bundle for review, or straight to the ledger."""
    bundle: dict[str, Any] = {"YearId": year, "Sort": voucher_type,
                              "Vouchers": {"Voucher": [{"TransactionNo": transaction_no, "Sort": voucher_type,
                                                        "Entries": {"Entry": entries(voucher, register, draft=draft)}}]}}
    if draft:
        bundle["Name"] = bundle_name(voucher.reference, resent=resent)
        bundle["BundleDirectAccounting"] = False  # 24SevenOffice calculates the VAT of the journal
    return {"Bundles": {"Bundle": [bundle]}, "AllowDifference": False, "DirectLedger": False,
            "SaveOption": 1 if draft else 0}


def markers(voucher: Voucher) -> list[str]:
    """Every InvoiceReferenceNo the voucher's entries carry: ours first, then the lines' invoice numbers."""
    ours = marker(voucher.reference)
    found = [ours] if any(not line.invoice_number for line in voucher.lines) else []
    found += [line.invoice_number for line in voucher.lines if line.invoice_number]
    return list(dict.fromkeys(found))


def not_accepted(voucher: Voucher) -> tuple[str, ...]:
    out = [f"lines[{i}].dimensions.{name}" for i, line in enumerate(voucher.lines)
           for name in line.dimensions if name not in DIMENSIONS]
    if voucher.voucher_type:
        out.append("voucher_type")
    return tuple(out)


def delivery(record: Mapping[str, Any], *, not_accepted: tuple[str, ...] = (), **details: Any) -> Delivery:
    """What we tell the pipeline about a voucher Finago Office holds, from our record of it."""
    draft = bool(record.get("Draft"))
    remote = str(record.get("RemoteId") or f"{record.get('Year')}-{record.get('TransactionNo')}")
    facts = {"bundle": record.get("BundleName") if draft else None, "target_reference": record.get("Marker"),
             "save_option": 1 if draft else 0, **details}
    return Delivery(remote_id=remote, draft=draft, not_accepted=not_accepted,
                    details={k: v for k, v in facts.items() if v is not None})
