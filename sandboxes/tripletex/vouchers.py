"""How the sandbox validates `POST /ledger/voucher`: Tripletex's rules, answered in Tripletex's own words.

Every rule and its source is listed in docs/fidelity.md. The shape of a refusal, as real Tripletex sends it
(https://github.com/Tripletex/tripletex-api2/issues/112, issues/51, issues/15; a logged 422 quoted in public
clients): status 422, code 18000, message "Validering feilet.", developerMessage "VALIDATION_ERROR", and per
problem a `field` without an index (`postings.vatType.id`), a `path` with one (`postings[2].vatType.id`) —
or `path` null, as real Tripletex leaves it for the rules that look at the voucher as a whole (the VAT lock,
the balance per date, row 0) — and `rootId` null for a new voucher.

Verified wording (quoted from Tripletex's answers): "Kan ikke være null.", "Et bilag kan ikke registreres uten
posteringer.", "Posteringene på rad 0 (guiRow 0) er systemgenererte og kan ikke opprettes eller endres på
utsiden av Tripletex.", "Summen av posteringene for <date> er ikke lik 0.", "Kontoen <number> <name> er låst
til mva-kode <code>: <name>.", "Kunde mangler." / "Leverandør mangler." (developer FAQ).
[unverified] wording: external voucher number too long, VAT type not legal on an account, closed period,
reported VAT term, inactive objects, unknown ids, a row whose postings do not balance.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandboxes.tripletex.company import Company

CENT = Decimal("0.01")
EXTERNAL_NUMBER_MAX = 70  # "External voucher number. Maximum 70 characters." (Voucher schema, spec after 2.72.00)
NULL = "Kan ikke være null."

Message = dict[str, Any]


def message(field: str, text: str, path: str | None = None) -> Message:
    """One validationMessages entry as Tripletex writes it."""
    return {"field": field, "message": text, "path": path, "rootId": None}


def _unindexed(path: str) -> str:
    """`postings[2].vatType.id` → `postings.vatType.id`: Tripletex's `field` names the property, not the row."""
    out, depth = [], 0
    for char in path:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def at(path: str, text: str) -> Message:
    """A message on one posting's property: field without the index, path with it."""
    return message(_unindexed(path), text, path)


def amount(posting: dict[str, Any], key: str) -> Any:
    """JSON numbers arrive as Decimal (parse_float) or int; both are exact."""
    value = posting.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def parse_date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def voucher_messages(company: Company, body: dict[str, Any], postings: list[dict[str, Any]],
                     resolved: list[dict[str, Any]]) -> list[Message]:
    """The rules that look at the voucher as a whole (its head, its rows, its dates, the company's periods).

    `resolved[i]` is posting i with its references looked up (`_account`, `_vat`): see `Company._posting`.
    """
    messages: list[Message] = []
    if not str(body.get("description") or "").strip():
        # Required in Tripletex's Voucher schema before 2.37.8 (generated clients mark date, description and
        # postings required); real Tripletex refuses a voucher without it [unverified: the exact answer].
        messages.append(message("description", NULL, "description"))
    external = body.get("externalVoucherNumber")
    if isinstance(external, str) and len(external) > EXTERNAL_NUMBER_MAX:
        messages.append(message("externalVoucherNumber",
                                f"Eksternt bilagsnummer kan ha maks {EXTERNAL_NUMBER_MAX} tegn.",  # [unverified]
                                "externalVoucherNumber"))
    if not postings:
        messages.append(message("postings", "Et bilag kan ikke registreres uten posteringer."))
        return messages
    messages.extend(_rows(postings))
    messages.extend(_balance_per_date(body, postings))
    messages.extend(_vat_locks(company, resolved))
    messages.extend(_periods(company, body, resolved))
    return messages


def _rows(postings: list[dict[str, Any]]) -> list[Message]:
    """Row 0 is Tripletex's own; postings that share a row must sum to 0 (tlxtellef, tripletex-api2 issue 15)."""
    out: list[Message] = []
    by_row: dict[int, Decimal] = defaultdict(Decimal)
    shared: dict[int, int] = defaultdict(int)
    for posting in postings:
        row = posting.get("row")
        if not isinstance(row, int) or isinstance(row, bool) or row < 1:
            out.append(message("postings.row", "Posteringene på rad 0 (guiRow 0) er systemgenererte og kan ikke "
                                               "opprettes eller endres på utsiden av Tripletex."))
            continue
        gross = amount(posting, "amountGross")
        by_row[row] += gross if isinstance(gross, Decimal) else Decimal(0)
        shared[row] += 1
    for row, total in sorted(by_row.items()):
        if shared[row] > 1 and total != 0:
            out.append(message("postings.row", f"Posteringene på rad {row} går ikke i null."))  # [unverified]
    if len(out) > 1 and all(m["field"] == "postings.row" and "rad 0" in m["message"] for m in out):
        out = out[:1]  # Tripletex names row 0 once, however many postings use it
    return out


def _balance_per_date(body: dict[str, Any], postings: list[dict[str, Any]]) -> list[Message]:
    """Tripletex balances a voucher per posting date: "Summen av posteringene for 2023-11-02 er ikke lik 0."
    (tripletex-api2 issue 87, answered by Tripletex). A posting without its own date takes the voucher's."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for posting in postings:
        gross = amount(posting, "amountGross")
        if isinstance(gross, Decimal):
            sums[str(posting.get("date") or body.get("date"))] += gross
    return [message("postings", f"Summen av posteringene for {day} er ikke lik 0.")
            for day, total in sorted(sums.items()) if total != 0]


def _vat_locks(company: Company, resolved: list[dict[str, Any]]) -> list[Message]:
    """An account locked to a VAT code (`vatLocked`, `vatType`) takes that code only; `legalVatTypes` lists the
    codes an account takes at all (changelog 2.59.1). Real answer for the lock, on field `postings.vatType.id`
    with path null: "Kontoen 7100 Bilgodtgjørelse oppgavepliktig er låst til mva-kode 0: Ingen avgiftsbehandling."
    A posting without a VAT type on an account locked to a code other than 0 is refused too [unverified:
    Tripletex may instead apply the locked code; refusing is the stricter reading]."""
    out: list[Message] = []
    for posting in resolved:
        account, vat = posting.get("_account"), posting.get("_vat")
        if account is None:
            continue
        locked = company.vat_types.get(int((account.get("vatType") or {}).get("id") or 0)) \
            if account.get("vatLocked") else None
        if locked is not None:
            if (vat is not None and vat["id"] != locked["id"]) or (vat is None and locked["number"] != "0"):
                out.append(message("postings.vatType.id", f"Kontoen {account['number']} {account['name']} er låst "
                                                          f"til mva-kode {locked['number']}: {locked['name']}."))
            continue
        legal = {ref.get("id") for ref in account.get("legalVatTypes") or ()}
        if vat is not None and legal and vat["id"] not in legal:
            out.append(message("postings.vatType.id",  # [unverified] wording
                               f"Mva-kode {vat['number']} kan ikke brukes på konto {account['number']} "
                               f"{account['name']}."))
    return out


def _periods(company: Company, body: dict[str, Any], resolved: list[dict[str, Any]]) -> list[Message]:
    """A voucher dated in a closed accounting period, or carrying VAT into a reported VAT term, is refused
    [unverified: both answers' wording and field; the rules are Tripletex's period and VAT-term locks]."""
    out: list[Message] = []
    dates = {d for d in [parse_date(body.get("date"))] + [parse_date(p.get("date")) for p in resolved] if d}
    for day in sorted(dates):
        period = company.periods.closed_period(day)
        if period is not None:
            out.append(message("date", f"Perioden {period['name']} er lukket. Bilag kan ikke registreres i en "
                                       "lukket periode."))
    reported = company.periods.vat_reported_through
    if reported is not None:
        for posting in resolved:
            vat, when = posting.get("_vat"), parse_date(posting.get("date") or body.get("date"))
            if vat is not None and vat["number"] != "0" and when is not None and when <= reported:
                term = company.periods.vat_term(when)
                out.append(message("date", f"Mva-termin {term} er rapportert. Posteringer med mva-kode "
                                           f"{vat['number']} kan ikke registreres i en rapportert termin."))
                break
    return out
