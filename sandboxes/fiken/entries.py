"""The rules a general journal entry must pass in the Fiken sandbox, and how it is booked.

From the spec (`generalJournalEntryRequest`, `journalEntry`, `journalEntryLine`, and its introduction: "400 when
invalid content has be sent (for instance a required field is missing, unexpected fields, wrong format, etc)"):
- `journalEntries` is required; each entry needs `description`, `date` (yyyy-MM-dd) and `lines`; each line needs
  `amount` (integer øre) and writes `debitAccount`/`debitVatCode` and/or `creditAccount`/`creditVatCode`; the
  read-only `account`, `vatCode` and `projectId` and any unknown field are refused.
- Accounts are four digits or four digits, a colon and five (sub-ledger); VAT codes are Fiken's (spec table).
- Fiken prefixes the description with "Fri postering registrert via API: " within its 200 characters (newer
  copies of the spec, journalEntry.description).
From a public client that checked them against Fiken (jonasbarsten/fiken-mcp README, 2026-10-05): the amount on a
side with a VAT code is net and Fiken adds the VAT; a VAT code needs its account on the same line; debits and
credits must balance.
[unverified], modelled the strict way so the connector is held to it: VAT of a fraction of an øre is rounded half
up; the receivable 1500 and payable 2400 take only their sub-ledger accounts; a VAT code (other than 0 and 7) on
a receivable, bank, payable or VAT account is refused; an amount must be above zero; a date before the company's
accounting start or within a locked period is refused. The messages are ours, in Fiken's language.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandboxes.fiken.company import Company

PREFIX = "Fri postering registrert via API: "
REQUEST_FIELDS = {"description", "open", "journalEntries"}
ENTRY_FIELDS = {"description", "date", "lines", "transactionId"}
LINE_FIELDS = {"amount", "debitAccount", "debitVatCode", "creditAccount", "creditVatCode"}
READ_ONLY = {"journalEntryId", "createdDate", "lastModifiedDate", "offsetTransactionId", "journalEntryNumber",
             "attachments", "account", "vatCode", "projectId"}
CODE = re.compile(r"^\d{4}(:\d{5})?$")
RATES = {1: Decimal(25), 3: Decimal(25), 11: Decimal(15), 31: Decimal(15), 12: Decimal("11.11"),
         32: Decimal("11.11"), 13: Decimal(12), 33: Decimal(12)}
VAT_ACCOUNTS = {1: "2710", 11: "2711", 13: "2712", 12: "2713", 3: "2700", 31: "2701", 33: "2702", 32: "2703"}
VAT_CODES = {0, 7, 1, 3, 11, 31, 12, 32, 13, 33, 52, 5, 6, 51, 14, 21, 15, 22, 23, 86, 87, 88, 89, 91, 92}
NO_VAT = (range(1500, 1600), range(1900, 2000), range(2400, 2500), range(2600, 2800))


class Refused(Exception):
    """A 400 with Fiken's words."""


def check(company: Company, request: Any) -> list[list[dict[str, Any]]]:
    """The booked lines of each journal entry of a `generalJournalEntryRequest`, or Refused naming the first fault."""
    if not isinstance(request, dict):
        raise Refused("Forventet et JSON-objekt (generalJournalEntryRequest)")
    _fields(request, REQUEST_FIELDS, "generalJournalEntryRequest")
    if "open" in request and not isinstance(request["open"], bool):
        raise Refused("open må være true eller false")
    if "description" in request and (not isinstance(request["description"], str) or len(request["description"]) > 200):
        raise Refused("description kan ikke være lengre enn 200 tegn")
    entries = request.get("journalEntries")
    if not isinstance(entries, list) or not entries:
        raise Refused("journalEntries mangler: en fri postering må ha minst én postering")
    return [_entry(company, entry, n) for n, entry in enumerate(entries, 1)]


def _fields(value: dict[str, Any], allowed: set[str], what: str) -> None:
    for key in value:
        if key in READ_ONLY and key not in allowed:
            raise Refused(f"{what}.{key} kan ikke settes: feltet er skrivebeskyttet")
        if key not in allowed:
            raise Refused(f"Ukjent felt {what}.{key}")


def _entry(company: Company, entry: Any, n: int) -> list[dict[str, Any]]:
    if not isinstance(entry, dict):
        raise Refused(f"journalEntries[{n - 1}] er ikke et objekt")
    _fields(entry, ENTRY_FIELDS, "journalEntry")
    text = entry.get("description")
    if not isinstance(text, str) or not text.strip():
        raise Refused("Beskrivelse mangler på posteringen")
    if len(PREFIX + text) > 200:
        raise Refused(f"Beskrivelsen er for lang: «{PREFIX}» og beskrivelsen kan til sammen være 200 tegn, "
                      f"denne er {len(PREFIX + text)}")
    day = _date(entry.get("date"))
    if day < company.accounting_start:
        raise Refused(f"Datoen {day} er før regnskapets startdato {company.accounting_start}")
    if company.locked_through is not None and day <= company.locked_through:
        raise Refused(f"Perioden er låst: det kan ikke føres bilag datert {day} (låst til og med "
                      f"{company.locked_through})")
    lines = entry.get("lines")
    if not isinstance(lines, list) or not lines:
        raise Refused("Posteringen har ingen linjer")
    booked: list[dict[str, Any]] = []
    for i, line in enumerate(lines, 1):
        booked.extend(_line(company, line, i))
    debit = sum(b["amount"] for b in booked if b["amount"] > 0)
    credit = -sum(b["amount"] for b in booked if b["amount"] < 0)
    if debit != credit:
        raise Refused(f"Posteringen går ikke i balanse: debet {_kr(debit)}, kredit {_kr(credit)} "
                      "(medregnet beregnet mva)")
    return booked


def _date(value: Any) -> dt.date:
    try:
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Refused(f"Ugyldig dato {value!r}: forventet yyyy-MM-dd") from None


def _line(company: Company, line: Any, i: int) -> list[dict[str, Any]]:
    if not isinstance(line, dict):
        raise Refused(f"Linje {i} er ikke et objekt")
    _fields(line, LINE_FIELDS, "journalEntryLine")
    amount = line.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise Refused(f"Linje {i}: amount må være et heltall (øre)")
    if amount <= 0:
        raise Refused(f"Linje {i}: beløpet må være større enn 0")
    if "debitAccount" not in line and "creditAccount" not in line:
        raise Refused(f"Linje {i} mangler både debetkonto og kreditkonto")
    booked = []
    for side, sign, norsk in (("debit", 1, "debet"), ("credit", -1, "kredit")):
        code = line.get(f"{side}VatCode")
        account = line.get(f"{side}Account")
        if account is None:
            if code is not None:
                raise Refused(f"Linje {i}: mva-kode {code} uten {norsk}konto på samme linje")
            continue
        booked.extend(_side(company, i, str(account), code, sign * amount))
    return booked


def _side(company: Company, i: int, account: str, code: Any, amount: int) -> list[dict[str, Any]]:
    if not CODE.match(account):
        raise Refused(f"Linje {i}: ugyldig konto «{account}»: fire siffer, eller fire siffer, kolon og fem")
    if account in ("1500", "2400"):
        raise Refused(f"Linje {i}: konto {account} må føres på en reskontro ({account}:XXXXX), ikke direkte")
    if account not in company.accounts:
        raise Refused(f"Linje {i}: konto {account} finnes ikke i kontoplanen")
    if code is None:
        return [{"amount": amount, "account": account}]
    if not isinstance(code, int) or isinstance(code, bool) or code not in VAT_CODES:
        raise Refused(f"Linje {i}: ukjent mva-kode {code!r}")
    if code not in (0, 7) and any(int(account[:4]) in r for r in NO_VAT):
        raise Refused(f"Linje {i}: mva-kode {code} kan ikke brukes på konto {account}")
    rate = RATES.get(code)
    if rate is None:
        return [{"amount": amount, "account": account, "vatCode": str(code)}]
    vat = int((Decimal(abs(amount)) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    sign = 1 if amount > 0 else -1
    return [{"amount": amount, "account": account, "vatCode": str(code)},
            {"amount": sign * vat, "account": VAT_ACCOUNTS[code]}]


def _kr(ore: int) -> str:
    return f"{Decimal(ore) / 100:.2f}".replace(".", ",")
