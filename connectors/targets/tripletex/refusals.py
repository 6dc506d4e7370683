"""Tripletex's refusal of a voucher, mapped back to the lines of our voucher where Tripletex says which.

A 422 from `POST /ledger/voucher` carries `validationMessages[]` with `field`, `message`, `path` and `rootId`
(spec: ApiValidationMessage). As real answers show it (https://github.com/Tripletex/tripletex-api2/issues/112,
issues/15, a logged 422 quoted in public clients), `field` names the property without a row
(`postings.vatType.id`) and `path`, when Tripletex fills it, names the posting by its place in the request
(`postings[0].account.name`); for rules on the voucher as a whole `path` is null. So:

- a `path` `postings[i]…` is our line i (we send one posting per line, in order);
- else, a message naming an account number ("Kontoen 3000 … er låst til mva-kode 3") is put on the lines
  that book on that account;
- else the problem stays on the voucher, and says that Tripletex did not name the line.
[unverified] that `path` indexes the request's postings (not the stored rows): the one public example
(`postings[0]` for the first posting) fits both, and our rows are the indices plus one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.errors import Problem
from pipeline.model import Voucher
from pipeline.ports import Exchange, ExchangeLog

# Tripletex's property (after `postings.`) → ours on a line; the voucher's own → ours.
LINE_FIELDS = {
    "account": "account", "vatType": "vat_code", "customer": "customer", "supplier": "supplier",
    "department": "dimensions.department", "project": "dimensions.project", "amountGross": "amount",
    "amountGrossCurrency": "amount", "amount": "amount", "description": "description",
    "invoiceNumber": "invoice_number", "termOfPayment": "due_date", "date": "date", "row": "lines",
}
VOUCHER_FIELDS = {"date": "date", "description": "description", "externalVoucherNumber": "reference",
                  "postings": "lines"}
_PATH = re.compile(r"^postings\[(\d+)\](?:\.(\w+))?")
_ACCOUNT = re.compile(r"\b[Kk]ont(?:o|oen)\s+(\d{4,})\b")


def validation_messages(body: bytes | str | None) -> list[dict[str, Any]]:
    """The validationMessages of an error body ([] when there are none or the body is not Tripletex's)."""
    if not body:
        return []
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    items = parsed.get("validationMessages") if isinstance(parsed, dict) else None
    return [m for m in items or () if isinstance(m, dict)]


def problems(voucher: Voucher, messages: Sequence[Mapping[str, Any]]) -> tuple[Problem, ...]:
    """One problem per validation message, on our line where Tripletex's answer tells which."""
    out: list[Problem] = []
    origin = voucher.origin

    def add(text: str, field: str | None) -> None:
        out.append(Problem(text, field=field, reference=voucher.reference, code="refused-by-tripletex",
                           file=origin.file if origin else None, line=origin.line if origin else None))

    for item in messages:
        text = str(item.get("message") or "").strip() or "refused"
        field = str(item.get("field") or "")
        path = item.get("path")
        match = _PATH.match(path) if isinstance(path, str) else None
        if match and int(match.group(1)) < len(voucher.lines):
            index = int(match.group(1))
            add(f"Tripletex refused line {index + 1}: {text}", _ours(index, match.group(2) or _property(field)))
            continue
        lines = _lines_on_account(voucher, text)
        if lines and field.startswith("postings"):
            for index in lines:
                add(f"Tripletex refused line {index + 1}: {text}", _ours(index, _property(field)))
            continue
        where = VOUCHER_FIELDS.get(field.split(".", 1)[0]) if field else None
        if field.startswith("postings.") or (field == "postings" and not lines):
            add(f"Tripletex refused the voucher ({field}): {text} — Tripletex did not say which line", "lines")
        else:
            add(f"Tripletex refused the voucher{f' ({field})' if field else ''}: {text}", where)
    return tuple(out)


def _property(field: str) -> str | None:
    """`postings.vatType.id` → `vatType`."""
    parts = field.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "postings" else None


def _ours(index: int, prop: str | None) -> str:
    mapped = LINE_FIELDS.get(prop or "")
    return f"lines[{index}].{mapped}" if mapped and mapped != "lines" else f"lines[{index}]"


def _lines_on_account(voucher: Voucher, text: str) -> list[int]:
    numbers = set(_ACCOUNT.findall(text))
    return [i for i, line in enumerate(voucher.lines) if line.account in numbers]


class LastAnswer:
    """An exchange log that passes every exchange on and keeps the last response body: a refusal's validation
    messages, read from what was recorded anyway, without a second request."""

    def __init__(self, inner: ExchangeLog) -> None:
        self.inner = inner
        self.body: bytes | None = None

    def record(self, exchange: Exchange) -> None:
        self.body = exchange.response_body
        self.inner.record(exchange)
