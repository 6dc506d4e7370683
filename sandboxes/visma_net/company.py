"""The Visma.net sandbox's company: its chart, VAT IDs and categories, subaccount segment values, projects, branches
and financial periods, seeded as a Norwegian demo company, and the registers' DTOs as the API returns them.

Shapes follow the official spec (`AccountDto`, `VatInformationDto`, `VatCategoryDto`, `DtoSegment`, `ProjectDto`,
`BranchDto`, `FinancialPeriodDto`). The VAT IDs are named after the SAF-T standard codes [unverified: a Visma.net
company's own VAT IDs may differ; the tenant's VAT map translates them].
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal
from typing import Any

# (number, description, type, VAT category or None, control module or None). 1500 is the customer ledger's
# control account and, as here, may allow manual entries; `allowManualEntry` False makes it refuse them.
ACCOUNTS = [
    ("1500", "Kundefordringer", "Asset", None, "AR"),
    ("1920", "Bankinnskudd", "Asset", None, None),
    ("1900", "Kontanter", "Asset", None, None),
    ("2400", "Leverandørgjeld", "Liability", None, None),
    ("2700", "Utgående merverdiavgift", "Liability", None, None),
    ("2710", "Inngående merverdiavgift", "Asset", None, None),
    ("3000", "Salgsinntekt, avgiftspliktig", "Income", "SALG", None),
    ("3010", "Salgsinntekt, middels sats", "Income", "MIDDEL", None),
    ("3020", "Salgsinntekt, lav sats", "Income", "LAV", None),
    ("3100", "Salgsinntekt, avgiftsfri", "Income", None, None),
    ("4300", "Innkjøp av varer for videresalg", "Expense", "INNG", None),
    ("6300", "Leie lokale", "Expense", None, None),
    ("7770", "Bank- og kortgebyr", "Expense", None, None),
]
# (VAT ID, description, rate %, group type, payable account, claimable account)
VATS = [
    ("0", "Ingen mva-behandling", "0", "Output", "2700", "2710"),
    ("1", "Inngående mva, høy sats", "25", "Input", "2700", "2710"),
    ("11", "Inngående mva, middels sats", "15", "Input", "2700", "2710"),
    ("13", "Inngående mva, lav sats", "12", "Input", "2700", "2710"),
    ("3", "Utgående mva, høy sats", "25", "Output", "2700", "2710"),
    ("31", "Utgående mva, middels sats", "15", "Output", "2700", "2710"),
    ("33", "Utgående mva, lav sats", "12", "Output", "2700", "2710"),
    ("5", "Utgående, nullsats", "0", "Output", "2700", "2710"),
    ("6", "Omsetning utenfor mva-loven", "0", "Output", "2700", "2710"),
]
CATEGORIES = {"SALG": ("Salg", ["3", "31", "33", "5", "6"]), "MIDDEL": ("Middels sats", ["31"]),
              "LAV": ("Lav sats", ["33"]), "INNG": ("Inngående mva", ["1", "11", "13"])}
DEPARTMENTS = [("1", "Hovedkontor"), ("2", "Butikk Røros")]
PROJECTS = [("100", "Sommerkampanje", "Active"), ("200", "Åpning Lillehammer", "Completed")]


def _row(number: str, description: str, kind: str, category: str | None, control: str | None) -> dict[str, Any]:
    return {"accountID": int(number), "accountCD": number, "type": kind, "active": True, "description": description,
            "taxCategory": category, "controlAccountModule": control, "allowManualEntry": True,
            "useDefaultSub": True, "cashAccount": number in ("1900", "1920"), "publicCode1": number,
            "lastModifiedDateTime": "2026-01-01T00:00:00"}


# Inventory items of the demo company (number, description, type); BLÅBÆR-1 is the contract suite's product.
ITEMS = (("ABO-PAPIR", "Abonnement papir og digitalt", "NonStockItem"), ("PORTO", "Porto", "ChargeItem"),
         ("BLÅBÆR-1", "Blåbær, 1 kg", "FinishedGoodItem"))


class Company:
    """A Visma.net company: registers the sandbox serves and checks journal transactions against."""

    def __init__(self, name: str = "Fjellbekk Handel AS") -> None:
        self.name = name
        self.lock = threading.RLock()
        self.accounts: dict[str, dict[str, Any]] = {}
        self.vats: dict[str, dict[str, Any]] = {}
        self.categories: dict[str, dict[str, Any]] = {}
        self.segments: dict[int, dict[str, Any]] = {}  # SUBACCOUNT's segments by id
        self.projects: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}  # inventory number → InventoryDto (GET /v1/inventory/{number})
        self.branches: dict[str, dict[str, Any]] = {}
        self.periods: dict[str, dict[str, Any]] = {}  # "202611" → FinancialPeriodDto
        self.batches: dict[str, dict[str, Any]] = {}  # batch number → JournalTransactionDto
        self.next_batch = 1

    def seed(self, *, years: range | None = None) -> Company:
        for row in ACCOUNTS:
            self.accounts[row[0]] = _row(*row)
        for vat_id, text, rate, group, payable, claimable in VATS:
            self.vats[vat_id] = {
                "vatId": vat_id, "description": text, "type": "Vat", "reverseVat": False, "statisticalVat": False,
                "pendingVat": False, "deductibleVat": group == "Input", "calculateOn": "ExtractFromItemAmount",
                "schedules": [{"startDate": "2012-01-01T00:00:00", "vatRate": Decimal(rate), "groupType": group}],
                "glAccounts": {"vatPayableAccount": {"number": payable, "type": "Liability", "active": True},
                               "vatClaimableAccount": {"number": claimable, "type": "Asset", "active": True}},
                "lastModifiedDateTime": "2026-01-01T00:00:00"}
        for category, (text, ids) in CATEGORIES.items():
            self.categories[category] = {"vatCategoryId": category, "description": text, "active": True,
                                         "vatCategoryLines": [{"vatId": v, "description": self.vats[v]["description"]}
                                                              for v in ids]}
        self.segments[1] = {"internalId": str(uuid.uuid4()), "segmentId": 1, "description": "Avdeling", "length": 4,
                            "validate": True, "segmentValues": [
                                {"segmentId": 1, "valueId": v, "description": d, "active": True} for v, d in DEPARTMENTS]}
        self.segments[2] = {"internalId": str(uuid.uuid4()), "segmentId": 2, "description": "Bærer", "length": 3,
                            "validate": False, "segmentValues": []}
        for project, text, status in PROJECTS:
            self.projects[project] = {"internalID": len(self.projects) + 1, "projectID": project, "description": text,
                                      "status": status, "hold": False, "tasks": []}
        for number, text, kind in ITEMS:
            self.add_item(number, text, kind=kind)
        self.branches["1"] = {"branchId": 1, "number": "1", "name": self.name, "isMainBranch": True, "isActive": True}
        this = dt.date.today().year
        for year in years or range(min(2024, this - 1), max(2030, this + 2)):
            for month in range(1, 13):
                self.add_period(year, month)
        return self

    def add_item(self, number: str, description: str, *, kind: str = "NonStockItem",
                 status: str = "Active") -> dict[str, Any]:
        """An inventory item as `GET /v1/inventory/{inventoryNumber}` answers (InventoryDto, the fields we read)."""
        self.items[number] = {"inventoryId": len(self.items) + 1, "inventoryNumber": number, "status": status,
                              "type": kind, "description": description, "salesUnit": "STK", "baseUnit": "STK",
                              "stockItem": kind not in ("NonStockItem", "ServiceItem", "LaborItem", "ChargeItem",
                                                        "ExpenseItem")}
        return self.items[number]

    def add_period(self, year: int, month: int, *, closed: bool = False, active: bool = True) -> None:
        start = dt.date(year, month, 1)
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        key = f"{year}{month:02d}"
        self.periods[key] = {"year": year, "period": key, "startDate": f"{start}T00:00:00", "endDate": f"{end}T00:00:00",
                             "description": start.strftime("%B").capitalize(), "active": active,
                             "closedInGeneralLedger": closed, "closedInCustomerLedger": closed,
                             "closedInSupplierLedger": closed, "closedInCashManagement": closed,
                             "closedInInventoryManagement": closed, "closedInFixedAssets": closed}

    def close_period(self, key: str) -> None:
        with self.lock:
            for flag in ("closedInGeneralLedger", "closedInCustomerLedger", "closedInSupplierLedger"):
                self.periods[key][flag] = True

    def add_account(self, number: str, description: str, *, kind: str = "Expense", category: str | None = None) -> None:
        with self.lock:
            self.accounts[number] = _row(number, description, kind, category, None)

    def deactivate_account(self, number: str) -> None:
        with self.lock:
            self.accounts[number]["active"] = False

    def period_on(self, day: dt.date) -> dict[str, Any] | None:
        for period in self.periods.values():
            if period["startDate"][:10] <= day.isoformat() <= period["endDate"][:10]:
                return period
        return None

    def segment_value(self, segment: int, value: str) -> dict[str, Any] | None:
        found = self.segments.get(segment)
        if found is None:
            return None
        if not found["validate"]:
            return {"valueId": value, "active": True}
        return next((v for v in found["segmentValues"] if v["valueId"] == value), None)

    def rate(self, vat_id: str, day: dt.date) -> Decimal:
        rows = [r for r in self.vats[vat_id]["schedules"] if r["startDate"][:10] <= day.isoformat()]
        return Decimal(max(rows, key=lambda r: r["startDate"])["vatRate"]) if rows else Decimal(0)
