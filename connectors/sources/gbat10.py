"""GBAT10, the Mamut/Visma voucher CSV that Extenda Go exports: a declared layout for the tabular reader.

Format: http://help.mamut.com/no/mhelp/rtm/import_export/csv_formats/journal_formats/gbat10.htm
(reference/norway-standards.md §5.3). Semicolons, no header, one posting per line, columns 0-based as
Mamut numbers them; amounts signed (+ debit, − credit) with '.' decimals; dates YYYYMMDD. VAT codes
are Mamut's own (company-specific StdReg), so every code needs the tenant's `vat_map`; blank and "0"
mean no VAT code.

Brutto (column 26), as Moment documents it: blank → the line's amount is Saldo; `T` → the amount is
BruttoSum (VAT included) and the target computes the VAT; `F` → the line is not imported.
Mamut calls Saldo the net amount; a line whose VAT code has a rate but no Brutto flag is taken as
written, i.e. as the gross amount the shared form expects. Whether Extenda Go writes such lines, or
separate VAT lines, is open until we see a real file (reference §8.1). The guesses a file relies on
are warned about (`GUESSES`, docs/formats.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import IO, Any

from connectors.sources import gbat10_fast
from connectors.sources.guesses import Guess, noting
from connectors.sources.options import TabularOptions
from connectors.sources.rows import Record, delimited
from connectors.sources.tabular import Columns, Layout, read, with_error
from pipeline.descriptors import FormatDescriptor
from pipeline.errors import Problem
from pipeline.model import Document

NAME = "gbat10"

FIELDS = (
    "Identifikasjon", "Bilagsnummer", "Bilagsdato", "Bilagsart", "Periode", "Regnskapsår", "Konto",
    "Mva-kode", "Saldo", "Kundenummer", "Leverandørnummer", "Kontaktnavn", "Adresse", "Postnummer",
    "Poststed", "Fakturanummer", "KID", "Forfallsdato", "Ubrukt", "Bankkonto", "Beskrivelse hovedbok",
    "Beskrivelse reskontro", "Rentefakturering", "Prosjekt", "Avdeling", "Betalingsbetingelse",
    "Brutto", "BruttoSum", "IBAN", "SWIFT",
)
"""Columns 0–29; files may stop after Saldo (column 8) or anywhere later."""


def _brutto(record: Record) -> Record | None:
    if record.get("Identifikasjon").upper() != "GBAT10":
        return with_error(record, f"first field is {record.get('Identifikasjon')!r}, not GBAT10",
                          "Identifikasjon")
    brutto = record.get("Brutto").upper()
    if brutto == "F":
        return None  # e.g. a VAT line the target computes itself
    if brutto == "T":
        if not record.get("BruttoSum"):
            return with_error(record, "Brutto is T but BruttoSum is empty", "BruttoSum")
        return Record(record.line, {**record.fields, "Saldo": record.get("BruttoSum")})
    if brutto:
        return with_error(record, f"Brutto must be blank, T or F, not {brutto!r}", "Brutto")
    return record


GUESSES = (
    Guess("gbat10-saldo-with-vat-code", "Saldo",
          "a line with a VAT code and no Brutto flag is taken as its gross amount, VAT included, "
          "although Mamut's column list calls Saldo the net amount",
          "a real Extenda Go file: does it write such lines, or separate VAT lines?",
          lambda r, options: not r.get("Brutto") and r.get("Mva-kode") not in ("", "0")
          and bool(options.get("vat_map", {}).get(r.get("Mva-kode"), "?")),  # mapped to "": no VAT
          reads=("Brutto", "Mva-kode")),
    Guess("gbat10-brutto", "Brutto",
          "Brutto T means the amount is BruttoSum with VAT included and F that the line is not imported, "
          "as Moment documents it (Mamut's own page is cut off there)",
          "a real file with Brutto T or F, and the voucher Mamut or Tripletex books from it",
          lambda r, options: r.get("Brutto").upper() in ("T", "F"), reads=("Brutto",)),
    Guess("gbat10-no-voucher-number", "Bilagsnummer",
          "rows without a Bilagsnummer belong to one voucher per Bilagsdato",
          "a real file whose vouchers have no number",
          lambda r, options: not r.get("Bilagsnummer"), reads=("Bilagsnummer",)),
)


LAYOUT = Layout(
    format=NAME,
    columns=Columns(
        voucher_number="Bilagsnummer", date="Bilagsdato", amount="Saldo", account="Konto",
        vat_code="Mva-kode", voucher_type="Bilagsart", text="Beskrivelse hovedbok",
        customer_number="Kundenummer", supplier_number="Leverandørnummer", party_name="Kontaktnavn",
        party_address="Adresse", party_postal_code="Postnummer", party_city="Poststed",
        invoice_number="Fakturanummer", kid="KID", due_date="Forfallsdato",
        dimensions={"project": "Prosjekt", "department": "Avdeling"},
    ),
    records=noting(delimited(";", FIELDS, min_fields=9), GUESSES),
    voucher_key=("Bilagsnummer", "Bilagsdato"),
    no_vat=frozenset({"", "0"}),
    prepare=_brutto,
    prepare_reads=("Identifikasjon", "Brutto", "BruttoSum"),
    fast=gbat10_fast.read,
)


def sniff(head: bytes, file_name: str) -> bool:
    return head.lstrip(b"\xef\xbb\xbf").upper().startswith((b"GBAT10;", b'"GBAT10";'))  # quoted by some writers


def parse(data: IO[bytes], *, file_name: str, options: Mapping[str, Any]) -> Iterator[Document | Problem]:
    return read(LAYOUT, data, file_name=file_name, options=options)


FORMAT = FormatDescriptor(
    name=NAME,
    title="GBAT10 (Extenda Go)",
    settings=TabularOptions,
    parse=parse,
    sniff=sniff,
    notes="semicolon separated, signed amounts, Brutto/BruttoSum",
)
