"""One voucher as one Fiken general journal entry, with everything Fiken would refuse in it found at once.

`entry(voucher, register, open_entry=...)` is pure: it returns the body of `POST /generalJournalEntries`, every
problem (each on its field: `lines[2].vat_code`), the fields Fiken has no place for (`not_accepted`) and what a
reader of the trace should know (`details`: lines split for VAT rounding, zero lines left out, a shortened
description). Preflight reports the problems; delivery refuses to send a voucher that has any.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.targets.fiken.amounts import RATES, SubØre, contained_vat, kroner, net_parts, øre
from connectors.targets.fiken.mapping import (
    ACCOUNT,
    NO_VAT_ACCOUNTS,
    PAYABLE,
    RECEIVABLE,
    VAT_CODES,
    VAT_ONLY_CODES,
    Register,
    description,
    journal_day,
    ledger_code,
    matched,
    party_keys,
)
from pipeline.errors import Problem
from pipeline.model import Posting, Voucher

Report = Callable[[str, str, str], None]  # (code, field, message)


@dataclass(frozen=True)
class Entry:
    body: dict[str, Any]
    problems: tuple[Problem, ...]
    not_accepted: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)


def entry(voucher: Voucher, register: Register, *, open_entry: bool) -> Entry:
    """The journal entry for `voucher`, given what was looked up in Fiken (`register`)."""
    problems: list[Problem] = []
    origin = voucher.origin

    def report(code: str, where: str, message: str) -> None:
        problems.append(Problem(message, field=where, reference=voucher.reference, code=code,
                                file=origin.file if origin else None, line=origin.line if origin else None))

    if voucher.currency != "NOK":
        report("unsupported-currency", "currency", f"a Fiken journal entry is in NOK only; the voucher is in "
               f"{voucher.currency} (the shared form carries no exchange rate)")
    start = journal_day(register.company.get("accountingStartDate"))
    if start is not None and voucher.date < start:
        report("before-accounting-start", "date", f"the voucher is dated {voucher.date}, before the company's "
               f"accounting starts in Fiken ({start})")
    text, left_out, shortened = description(voucher)
    refused = ["voucher_type"] if voucher.voucher_type else []
    lines: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    for i, line in enumerate(voucher.lines):
        refused.extend(_not_accepted(i, line))
        account = _account(i, line, register, report, refused)
        code, rate = _vat_code(i, line, account, report)
        parts = _parts(i, line, code, rate, report)
        if parts == ():
            details.setdefault("zero_lines_left_out", []).append(i)
        if parts is not None and len(parts) > 1:
            details.setdefault("lines_split_for_vat_rounding", []).append(i)
        if account is None or not parts:
            continue
        side = "debit" if parts[0] > 0 else "credit"
        for part in parts:
            wire: dict[str, Any] = {"amount": abs(part), f"{side}Account": account}
            if code is not None:
                wire[f"{side}VatCode"] = code
            lines.append(wire)
    refused.extend(f"lines[{i}].description" for i in left_out)
    if shortened:
        details["description_shortened"] = True
    body = {"description": text, "open": open_entry,
            "journalEntries": [{"description": text, "date": voucher.date.isoformat(), "lines": lines}]}
    return Entry(body, tuple(problems), tuple(refused), details)


def _not_accepted(i: int, line: Posting) -> list[str]:
    at = f"lines[{i}]"
    fields = [f"{at}.{name}" for name in ("kid", "invoice_number", "due_date") if getattr(line, name)]
    return fields + [f"{at}.dimensions.{name}" for name in line.dimensions]


def _account(i: int, line: Posting, register: Register, report: Report, refused: list[str]) -> str | None:
    """The account code the line is posted on in Fiken: a customer's or supplier's own on 1500/2400."""
    at = f"lines[{i}]"
    for role, party, ledger in (("customer", line.customer, RECEIVABLE), ("supplier", line.supplier, PAYABLE)):
        if party is None:
            continue
        if line.account != ledger:
            refused.append(f"{at}.{role}")
            continue
        table = register.customers if role == "customer" else register.suppliers
        keys = party_keys(party)
        named = " / ".join(k.replace(":", " ", 1) for k in keys)
        found = matched(party, table)
        if not keys:
            report(f"missing-{role}", f"{at}.{role}", f"{role} {party.name!r} has no number, organisation number, "
                   "e-mail or phone to find in Fiken")
        elif found is None:
            report(f"missing-{role}", f"{at}.{role}", f"{role} {named} does not exist in Fiken")
        elif found.get("_ambiguous"):
            report(f"ambiguous-{role}", f"{at}.{role}", f"{role} {named}: {len(found['_ambiguous'])} contacts in "
                   f"Fiken match (ids {', '.join(map(str, found['_ambiguous']))}); merge them in Fiken or give the "
                   f"source a {role} number")
        elif found.get("inactive"):
            report(f"missing-{role}", f"{at}.{role}", f"{role} {named} is inactive in Fiken")
        elif ledger_code(found, role) is None:
            report(f"missing-{role}", f"{at}.{role}", f"{named} is a contact in Fiken but not a {role} (it has no "
                   f"{role} account {ledger}:NNNNN)")
        else:
            return ledger_code(found, role)
        return None
    if line.account in (RECEIVABLE, PAYABLE):
        role = "customer" if line.account == RECEIVABLE else "supplier"
        report(f"{role}-required", f"{at}.{role}", f"Fiken books {line.account} on each {role}'s own account "
               f"({line.account}:NNNNN): the line needs a {role}")
        return None
    if not ACCOUNT.match(line.account):
        report("missing-account", f"{at}.account", f"{line.account!r} is no account code Fiken can have (four "
               "digits, or four digits, a colon and five)")
        return None
    if line.account not in register.accounts:
        report("missing-account", f"{at}.account", f"account {line.account} does not exist in Fiken")
        return None
    return line.account


def _vat_code(i: int, line: Posting, account: str | None, report: Report) -> tuple[int | None, Decimal | None]:
    if line.vat_code is None:
        return None, None
    at = f"lines[{i}].vat_code"
    text = line.vat_code.strip()
    code = int(text) if text.isdigit() else None
    if code is None or code not in VAT_CODES:
        report("unknown-vat-code", at, f"VAT code {text} is not one of Fiken's VAT codes "
               f"({', '.join(str(c) for c in sorted(VAT_CODES))}); the tenant's VAT map can rename it")
        return None, None
    if code in VAT_ONLY_CODES:
        report("vat-code-not-supported", at, f"VAT code {code} ({VAT_CODES[code]}) books the whole amount as import "
               "VAT in Fiken; a shared-form line holds a net amount and its VAT, so the connector does not map it")
    main = (account or line.account)[:4]
    if code not in (0, 7) and main.isdigit() and any(int(main) in r for r in NO_VAT_ACCOUNTS):
        report("vat-code-not-allowed", at, f"VAT code {code} on account {account or line.account}: VAT belongs on "
               "income, cost and asset accounts, not on receivables, bank, payables or VAT accounts")
    return code, RATES.get(code)


def _parts(i: int, line: Posting, code: int | None, rate: Decimal | None, report: Report) -> tuple[int, ...] | None:
    """The line's amount as Fiken takes it: () for a zero line, None when it cannot be expressed."""
    at = f"lines[{i}]"
    try:
        gross = øre(line.amount)
    except SubØre as exc:
        report("sub-øre-amount", f"{at}.amount", str(exc))
        return None
    try:
        given = øre(line.vat_amount) if line.vat_amount is not None else None
    except SubØre as exc:
        report("sub-øre-amount", f"{at}.vat_amount", str(exc))
        return None
    if gross == 0:
        return ()
    if rate is None:
        if given:
            report("vat-amount-without-vat", f"{at}.vat_amount", f"VAT code {code} adds no VAT in Fiken, but the "
                   f"line says {kroner(given)} of it is VAT")
            return None
        return (gross,)
    vat = given if given is not None else (contained_vat(gross, rate) if gross > 0 else -contained_vat(-gross, rate))
    parts = net_parts(gross, vat, rate)
    if parts is None:
        report("vat-not-representable", f"{at}.{'vat_amount' if given is not None else 'amount'}",
               f"Fiken computes the VAT of a line with code {code} itself ({rate} % of its net amount): no net amount "
               f"in whole øre gives {kroner(abs(gross))} with {kroner(abs(vat))} of VAT")
    return parts



_CODE = re.compile(r"(?<![\d:])(\d{4}(?::\d{5})?)(?![\d:])")
_WHEN = re.compile(r"(?i)dato|date|periode|period|låst|locked|regnskapsår|year")


def refusal(voucher: Voucher, message: str | None) -> tuple[Problem, ...]:
    """Fiken's refusal of an entry as problems: on the lines booking an account its words name, on the date when
    they speak of dates or periods, else on the voucher (Fiken's error body names no field [unverified])."""
    text = (message or "refused").strip()
    origin = voucher.origin

    def problem(message: str, field: str | None) -> Problem:
        return Problem(message, field=field, reference=voucher.reference, code="refused-by-fiken",
                       file=origin.file if origin else None, line=origin.line if origin else None)

    named = set(_CODE.findall(text))
    lines = [i for i, line in enumerate(voucher.lines)
             if line.account in named or any(code.split(":")[0] == line.account for code in named)]
    if lines:
        return tuple(problem(f"Fiken refused line {i + 1}: {text}", f"lines[{i}].account") for i in lines)
    if _WHEN.search(text):
        return (problem(f"Fiken refused the entry's date {voucher.date}: {text}", "date"),)
    return (problem(f"Fiken refused the entry: {text} (Fiken did not say which line)", None),)
