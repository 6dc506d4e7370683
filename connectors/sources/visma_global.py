"""Visma Global voucher import (BatchLine CSV): a declared, header-driven layout for the tabular reader.

Format: Moment's Visma Global export docs (https://docs.milientsoftware.com/help/moment-by-topic/
integrations/file-exports/file-export-accounting-system/), reference/norway-standards.md §5.2 —
[secondary]: no Visma primary spec was found. Comma separated, first row names the BatchLine fields;
positive Amount with DebitAccountNo/CreditAccountNo choosing the side (a row may hold both). Newer
files carry SAFTStdVatCode / SAFTStdVatCodeCredit, used as they are; older ones only the company's
own VATCode, mapped through `vat_map` and taken as the debit side's code
(like Visma Business's DbTxCd) [unverified: reference §8 asks for a real file]. Dates are read as YYYYMMDD or DD.MM.YYYY (not documented).
The guesses a file relies on are warned about (`GUESSES`, docs/formats.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import IO, Any

from connectors.sources.guesses import Guess, filled, noting
from connectors.sources.options import TabularOptions
from connectors.sources.rows import delimited
from connectors.sources.tabular import Columns, Layout, read
from pipeline.descriptors import FormatDescriptor
from pipeline.errors import Problem
from pipeline.model import Document

NAME = "visma-global"

GUESSES = (
    Guess("visma-global-vatcode-side", "VATCode",
          "the company's own VATCode belongs to the debit side (a credit-only row keeps no VAT code)",
          "a real file with VATCode on credit rows, or Visma's description of the column",
          lambda r, options: filled(r, "VATCode") and not filled(r, "SAFTStdVatCode", "SAFTStdVatCodeCredit"),
          reads=("VATCode", "SAFTStdVatCode", "SAFTStdVatCodeCredit")),
    Guess("visma-global-transtype", "TransType",
          "TransType does not change how a row is booked, and is not read",
          "a real file with TransType values, and the vouchers Visma Global books from them",
          lambda r, options: filled(r, "TransType"), reads=("TransType",)),
    Guess("visma-global-currency", "CurrencyNo",
          "Amount is in the company's currency; CurrencyNo, ExchangeRate and ExchangeAmount are not read",
          "a real file with foreign-currency rows",
          lambda r, options: filled(r, "CurrencyNo", "ExchangeAmount"), reads=("CurrencyNo", "ExchangeAmount")),
)


LAYOUT = Layout(
    format=NAME,
    columns=Columns(
        voucher_number="VoucherNo", date="VoucherDate", amount="Amount", debit_account="DebitAccountNo",
        credit_account="CreditAccountNo", debit_vat_code="VATCode",
        debit_saft_vat_code="SAFTStdVatCode", credit_saft_vat_code="SAFTStdVatCodeCredit",
        voucher_type="VoucherTypeNo", text="VoucherText", kid="KID", invoice_number="SuppliersInvoiceNo",
        due_date="DueDate", customer_number="CustomerNo", party_name="Name",
        dimensions={"department": "DepNo", "project": "ProjectNo"},
    ),
    records=noting(delimited(",", None), GUESSES),
    date_formats=("%Y%m%d", "%d.%m.%Y", "%Y-%m-%d"),
    sign="debit_credit",
    voucher_key=("VoucherNo", "VoucherDate"),
    no_vat=frozenset({"", "0"}),
)


def sniff(head: bytes, file_name: str) -> bool:
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    return b"VoucherNo" in first and b"DebitAccountNo" in first


def parse(data: IO[bytes], *, file_name: str, options: Mapping[str, Any]) -> Iterator[Document | Problem]:
    return read(LAYOUT, data, file_name=file_name, options=options)


FORMAT = FormatDescriptor(
    name=NAME,
    title="Visma Global import",
    settings=TabularOptions,
    parse=parse,
    sniff=sniff,
    notes="BatchLine CSV incl. `SAFTStdVatCode`",
)
