"""One Fiken company as the sandbox keeps it: its chart of accounts, contacts, bank accounts and journal entries.

Shapes from the official spec (`../shared/specs/fiken/fiken-api-v2.yaml`, components/schemas): `company`
(name, slug, organizationNumber, vatType, hasApiAccess, testCompany, accountingStartDate), `account` (code, name;
"four digits, or four digits, a colon and five digits (reskontro)"), `contact` (contactId, name, customerNumber,
customerAccountCode "1500:XXXXX", supplierNumber, supplierAccountCode "2400:XXXXX", customer, supplier,
inactive, ...), `bankAccountResult` (accountCode "1920:10001"), `journalEntry` and `transaction`.
The rules a journal entry must pass are in entries.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from typing import Any

# A subset of NS 4102 as a new Fiken company has it [unverified: Fiken's exact chart]; sub-ledger accounts
# (1500:…, 2400:…, 1920:…) are added with the contacts and bank accounts they belong to.
CHART: tuple[tuple[str, str], ...] = (
    ("1200", "Maskiner og anlegg"), ("1500", "Kundefordringer"), ("1900", "Kontanter"), ("1920", "Bankinnskudd"),
    ("2400", "Leverandørgjeld"), ("2700", "Utgående merverdiavgift, høy sats"),
    ("2701", "Utgående merverdiavgift, middels sats"), ("2702", "Utgående merverdiavgift, lav sats"),
    ("2703", "Utgående merverdiavgift, råfisk"), ("2710", "Inngående merverdiavgift, høy sats"),
    ("2711", "Inngående merverdiavgift, middels sats"), ("2712", "Inngående merverdiavgift, lav sats"),
    ("2713", "Inngående merverdiavgift, råfisk"), ("2740", "Oppgjørskonto merverdiavgift"),
    ("2900", "Annen kortsiktig gjeld"), ("3000", "Salgsinntekt, avgiftspliktig"),
    ("3010", "Salgsinntekt, avgiftspliktig, middels sats"), ("3020", "Salgsinntekt, avgiftspliktig, lav sats"),
    ("3100", "Salgsinntekt, avgiftsfri"), ("4300", "Innkjøp av varer for videresalg"), ("6300", "Leie lokale"),
    ("6800", "Kontorrekvisita"), ("7770", "Bank- og kortgebyrer"), ("7790", "Annen kostnad"),
    ("8050", "Annen renteinntekt"),
)


class Company:
    """A company's register and ledger; `lock` guards every change."""

    def __init__(self, *, slug: str = "fjordbakst-as", name: str = "Fjordbakst AS",
                 organization_number: str = "923456783", accounting_start: dt.date = dt.date(2024, 1, 1),
                 locked_through: dt.date | None = None, has_api_access: bool = True) -> None:
        self.slug, self.name, self.organization_number = slug, name, organization_number
        self.accounting_start = accounting_start
        self.locked_through = locked_through  # Fiken's period lock [unverified: not readable through the API]
        self.has_api_access = has_api_access
        self.accounts: dict[str, dict[str, Any]] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.bank_accounts: dict[int, dict[str, Any]] = {}
        self.entries: dict[int, dict[str, Any]] = {}  # journalEntryId → journal entry (with `_open`, `_request`)
        self.transactions: dict[int, dict[str, Any]] = {}
        self.lock = threading.RLock()
        from sandboxes.fiken.invoices import Invoicing

        self.invoicing = Invoicing(self)  # drafts, invoices, credit notes, sales and payments (invoices.py)
        self._ids = itertools.count(3_001)
        self._numbers = itertools.count(1)
        self._customer_numbers = itertools.count(10_001)
        self._supplier_numbers = itertools.count(20_001)
        self._bank_numbers = itertools.count(10_001)

    def as_company(self) -> dict[str, Any]:
        return {"name": self.name, "slug": self.slug, "organizationNumber": self.organization_number,
                "vatType": "bi-monthly", "address": {"streetAddress": "Strandkaien 4", "city": "Bergen",
                                                     "postCode": "5013", "country": "Norway"},
                "email": "post@fjordbakst.example", "creationDate": self.accounting_start.isoformat(),
                "hasApiAccess": self.has_api_access, "testCompany": True,
                "accountingStartDate": self.accounting_start.isoformat()}

    # -- the register ---------------------------------------------------------------------------------------------

    def seed(self) -> Company:
        """The demo company: the chart, a bank account, customers and suppliers (one inactive, two sharing an
        e-mail), as a new Fiken company with a few contacts has them."""
        for code, name in CHART:
            self.add_account(code, name)
        self.add_bank_account("Driftskonto", "15035646830")
        self.add_contact("Fjordkafé Ålesund AS", customer=True, organizationNumber="987654325",
                         email="post@fjordkafe.example", phoneNumber="91234567")
        self.add_contact("Bergen Grossist AS", supplier=True, organizationNumber="912345696",
                         email="faktura@grossist.example")
        self.add_contact("Ærlig Økonomi Øst AS", customer=True, supplier=True, organizationNumber="998877660")
        self.add_contact("Lukket Kunde AS", customer=True, inactive=True, organizationNumber="911111128")
        self.add_contact("Tvilling Én AS", customer=True, email="felles@tvilling.example")
        self.add_contact("Tvilling To AS", customer=True, email="felles@tvilling.example")
        return self

    def add_account(self, code: str, name: str) -> dict[str, Any]:
        with self.lock:
            self.accounts[code] = {"code": code, "name": name}
            return self.accounts[code]

    def remove_account(self, code: str) -> None:
        with self.lock:
            self.accounts.pop(code, None)

    def add_bank_account(self, name: str, number: str) -> dict[str, Any]:
        with self.lock:
            code = f"1920:{next(self._bank_numbers)}"
            ident = next(self._ids)
            self.bank_accounts[ident] = {"bankAccountId": ident, "name": name, "accountCode": code,
                                         "bankAccountNumber": number, "type": "normal", "inactive": False}
            self.add_account(code, name)
            return self.bank_accounts[ident]

    def add_contact(self, name: str, *, customer: bool = False, supplier: bool = False, inactive: bool = False,
                    customer_number: int | None = None, **fields: Any) -> dict[str, Any]:
        with self.lock:
            ident = next(self._ids)
            today = dt.date.today().isoformat()
            contact: dict[str, Any] = {"contactId": ident, "createdDate": today, "lastModifiedDate": today,
                                       "name": name, "customer": customer, "supplier": supplier,
                                       "inactive": inactive, "language": "NORWEGIAN", **fields}
            if customer:
                number = customer_number or next(self._customer_numbers)
                contact.update(customerNumber=number, customerAccountCode=f"1500:{number}")
                self.add_account(f"1500:{number}", name)
            if supplier:
                number = next(self._supplier_numbers)
                contact.update(supplierNumber=number, supplierAccountCode=f"2400:{number}")
                self.add_account(f"2400:{number}", name)
            self.contacts[ident] = contact
            return contact

    # -- the ledger -----------------------------------------------------------------------------------------------

    def book(self, request: dict[str, Any], booked: list[list[dict[str, Any]]], *, open_entry: bool) -> int:
        """Store a checked request (entries.py) as one transaction; returns the transaction id."""
        with self.lock:
            transaction = next(self._ids)
            today = dt.date.today().isoformat()
            entries = []
            for journal, lines in zip(request["journalEntries"], booked, strict=True):
                ident = next(self._ids)
                entry = {"journalEntryId": ident, "createdDate": today, "lastModifiedDate": today,
                         "transactionId": transaction, "journalEntryNumber": next(self._numbers),
                         "description": journal["description"], "date": journal["date"], "lines": lines,
                         "attachments": [], "_open": open_entry, "_request": request}
                self.entries[ident] = entry
                entries.append(entry)
            self.transactions[transaction] = {"transactionId": transaction, "createdDate": today,
                                              "lastModifiedDate": today, "description": request.get("description"),
                                              "type": "General Journal Entry", "entries": entries}
            return transaction
