"""Fiken's side of the shared form: constants and pure mapping (a voucher → a general journal entry request).

No I/O here: the target looks up what a voucher needs (`Register`) and sends what `entry` builds.

- One voucher is one journal entry (`generalJournalEntryRequest.journalEntries[0]`), one line per posting: a
  debit (positive amount) as `debitAccount`, a credit as `creditAccount`, the amount in whole øre without sign,
  net of VAT where the line has a VAT code that adds VAT (amounts.py).
- A customer lives in Fiken as the sub-ledger account of its receivable (`contact.customerAccountCode`,
  "1500:10001"), a supplier as its payable's ("2400:20001"): a line on 1500 with a customer is posted on the
  customer's account, and a customer on any other account has no place (`not_accepted`).
- Our reference travels at the start of the entry's description, `[reference]`, where `find` reads it back:
  Fiken has no field for an external key on journal entries, and prefixes the description with its own
  "Fri postering registrert via API: " (200 characters in all, spec of journalEntry.description in newer copies).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.descriptors import FieldMap, Lands, NotAccepted, Refused
from pipeline.model import Party, Voucher
from pipeline.ports import Delivery

NAME = "fiken"
PRODUCTION_URL = "https://api.fiken.no/api/v2"
TOKEN_URL = "https://fiken.no/oauth/token"
FIKEN_PREFIX = "Fri postering registrert via API: "  # Fiken's own, in front of every description we send
DESCRIPTION_MAX = 200 - len(FIKEN_PREFIX)  # 166: journalEntry.description maxLength 200 includes Fiken's prefix
MARKER_MAX = 60  # a longer reference (or one with brackets) is shortened with a digest: see `marker`
PAGE_SIZE = 100  # Fiken's maximum page size
RECEIVABLE, PAYABLE = "1500", "2400"  # the accounts whose sub-ledgers are Fiken's customers and suppliers
ACCOUNT = re.compile(r"^\d{4}(:\d{5})?$")  # "3000" or "1500:10001" (spec, Data Types → Account)

# Fiken's VAT codes (spec: the VAT code table, "based upon Sticos mvakoder"); the SAF-T standard codes with the
# same number mean the same, so a shared-form code passes unchanged where Fiken has it. SAF-T codes Fiken lacks
# (20, 81–85) are a preflight problem; the tenant's VAT map can rename them.
VAT_CODES: dict[int, str] = {
    0: "NONE (purchases)", 7: "NONE (sales)", 1: "HIGH (purchases)", 3: "HIGH (sales)", 11: "MEDIUM (purchases)",
    31: "MEDIUM (sales)", 12: "RAW_FISH (purchases)", 32: "RAW_FISH (sales)", 13: "LOW (purchases)",
    33: "LOW (sales)", 52: "EXEMPT_IMPORT_EXPORT", 5: "EXEMPT", 6: "OUTSIDE", 51: "EXEMPT_REVERSE",
    14: "HIGH_DIRECT", 21: "HIGH_BASIS", 15: "MEDIUM_DIRECT", 22: "MEDIUM_BASIS", 23: "NONE_IMPORT_BASIS",
    86: "HIGH_FOREIGN_SERVICE_DEDUCTIBLE", 87: "HIGH_FOREIGN_SERVICE_NONDEDUCTIBLE", 88: "LOW_FOREIGN_SERVICE_DEDUCTIBLE",
    89: "LOW_FOREIGN_SERVICE_NONDEDUCTIBLE", 91: "HIGH_PURCHASE_OF_EMISSIONSTRADING_OR_GOLD_DEDUCTIBLE",
    92: "HIGH_PURCHASE_OF_EMISSIONSTRADING_OR_GOLD_NONDEDUCTIBLE",
}
# Codes whose amount is VAT only ("KUN_KJØPSMVA", import VAT paid): the shared form's line amount holds a net
# part and its VAT, so there is no faithful mapping. [unverified] how Fiken books them; refused, not guessed.
VAT_ONLY_CODES = (14, 15)
# Accounts a VAT code has no business on: receivables 15xx, cash and bank 19xx, payables 24xx, public duties and
# VAT 26xx–27xx. Ours, not a rule Fiken documents (its chart has no VAT per account in the API): a code there is
# a mapping mistake either way, so preflight names it. 0 and 7 ("no VAT treatment") are harmless anywhere.
NO_VAT_ACCOUNTS = (range(1500, 1600), range(1900, 2000), range(2400, 2500), range(2600, 2800))

NOT_ACCEPTED: dict[str, str] = {
    "lines[].description": "Fiken's journal entry lines have no text: line texts go into the entry's description "
                           "while it has room (166 characters after Fiken's own prefix); the rest are reported",
    "lines[].kid": "a journal entry line has no KID field",
    "lines[].invoice_number": "a journal entry line has no invoice number field",
    "lines[].due_date": "a journal entry line has no due date field",
    "lines[].customer": "Fiken keeps a customer only as the sub-ledger account of its receivable (1500:NNNNN); "
                        "a customer on another account has no place",
    "lines[].supplier": "Fiken keeps a supplier only as the sub-ledger account of its payable (2400:NNNNN); "
                        "a supplier on another account has no place",
    "lines[].dimensions.*": "Fiken has no departments, and a journal entry line's project is read-only in its API",
    "voucher_type": "Fiken has no voucher series for general journal entries",
}

_LINE = "journalEntries[].lines[]"
_NO_DIMENSIONS = NotAccepted(NOT_ACCEPTED["lines[].dimensions.*"])
# The public field map (docs/field-map.md): where each field of a voucher lands in `POST /generalJournalEntries`
# (entry.py builds it), proven by the contract suite against the sandbox.
FIELD_MAP: FieldMap = {"voucher": {
    "reference": Lands("description", f"opens the entry's description as [reference] (past {MARKER_MAX} characters, "
                                      "or with brackets, shortened with a digest): Fiken has no field for an "
                                      "external key; `find` reads it back there"),
    "date": Lands("journalEntries[].date", "as is"),
    "description": Lands("description", f"after the [reference], shortened to fit the {DESCRIPTION_MAX} characters "
                                        "Fiken leaves after its own prefix"),
    "currency": Refused("a Fiken journal entry is in NOK only, and the shared form holds no exchange rate: another "
                        "currency is a preflight problem (unsupported-currency)", accepted=("NOK",)),
    "voucher_type": NotAccepted(NOT_ACCEPTED["voucher_type"]),
    "lines[].account": Lands(f"{_LINE}.debitAccount|creditAccount", "the debit or the credit account by the amount's "
                                                                    "sign; a customer's or supplier's line on its "
                                                                    "own sub-ledger account (1500:NNNNN, 2400:NNNNN)"),
    "lines[].amount": Lands(f"{_LINE}.amount", "in whole øre without sign; on a line whose VAT code adds VAT the net "
                                               "amount, Fiken adding the VAT (split into parts where rounding needs "
                                               "it); a 0.00 line is left out; a fraction of an øre is refused"),
    "lines[].description": Lands("description", "added to the entry's description (Fiken's lines have no text)",
                                 otherwise=NOT_ACCEPTED["lines[].description"]),
    "lines[].vat_code": Lands(f"{_LINE}.debitVatCode|creditVatCode", "as is (Fiken's VAT codes are the SAF-T "
                                                                    "numbers); codes Fiken lacks (20, 81–85) and "
                                                                    "import VAT (14, 15) are preflight problems"),
    "lines[].vat_amount": Lands(f"{_LINE}.amount", "decides the net amount sent (gross − VAT), so that Fiken's own VAT "
                                                   "is exactly it; without it, the VAT the gross amount holds at the "
                                                   "code's rate"),
    "lines[].dimensions.department": _NO_DIMENSIONS,
    "lines[].dimensions.project": _NO_DIMENSIONS,
    "lines[].dimensions.*": _NO_DIMENSIONS,
    "lines[].customer": Lands(f"{_LINE}.debitAccount|creditAccount", "on the receivable (1500): the customer's own "
                                                                     "account 1500:NNNNN, the contact found by "
                                                                     "customer number, organisation number, e-mail "
                                                                     "or phone", otherwise=NOT_ACCEPTED["lines[].customer"]),
    "lines[].supplier": Lands(f"{_LINE}.debitAccount|creditAccount", "on the payable (2400): the supplier's own "
                                                                     "account 2400:NNNNN, found as a customer is",
                              otherwise=NOT_ACCEPTED["lines[].supplier"]),
    "lines[].kid": NotAccepted(NOT_ACCEPTED["lines[].kid"]),
    "lines[].invoice_number": NotAccepted(NOT_ACCEPTED["lines[].invoice_number"]),
    "lines[].due_date": NotAccepted(NOT_ACCEPTED["lines[].due_date"]),
}}


@dataclass
class Register:
    """What the voucher needs from Fiken, as looked up: hits only (a miss is asked again next time)."""

    accounts: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # "3000" → account
    customers: Mapping[str, dict[str, Any]] = field(default_factory=dict)  # party key → contact (or _ambiguous)
    suppliers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    company: Mapping[str, Any] = field(default_factory=dict)  # the company (accountingStartDate, name, ...)


# -- references --------------------------------------------------------------------------------------------------


def marker(reference: str) -> str:
    """Our reference as it opens the entry's description, `[...]`: the reference itself when it is short and has no
    brackets; else its first 43 characters (brackets made round), "~" and 16 hex digits of its SHA-256 — readable,
    deterministic, and apart from every other reference. The full reference stays in our ledger."""
    if len(reference) <= MARKER_MAX and not re.search(r"[\[\]\x00-\x1f]", reference):
        return f"[{reference}]"
    digest = hashlib.sha256(reference.encode("utf-8")).hexdigest()[:16]
    readable = re.sub(r"[\x00-\x1f]", " ", reference[:MARKER_MAX - 17]).replace("[", "(").replace("]", ")")
    return f"[{readable}~{digest}]"


def carries(description: str | None, reference: str) -> bool:
    """Whether an entry's description, as Fiken gives it back (with or without its prefix), is ours for `reference`:
    it must *open* with the marker, so a voucher text that mentions another reference never matches."""
    text = (description or "").removeprefix(FIKEN_PREFIX)
    mark = marker(reference)
    return text == mark or text.startswith(mark + " ")


def description(voucher: Voucher) -> tuple[str, tuple[int, ...], bool]:
    """The entry's description: marker, the voucher's text, then line texts while they fit in DESCRIPTION_MAX.
    Returns it, the lines whose text did not fit, and whether the voucher's own text had to be shortened."""
    text = marker(voucher.reference)
    own = " ".join((voucher.description or "").split())
    shortened = False
    if own:
        room = DESCRIPTION_MAX - len(text) - 1
        shortened = len(own) > room
        text = f"{text} {own if not shortened else own[:room - 1].rstrip() + '…'}"
    left_out: list[int] = []
    joiner = ": " if own else " "
    for i, line in enumerate(voucher.lines):
        said = " ".join((line.description or "").split())
        if not said or said in text:
            continue
        candidate = f"{text}{joiner}{said}"
        if len(candidate) <= DESCRIPTION_MAX and not shortened:
            text, joiner = candidate, "; "
        else:
            left_out.append(i)
    return text, tuple(left_out), shortened


# -- parties -----------------------------------------------------------------------------------------------------


def party_keys(party: Party | None) -> tuple[str, ...]:
    """Every way a customer/supplier can be looked up in Fiken's contacts, best first."""
    if party is None:
        return ()
    keys = []
    if party.number and party.number.isdigit():
        keys.append(f"number:{int(party.number)}")
    if party.organization_number:
        keys.append(f"org:{party.organization_number}")
    if party.email:
        keys.append(f"email:{party.email.strip().lower()}")
    if party.phone:
        keys.append(f"phone:{party.phone}")
    return tuple(keys)


def contact_query(key: str, role: str) -> dict[str, str]:
    """The `GET /contacts` filter for one party key."""
    kind, _, value = key.partition(":")
    if kind == "number":
        return {"customerNumber" if role == "customer" else "supplierNumber": value}
    if kind == "org":
        return {"organizationNumber": value}
    if kind == "email":
        return {"email": value}
    # [unverified] how Fiken matches phoneNumber ("equal to the specified parameter"); a Norwegian number is asked
    # for as it is usually typed there, without +47.
    return {"phoneNumber": value.removeprefix("+47") if len(value) == 11 else value}


def matched(party: Party | None, table: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    return next((table[k] for k in party_keys(party) if k in table), None)


def ledger_code(contact: Mapping[str, Any], role: str) -> str | None:
    code = contact.get("customerAccountCode" if role == "customer" else "supplierAccountCode")
    return str(code) if code else None


# -- answers -----------------------------------------------------------------------------------------------------


def encode(payload: Any) -> bytes:
    """JSON as Fiken takes it (its amounts are integers already), æøå as UTF-8."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def located(location: str | None) -> tuple[str, str]:
    """(kind, id) of what a 201's Location names: `.../transactions/77` → ("transactions", "77").

    [unverified] which: the spec says "Full URL of newly created General Journal Entry"; a public client found the
    transaction's id there (jonasbarsten/fiken-mcp ledger.ts). Either way the id is what the ledger keeps, and
    `find` answers with the transaction id its journal entries carry."""
    parts = [p for p in (location or "").split("?")[0].split("/") if p]
    if len(parts) >= 2 and parts[-1].isdigit():
        return parts[-2], parts[-1]
    return "", ""


def journal_day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


OPT_IN = ("Fiken has no draft for a general journal entry, so Bilagsbro would post straight into Fiken's ledger: "
          "the connection must opt in to direct posting (bilagsbro connect TENANT fiken --direct-posting, or "
          "\"direct_posting\": true). Entries are then posted open, so the company can delete one in Fiken without "
          "a counter entry")


def found_once(entries: list[dict[str, Any]]) -> Delivery | None:
    """The Delivery `find` reports for the journal entries carrying one reference: the first, doubles named."""
    unique = {int(e.get("journalEntryId") or 0): e for e in entries}
    if not unique:
        return None
    first = unique[min(unique)]
    details = {k: first[k] for k in ("journalEntryId", "journalEntryNumber", "transactionId") if first.get(k) is not None}
    if len(unique) > 1:  # a double made outside our ledger: say so rather than pick silently
        details["duplicates"] = sorted(unique)
    return Delivery(remote_id=str(first.get("transactionId") or first.get("journalEntryId")), draft=False,
                    details=details)
