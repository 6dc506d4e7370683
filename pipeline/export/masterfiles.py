"""The SAF-T file's MasterFiles, and how a party and a dimension are named in it (pipeline/export/saft.py).

Parties: a customer's or supplier's ID is its number, else what identifies it; the first one seen under an ID is
its master record (SAF-T keeps party details in MasterFiles, once, not per line). Dimensions: department and
project are the analysis types A and P, as in Skatteetaten's example file and our reader's default; any other is
written under its own name (at most 9 characters).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal

from pipeline.export.spool import Out, Spool, short_id
from pipeline.model import Address, Party
from pipeline.norway.grouping import Grouping
from pipeline.norway.vat import VAT_CODES

# Analysis types of the dimensions: A and P as in Skatteetaten's example file (and our reader's default).
ANALYSIS_TYPES = {"department": ("A", "Avdeling"), "project": ("P", "Prosjekt")}
CHUNK = 256 * 1024


def party_id(party: Party) -> str:
    """A customer's or supplier's ID in the file: its number, else what identifies it (org, e-mail, phone, name)."""
    if party.number:
        return short_id(party.number, 35)
    for prefix, value in (("org", party.organization_number), ("email", party.email), ("phone", party.phone)):
        if value:
            return short_id(f"{prefix}:{value.lower()}", 35)
    return short_id(f"name:{party.name}", 35)


def party_name(party: Party) -> str:
    """The Name the file gives a party (mandatory in SAF-T): its name, else what identifies it."""
    return party.name or party.email or party.phone or party.organization_number or party.number or "?"


def party_as_exported(party: Party) -> Party:
    """The party as the file states it, which is what our reader gives back: its ID as number, its Name as name,
    and an address of more than two lines in two (the second holds the rest, comma-separated)."""
    address = party.address
    if address is not None and len(address.lines) > 2:
        address = address.model_copy(update={"lines": (address.lines[0], ", ".join(address.lines[1:]))})
    return party.model_copy(update={"number": party_id(party), "name": party_name(party), "address": address})


def analysis_type(dimension: str) -> str:
    """The AnalysisType (at most 9 characters) a dimension is written with."""
    known = ANALYSIS_TYPES.get(dimension)
    return known[0] if known else short_id(dimension, 9)


def master_files(out: Out, spool: Spool, groups: Mapping[str, Grouping]) -> Iterator[bytes]:
    """MasterFiles: the accounts with their grouping codes and balances, the parties, the VAT codes, the analyses."""
    if not spool.accounts:
        return
    out.open("MasterFiles")
    out.open("GeneralLedgerAccounts")
    for account, movement in sorted(spool.accounts.items()):
        group = groups[account]
        out.open("Account")
        out.leaf("AccountID", account)
        out.leaf("AccountDescription", group.description, 256)
        out.leaf("GroupingCategory", group.category)
        out.leaf("GroupingCode", group.code)
        out.leaf("AccountType", "GL")
        out.leaf("OpeningDebitBalance", "0.00")
        out.leaf("ClosingDebitBalance" if movement >= 0 else "ClosingCreditBalance", f"{abs(movement):.2f}")
        out.close("Account")
    out.close("GeneralLedgerAccounts")
    for role in ("Customer", "Supplier"):
        first = True
        for ident, party, balances in spool.parties(role):
            if first:
                out.open(f"{role}s")
                first = False
            _party(out, role, ident, party, balances)
            if len(out) > CHUNK:
                yield out.take()
        if not first:
            out.close(f"{role}s")
    if spool.tax_codes:
        _tax_table(out, spool)
    if spool.analyses:
        out.open("AnalysisTypeTable")
        for (kind, value), dimension in sorted(spool.analyses.items()):
            out.open("AnalysisTypeTableEntry")
            out.leaf("AnalysisType", kind)
            out.leaf("AnalysisTypeDescription", ANALYSIS_TYPES.get(dimension, ("", dimension))[1], 256)
            out.leaf("AnalysisID", value, 35)
            out.leaf("AnalysisIDDescription", value, 256)
            out.close("AnalysisTypeTableEntry")
        out.close("AnalysisTypeTable")
    out.close("MasterFiles")
    yield out.take()

def _party(out: Out, role: str, ident: str, party: Party, balances: list[tuple[str, Decimal]]) -> None:
    out.open(role)
    if party.organization_number:
        out.leaf("RegistrationNumber", party.organization_number)
    out.leaf("Name", party_name(party), 256)
    if party.address is not None:
        _address(out, party.address)
    if party.email or party.phone:
        out.open("Contact")
        out.open("ContactPerson")
        out.leaf("FirstName", "NotUsed")
        out.leaf("LastName", party_name(party), 70)
        out.close("ContactPerson")
        if party.phone:
            out.leaf("Telephone", party.phone, 18)
        if party.email:
            out.leaf("Email", party.email, 70)
        out.close("Contact")
    out.leaf(f"{role}ID", ident)
    for account, movement in balances:
        out.open("BalanceAccount")
        out.leaf("AccountID", account)
        out.leaf("OpeningDebitBalance", "0.00")
        out.leaf("ClosingDebitBalance" if movement >= 0 else "ClosingCreditBalance", f"{abs(movement):.2f}")
        out.close("BalanceAccount")
    out.close(role)

def _tax_table(out: Out, spool: Spool) -> None:
    out.open("TaxTable")
    out.open("TaxTableEntry")
    out.leaf("TaxType", "MVA")
    out.leaf("Description", "Merverdiavgift")
    for code in sorted(spool.tax_codes, key=lambda c: (len(c), c)):
        vat = VAT_CODES[code]
        out.open("TaxCodeDetails")
        out.leaf("TaxCode", code)
        out.leaf("Description", vat.description_nob, 256)
        if vat.rate_class:
            out.leaf("TaxPercentage", str(vat.rate))
        out.leaf("Country", "NO")
        out.leaf("StandardTaxCode", code)
        out.leaf("Compensation", "true" if vat.compensation else "false")
        out.leaf("BaseRate", "100")
        out.close("TaxCodeDetails")
    out.close("TaxTableEntry")
    out.close("TaxTable")


def _address(out: Out, address: Address) -> None:
    out.open("Address")
    if address.lines:
        out.leaf("StreetName", address.lines[0], 256)
    if len(address.lines) > 1:
        out.leaf("AdditionalAddressDetail", ", ".join(address.lines[1:]), 256)
    if address.city:
        out.leaf("City", address.city, 256)
    if address.postal_code:
        out.leaf("PostalCode", address.postal_code, 70)
    out.leaf("Country", address.country[:2])
    out.close("Address")
