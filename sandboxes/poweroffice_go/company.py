"""One PowerOffice GO client's register and ledger, validating vouchers the way GO does (as far as it is known).

Shapes are GO's DTOs (reference/target-apis.md §2; stianwe/PowerOfficeGoV2 and pacely-ai/poweroffice-node, generated
from PowerOffice's OpenAPI files): GeneralLedgerAccountDto, VatCodeDto, CustomerDto/SupplierDto (with
`SubledgerAccountId`), DepartmentDto, ProjectDto, SubLedgerNumberSeriesDto, LockDateSettingsDto, and the two voucher
shapes (ManualJournalEntryVoucherPostDto, ManualVoucherPostDto). The rules each with its source, and the wording
that is not verified (all of GO's refusal texts are: no real answers are public), are listed in docs/fidelity.md.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from decimal import Decimal
from typing import Any, cast

# A subset of NS 4102 as a new GO client has it, each account's default VAT code, and whether it is locked to it.
CHART: tuple[tuple[int, str, str, bool], ...] = (
    (1500, "Kundefordringer", "0", True), (1900, "Kontanter", "0", False), (1920, "Bankinnskudd", "0", True),
    (2400, "Leverandørgjeld", "0", True), (2700, "Utgående merverdiavgift, høy sats", "0", True),
    (2710, "Inngående merverdiavgift, høy sats", "0", True), (2740, "Oppgjørskonto merverdiavgift", "0", True),
    (1580, "Fordringer på betalingsformidlere (kort, Vipps)", "0", False), (2900, "Forskudd fra kunder", "0", False), (3000, "Salgsinntekt, avgiftspliktig", "3", False),
    (3010, "Salgsinntekt, avgiftspliktig, middels sats", "31", False),
    (3020, "Salgsinntekt, avgiftspliktig, lav sats", "33", False), (3100, "Salgsinntekt, avgiftsfri", "5", False),
    (4000, "Innkjøp av råvarer og halvfabrikata", "1", False), (4300, "Innkjøp av varer for videresalg", "1", False),
    (6300, "Leie lokale", "1", False), (6800, "Kontorrekvisita", "1", False), (7770, "Bank- og kortgebyrer", "0", False),
    (7790, "Annen kostnad, fradragsberettiget", "1", False),
)
# SAF-T standard codes as GO lists them (its own ids), rate as a fraction.
VAT_CODES: tuple[tuple[str, str, str], ...] = (
    ("0", "Ingen mva-behandling", "0"), ("1", "Fradrag inngående mva, alminnelig sats", "0.25"),
    ("11", "Fradrag inngående mva, redusert sats, næringsmidler", "0.15"),
    ("13", "Fradrag inngående mva, redusert sats", "0.12"), ("3", "Utgående mva, alminnelig sats", "0.25"),
    ("31", "Utgående mva, redusert sats, næringsmidler", "0.15"), ("33", "Utgående mva, redusert sats", "0.12"),
    ("5", "Ingen utgående mva (fritatt)", "0"), ("6", "Ingen utgående mva (utenfor loven)", "0"),
)
ROLES = ("JournalEntryVoucher_Full", "ManualVoucher_Full", "GeneralLedgerAccount", "CommonServices", "Customer",
         "Supplier", "Department", "Project", "AccountTransaction", "SalesOrders_Full", "BankVoucher_Full",
         "Customer_Full", "Product", "OutgoingInvoices")


class Invalid(Exception):
    """A refusal (400 ProblemDetails) with GO's title and the details."""

    def __init__(self, title: str, details: list[str]) -> None:
        super().__init__("; ".join(details))
        self.title, self.details = title, details


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class GoClient:
    """The register (accounts, VAT codes, contacts, dimensions, sub-ledger series, lock date) and the vouchers."""

    def __init__(self, name: str = "Bilagsbro Sandkasse AS", organization_number: str = "999888771") -> None:
        self.id, self.name, self.organization_number = str(uuid.uuid4()), name, organization_number
        self.lock = threading.RLock()
        self._ids = itertools.count(1001)
        self.accounts: dict[int, dict[str, Any]] = {}
        self.vat_codes: dict[int, dict[str, Any]] = {}
        self.customers: dict[int, dict[str, Any]] = {}
        self.suppliers: dict[int, dict[str, Any]] = {}
        self.departments: dict[int, dict[str, Any]] = {}
        self.projects: dict[int, dict[str, Any]] = {}
        self.series: list[dict[str, Any]] = []
        self.lock_date: str | None = None
        self.drafts: dict[str, dict[str, Any]] = {}  # journal-entry vouchers by Id (created through the API)
        self.vouchers: dict[str, dict[str, Any]] = {}  # posted vouchers by Id (ManualVoucherDto)
        self.transactions: list[dict[str, Any]] = []  # AccountTransactionDto rows of posted vouchers
        self._voucher_numbers = itertools.count(1)

    # -- seeding ----------------------------------------------------------------------------------------------------

    def seed_standard(self) -> GoClient:
        for code, name, rate in VAT_CODES:
            self.add_vat_code(code, name, Decimal(rate))
        for number, name, vat, locked in CHART:
            self.add_account(number, name, vat=vat, locked=locked)
        self.add_series("Customer", 10000, 19999, 1500)
        self.add_series("Supplier", 20000, 29999, 2400)
        return self

    def seed_demo(self) -> GoClient:
        self.add_contact("customers", 10001, "Fjordkafé Ålesund AS", org="987654325", email="regnskap@fjordkafe.no")
        self.add_contact("customers", 10002, "Blåbærgården Økologiske", org="912345688", email="post@blabaergarden.no")
        self.add_contact("customers", 10003, "Kari Nordmann", email="kari@nordmann.no", phone="+4791234567")
        self.add_contact("suppliers", 20001, "Høvding Engros AS", org="923456791")
        self.add_dimension("departments", "1", "Butikk Trondheim")
        self.add_dimension("departments", "2", "Nettbutikk")
        self.add_dimension("projects", "100", "Sommerkampanje Bodø")
        return self

    def add_vat_code(self, code: str, name: str, rate: Decimal, *, active: bool = True,
                     valid_to: str | None = None) -> dict[str, Any]:
        with self.lock:
            vat: dict[str, Any] = {"Id": next(self._ids), "Code": code, "Name": name, "Description": name, "Rate": rate,
                   "IsActive": active, "IsCustom": False, "ValidFrom": "2016-01-01", "ValidTo": valid_to}
            self.vat_codes[vat["Id"]] = vat
            return vat

    def add_account(self, number: int, name: str, *, vat: str = "0", locked: bool = False, active: bool = True,
                    department_required: bool = False, project_required: bool = False) -> dict[str, Any]:
        with self.lock:
            code = self.vat(vat)
            account = {"Id": next(self._ids), "AccountNo": number, "Name": name, "IsActive": active,
                       "VatCodeId": code["Id"], "VatCode": code["Code"], "IsVatCodeLocked": locked,
                       "IsDepartmentRequired": department_required, "IsProjectRequired": project_required,
                       "CurrencyCode": "NOK", "GeneralLedgerAccountType": "Asset" if number < 2000 else
                       "Liability" if number < 3000 else "Income" if number < 4000 else "Expense",
                       "LastChangedDateTimeOffset": _now()}
            self.accounts[account["Id"]] = account
            return account

    def add_series(self, kind: str, first: int, last: int, account_no: int) -> None:
        with self.lock:
            self.series.append({"Id": str(uuid.uuid4()), "SubLedgerNumberSeriesType": kind, "FromInclusive": first,
                                "ToInclusive": last, "GeneralLedgerAccountNo": account_no, "IsDefault": True,
                                "GeneralLedgerAccountId": self.account(account_no)["Id"], "Name": f"{kind}s",
                                "IsClientTrust": False})

    def add_contact(self, kind: str, number: int, name: str, *, org: str | None = None, email: str | None = None,
                    phone: str | None = None, active: bool = True) -> dict[str, Any]:
        with self.lock:
            contact = {"Id": next(self._ids), "Number": number, "Name": name, "OrganizationNumber": org,
                       "EmailAddress": email, "PhoneNumber": phone, "IsActive": active, "IsPerson": org is None,
                       "SubledgerAccountId": next(self._ids), "CurrencyCode": "NOK"}
            getattr(self, kind)[contact["Id"]] = contact
            return contact

    def add_dimension(self, kind: str, code: str, name: str, *, active: bool = True) -> dict[str, Any]:
        with self.lock:
            record = {"Id": next(self._ids), "Code": code, "Name": name, "IsActive": active,
                      "CreatedDateTimeOffset": _now()}
            getattr(self, kind)[record["Id"]] = record
            return record

    def account(self, number: int) -> dict[str, Any]:
        return next(a for a in self.accounts.values() if a["AccountNo"] == number)

    def vat(self, code: str) -> dict[str, Any]:
        return next(v for v in self.vat_codes.values() if v["Code"] == code)

    # -- validation -------------------------------------------------------------------------------------------------

    def _subledger(self, account_id: Any) -> tuple[dict[str, Any], int] | None:
        """(the contact, the general ledger account number its series books on) for a sub-ledger account id."""
        for kind in ("Customer", "Supplier"):
            for contact in (self.customers if kind == "Customer" else self.suppliers).values():
                if contact["SubledgerAccountId"] == account_id:
                    series = next((s for s in self.series if s["SubLedgerNumberSeriesType"] == kind
                                   and s["FromInclusive"] <= contact["Number"] <= s["ToInclusive"]), None)
                    return contact, series["GeneralLedgerAccountNo"] if series else 0
        return None

    def _line(self, at: str, account_id: Any, vat_id: Any, line: dict[str, Any], day: str, out: list[str]
              ) -> tuple[int | None, dict[str, Any] | None]:
        """Check one side of a line; the general ledger account number it books on."""
        vat = self.vat_codes.get(vat_id) if isinstance(vat_id, int) else None
        sub = self._subledger(account_id)
        account = self.accounts.get(account_id) if isinstance(account_id, int) else None
        if sub is not None:
            contact, number = sub
            if not contact["IsActive"]:
                out.append(f"{at}: the contact {contact['Number']} is not active.")
            account = next((a for a in self.accounts.values() if a["AccountNo"] == number), None)
        elif account is None:
            out.append(f"{at}: account with id = {account_id} not found.")
            return None, None
        elif any(s["GeneralLedgerAccountNo"] == account["AccountNo"] for s in self.series):
            out.append(f"{at}: account {account['AccountNo']} is a sub-ledger account and must be posted on a "
                       "customer or supplier.")
        if account is not None and not account["IsActive"]:
            out.append(f"{at}: account {account['AccountNo']} is not active.")
        if vat is None:
            out.append(f"{at}: vat code with id = {vat_id} not found.")
        elif not vat["IsActive"] or (vat["ValidTo"] and vat["ValidTo"] < day):
            out.append(f"{at}: vat code {vat['Code']} is not valid on {day}.")
        elif account is not None and account["IsVatCodeLocked"] and vat["Id"] != account["VatCodeId"]:
            out.append(f"{at}: account {account['AccountNo']} is locked to vat code {account['VatCode']}.")
        for key, table, flag, name in (("DepartmentId", self.departments, "IsDepartmentRequired", "department"),
                                       ("ProjectId", self.projects, "IsProjectRequired", "project")):
            value = line.get(key)
            if value not in (None, -1):
                record = table.get(value)
                if record is None or not record["IsActive"]:
                    out.append(f"{at}: {name} with id = {value} not found or not active.")
            elif account is not None and account.get(flag):
                out.append(f"{at}: account {account['AccountNo']} requires a {name}.")
        return (account["AccountNo"] if account else None), vat

    def _dates(self, body: dict[str, Any], lines: list[dict[str, Any]], out: list[str]) -> str:
        day = str(body.get("VoucherDate") or "")
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            out.append("VoucherDate: the voucher date is required.")
            return day
        if body.get("CurrencyCode") != "NOK":
            out.append(f"CurrencyCode: currency {body.get('CurrencyCode')!r} is not active on the client.")
        if not lines:
            out.append("The voucher has no lines.")
        for day_of in [day, *(str(line.get("PostingDate") or day) for line in lines)]:
            if self.lock_date and day_of <= self.lock_date:
                out.append(f"The date {day_of} is on or before the lock date {self.lock_date}.")
                break
        return day

    def create_draft(self, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /JournalEntryVouchers/ManualJournals`: one side per line, unsigned gross amounts, balanced."""
        lines = list(body.get("ManualVoucherLines") or [])
        out: list[str] = []
        with self.lock:
            day = self._dates(body, lines, out)
            balance, rows = Decimal(0), []
            for i, line in enumerate(lines):
                at = f"ManualVoucherLines[{i}]"
                amount = line.get("CurrencyAmount")
                if not isinstance(amount, (int, Decimal)) or amount <= 0:
                    out.append(f"{at}.CurrencyAmount: the amount must be a positive number.")
                    amount = Decimal(0)
                sides = [s for s in ("Debit", "Credit") if line.get(f"{s}AccountId") is not None]
                if not sides:
                    out.append(f"{at}: a debit or a credit account is required.")
                for side in sides:
                    number, vat = self._line(at, line.get(f"{side}AccountId"), line.get(f"{side}VatId"), line, day, out)
                    balance += Decimal(amount) if side == "Debit" else -Decimal(amount)
                    rows.append((side, number, vat, amount))
            if balance != 0:
                out.append(f"The voucher is not balanced (difference {balance}).")
            if out:
                raise Invalid("Voucher validation error(s)", out)
            voucher = {**{k: v for k, v in body.items() if k != "Comment"}, "Id": str(uuid.uuid4()), "Pages": [],
                       "_created": dt.datetime.now(dt.UTC), "_posted": False,
                       "ManualVoucherLines": [{**line, "Id": next(self._ids), "CreatedDateTimeOffset": _now()}
                                              for line in lines]}
            self.drafts[voucher["Id"]] = voucher
            return voucher

    def create_voucher(self, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /Vouchers/ManualJournals`: signed gross amounts (never 0), VatId required, unique import reference."""
        lines = list(body.get("VoucherLines") or [])
        out: list[str] = []
        with self.lock:
            day = self._dates(body, lines, out)
            reference = body.get("ExternalImportReference")
            if reference and any(v.get("ExternalImportReference") == reference for v in self.vouchers.values()):
                raise Invalid("Voucher validation error(s)", [f"ExternalImportReference: a voucher with external import "
                                                              f"reference '{reference}' already exists on the client."])
            balance = Decimal(0)
            for i, line in enumerate(lines):
                at = f"VoucherLines[{i}]"
                amount = line.get("CurrencyAmount")
                if not isinstance(amount, (int, Decimal)) or amount == 0:
                    out.append(f"{at}.CurrencyAmount: the amount must be a positive or negative number, not 0.")
                    continue
                if not line.get("PostingDate"):
                    out.append(f"{at}.PostingDate: the posting date is required.")
                self._line(at, line.get("AccountId"), line.get("VatId"), line, day, out)
                balance += Decimal(amount)
            if balance != 0:
                out.append(f"The voucher is not balanced (difference {balance}).")
            if out:
                raise Invalid("Voucher validation error(s)", out)
            return self._post(body, lines, signed=True)

    def _post(self, body: dict[str, Any], lines: list[dict[str, Any]], *, signed: bool, draft_id: str | None = None
              ) -> dict[str, Any]:
        number = next(self._voucher_numbers)
        voucher = {"Id": draft_id or str(uuid.uuid4()), "VoucherNo": number, "VoucherDate": body["VoucherDate"],
                   "CurrencyCode": body.get("CurrencyCode"), "Description": body.get("Description"),
                   "ExternalImportReference": body.get("ExternalImportReference"), "IsReversed": False,
                   "CreatedDateTimeOffset": _now(), "VoucherLines": lines}
        self.vouchers[voucher["Id"]] = voucher
        for line in lines:
            sides = [("", line.get("AccountId"), line.get("VatId"), Decimal(line["CurrencyAmount"]))] if signed else [
                (s, line.get(f"{s}AccountId"), line.get(f"{s}VatId"),
                 Decimal(line["CurrencyAmount"]) * (1 if s == "Debit" else -1))
                for s in ("Debit", "Credit") if line.get(f"{s}AccountId") is not None]
            for _, account_id, vat_id, amount in sides:
                account_id, vat_id = cast(int, account_id), cast(int, vat_id)  # as GO's ids came in the body
                sub = self._subledger(account_id)
                account_no = sub[1] if sub else self.accounts[account_id]["AccountNo"]
                self.transactions.append({
                    "Id": next(self._ids), "VoucherId": voucher["Id"], "VoucherNo": number, "AccountNo": account_no,
                    "Amount": amount, "CurrencyAmount": amount, "CurrencyCode": "NOK", "Description": line.get("Description"),
                    "VoucherDescription": body.get("Description"), "VatCode": self.vat_codes[vat_id]["Code"],
                    "ExternalImportReference": body.get("ExternalImportReference"), "VoucherDate": body["VoucherDate"],
                    "PostingDate": line.get("PostingDate") or body["VoucherDate"], "CreatedDateTimeOffset": _now(),
                    "_created": dt.datetime.now(dt.UTC)})
        return voucher

    def post_draft(self, draft_id: str) -> dict[str, Any]:
        """What a user does in GO's journal-entry view: post the draft (it keeps its Id)."""
        with self.lock:
            draft = self.drafts[draft_id]
            draft["_posted"] = True
            return self._post(draft, draft["ManualVoucherLines"], signed=False, draft_id=draft_id)
