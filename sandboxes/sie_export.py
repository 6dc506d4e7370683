"""A SIE 4E export of seeded books (sandboxes/ledger_seed.py), written as Fortnox and other programs write one.

SIE filformat 4B (https://sie.se/format/): `#FLAGGA`, `#PROGRAM`, `#FORMAT PC8` (IBM code page 437 for Swedish
letters; we write code page 865, which has ø and Ø too and is identical for å, ä, ö — what our reader takes PC8 to
mean), `#GEN`, `#SIETYP 4`, `#FNAMN`, `#ORGNR`, `#RAR` per fiscal year (0 the latest, -1 the one before), `#KONTO` and
`#KTYP` per account, `#DIM`/`#OBJEKT` for departments and projects, `#IB`/`#UB` for balance accounts, `#RES` for
result accounts, `#PSALDO` per account and month when asked (as the change of the month, or as the balance at its
end: which one programs write is not settled, see connectors/ledgers/files.py), then `#VER` blocks of `#TRANS` rows
with object lists. Lines end CRLF.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import Literal

from sandboxes.ledger_seed import ACCOUNT_NAMES, DEPARTMENTS, PROJECTS, SeededBooks

_KTYP = {"1": "T", "2": "S"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _day(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def lines(books: SeededBooks, years: list[int], *, company: str = "Sandkasse AB", organization_number: str = "5560000000",
          currency: str = "SEK", tamper: dict[tuple[int, str], Decimal] | None = None,
          psaldo: Literal["change", "balance"] | None = None,
          tamper_month: dict[tuple[int, int, str], Decimal] | None = None) -> Iterator[str]:
    """The file's lines; `tamper` adds to a year's #RES/#UB of an account, `tamper_month` to one #PSALDO row
    ((year, month, account)): tests of the verification."""
    years = sorted(years)
    yield "#FLAGGA 0"
    yield '#PROGRAM "Bilagsbro sandbox" 1.0'
    yield "#FORMAT PC8"
    yield f"#GEN {_day(dt.date(years[-1], 12, 31))}"
    yield "#SIETYP 4"
    yield f"#ORGNR {organization_number}"
    yield f"#FNAMN {_quote(company)}"
    yield f"#VALUTA {currency}"
    yield "#KPTYP EUBAS97"
    for index, year in enumerate(reversed(years)):
        yield f"#RAR {-index} {_day(dt.date(year, 1, 1))} {_day(dt.date(year, 12, 31))}"
    for number, name in sorted(ACCOUNT_NAMES.items()):
        yield f"#KONTO {number} {_quote(name)}"
        yield f"#KTYP {number} {_KTYP.get(number[0], 'I' if number[0] in '38' else 'K')}"
    yield '#DIM 1 "Avdelning"'
    for code, name in sorted(DEPARTMENTS.items()):
        yield f"#OBJEKT 1 {_quote(code)} {_quote(name)}"
    yield '#DIM 6 "Projekt"'
    for code, name in sorted(PROJECTS.items()):
        yield f"#OBJEKT 6 {_quote(code)} {_quote(name)}"
    tamper = tamper or {}
    for index, year in enumerate(reversed(years)):
        changes: dict[str, Decimal] = defaultdict(Decimal)
        for (_, account), amount in books.month_sums(year).items():
            changes[account] += amount
        for account in sorted(changes):
            extra = tamper.get((year, account), Decimal(0))
            if account[0] in "12":
                opening = books.balance(account, dt.date(year, 1, 1))
                yield f"#IB {-index} {account} {opening}"
                yield f"#UB {-index} {account} {opening + changes[account] + extra}"
            else:
                yield f"#RES {-index} {account} {changes[account] + extra}"
        if psaldo:
            yield from _psaldo(books, year, -index, psaldo, tamper_month or {})
    for year in years:
        for voucher in books.year(year).vouchers:
            yield f"#VER {voucher.series} {voucher.number} {_day(voucher.date)} {_quote(voucher.text)}"
            yield "{"
            for row in voucher.rows:
                objects = " ".join(f"{dim} {_quote(code)}" for dim, code in (("1", row.department), ("6", row.project))
                                   if code)
                yield f"   #TRANS {row.account} {{{objects}}} {row.amount}"
            yield "}"


def _psaldo(books: SeededBooks, year: int, index: int, reading: str,
            tamper: dict[tuple[int, int, str], Decimal]) -> Iterator[str]:
    """`#PSALDO <index> <yyyymm> <account> {} <amount>`: totals only (an empty object list), months with postings."""
    sums = books.month_sums(year)
    for account in sorted({a for (_, a) in sums}):
        running = books.balance(account, dt.date(year, 1, 1)) if account[0] in "12" else Decimal(0)
        for month in range(1, 13):
            if (month, account) not in sums:
                continue
            change = sums[(month, account)]
            running += change
            amount = (change if reading == "change" else running) + tamper.get((year, month, account), Decimal(0))
            yield f"#PSALDO {index} {year}{month:02d} {account} {{}} {amount}"


def export(books: SeededBooks, years: list[int], **options: object) -> bytes:
    """The whole file as bytes (code page 865, CRLF)."""
    return "".join(line + "\r\n" for line in lines(books, years, **options)).encode("cp865")  # type: ignore[arg-type]
