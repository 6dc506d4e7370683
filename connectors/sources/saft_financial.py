"""SAF-T Financial 1.10–1.30: a general ledger export, one voucher per GeneralLedgerEntries transaction.

Format: Skatteetaten's `Norwegian_SAF-T_Financial_Schema_v_1.30.xsd` (https://github.com/Skatteetaten/saf-t;
facts: /work/shared/reference/norway-standards.md §1). MasterFiles (accounts, customers, suppliers, the
tax table) come before the entries, so we keep that small master data and stream the big entries.

Each `Journal/Transaction` becomes a `Voucher`:
- reference `saft-<company org>-<JournalID>-<TransactionID>`: TransactionIDs are voucher numbers, which
  systems repeat across journals (series), so the journal is always part of it; characters other than letters,
  digits, `.`, `_` and `-` become `-`, followed then by 8 hex digits of the original's SHA-256 (two IDs that
  differ only in such characters stay apart); a repeat within a file is a `Problem` (`duplicate`);
- date `TransactionDate`; description `Description` (or `VoucherDescription`); voucher_type
  `VoucherType` (1.30), else the journal's `Type`, else its `JournalID`;
- lines: amount = DebitAmount − CreditAmount; `CustomerID`/`SupplierID` resolved against MasterFiles
  (name, organisation number from RegistrationNumber, email, phone — Contact's MobilePhone, else Telephone —,
  postal address); `CID` → kid,
  `ReferenceNumber` → invoice_number, `DueDate`; dimensions from `Analysis` via `analysis_map` (default
  A → department, P → project, as in the official example's AnalysisTypeTable). A line that carries two
  IDs of one analysis type (split over departments) keeps neither: a posting has one department.

VAT, per the shared form (pipeline/model.py: a line's amount is gross): a line with `TaxInformation`
is a base line; its tax (`DebitTaxAmount` +, `CreditTaxAmount` −; 1.10/1.20 `TaxAmount` takes the line's
sign) is folded in: amount = net + tax, `vat_amount` = tax, `vat_code` = the StandardTaxCode its
`TaxCode` maps to in the TaxTable. The voucher's VAT postings — lines without TaxInformation on a VAT
account (option `vat_accounts`; else accounts whose GroupingCode is 2740, as 1.30 requires of every VAT
account, and NS 4102 2700–2719 and 2740) — are removed. We fold only when those postings add up exactly
to the voucher's total tax. When they do not (reverse charge posts output and input VAT that cancel;
a system that posts VAT elsewhere), the voucher comes through as the file has it — net amounts,
explicit VAT postings, and no `vat_code` on any line (a code would claim the amount is gross) — together
with a warning of code `vat-unfolded` for that reference, so an operator sees the VAT codes were lost.

A transaction that does not balance, or has a bad date or amount, is a `Problem` at its line and is left
out; the others come through. The file's own `NumberOfEntries`, `TotalDebit` and `TotalCredit` are checked
against what we read (`code="totals"`); a stated total that is not a number, or sums we cannot make
because some amounts were unreadable, are said too. Broken XML is a `Problem` at its line after the good
vouchers.

Versions: `AuditFileVersion` 1.0 (Skatteetaten's own example file says 1.0 under the 1.10 schema), 1.10,
1.20 and 1.30 are read. Any other version number (a 2.0 draft, 1.40) is one `unsupported-version`
problem naming it, and nothing of the file is read: its elements may not mean what 1.x's do. A version
that is not a number (XMLSpy's generated sample says "a") is read as 1.x.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from lxml import etree
from pydantic import ValidationError

from connectors.sources.options import SaftFinancialOptions
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
from pipeline.descriptors import FormatDescriptor
from pipeline.errors import Problem
from pipeline.model import Address, Origin, Party, Posting, Voucher
from pipeline.norway.phone import normalise_phone
from pipeline.seen import Seen

NAME = "saft-financial"
NAMESPACE = b"urn:StandardAuditFile-Taxation-Financial:NO"
ANALYSIS_MAP = {"A": "department", "P": "project"}
VAT_ACCOUNT = re.compile(r"^(27[01]\d|2740)")  # NS 4102 output/input VAT and the settlement account
VAT_GROUPING_CODE = "2740"
SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2", "1.3")  # AuditFileVersion, trailing zeros dropped: 1.10 → 1.1

_TAGS = (
    "Header",
    "Account",
    "Customer",
    "Supplier",
    "TaxCodeDetails",
    "NumberOfEntries",
    "TotalDebit",
    "TotalCredit",
    "JournalID",
    "Type",
    "Transaction",
    "GeneralLedgerEntries",
)
_REFERENCE_UNSAFE = re.compile(r"[^\w.\-]+")


@dataclass
class _Master:
    company: str = "unknown"
    currency: str = "NOK"
    vat_accounts: set[str] = field(default_factory=set)
    tax_codes: dict[str, str] = field(default_factory=dict)  # system TaxCode → StandardTaxCode
    customers: dict[str, Party] = field(default_factory=dict)
    suppliers: dict[str, Party] = field(default_factory=dict)


@dataclass
class _Totals:
    stated: dict[str, Decimal] = field(default_factory=dict)
    entries: int = 0
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    complete: bool = True
    unreadable: dict[str, str] = field(default_factory=dict)  # stated totals that are not numbers


def sniff(head: bytes, file_name: str) -> bool:
    """Root `AuditFile` in the Financial namespace, or a bare `AuditFile` (XMLSpy samples have none)."""
    return NAMESPACE in head[:16384] or root_name(head) == "AuditFile"


def parse(data: IO[bytes], *, file_name: str, options: Mapping[str, Any]) -> Iterator[Voucher | Problem]:
    # Other formats' options beside ours (the translate stage adds vat_map) are not ours to judge.
    given = SaftFinancialOptions.read({k: v for k, v in options.items() if k in SaftFinancialOptions.model_fields},
                                      connector=NAME)
    analysis_map = given.analysis_map if "analysis_map" in given.model_fields_set else ANALYSIS_MAP
    option_vat_accounts = given.vat_accounts
    master = _Master()
    totals = _Totals()
    seen = Seen()
    journal_id, journal_type = "", ""
    open_at: int | None = None  # the line of the journal's transaction being read, until it ends
    try:
        for event, element in iterparse(data, _TAGS, events=("start", "end")):
            name = local(element.tag)
            parent = local(element.getparent().tag) if element.getparent() is not None else ""
            if event == "start":
                if name == "Transaction" and open_at is None:
                    open_at = element.sourceline
                continue
            if name == "Header":
                unsupported = _unsupported_version(text(element, "AuditFileVersion"))
                if unsupported:
                    yield Problem(unsupported, field="Header/AuditFileVersion", file=file_name,
                                  line=element.sourceline, code="unsupported-version")
                    return
                company = child(element, "Company")
                if company is not None:
                    master.company = text(company, "RegistrationNumber") or master.company
                master.currency = text(element, "DefaultCurrencyCode") or master.currency
            elif name == "Account" and parent == "GeneralLedgerAccounts":
                if text(element, "GroupingCode") == VAT_GROUPING_CODE and (
                    account := text(element, "AccountID")
                ):
                    master.vat_accounts.add(account)
                release(element)
            elif name in ("Customer", "Supplier") and parent in ("Customers", "Suppliers"):
                number = text(element, f"{name}ID")
                if number is not None:
                    book = master.customers if name == "Customer" else master.suppliers
                    book[number] = _party(element, number)
                release(element)
            elif name == "TaxCodeDetails":
                code, standard = text(element, "TaxCode"), text(element, "StandardTaxCode")
                if code is not None and standard is not None:
                    master.tax_codes[code] = standard
            elif (
                name in ("NumberOfEntries", "TotalDebit", "TotalCredit") and parent == "GeneralLedgerEntries"
            ):
                raw = (element.text or "").strip()
                if re.fullmatch(r"-?\d+(\.\d+)?", raw):
                    totals.stated[name] = Decimal(raw)
                else:
                    totals.unreadable[name] = raw
            elif name == "JournalID" and parent == "Journal":
                journal_id, journal_type = (element.text or "").strip(), ""
            elif name == "Type" and parent == "Journal":
                journal_type = (element.text or "").strip()
            elif name == "Transaction" and parent == "Journal":
                totals.entries += 1
                is_vat_account = _vat_accounts(option_vat_accounts, master.vat_accounts)
                yield from _transaction(
                    element,
                    journal_id,
                    journal_type,
                    master,
                    is_vat_account,
                    analysis_map,
                    totals,
                    seen,
                    file_name,
                )
                release(element)
                open_at = None
            elif name == "GeneralLedgerEntries":
                yield from _check_totals(totals, file_name, element.sourceline)
    except etree.XMLSyntaxError as error:
        yield Problem(
            f"the XML breaks here: {error.msg}", file=file_name, line=syntax_line(error), code="malformed"
        )
        if open_at is not None and open_at != syntax_line(error):
            # An unclosed Transaction swallows the ones after it; they were never seen on their own.
            yield Problem(
                f"the transaction that starts here was not read to its end (the XML breaks at line "
                f"{syntax_line(error)}): neither it nor any transaction after it was booked",
                file=file_name, line=open_at, code="malformed",
            )
        return
    if totals.entries == 0:
        yield Problem("no transactions in this SAF-T Financial file (GeneralLedgerEntries/Journal/Transaction)",
                      file=file_name, code="empty")


# -- pure mapping ------------------------------------------------------------------------------------------


def _party(element: Any, number: str) -> Party:
    """A customer or supplier from MasterFiles; an organisation number that is not one is left out."""
    contact = child(element, "Contact")
    email = text(contact, "Email") if contact is not None else None
    # A phone only when it is one (a contact's extension or a fax-like note is left out, like a bad org number).
    phones = [text(contact, name) for name in ("MobilePhone", "Telephone")] if contact is not None else []
    phone = next((p for p in phones if p and normalise_phone(p)), None)
    addresses = children(element, "Address")
    preferred = next(
        (a for a in addresses if text(a, "AddressType") == "PostalAddress"),
        addresses[0] if addresses else None,
    )
    address = None
    if preferred is not None:
        street = " ".join(p for p in (text(preferred, "StreetName"), text(preferred, "Number")) if p)
        lines = tuple(p for p in (street, text(preferred, "AdditionalAddressDetail")) if p)
        address = Address(
            lines=lines,
            postal_code=text(preferred, "PostalCode"),
            city=text(preferred, "City"),
            country=(text(preferred, "Country") or "NO")[:2].upper(),
        )
    org = text(element, "RegistrationNumber")
    try:
        return Party(number=number, name=text(element, "Name"), organization_number=org, email=email, phone=phone,
                     address=address)
    except ValidationError:
        return Party(number=number, name=text(element, "Name"), email=email, phone=phone, address=address)


@dataclass
class _Line:
    posting: dict[str, Any]
    tax: Decimal | None  # signed tax when the line has TaxInformation
    tax_code: str | None
    ambiguous_tax: bool


def _transaction(
    element: Any,
    journal_id: str,
    journal_type: str,
    master: _Master,
    is_vat_account: Callable[[str], bool],
    analysis_map: Mapping[str, str],
    totals: _Totals,
    seen: Seen,
    file_name: str,
) -> Iterator[Voucher | Problem]:
    transaction_id = text(element, "TransactionID") or "?"
    reference = _reference(master.company, journal_id, transaction_id)
    path = f"Journal[JournalID={journal_id}]/Transaction[TransactionID={transaction_id}]"
    where = {"file": file_name, "reference": reference}
    try:
        lines = [
            _line(node, f"{path}/Line[RecordID={text(node, 'RecordID') or '?'}]", master, analysis_map)
            for node in children(element, "Line")
        ]
        for line in lines:
            value = line.posting["amount"]
            totals.debit += value if value > 0 else ZERO
            totals.credit -= value if value < 0 else ZERO
        day = date(element, "TransactionDate", path)
    except FieldError as error:
        totals.complete = False
        yield Problem(error.message, field=error.field, line=error.line, code=error.code, **where)
        return
    if reference in seen:
        yield Problem(
            f"TransactionID {transaction_id} appears twice in journal {journal_id}",
            field=path,
            line=element.sourceline,
            code="duplicate",
            **where,
        )
        return
    seen.add(reference)
    difference = sum((line.posting["amount"] for line in lines), ZERO)
    if difference:
        yield Problem(
            f"the transaction does not balance: debit − credit = {difference:.2f}",
            field=path,
            line=element.sourceline,
            code="unbalanced",
            **where,
        )
        return
    postings, folded = _fold_vat(lines, is_vat_account)
    values: dict[str, Any] = {
        "reference": reference, "date": day, "currency": master.currency,
        "description": text(element, "Description") or text(element, "VoucherDescription"),
        "voucher_type": text(element, "VoucherType") or journal_type or journal_id or None,
    }
    built = [checked.posting(p) for p in postings]  # each checked as the model would; None: it must judge
    voucher = checked.voucher({**values, "lines": tuple(built), "origin": checked.origin(
        NAME, file_name, element.sourceline)}) if all(built) else None
    try:
        yield voucher or Voucher(
            **values,
            lines=tuple(Posting(**p) for p in postings),
            origin=Origin(format=NAME, file=file_name, line=element.sourceline),
        )
    except ValidationError as error:
        detail = error.errors()[0]
        yield Problem(
            f"the transaction cannot be booked: {detail['msg']}",
            field=path,
            line=element.sourceline,
            code="invalid",
            **where,
        )
        return
    if not folded:
        yield Problem(
            "VAT postings do not match the lines' tax amounts: the voucher comes as the file has it, "
            "net amounts with explicit VAT postings and no VAT codes",
            field=path,
            line=element.sourceline,
            code="vat-unfolded",
            severity="warning",  # the voucher is delivered, as the file books it
            **where,
        )


def _reference(company: str, journal_id: str, transaction_id: str) -> str:
    """`saft-<company>-<JournalID>-<TransactionID>` with anything but letters, digits, `.`, `_` and `-` made `-`;
    where that changed the text, 8 hex digits of the original's SHA-256 follow, so that two TransactionIDs that
    differ only there (`10042/1`, `10042 1`) stay two vouchers."""
    raw = f"saft-{company}-{journal_id}-{transaction_id}"
    safe = _REFERENCE_UNSAFE.sub("-", raw)
    if safe == raw and len(raw) <= 200:
        return raw
    return f"{safe[:191]}-{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:8]}"


def _line(node: Any, path: str, master: _Master, analysis_map: Mapping[str, str]) -> _Line:
    debit, credit = child(node, "DebitAmount"), child(node, "CreditAmount")
    if debit is not None:
        value = amount(debit, "Amount", f"{path}/DebitAmount") or ZERO
    elif credit is not None:
        value = ZERO - (amount(credit, "Amount", f"{path}/CreditAmount") or ZERO)  # ZERO-: no "-0.00"
    else:
        raise FieldError(
            "the line has neither DebitAmount nor CreditAmount", field=path, line=node.sourceline
        )
    account = text(node, "AccountID")
    if account is None:
        raise FieldError("AccountID is missing", field=f"{path}/AccountID", line=node.sourceline)
    posting: dict[str, Any] = {"account": account, "amount": value, "description": text(node, "Description")}
    dimensions: dict[str, str] = {}
    doubled: set[str] = set()
    for analysis in children(node, "Analysis"):
        dimension = analysis_map.get(text(analysis, "AnalysisType") or "")
        analysis_id = text(analysis, "AnalysisID")
        if dimension and analysis_id:
            if dimension in dimensions and dimensions[dimension] != analysis_id:
                doubled.add(dimension)
            dimensions[dimension] = analysis_id
    posting["dimensions"] = {k: v for k, v in dimensions.items() if k not in doubled}
    if (customer := text(node, "CustomerID")) is not None:
        posting["customer"] = master.customers.get(customer) or Party(number=customer)
    if (supplier := text(node, "SupplierID")) is not None:
        posting["supplier"] = master.suppliers.get(supplier) or Party(number=supplier)
    for key, element_name in (("kid", "CID"), ("invoice_number", "ReferenceNumber")):
        if (value_text := text(node, element_name)) is not None:
            posting[key] = value_text
    if text(node, "DueDate") is not None:
        posting["due_date"] = date(node, "DueDate", path)
    tax: Decimal | None = None
    codes: set[str] = set()
    for info in children(node, "TaxInformation"):
        own = text(info, "TaxCode")
        if own is not None:
            codes.add(master.tax_codes.get(own, own))
        tax = (tax or ZERO) + _tax_amount(info, value, f"{path}/TaxInformation")
    return _Line(posting, tax, next(iter(codes)) if len(codes) == 1 else None, len(codes) > 1)


def _tax_amount(info: Any, line_amount: Decimal, path: str) -> Decimal:
    for name, sign in (("DebitTaxAmount", 1), ("CreditTaxAmount", -1)):  # 1.30
        node = child(info, name)
        if node is not None:
            value = amount(node, "Amount", f"{path}/{name}") or ZERO
            return value if sign > 0 else ZERO - value
    node = child(info, "TaxAmount")  # 1.10/1.20: unsigned, on the line's side
    if node is not None:
        value = abs(amount(node, "Amount", f"{path}/TaxAmount") or ZERO)
        return ZERO - value if line_amount < 0 else value
    return ZERO


def _fold_vat(lines: list[_Line], is_vat_account: Callable[[str], bool]) -> tuple[list[dict[str, Any]], bool]:
    """The postings with VAT folded into base lines, and whether folding was possible."""
    base = [line for line in lines if line.tax is not None]
    if not base:
        return [line.posting for line in lines], True
    vat_postings = [line for line in lines if line.tax is None and is_vat_account(line.posting["account"])]
    removed = {id(line) for line in vat_postings}
    total_tax = sum((line.tax or ZERO for line in base), ZERO)
    vat_total = sum((line.posting["amount"] for line in vat_postings), ZERO)
    foldable = (
        vat_total == total_tax
        and not any(line.ambiguous_tax or line.tax_code is None for line in base)
        and all(_same_side(line.posting["amount"], line.tax or ZERO) for line in base)
    )
    if not foldable:
        return [line.posting for line in lines], False
    postings = []
    for line in lines:
        if id(line) in removed:
            continue
        if line.tax is not None:
            tax = line.tax
            postings.append(
                {
                    **line.posting,
                    "amount": line.posting["amount"] + tax,
                    "vat_amount": tax,
                    "vat_code": line.tax_code,
                }
            )
        else:
            postings.append(line.posting)
    return postings, True


def _vat_accounts(option: Any, grouped: set[str]) -> Callable[[str], bool]:
    """The tenant's list when given (it replaces the defaults), else GroupingCode 2740 and NS 4102's."""
    if option is not None:
        listed = {str(a) for a in option}
        return listed.__contains__
    return lambda account: account in grouped or bool(VAT_ACCOUNT.match(account))


def _same_side(net: Decimal, tax: Decimal) -> bool:
    return tax == 0 or net * tax > 0


def _unsupported_version(version: str | None) -> str | None:
    """Why a file of this AuditFileVersion is not read; None when it is 1.x (or not a version number)."""
    if version is None or not re.fullmatch(r"\d+(\.\d+)*", version):
        return None
    major, _, minor = version.partition(".")
    normalized = f"{int(major)}.{minor.rstrip('0') or '0'}" if minor else f"{int(major)}.0"
    if normalized in SUPPORTED_VERSIONS:
        return None
    return (f"the file is SAF-T Financial version {version}, which this reader does not know: it reads "
            "versions 1.10, 1.20 and 1.30 (and 1.0); nothing of the file was read")


def _check_totals(totals: _Totals, file_name: str, line: int | None) -> Iterator[Problem]:
    found = {
        "NumberOfEntries": Decimal(totals.entries),
        "TotalDebit": totals.debit,
        "TotalCredit": totals.credit,
    }
    for name, raw in totals.unreadable.items():
        said = f"states {name} {raw!r}, which is not a number" if raw else f"leaves {name} empty"
        yield Problem(
            f"the file {said}: that total was not checked",
            field=f"GeneralLedgerEntries/{name}",
            file=file_name,
            line=line,
            code="totals-unchecked",
            severity="warning",
        )
    if not totals.complete and {"TotalDebit", "TotalCredit"} & totals.stated.keys():
        yield Problem(
            "TotalDebit and TotalCredit were not checked: some amounts in the transactions could not be "
            "read (see the problems above), so our sums would be incomplete",
            field="GeneralLedgerEntries",
            file=file_name,
            line=line,
            code="totals-unchecked",
            severity="warning",
        )
    for name, stated in totals.stated.items():
        if name != "NumberOfEntries" and not totals.complete:
            continue  # said once above: a sum would only repeat the unreadable amounts
        if stated != found[name]:
            yield Problem(
                f"the file states {name} {stated} but its transactions give {found[name]}",
                field=f"GeneralLedgerEntries/{name}",
                file=file_name,
                line=line,
                code="totals",
            )


FORMAT = FormatDescriptor(
    name=NAME,
    title="SAF-T Financial 1.10–1.30",
    settings=SaftFinancialOptions,
    parse=parse,
    sniff=sniff,
    notes="a voucher per transaction; VAT postings folded per decision 0001; other versions refused by name",
)
