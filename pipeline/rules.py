"""Tenant rules: typed data that maps the shared form to the terms of the tenant's accounting system.

Rules are small pure functions applied in order to a document and the tenant's rules (data). Every
rule keeps a balanced voucher balanced: they rename accounts, codes and dimensions, never amounts.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.model import TARGET_TERMS, Document, InvoiceLine, Payment, Posting, SalesInvoice, Voucher


class Rules(BaseModel):
    """Per-tenant exceptions to the standard mapping (NS 4102 accounts, SAF-T VAT codes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_map: dict[str, str] = Field(default_factory=dict, description="source account → target account")
    vat_map: dict[str, str] = Field(default_factory=dict, description="SAF-T VAT code → target VAT code")
    voucher_types: dict[str, str] = Field(default_factory=dict, description="source series → target type")
    dimensions: dict[str, str] = Field(
        default_factory=dict, description="our dimension name → the target's (e.g. 'store' → 'department')"
    )
    grouping_codes: dict[str, str] = Field(
        default_factory=dict, description="account → SAF-T grouping code (næringsspesifikasjon) in the SAF-T "
                                          "export, where the rule by NS 4102 range does not fit the tenant's chart")

    @field_validator("grouping_codes")
    @classmethod
    def _known_grouping_codes(cls, value: dict[str, str]) -> dict[str, str]:
        from pipeline.norway.grouping_codes import CATEGORY_OF

        unknown = sorted(code for code in value.values() if code not in CATEGORY_OF)
        if unknown:
            raise ValueError(f"not grouping codes of the næringsspesifikasjon: {', '.join(unknown)}")
        return value


Rule = Callable[[Document, Rules], Document]


def _map_posting(line: Posting, rules: Rules) -> Posting:
    changes: dict[str, object] = {}
    if line.account in rules.account_map:
        changes["account"] = rules.account_map[line.account]
    if line.vat_code is not None and line.vat_code in rules.vat_map:
        changes["vat_code"] = rules.vat_map[line.vat_code]
    if rules.dimensions and line.dimensions:
        changes["dimensions"] = {rules.dimensions.get(k, k): v for k, v in line.dimensions.items()}
    return line.model_copy(update=changes) if changes else line


def _map_invoice_line(line: InvoiceLine, rules: Rules) -> InvoiceLine:
    changes: dict[str, object] = {}
    if line.account is not None and line.account in rules.account_map:
        changes["account"] = rules.account_map[line.account]
    if line.vat_code in rules.vat_map:
        changes["vat_code"] = rules.vat_map[line.vat_code]
    if rules.dimensions and line.dimensions:
        changes["dimensions"] = {rules.dimensions.get(k, k): v for k, v in line.dimensions.items()}
    return line.model_copy(update=changes) if changes else line


def map_lines(document: Document, rules: Rules) -> Document:
    if isinstance(document, Voucher):
        return document.model_copy(update={"lines": tuple(_map_posting(x, rules) for x in document.lines)})
    if isinstance(document, SalesInvoice):
        return document.model_copy(
            update={
                "lines": tuple(_map_invoice_line(x, rules) for x in document.lines),
                "receivable_account": rules.account_map.get(document.receivable_account, document.receivable_account),
            }
        )
    if isinstance(document, Payment):
        return document.model_copy(
            update={
                "bank_account": rules.account_map.get(document.bank_account, document.bank_account),
                "receivable_account": rules.account_map.get(document.receivable_account, document.receivable_account),
            }
        )
    return document


def map_voucher_type(document: Document, rules: Rules) -> Document:
    if isinstance(document, Voucher) and document.voucher_type in rules.voucher_types:
        return document.model_copy(update={"voucher_type": rules.voucher_types[document.voucher_type]})
    return document


RULES: tuple[Rule, ...] = (map_lines, map_voucher_type)


def apply(document: Document, rules: Rules) -> Document:
    """The document in the tenant's terms; model_copy skips validation, so re-validate at the end.

    The VAT codes are the target's now (the vat_map renamed them): validated in TARGET_TERMS.
    """
    for rule in RULES:
        document = rule(document, rules)
    return type(document).model_validate(document.model_dump(), context=TARGET_TERMS)
