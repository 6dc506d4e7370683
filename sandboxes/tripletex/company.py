"""One Tripletex company's register and ledger, validating vouchers the way Tripletex does.

Facts from the official spec (Tripletex API 2.72.00, `../shared/specs/tripletex/openapi.json`) and
/work/shared/reference/target-apis.md §1:
- Everything is referenced by internal id (`{"id": 123}`), never by number.
- `POST /ledger/voucher` "Only the gross amounts will be used": `amountGross` per posting, positive debit,
  negative credit, summing to 0 per date; with a `vatType` Tripletex splits the VAT out itself
  (https://developer.tripletex.no/docs/documentation/faq/ledger-voucher/).
- A posting on an account whose `ledgerType` is CUSTOMER needs `customer`, VENDOR needs `supplier`
  ("Kunde mangler" / "Leverandør mangler", same FAQ).
- An account may be locked to one VAT type (`Account.vatLocked`, `vatType`, `legalVatTypes`).
The voucher rules and their answers: `vouchers.py`; periods and VAT terms: `periods.py`; every rule with its
source: docs/fidelity.md.
[unverified] inactive accounts are refused; unknown JSON properties are a mapping error (422, code 16000).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from decimal import Decimal
from typing import Any

from sandboxes.tripletex.periods import Periods
from sandboxes.tripletex.vouchers import NULL, amount, at, parse_date, voucher_messages

CENT = Decimal("0.01")

VOUCHER_FIELDS = {
    "id", "version", "date", "description", "voucherType", "postings", "document", "attachment",
    "externalVoucherNumber", "ediDocument", "vendorInvoiceNumber", "reverseVoucher",
}
POSTING_FIELDS = {
    "id", "version", "row", "date", "description", "account", "amortizationAccount", "amortizationStartDate",
    "amortizationEndDate", "customer", "supplier", "employee", "project", "product", "department", "vatType",
    "amount", "amountCurrency", "amountGross", "amountGrossCurrency", "currency", "closeGroup",
    "invoiceNumber", "termOfPayment", "quantityAmount1", "quantityType1", "quantityAmount2", "quantityType2",
    "postingRuleId", "voucher",
}

CUSTOMER_FIELDS = {
    "id", "version", "name", "organizationNumber", "globalLocationNumber", "supplierNumber", "customerNumber",
    "isSupplier", "isInactive", "accountManager", "department", "email", "invoiceEmail", "overdueNoticeEmail",
    "bankAccounts", "phoneNumber", "phoneNumberMobile", "description", "language", "displayName",
    "isPrivateIndividual", "singleCustomerInvoice", "invoiceSendMethod", "emailAttachmentType", "postalAddress",
    "physicalAddress", "deliveryAddress", "category1", "category2", "category3", "invoicesDueIn",
    "invoicesDueInType", "currency", "bankAccountPresentation", "ledgerAccount", "isFactoring",
    "invoiceSendSMSNotification", "invoiceSMSNotificationNumber", "isAutomaticSoftReminderEnabled",
    "isAutomaticReminderEnabled", "isAutomaticNoticeOfDebtCollectionEnabled", "discountPercentage", "website",
}

# A subset of NS 4102 as a new Tripletex company has it; 1500 and 2400 are sub-ledger accounts.
CHART: tuple[tuple[int, str, str], ...] = (
    (1500, "Kundefordringer", "CUSTOMER"),
    (1900, "Kontanter", "GENERAL"),
    (1920, "Bankinnskudd", "GENERAL"),
    (1950, "Bankinnskudd for skattetrekk", "GENERAL"),
    (2400, "Leverandørgjeld", "VENDOR"),
    (2700, "Utgående merverdiavgift, høy sats", "GENERAL"),
    (2701, "Utgående merverdiavgift, middels sats", "GENERAL"),
    (2702, "Utgående merverdiavgift, lav sats", "GENERAL"),
    (2710, "Inngående merverdiavgift, høy sats", "GENERAL"),
    (2711, "Inngående merverdiavgift, middels sats", "GENERAL"),
    (2712, "Inngående merverdiavgift, lav sats", "GENERAL"),
    (2740, "Oppgjørskonto merverdiavgift", "GENERAL"),
    (2900, "Forskudd fra kunder", "GENERAL"),
    (3000, "Salgsinntekt, avgiftspliktig", "GENERAL"),
    (3010, "Salgsinntekt, avgiftspliktig, middels sats", "GENERAL"),
    (3020, "Salgsinntekt, avgiftspliktig, lav sats", "GENERAL"),
    (3100, "Salgsinntekt, avgiftsfri", "GENERAL"),
    (4000, "Innkjøp av råvarer og halvfabrikata", "GENERAL"),
    (6300, "Leie lokale", "GENERAL"),
    (6800, "Kontorrekvisita", "GENERAL"),
    (7770, "Bank- og kortgebyrer", "GENERAL"),
    (7790, "Annen kostnad, fradragsberettiget", "GENERAL"),
    (8050, "Annen renteinntekt", "GENERAL"),
)
LOCKED_TO_NO_VAT = (1500, 1920, 2400)

# Tripletex numbers its VAT types after the SAF-T standard tax codes; the ids are its own.
# (number, name, percentage, VAT account the generated posting goes to)
VAT_TYPES: tuple[tuple[str, str, str, int | None], ...] = (
    ("0", "Ingen avgiftsbehandling", "0", None),
    ("1", "Fradrag inngående avgift, høy sats", "25", 2710),
    ("11", "Fradrag inngående avgift, middels sats", "15", 2711),
    ("13", "Fradrag inngående avgift, lav sats", "12", 2712),
    ("14", "Fradrag inngående avgift, innførsel, høy sats", "25", 2710),
    ("3", "Utgående avgift, høy sats", "25", 2700),
    ("31", "Utgående avgift, middels sats", "15", 2701),
    ("33", "Utgående avgift, lav sats", "12", 2702),
    ("5", "Ingen utgående avgift (innenfor mva-loven)", "0", None),
    ("51", "Innenlands omsetning med omvendt avgiftsplikt", "0", None),
    ("52", "Utførsel av varer og tjenester", "0", None),
    ("6", "Ingen utgående avgift (utenfor mva-loven)", "0", None),
    ("7", "Ingen avgiftsbehandling (inntekter)", "0", None),
)


class Invalid(Exception):
    """A 422 with Tripletex's validation messages."""

    def __init__(self, messages: list[dict[str, Any]], *, code: int = 18000, message: str = "Validering feilet.") -> None:
        super().__init__(message)
        self.messages = messages
        self.code = code
        self.message = message


class Company:
    """The register (accounts, VAT types, customers, suppliers, departments, projects) and the vouchers."""

    def __init__(self, company_id: int = 4711, name: str = "Bilagsbro Sandkasse AS") -> None:
        self.id = company_id
        self.name = name
        self.accounts: dict[int, dict[str, Any]] = {}
        self.vat_types: dict[int, dict[str, Any]] = {}
        self.customers: dict[int, dict[str, Any]] = {}
        self.suppliers: dict[int, dict[str, Any]] = {}
        self.departments: dict[int, dict[str, Any]] = {}
        self.projects: dict[int, dict[str, Any]] = {}
        self.vouchers: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1001)
        self._voucher_numbers = itertools.count(1)
        self._temp_numbers = itertools.count(1)
        self.periods = Periods(self._next_id)
        self.lock = threading.RLock()

    def _next_id(self) -> int:
        return next(self._ids)

    # -- seeding -------------------------------------------------------------------------------------

    def seed_standard(self) -> Company:
        """The chart and VAT types every new Tripletex company starts with (a subset).

        Balance accounts that never carry VAT are locked to VAT type 0, as public clients report of 1500, 1920
        and 2400 in real companies ("Kontoen er låst til mva-kode 0"). Revenue accounts stay unlocked here so
        the demo's own vouchers fit; tests lock them with `lock_vat`."""
        for code, name, percentage, account in VAT_TYPES:
            self.add_vat_type(code, name, Decimal(percentage), vat_account=account)
        for number, name, ledger_type in CHART:
            self.add_account(number, name, ledger_type=ledger_type)
        for locked in LOCKED_TO_NO_VAT:
            self.lock_vat(locked, "0")
        return self

    def seed_demo(self) -> Company:
        """A few customers, suppliers, departments and projects with Norwegian names."""
        self.add_customer(10001, "Fjordkafé Ålesund AS", organization_number="987654325",
                          email="regnskap@fjordkafe.no")
        self.add_customer(10002, "Blåbærgården Økologiske", organization_number="912345688",
                          email="post@blabaergarden.no")
        self.add_customer(10003, "Kari Nordmann", email="kari@nordmann.no")
        self.add_supplier(20001, "Høvding Engros AS", organization_number="923456791")
        self.add_department("1", "Butikk Trondheim")
        self.add_department("2", "Nettbutikk")
        self.add_project("100", "Sommerkampanje Bodø")
        return self

    def add_account(self, number: int, name: str, *, ledger_type: str = "GENERAL", inactive: bool = False
                    ) -> dict[str, Any]:
        with self.lock:
            account: dict[str, Any] = {"id": self._next_id(), "version": 0, "number": number, "name": name,
                       "ledgerType": ledger_type, "isInactive": inactive, "isBankAccount": 1900 <= number < 2000,
                       "requiresDepartment": False, "requiresProject": False,
                       "vatType": None, "vatLocked": False, "legalVatTypes": []}
            self.accounts[account["id"]] = account
            return account

    def lock_vat(self, number: int, code: str) -> dict[str, Any]:
        """Lock an account to one VAT type: `vatLocked`, `vatType` and `legalVatTypes` as Tripletex shows them
        (references `{"id": …}` only, as a search without `fields` returns them)."""
        with self.lock:
            account, vat = self.account(number), self.vat_type(code)
            account.update(vatLocked=True, vatType={"id": vat["id"]}, legalVatTypes=[{"id": vat["id"]}])
            return account

    def allow_vat(self, number: int, *codes: str) -> dict[str, Any]:
        """The VAT types an account takes at all (`legalVatTypes`), without locking it to one."""
        with self.lock:
            account = self.account(number)
            account["legalVatTypes"] = [{"id": self.vat_type(code)["id"]} for code in codes]
            return account

    def add_vat_type(self, number: str, name: str, percentage: Decimal, *, vat_account: int | None = None
                     ) -> dict[str, Any]:
        with self.lock:
            vat: dict[str, Any] = {"id": self._next_id(), "version": 0, "number": number, "name": name,
                   "displayName": f"{number} {name}", "percentage": percentage,
                   "deductionPercentage": Decimal("100"), "_vat_account": vat_account}
            self.vat_types[vat["id"]] = vat
            return vat

    def add_customer(self, number: int, name: str, *, organization_number: str | None = None,
                     email: str | None = None, phone: str | None = None, mobile: str | None = None,
                     inactive: bool = False) -> dict[str, Any]:
        with self.lock:
            customer: dict[str, Any] = {"id": self._next_id(), "version": 0, "customerNumber": number, "name": name,
                        "organizationNumber": organization_number or "", "email": email or "",
                        "phoneNumber": phone or "", "phoneNumberMobile": mobile or "",
                        "isCustomer": True, "isInactive": inactive, "isPrivateIndividual": not organization_number}
            self.customers[customer["id"]] = customer
            return customer

    def create_customer(self, body: Any) -> dict[str, Any]:
        """`POST /customer` as Tripletex validates it: a name; a customer number (given, or the next free
        one) used by no other customer [unverified: Tripletex's exact rule and wording]."""
        if not isinstance(body, dict):
            raise Invalid([], code=16000, message="Json mapping error: expected an object")
        unknown = sorted(set(body) - CUSTOMER_FIELDS)
        if unknown:
            raise Invalid([at(k, "Feltet eksisterer ikke i objektet.") for k in unknown],
                          code=16000, message="Json mapping error")
        messages: list[dict[str, Any]] = []
        if not str(body.get("name") or "").strip():
            messages.append(at("name", NULL))
        with self.lock:
            taken = {c["customerNumber"] for c in self.customers.values()}
            number = body.get("customerNumber")
            if number is not None and (not isinstance(number, int) or number in taken):
                messages.append(at("customerNumber", f"Kundenummeret {number} er i bruk."))
            if messages:
                raise Invalid(messages)
            if number is None:
                number = max((n for n in taken if n >= 10000), default=9999) + 1
            customer = self.add_customer(number, str(body["name"]).strip(),
                                         organization_number=body.get("organizationNumber"),
                                         email=body.get("email"), phone=body.get("phoneNumber"),
                                         mobile=body.get("phoneNumberMobile"))
            customer["isPrivateIndividual"] = bool(body.get("isPrivateIndividual", customer["isPrivateIndividual"]))
            customer.update({k: body[k] for k in ("invoiceEmail", "invoiceSendMethod") if k in body})
            if isinstance(body.get("postalAddress"), dict):
                customer["postalAddress"] = {k: body["postalAddress"].get(k) for k in
                                             ("addressLine1", "addressLine2", "postalCode", "city")}
            return customer

    def add_supplier(self, number: int, name: str, *, organization_number: str | None = None,
                     email: str | None = None, inactive: bool = False) -> dict[str, Any]:
        with self.lock:
            supplier: dict[str, Any] = {"id": self._next_id(), "version": 0, "supplierNumber": number, "name": name,
                        "organizationNumber": organization_number or "", "email": email or "",
                        "isSupplier": True, "isInactive": inactive}
            self.suppliers[supplier["id"]] = supplier
            return supplier

    def add_department(self, number: str, name: str, *, inactive: bool = False) -> dict[str, Any]:
        with self.lock:
            department: dict[str, Any] = {"id": self._next_id(), "version": 0, "departmentNumber": number, "name": name,
                          "isInactive": inactive}
            self.departments[department["id"]] = department
            return department

    def add_project(self, number: str, name: str, *, closed: bool = False) -> dict[str, Any]:
        with self.lock:
            project: dict[str, Any] = {"id": self._next_id(), "version": 0, "number": number, "name": name, "isClosed": closed}
            self.projects[project["id"]] = project
            return project

    def account(self, number: int) -> dict[str, Any]:
        return next(a for a in self.accounts.values() if a["number"] == number)

    def vat_type(self, number: str) -> dict[str, Any]:
        return next(v for v in self.vat_types.values() if v["number"] == number)

    def deactivate_account(self, number: int) -> None:
        self.account(number)["isInactive"] = True

    def remove_account(self, number: int) -> None:
        del self.accounts[self.account(number)["id"]]

    # -- vouchers ------------------------------------------------------------------------------------

    def create_voucher(self, body: Any, *, send_to_ledger: bool) -> dict[str, Any]:
        """Validate as Tripletex does and store; raises Invalid with every message at once."""
        if not isinstance(body, dict):
            raise Invalid([], code=16000, message="Json mapping error: expected an object")
        unknown = sorted(set(body) - VOUCHER_FIELDS)
        messages: list[dict[str, Any]] = []
        if unknown:
            raise Invalid([at(k, "Feltet eksisterer ikke i objektet.") for k in unknown],
                          code=16000, message="Json mapping error")
        if not body.get("date"):
            messages.append(at("date", NULL))
        elif parse_date(body["date"]) is None:
            messages.append(at("date", f"Ugyldig dato: {body['date']}."))
        postings = body.get("postings") or []
        stored: list[dict[str, Any]] = []
        for i, posting in enumerate(postings):
            where = f"postings[{i}]"
            if not isinstance(posting, dict):
                messages.append(at(where, "Ugyldig postering."))
                continue
            unknown = sorted(set(posting) - POSTING_FIELDS)
            if unknown:
                raise Invalid([at(f"{where}.{k}", "Feltet eksisterer ikke i objektet.") for k in unknown],
                              code=16000, message="Json mapping error")
            stored.append(self._posting(posting, where, body, messages))
        with self.lock:
            messages.extend(voucher_messages(self, body, [p for p in postings if isinstance(p, dict)], stored))
            if messages:
                raise Invalid(messages)
            voucher_id = self._next_id()
            year = dt.date.fromisoformat(body["date"]).year
            voucher = {
                "id": voucher_id, "version": 1, "url": f"tripletex/v2/ledger/voucher/{voucher_id}",
                "date": body["date"], "number": next(self._voucher_numbers) if send_to_ledger else 0,
                "tempNumber": 0 if send_to_ledger else next(self._temp_numbers), "year": year,
                "description": body.get("description") or "",
                "externalVoucherNumber": body.get("externalVoucherNumber") or "",
                "vendorInvoiceNumber": body.get("vendorInvoiceNumber") or "",
                "postings": self._with_vat(stored, body["date"]),
                "_posted": send_to_ledger,
            }
            self.vouchers[voucher_id] = voucher
            return voucher

    def _ref(self, posting: dict[str, Any], key: str, register: dict[int, dict[str, Any]], where: str,
             messages: list[dict[str, Any]], label: str) -> dict[str, Any] | None:
        ref = posting.get(key)
        if ref is None:
            return None
        ref_id = ref.get("id") if isinstance(ref, dict) else None
        if not isinstance(ref_id, int) or ref_id not in register:
            messages.append(at(f"{where}.{key}.id", f"{label} med id {ref_id} finnes ikke."))  # [unverified] wording
            return None
        return register[ref_id]

    def _posting(self, posting: dict[str, Any], where: str, voucher: dict[str, Any],
                 messages: list[dict[str, Any]]) -> dict[str, Any]:
        """One posting's own fields and references; the rules across postings are in vouchers.py."""
        if posting.get("date") is None:
            messages.append(at(f"{where}.date", NULL))
        elif parse_date(posting["date"]) is None:
            messages.append(at(f"{where}.date", f"Ugyldig dato: {posting['date']}."))
        gross = amount(posting, "amountGross")
        if not isinstance(gross, Decimal):
            messages.append(at(f"{where}.amountGross", NULL))
        elif gross != gross.quantize(CENT):
            messages.append(at(f"{where}.amountGross", "Maks to desimaler."))
        currency = posting.get("currency")
        gross_currency = amount(posting, "amountGrossCurrency")
        if currency is None and gross_currency is not None and gross_currency != gross:
            messages.append(at(f"{where}.amountGrossCurrency",
                               "Beløp i valuta må være lik beløpet i NOK for NOK-posteringer."))
        account = self._ref(posting, "account", self.accounts, where, messages, "Konto")
        if posting.get("account") is None:
            messages.append(at(f"{where}.account", NULL))
        vat = self._ref(posting, "vatType", self.vat_types, where, messages, "MVA-kode")
        customer = self._ref(posting, "customer", self.customers, where, messages, "Kunde")
        supplier = self._ref(posting, "supplier", self.suppliers, where, messages, "Leverandør")
        department = self._ref(posting, "department", self.departments, where, messages, "Avdeling")
        project = self._ref(posting, "project", self.projects, where, messages, "Prosjekt")
        if account is not None:
            if account["isInactive"]:
                messages.append(at(f"{where}.account.id", f"Konto {account['number']} er inaktiv."))
            if account["ledgerType"] == "CUSTOMER" and customer is None and not posting.get("customer"):
                messages.append(at(f"{where}.customer.id", "Kunde mangler."))
            if account["ledgerType"] == "VENDOR" and supplier is None and not posting.get("supplier"):
                messages.append(at(f"{where}.supplier.id", "Leverandør mangler."))
            if account["requiresDepartment"] and department is None:
                messages.append(at(f"{where}.department.id", "Avdeling mangler."))
            if account["requiresProject"] and project is None:
                messages.append(at(f"{where}.project.id", "Prosjekt mangler."))
        for name, found in (("customer", customer), ("supplier", supplier), ("department", department)):
            if found is not None and found.get("isInactive"):
                messages.append(at(f"{where}.{name}.id", f"{found['name']} er inaktiv."))
        if project is not None and project["isClosed"]:
            messages.append(at(f"{where}.project.id", f"Prosjekt {project['number']} er avsluttet."))
        return {
            "row": posting.get("row"), "date": posting.get("date") or voucher.get("date"),
            "description": posting.get("description") or "",
            "account": {"id": account["id"], "number": account["number"]} if account else None,
            "amountGross": gross, "amountGrossCurrency": gross_currency if gross_currency is not None else gross,
            "vatType": {"id": vat["id"], "number": vat["number"]} if vat else None,
            "customer": {"id": customer["id"]} if customer else None,
            "supplier": {"id": supplier["id"]} if supplier else None,
            "department": {"id": department["id"]} if department else None,
            "project": {"id": project["id"]} if project else None,
            "invoiceNumber": posting.get("invoiceNumber") or "",
            "termOfPayment": posting.get("termOfPayment"),
            "systemGenerated": False,
            "_vat": vat,
            "_account": account,
        }

    def _with_vat(self, postings: list[dict[str, Any]], date: str) -> list[dict[str, Any]]:
        """Net amounts on the given rows plus the VAT postings Tripletex generates (row 0)."""
        out: list[dict[str, Any]] = []
        generated: list[dict[str, Any]] = []
        for posting in postings:
            vat = posting.pop("_vat")
            posting.pop("_account", None)
            gross: Decimal = posting["amountGross"]
            if vat is not None and vat["percentage"] and vat["_vat_account"]:
                net = (gross * 100 / (100 + vat["percentage"])).quantize(CENT)
                tax = gross - net
                vat_account = self.account(vat["_vat_account"])
                generated.append({
                    "id": self._next_id(), "row": 0, "date": date, "description": vat["name"],
                    "account": {"id": vat_account["id"], "number": vat_account["number"]},
                    "amount": tax, "amountGross": tax, "amountGrossCurrency": tax,
                    "vatType": None, "systemGenerated": True,
                })
            else:
                net = gross
            out.append({**posting, "id": self._next_id(), "amount": net, "amountCurrency": net})
        return out + generated

