"""NS 4102 account classes and groups, and the standard accounts adapters fall back on.

Facts: the Regnskap Norge standard account list in Skatteetaten's SAF-T repository (2- and 4-character
CSVs), summarised in reference/norway-standards.md §2. Account numbers stay strings: NS 4102:2023 moves
to five digits, so "1500" and "15000" are both class 1, group 15.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CLASSES: dict[str, tuple[str, str]] = {
    "1": ("Eiendeler", "Assets"),
    "2": ("Egenkapital og gjeld", "Equity and liabilities"),
    "3": ("Salgs- og driftsinntekt", "Operating revenue"),
    "4": ("Varekostnad", "Cost of goods"),
    "5": ("Lønnskostnad", "Payroll"),
    "6": ("Annen driftskostnad", "Other operating costs"),
    "7": ("Annen driftskostnad", "Other operating costs"),
    "8": ("Finansinntekt og -kostnad, skatt, resultat", "Financial items, tax and annual result"),
}
"""NS 4102 classes (first digit). Class 9 is not in the standard: internal or cost accounting."""

GROUPS: dict[str, str] = {
    "10": "Intangible assets", "11": "Land and buildings",
    "12": "Transport equipment, fixtures, machinery", "13": "Financial fixed assets", "14": "Inventory",
    "15": "Short-term receivables", "16": "VAT and public grants receivable",
    "17": "Prepaid expenses and accrued income", "18": "Short-term investments", "19": "Cash and bank",
    "20": "Equity", "21": "Provisions", "22": "Other long-term debt", "23": "Short-term loans",
    "24": "Trade creditors", "25": "Tax payable", "26": "Tax withholdings",
    "27": "Public duties payable (VAT)", "28": "Dividends", "29": "Other current liabilities",
    "30": "Sales revenue, subject to VAT", "31": "Sales revenue, exempt (zero-rated)",
    "32": "Sales revenue outside the VAT area", "33": "Public duties on sales", "34": "Public grants",
    "35": "Unearned income", "36": "Rental income", "37": "Commission income",
    "38": "Gain on disposal of fixed assets", "39": "Other operating income",
    "40": "Consumption of materials", "41": "Consumption of goods in production",
    "42": "Consumption of goods", "43": "Goods for resale", "45": "Subcontracting",
    "46": "Other cost of goods", "49": "Accruals, cost of goods",
    "50": "Wages", "52": "Benefits", "53": "Other reportable remuneration",
    "54": "Employer contributions and pension", "55": "Other personnel costs",
    "56": "Other personnel costs", "57": "Other personnel costs", "58": "Other personnel costs",
    "59": "Other personnel costs",
    "60": "Depreciation", "61": "Freight", "62": "Energy", "63": "Premises", "64": "Leasing",
    "65": "Tools", "66": "Repairs and maintenance", "67": "External services", "68": "Office costs",
    "69": "Telephone and postage",
    "70": "Vehicles", "71": "Travel", "72": "Commission", "73": "Sales and advertising",
    "74": "Membership and gifts", "75": "Insurance", "76": "Licences", "77": "Other costs",
    "78": "Losses", "79": "Accruals",
    "80": "Financial income", "81": "Financial expenses", "83": "Tax", "84": "Extraordinary items",
    "85": "Extraordinary items", "86": "Tax on extraordinary items", "88": "Annual result",
    "89": "Transfers and allocations",
}
"""NS 4102 groups (first two digits) with their meaning, from the 2-character standard list."""

_ACCOUNT = re.compile(r"\d{4,6}")


@dataclass(frozen=True)
class AccountClass:
    """Where an account belongs: its class and group and what they mean."""

    number: str  # "1" .. "9"
    name_nob: str
    name_eng: str
    group: str  # first two digits
    group_name: str | None  # None where the standard defines no such group (e.g. 44)

    @property
    def balance_sheet(self) -> bool:
        return self.number in ("1", "2")


def account_class(number: str) -> AccountClass:
    """The NS 4102 class and group of an account number of 4 to 6 digits."""
    text = number.strip()
    if not _ACCOUNT.fullmatch(text):
        raise ValueError(f"account {number!r} is not an NS 4102 account number (4 to 6 digits)")
    first = text[0]
    if first == "0":
        raise ValueError(f"account {number!r}: NS 4102 has no class 0")
    nob, eng = CLASSES.get(first, ("Interne kontoer", "Internal or cost accounting (outside NS 4102)"))
    return AccountClass(first, nob, eng, text[:2], GROUPS.get(text[:2]) if first != "9" else None)


@dataclass(frozen=True)
class StandardAccounts:
    """Accounts an adapter uses when a source or the tenant names none (NS 4102 standard list, §2.2)."""

    customer_ledger: str = "1500"  # Kundefordringer
    supplier_ledger: str = "2400"  # Leverandørgjeld
    bank: str = "1920"  # Bankinnskudd
    cash: str = "1900"  # Kontanter, NOK
    vat_settlement: str = "2740"  # Oppgjørskonto merverdiavgift
    sales_high: str = "3000"  # Salgsinntekt, avgiftspliktig, høy sats
    sales_exempt: str = "3100"  # Salgsinntekt, avgiftsfri (zero-rated)
    sales_outside_vat: str = "3200"  # Salgsinntekt, unntatt avgiftsplikt
    goods_for_resale: str = "4300"  # Innkjøp av varer for videresalg
    card_fees: str = "7770"  # Bank- og kortgebyrer
    # Øredifferanser: not in our reference; conta.no (https://conta.no/regnskapsordbok/hva-er-avrunding/)
    # names 7798. [secondary] — tenants override it.
    rounding: str = "7798"
    output_vat: dict[str, str] = field(default_factory=lambda: {
        "3": "2700", "31": "2701", "32": "2702", "33": "2703",  # Utgående mva høy/middels/råfisk/lav
    })
    input_vat: dict[str, str] = field(default_factory=lambda: {
        "1": "2710", "11": "2711", "12": "2712", "13": "2713",  # Inngående mva høy/middels/råfisk/lav
        "14": "2715", "15": "2716",  # Inngående mva innførsel høy/middels
    })

    def vat_account(self, code: str) -> str | None:
        """The VAT account for a standard VAT code, or None where the tenant must choose."""
        return self.output_vat.get(code) or self.input_vat.get(code)


STANDARD = StandardAccounts()
