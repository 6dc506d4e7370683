"""The SAF-T standard VAT codes as Python data, so that every source and target agrees on what a code means.

Facts: Skatteetaten's `Standard Tax Codes/CSV/Standard_Tax_Codes.csv` (SAF-T repo) for code, texts,
rate class and compensation flag; `mva-meldingen/.../kodelister/sats.xml` for the current percentages
(25 % since 2005-01-01, 15 % since 2012-01-01, 12 % since 2021-10-01, 11.11 % raw fish, 0 %).
A test compares this table to the CSV in ../shared/specs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

Direction = Literal["output", "input", "none"]

RATES: dict[str, Decimal] = {
    "Regular rate": Decimal("25"),
    "Reduced rate, middle": Decimal("15"),
    "Reduced rate, low": Decimal("12"),
    "Reduced rate, raw fish": Decimal("11.11"),
    "Zero rate": Decimal("0"),
    "": Decimal("0"),  # codes outside VAT treatment carry no rate class
}
"""Percentage per SAF-T rate class, as in force today (sats.xml)."""

ØRE = Decimal("0.01")


class UnknownVatCode(KeyError):
    """A code that is not one of Skatteetaten's SAF-T standard VAT codes."""

    def __str__(self) -> str:
        return (f"{self.args[0]!r} is not a SAF-T standard VAT code "
                f"(known: {', '.join(VAT_CODES)})")


@dataclass(frozen=True)
class VatCode:
    """One SAF-T standard VAT code and what it means for a posting."""

    code: str
    description_nob: str
    description_eng: str
    rate_class: str  # the CSV's TaxRate text; empty for codes without VAT treatment
    direction: Direction  # output: VAT on sales; input: VAT on purchases; none: no VAT treatment
    compensation: bool = False  # the CSV's Compensation flag (valid in the compensation return)
    reverse_charge: bool = False  # buyer computes the VAT (omvendt avgiftsplikt) or seller sells under it
    imported: bool = False  # import of goods (innførsel)
    deductible: bool = False  # purchase VAT may be deducted
    reported: bool = True  # appears in the mva-melding; 0, 7, 20, 21, 22 do not

    @property
    def rate(self) -> Decimal:
        return RATES[self.rate_class]

    @property
    def vat_in_amount(self) -> bool:
        """Whether a line's gross amount contains VAT paid to or charged by the counterparty.

        Reverse-charge and import-basis codes post the net amount; their VAT is computed on the basis
        and posted both ways (mva-melding example mvakode81.xml), so no VAT hides inside the amount.
        """
        return self.rate > 0 and not self.reverse_charge and self.code not in ("21", "22")


def _c(code: str, nob: str, eng: str, rate: str, direction: Direction, **flags: bool) -> VatCode:
    return VatCode(code, nob, eng, rate, direction, **flags)


_INPUT_DOMESTIC = "Fradragsberettiget innenlands inngående merverdiavgift"
_IMPORT_DEDUCTIBLE = "Grunnlag innførsel av varer med fradragsrett for innførselsmerverdiavgift"
_IMPORT_NOT_DEDUCTIBLE = "Grunnlag innførsel av varer uten fradragsrett for innførselsmerverdiavgift"
_SERVICES_DEDUCTIBLE = "Tjenester kjøpt fra utlandet med fradragsrett for merverdiavgift"
_SERVICES_NOT_DEDUCTIBLE = "Tjenester kjøpt fra utlandet uten fradragsrett for merverdiavgift"

VAT_CODES: dict[str, VatCode] = {c.code: c for c in (
    _c("0", "Ingen merverdiavgiftsbehandling (anskaffelser)", "No VAT treatment", "", "none",
       compensation=True, reported=False),
    _c("1", _INPUT_DOMESTIC, "Input VAT deductible (domestic)", "Regular rate", "input",
       compensation=True, deductible=True),
    _c("11", _INPUT_DOMESTIC, "Input VAT deductible (domestic)", "Reduced rate, middle", "input",
       compensation=True, deductible=True),
    _c("12", _INPUT_DOMESTIC, "Input VAT deductible (domestic)", "Reduced rate, raw fish", "input",
       deductible=True),
    _c("13", _INPUT_DOMESTIC, "Input VAT deductible (domestic)", "Reduced rate, low", "input",
       compensation=True, deductible=True),
    _c("14", "Fradragsberettiget innførselsmerverdiavgift", "Input VAT deductible (payed on import)",
       "Regular rate", "input", compensation=True, imported=True, deductible=True),
    _c("15", "Fradragsberettiget innførselsmerverdiavgift", "Input VAT deductible (payed on import)",
       "Reduced rate, middle", "input", compensation=True, imported=True, deductible=True),
    _c("20", "Kostnad ved innførsel av varer, ingen merverdiavgiftsbehandling", "No VAT treatment", "",
       "none", compensation=True, imported=True, reported=False),
    _c("21", "Kostnad ved innførsel av varer", "Basis on import of goods", "Regular rate", "none",
       compensation=True, imported=True, reported=False),
    _c("22", "Kostnad ved innførsel av varer", "Basis on import of goods", "Reduced rate, middle", "none",
       compensation=True, imported=True, reported=False),
    _c("3", "Utgående merverdiavgift", "Output VAT", "Regular rate", "output"),
    _c("31", "Utgående merverdiavgift", "Output VAT", "Reduced rate, middle", "output"),
    _c("32", "Utgående merverdiavgift", "Output VAT", "Reduced rate, raw fish", "output"),
    _c("33", "Utgående merverdiavgift", "Output VAT", "Reduced rate, low", "output"),
    _c("5", "Innenlands omsetning og uttak fritatt for merverdiavgift", "No output VAT", "Zero rate",
       "output"),
    _c("51", "Innenlandsk omsetning med omvendt avgiftplikt",
       "Domestic sales of reverce charge /VAT obligation", "Zero rate", "output", reverse_charge=True),
    _c("52", "Utførsel av varer og tjenester", "Export of goods and services", "Zero rate", "output"),
    _c("6", "Omsetning og uttak utenfor merverdiavgiftsloven",
       "Not liable to VAT treatment, turnover and withdrawals outside the scope of the VAT legislation",
       "", "output"),
    _c("7", "Ingen merverdiavgiftsbehandling (inntekter)",
       "No VAT treatment - no turnover according to the VAT legislation", "", "none", reported=False),
    _c("81", _IMPORT_DEDUCTIBLE, "Importation of goods, VAT deductible", "Regular rate", "input",
       compensation=True, reverse_charge=True, imported=True, deductible=True),
    _c("82", _IMPORT_NOT_DEDUCTIBLE, "Importation of goods, without deduction of VAT", "Regular rate",
       "input", compensation=True, reverse_charge=True, imported=True),
    _c("83", _IMPORT_DEDUCTIBLE, "Importation of goods, VAT deductible", "Reduced rate, middle", "input",
       compensation=True, reverse_charge=True, imported=True, deductible=True),
    _c("84", _IMPORT_NOT_DEDUCTIBLE, "Importation of goods, without deduction of VAT",
       "Reduced rate, middle", "input", compensation=True, reverse_charge=True, imported=True),
    _c("85", "Grunnlag innførsel av varer som det ikke skal beregnes merverdiavgift av",
       "Importation of goods, not applicable for VAT", "Zero rate", "input",
       compensation=True, reverse_charge=True, imported=True),
    _c("86", _SERVICES_DEDUCTIBLE, "Services purchased from abroad, VAT deductible", "Regular rate",
       "input", compensation=True, reverse_charge=True, deductible=True),
    _c("87", _SERVICES_NOT_DEDUCTIBLE, "Services purchased from abroad, without deduction of VAT",
       "Regular rate", "input", compensation=True, reverse_charge=True),
    _c("88", _SERVICES_DEDUCTIBLE, "Services purchased from abroad, VAT deductible", "Reduced rate, low",
       "input", compensation=True, reverse_charge=True, deductible=True),
    _c("89", _SERVICES_NOT_DEDUCTIBLE, "Services purchased from abroad, without deduction of VAT",
       "Reduced rate, low", "input", compensation=True, reverse_charge=True),
    _c("91", "Kjøp av klimakvoter eller gull med fradragsrett for merverdiavgift",
       "Purchase of emissions trading or gold, VAT deductible", "Regular rate", "input",
       compensation=True, reverse_charge=True, deductible=True),
    _c("92", "Kjøp av klimakvoter eller gull uten fradragsrett for merverdiavgift",
       "Purchase of emissions trading or gold, without deduction of VAT", "Regular rate", "input",
       compensation=True, reverse_charge=True),
)}
"""Every SAF-T standard VAT code, keyed by code (the CSV's spelling, including its typos)."""


def lookup(code: str) -> VatCode:
    """The standard VAT code `code` ("3", " 31 "); raises `UnknownVatCode` for anything else."""
    try:
        return VAT_CODES[code.strip()]
    except KeyError:
        raise UnknownVatCode(code) from None


def vat_of_gross(gross: Decimal, code: str) -> Decimal:
    """The VAT contained in a gross (VAT-inclusive) amount, rounded half up to whole øre.

    Zero for codes whose amount holds no VAT (zero rate, no treatment, reverse charge, import basis).
    """
    vat_code = lookup(code)
    if not vat_code.vat_in_amount:
        return Decimal("0.00")
    rate = vat_code.rate
    # + 0.00: a tiny negative amount holds 0.00 VAT, not -0.00 (which would print as "-0.00")
    return (gross * rate / (Decimal(100) + rate)).quantize(ØRE, rounding=ROUND_HALF_UP) + Decimal("0.00")
