"""Tenant rules: typed data that maps the shared form to the terms of the tenant's accounting system.

Rules are small pure functions applied in order to a document and the tenant's rules (data). Every
rule keeps a balanced voucher balanced: they rename accounts, codes and dimensions, never amounts.
A per-customer exception (`customers`) is an account and VAT map of its own for the documents of one
customer, consulted before the tenant's general maps; every change of rules is a version
(pipeline/rule_versions.py).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.model import TARGET_TERMS, Document, InvoiceLine, Payment, Posting, SalesInvoice, Voucher


class CustomerException(BaseModel):
    """Another account or VAT code for one customer's documents, e.g. an export customer's sales on 3100
    with VAT code 52 instead of 3000 with 3. Keys are source values, as in the general maps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_map: dict[str, str] = Field(default_factory=dict, description="source account → target account, "
                                                                          "for this customer's documents")
    vat_map: dict[str, str] = Field(default_factory=dict, description="SAF-T VAT code → target VAT code, for "
                                                                      "this customer's documents")
    note: str | None = Field(None, max_length=200, description="Why the exception exists, in the customer's words")


class Rules(BaseModel):
    """Per-tenant exceptions to the standard mapping (NS 4102 accounts, SAF-T VAT codes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_map: dict[str, str] = Field(default_factory=dict, description="source account → target account")
    vat_map: dict[str, str] = Field(default_factory=dict, description="SAF-T VAT code → target VAT code")
    voucher_types: dict[str, str] = Field(default_factory=dict, description="source series → target type")
    dimensions: dict[str, str] = Field(
        default_factory=dict, description="our dimension name → the target's (e.g. 'store' → 'department')"
    )
    customers: dict[str, CustomerException] = Field(
        default_factory=dict, description="customer number or organisation number → its exception: applied to "
                                          "every line of a document whose customer it is (a voucher's: the one "
                                          "customer its lines name), before the general maps")
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


def customer_exception(document: Document, rules: Rules) -> CustomerException | None:
    """The exception for the document's customer, matched by its number, then its organisation number. A
    voucher's customer is the one its lines name; a voucher naming two customers gets no exception (which
    one's would be a guess)."""
    if not rules.customers:
        return None
    if isinstance(document, Voucher):
        parties = {(p.number, p.organization_number) for p in (x.customer for x in document.lines) if p is not None}
        if len(parties) != 1:
            return None
        number, organization_number = parties.pop()
    else:
        party = document.customer
        if party is None:
            return None
        number, organization_number = party.number, party.organization_number
    for key in (number, organization_number):
        if key and key in rules.customers:
            return rules.customers[key]
    return None


def _account(account: str, rules: Rules, exception: CustomerException | None) -> str:
    if exception is not None and account in exception.account_map:
        return exception.account_map[account]
    return rules.account_map.get(account, account)


def _vat(code: str, rules: Rules, exception: CustomerException | None) -> str:
    if exception is not None and code in exception.vat_map:
        return exception.vat_map[code]
    return rules.vat_map.get(code, code)


def _map_posting(line: Posting, rules: Rules, exception: CustomerException | None = None) -> Posting:
    changes: dict[str, object] = {}
    if _account(line.account, rules, exception) != line.account:
        changes["account"] = _account(line.account, rules, exception)
    if line.vat_code is not None and _vat(line.vat_code, rules, exception) != line.vat_code:
        changes["vat_code"] = _vat(line.vat_code, rules, exception)
    if rules.dimensions and line.dimensions:
        changes["dimensions"] = {rules.dimensions.get(k, k): v for k, v in line.dimensions.items()}
    return line.model_copy(update=changes) if changes else line


def _map_invoice_line(line: InvoiceLine, rules: Rules, exception: CustomerException | None = None) -> InvoiceLine:
    changes: dict[str, object] = {}
    if line.account is not None and _account(line.account, rules, exception) != line.account:
        changes["account"] = _account(line.account, rules, exception)
    if _vat(line.vat_code, rules, exception) != line.vat_code:
        changes["vat_code"] = _vat(line.vat_code, rules, exception)
    if rules.dimensions and line.dimensions:
        changes["dimensions"] = {rules.dimensions.get(k, k): v for k, v in line.dimensions.items()}
    return line.model_copy(update=changes) if changes else line


def map_lines(document: Document, rules: Rules) -> Document:
    exception = customer_exception(document, rules)
    if isinstance(document, Voucher):
        return document.model_copy(update={"lines": tuple(_map_posting(x, rules, exception) for x in document.lines)})
    if isinstance(document, SalesInvoice):
        return document.model_copy(
            update={
                "lines": tuple(_map_invoice_line(x, rules, exception) for x in document.lines),
                "receivable_account": _account(document.receivable_account, rules, exception),
            }
        )
    if isinstance(document, Payment):
        return document.model_copy(
            update={
                "bank_account": _account(document.bank_account, rules, exception),
                "receivable_account": _account(document.receivable_account, rules, exception),
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
