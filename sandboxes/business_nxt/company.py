"""The Business NXT sandbox's data: customers (Visma.net customer ids) and their companies, each company's chart,
tax codes, associates, organisational units, voucher series, unposted batches and updated vouchers — and the rules
Business NXT applies when a batch is created and when it is updated.

Rules modelled (sources in docs/fidelity.md, "Visma Business NXT"): rows need a voucher number, valid yyyymmdd dates
and a debit or a credit account; accounts must exist and not be barred, a customer's or supplier's number must
exist as one, tax codes and organisational units must exist, and an account locked to a tax code takes no other —
checked when rows are created. A batch may be unbalanced while it is registered; the *update* refuses a voucher
whose debits and credits differ, and a voucher dated in the locked period. After the update the rows are updated
vouchers with a journal number, and the batch number is free again (doc.visma.net, Buntnr).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


class Refused(Exception):
    """Business NXT refuses this (answered as a GraphQL error, its `extensions` given)."""

    def __init__(self, message: str, *, status: int = 4, status_name: str = "Error") -> None:
        super().__init__(message)
        self.extensions = {"code": "EXECUTION_ERROR", "status": status, "status_name": status_name}


def day(value: Any, what: str) -> int:
    """A yyyymmdd integer that is a real date, or Refused."""
    try:
        number = int(value)
        dt.date(number // 10000, number // 100 % 100, number % 100)
    except (TypeError, ValueError):
        raise Refused(f"{what} {value!r} is not a valid date (yyyymmdd)", status_name="InvalidValue") from None
    return number


@dataclass
class Company:
    no: int  # vismaNetCompanyId: what useCompany(no:) takes
    customer_id: int  # vismaNetCustomerId: the customer (firm) it belongs to
    name: str
    organisation_no: str = "999999999"
    accounting_year: int = 2026
    vat_term_months: int = 2
    periods_per_year: int = 12
    locked_until: int = 0
    accounts: dict[int, dict[str, Any]] = field(default_factory=dict)
    tax_codes: dict[int, dict[str, Any]] = field(default_factory=dict)
    associates: list[dict[str, Any]] = field(default_factory=list)
    org_units: dict[int, dict[int, dict[str, Any]]] = field(default_factory=lambda: {k: {} for k in range(1, 13)})
    series: dict[int, dict[str, Any]] = field(default_factory=dict)
    batches: dict[int, dict[str, Any]] = field(default_factory=dict)  # unposted, by batchNo
    updated: list[dict[str, Any]] = field(default_factory=list)  # UpdatedVoucher rows
    journals: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- seeding ------------------------------------------------------------------------------------------

    def account(self, no: int, name: str, *, tax_code: int = 0, barred: bool = False) -> None:
        self.accounts[no] = {"accountNo": no, "name": name, "barred": barred, "taxCode": tax_code}

    def seed_demo(self) -> Company:
        """NS 4102 accounts the demo and the contract suite use, Norwegian tax codes, a few parties and units."""
        for no, name, code in ((1500, "Kundefordringer", 0), (1920, "Bankinnskudd", 0), (1900, "Kontanter", 0),
                               (2400, "Leverandørgjeld", 0), (2700, "Utgående merverdiavgift", 0),
                               (2710, "Inngående merverdiavgift", 0), (3000, "Salgsinntekt, avgiftspliktig", 0),
                               (3010, "Salgsinntekt, middels sats", 31), (3020, "Salgsinntekt, lav sats", 33),
                               (3100, "Salgsinntekt, avgiftsfri", 5), (4300, "Innkjøp av varer for videresalg", 0),
                               (6800, "Kontorrekvisita", 0), (7770, "Bank- og kortgebyr", 0)):
            self.account(no, name, tax_code=code)
        for code, text, rate in ((1, "Inngående mva, høy sats", "25"), (11, "Inngående mva, middels sats", "15"),
                                 (13, "Inngående mva, lav sats", "12"), (3, "Utgående mva, høy sats", "25"),
                                 (31, "Utgående mva, middels sats", "15"), (33, "Utgående mva, lav sats", "12"),
                                 (5, "Utgående, fritatt", "0"), (6, "Utenfor avgiftsområdet", "0")):
            self.tax_codes[code] = {"taxCode": code, "description": text, "rate": Decimal(rate)}
        self.associates += [
            {"associateNo": 1, "customerNo": 10001, "supplierNo": None, "name": "Fjordkafé Ålesund AS"},
            {"associateNo": 2, "customerNo": 10002, "supplierNo": None, "name": "Bjørnøya Bakeri AS"},
            {"associateNo": 3, "customerNo": None, "supplierNo": 50001, "name": "Bergen Grossist AS"},
        ]
        self.org_units[1].update({1: {"orgUnitNo": 1, "name": "Butikk Røros"}, 2: {"orgUnitNo": 2, "name": "Nettbutikk"}})
        self.org_units[2].update({100: {"orgUnitNo": 100, "name": "Sommerkampanje"},
                                  200: {"orgUnitNo": 200, "name": "Åpning Ålesund"}})
        self.series[6] = {"voucherSeriesNo": 6, "name": "Diverse bilag", "lastVoucherNo": 69999, "nextVoucherNo": 60001}
        self.series[1] = {"voucherSeriesNo": 1, "name": "Kasse", "lastVoucherNo": 19999, "nextVoucherNo": 10001}
        return self

    def customer(self, no: int) -> dict[str, Any] | None:
        return next((a for a in self.associates if a.get("customerNo") == no), None)

    def supplier(self, no: int) -> dict[str, Any] | None:
        return next((a for a in self.associates if a.get("supplierNo") == no), None)

    def information(self) -> dict[str, Any]:
        return {"name": self.name, "organisationNo": self.organisation_no, "accountingYear": self.accounting_year,
                "vatTermMonths": self.vat_term_months, "periodsPerYear": self.periods_per_year,
                "lockedUntilDate": self.locked_until}

    # -- batches ------------------------------------------------------------------------------------------

    def _side(self, row: dict[str, Any], side: str) -> None:
        account = row.get(f"{side}AccountNo")
        if not account:
            return
        if row.get("customerNo") == account:
            if self.customer(account) is None:
                raise Refused(f"Customer {account} does not exist", status_name="NotFound")
        elif row.get("supplierNo") == account:
            if self.supplier(account) is None:
                raise Refused(f"Supplier {account} does not exist", status_name="NotFound")
        else:
            found = self.accounts.get(account)
            if found is None:
                raise Refused(f"Account {account} does not exist in the chart of accounts", status_name="NotFound")
            if found["barred"]:
                raise Refused(f"Account {account} is barred", status_name="Barred")
            code = row.get(f"{side}TaxCode")
            if code and found["taxCode"] and code != found["taxCode"]:
                raise Refused(f"Tax code {code} is not allowed for account {account} (locked to {found['taxCode']})",
                              status_name="InvalidValue")
        code = row.get(f"{side}TaxCode")
        if code and code not in self.tax_codes:
            raise Refused(f"Tax code {code} does not exist", status_name="NotFound")

    def _row(self, batch_no: int, line_no: int, given: dict[str, Any]) -> dict[str, Any]:
        row = dict(given)
        if not row.get("voucherNo") or int(row["voucherNo"]) < 1:
            raise Refused("Voucher number (voucherNo) is required", status_name="MissingValue")
        for name in ("voucherDate", "valueDate"):
            row[name] = day(row.get(name), name)
        if "dueDate" in row and row["dueDate"] is not None:
            day(row["dueDate"], "dueDate")
        if not row.get("debitAccountNo") and not row.get("creditAccountNo"):
            raise Refused("A voucher needs a debit account or a credit account", status_name="MissingValue")
        amount = row.get("amountDomestic")
        if amount is None or Decimal(amount) <= 0:
            raise Refused(f"amountDomestic must be a positive amount, not {amount}", status_name="InvalidValue")
        for name in ("text", "additionalText"):
            if len(row.get(name) or "") > 200:
                raise Refused(f"{name} is longer than 200 characters", status_name="InvalidValue")
        for side in ("debit", "credit"):
            self._side(row, side)
        for kind in range(1, 13):
            unit = row.get(f"orgUnit{kind}")
            if unit and unit not in self.org_units[kind]:
                raise Refused(f"Organisational unit {unit} does not exist in orgUnit{kind}", status_name="NotFound")
        return {**{k: None for k in ("customerNo", "supplierNo", "text", "additionalText")}, **row,
                "batchNo": batch_no, "lineNo": line_no, "amountDomestic": Decimal(amount)}

    def create_batches(self, values: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """batch_create: every batch and row checked first, then all of them made (nothing half-made)."""
        with self.lock:
            made: list[dict[str, Any]] = []
            taken = set(self.batches)
            for given in values:
                series = self.series.get(given.get("voucherSeriesNo") or 0)
                if series is None:
                    raise Refused(f"Voucher series {given.get('voucherSeriesNo')} does not exist",
                                  status_name="NotFound")
                number = max(taken, default=0) + 1  # freed numbers are used again (Buntnr)
                taken.add(number)
                rows = [self._row(number, i + 1, v) for i, v in enumerate(given.get("vouchers") or [])]
                made.append({"batchNo": number, "voucherSeriesNo": series["voucherSeriesNo"],
                             "valueDate": day(given.get("valueDate"), "valueDate"),
                             "description": given.get("description"), "vouchers": rows})
            for batch in made:
                self.batches[batch["batchNo"]] = batch
                series = self.series[batch["voucherSeriesNo"]]
                for row in batch["vouchers"]:  # [unverified] that a given number moves the series on, as «+» does
                    series["nextVoucherNo"] = max(series["nextVoucherNo"], int(row["voucherNo"]) + 1)
            return made

    def update_batch(self, batch_no: int) -> bool:
        """The batch's vouchers to the ledger: each must balance and lie after the period lock."""
        with self.lock:
            batch = self.batches.get(batch_no)
            if batch is None:
                return False
            totals: dict[int, list[Decimal]] = {}
            for row in batch["vouchers"]:
                debit, credit = totals.setdefault(int(row["voucherNo"]), [Decimal(0), Decimal(0)])
                amount = row["amountDomestic"]
                totals[int(row["voucherNo"])] = [debit + (amount if row.get("debitAccountNo") else 0),
                                                 credit + (amount if row.get("creditAccountNo") else 0)]
                if self.locked_until and row["voucherDate"] <= self.locked_until:
                    raise Refused(f"Voucher {row['voucherNo']} is dated {row['voucherDate']}, in a locked period "
                                  f"(to {self.locked_until})", status_name="PeriodLocked")
                for side in ("debit", "credit"):
                    self._side(row, side)
            for voucher_no, (debit, credit) in totals.items():
                if debit != credit:
                    raise Refused(f"Voucher {voucher_no} in batch {batch_no} does not balance: debit {debit}, "
                                  f"credit {credit}", status_name="NotBalanced")
            self.journals += 1
            for row in batch["vouchers"]:
                self.updated.append({**row, "journalNo": self.journals, "_description": batch["description"]})
            del self.batches[batch_no]
            return True

    def unposted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [row for batch in self.batches.values() for row in batch["vouchers"]]
