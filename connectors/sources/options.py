"""The options a tenant sets per file format (PUT /api/v1/admin/tenants/{id}/formats/{format}), as models.

Each format's descriptor names its model: an unknown option or a value of the wrong kind is refused when it is
set, naming the field, not found at the next file. The readers still take the options as a mapping.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from pipeline.descriptors import Code, Settings
from pipeline.norway.text import canonical_encoding


class NoOptions(Settings):
    """A format that takes no options (the shared form)."""


class TabularOptions(Settings):
    """The options every tabular reader (GBAT10, Visma Global, Visma Business, SIE 4) understands."""

    vat_map: dict[str, Code | None] = Field(default_factory=dict, description=(
        'The format\'s own VAT codes → SAF-T standard codes, e.g. {"3": "3", "1": "1"}; "" or null: no VAT'))
    customer_ledger: Code | None = Field(None, description="The customer ledger account (default 1500)")
    supplier_ledger: Code | None = Field(None, description="The supplier ledger account (default 2400)")
    reference_prefix: str = Field("", max_length=40, description="Put before every voucher reference")
    encoding: str | None = Field(None, description="The file's text encoding when detection must not decide "
                                                   "(UTF-8, Windows-1252, CP865, CP850, ISO-8859-1)")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is not None:
            canonical_encoding(value)  # ValueError: unknown text encoding
        return value


class VismaBusinessOptions(TabularOptions):
    oem_codepage: str | None = Field(None, description="The OEM code page of files with the OEM flag (CP865 "
                                                       "unless set, e.g. CP850)")

    @field_validator("oem_codepage")
    @classmethod
    def _known_codepage(cls, value: str | None) -> str | None:
        if value is not None:
            canonical_encoding(value)
        return value


class SieOptions(TabularOptions):
    sie_dimensions: dict[str, str] = Field(default_factory=dict, description=(
        'SIE object dimensions (#DIM number) → dimension names, e.g. {"1": "department", "6": "project"}'))
    currency: str | None = Field(None, pattern=r"^[A-Za-z]{3}$",
                                 description="The currency when the file has no #VALUTA (default SEK)")


class SaftFinancialOptions(Settings):
    analysis_map: dict[str, str] = Field(default_factory=dict, description=(
        'AnalysisType → dimension name, e.g. {"A": "department", "P": "project"}'))
    vat_accounts: list[Code] | None = Field(None, description="Accounts whose postings are VAT (folded into the "
                                                               "lines they belong to; decision 0001)")
