"""The dry run: a customer's file through everything but delivery — read, translated, adapted to the tenant's
accounting system and checked against it — streamed, whatever its size; nothing is delivered, nothing kept.

One function for every caller: `bilagsbro dry-run` (bilagsbro/dry_run.py writes what `read` yields as it comes),
the workspace's upload page and `POST /api/v1/dry-run` (`upload`: a summary and one page of documents). The file
is read the way the translate stage reads it (`pipeline.translated.read_file`), the documents are adapted and
preflighted BATCH at a time, and nothing grows with the file but the totals (one entry per account and VAT code)
and the page asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from pipeline.errors import Problem

if TYPE_CHECKING:
    from pipeline.ports import Stores
    from pipeline.records.tenants import Tenant
    from pipeline.registry import Connectors

BATCH = 500  # documents adapted and checked against the accounting system at a time (as translate does)
ZERO = Decimal("0.00")
DEFAULT_PAGE, MAX_PAGE = 50, 500
MAX_PROBLEMS = 200  # problems listed in full by `upload` (every one is counted by code)


@dataclass(frozen=True)
class Payload:
    """What the tenant's accounting system would be sent for one document, and the document in its terms."""

    reference: str
    target: str
    payload: Any
    adapted: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "target": self.target, "payload": self.payload}


Check = Callable[[list[Any]], tuple[list[Payload], list[Problem]]]


def bookings(document: Any) -> Iterator[tuple[str, str, Decimal, Decimal | None]]:
    """(account, VAT code, amount, VAT amount) of each posting a document stands for, debit positive.

    A voucher's are its lines; a sales invoice debits its receivable with the total and credits each
    line (to "-" where the tenant's rules will choose the account); a payment debits its bank account
    and credits the receivable."""
    kind = document.type
    if kind == "voucher":
        for line in document.lines:
            yield line.account, line.vat_code or "", line.amount, line.vat_amount
    elif kind == "sales_invoice":
        yield document.receivable_account, "", document.total, None
        for line in document.lines:
            yield line.account or "-", line.vat_code or "", -line.amount, -line.vat_amount if line.vat_amount else None
    elif kind == "payment":
        yield document.bank_account, "", document.amount, None
        yield document.receivable_account, "", -document.amount, None


@dataclass
class Totals:
    """What the file would book, per account and VAT code: Decimal sums, never floats."""

    lines: dict[tuple[str, str], list[Any]] = field(default_factory=dict)  # → [count, debit, credit, vat]

    def add(self, document: Any) -> None:
        for account, vat_code, amount, vat_amount in bookings(document):
            entry = self.lines.get((account, vat_code))
            if entry is None:
                entry = self.lines[(account, vat_code)] = [0, ZERO, ZERO, ZERO]
            entry[0] += 1
            if amount >= 0:
                entry[1] += amount
            else:
                entry[2] -= amount
            entry[3] += vat_amount or ZERO

    def rows(self) -> list[dict[str, Any]]:
        """Per account and VAT code together."""
        return [{"account": account, "vat_code": vat_code or None, "lines": count, "debit": debit, "credit": credit,
                 "net": debit - credit, "vat_amount": vat}
                for (account, vat_code), (count, debit, credit, vat) in sorted(self.lines.items())]

    def by_account(self) -> list[dict[str, Any]]:
        summed: dict[str, list[Any]] = {}
        for (account, _), (count, debit, credit, _vat) in self.lines.items():
            entry = summed.setdefault(account, [0, ZERO, ZERO])
            entry[0], entry[1], entry[2] = entry[0] + count, entry[1] + debit, entry[2] + credit
        return [{"account": a, "lines": n, "debit": d, "credit": c, "net": d - c}
                for a, (n, d, c) in sorted(summed.items())]

    def by_vat_code(self) -> list[dict[str, Any]]:
        """Per VAT code: the gross amounts booked with it (net of sign) and the VAT in them; lines without one
        are left out."""
        summed: dict[str, list[Any]] = {}
        for (_, vat_code), (count, debit, credit, vat) in self.lines.items():
            if not vat_code:
                continue
            entry = summed.setdefault(vat_code, [0, ZERO, ZERO])
            entry[0], entry[1], entry[2] = entry[0] + count, entry[1] + debit - credit, entry[2] + vat
        return [{"vat_code": v, "lines": n, "gross": g, "vat_amount": t} for v, (n, g, t) in sorted(summed.items())]


class TenantCheck:
    """The documents adapted to the tenant's accounting system and checked against it, a batch at a time."""

    def __init__(self, check: Check) -> None:
        self.check = check
        self.batch: list[Any] = []

    def add(self, document: Any) -> tuple[list[Payload], list[Problem]]:
        self.batch.append(document)
        return self.flush() if len(self.batch) >= BATCH else ([], [])

    def flush(self) -> tuple[list[Payload], list[Problem]]:
        batch, self.batch = self.batch, []
        return self.check(batch) if batch else ([], [])


def tenant_check(stores: Stores, connectors: Connectors, tenant: Tenant) -> Check:
    """The tenant's rules and its accounting system's preflight and renderer, for a batch of documents; a
    preflight problem without file and line gets its document's (the file the customer knows)."""

    def check(batch: list[Any]) -> tuple[list[Payload], list[Problem]]:
        from dataclasses import replace

        from pipeline import adapted as adapt

        target, in_terms, problems = adapt.preflight(stores, connectors, tenant, batch, "dry-run")
        origins = {d.reference: d.origin for d in batch if d.origin is not None}
        located = [replace(p, file=p.file or origins[p.reference].file, line=p.line or origins[p.reference].line)
                   if p.reference in origins and (p.file is None or p.line is None) else p for p in problems]
        return [Payload(d.reference, tenant.target, _jsonable(target.render(d)), d) for d in in_terms], located

    return check


def _jsonable(value: Any) -> Any:
    """A payload as JSON carries it: exact amounts (Decimal) as their text, as the trace keeps payloads."""
    import json

    return json.loads(json.dumps(value, default=str))


def read(connectors: Connectors, data: IO[bytes], *, file_name: str, format: str | None,
         options: Callable[[str | None], Mapping[str, Any]], check: Check | None = None
         ) -> tuple[str | None, Iterator[Any]]:
    """The file's format and what a dry run finds in it, in order: documents and problems as they are read, and
    with `check` each batch's payloads (`Payload`) and preflight problems once the batch is full."""
    from pipeline.translated import read_file

    format, items = read_file(connectors, data, file_name=file_name, format=format, options=options)
    if format is None:
        items = iter([Problem("could not tell the file's format; name it", file=file_name, code="unknown-format")])

    def found() -> Iterator[Any]:
        tenant = TenantCheck(check) if check is not None else None
        for item in items:
            yield item
            if tenant is not None and not isinstance(item, Problem):
                yield from _checked(*tenant.add(item))
        if tenant is not None:
            yield from _checked(*tenant.flush())

    return format, found()


def _checked(payloads: list[Payload], problems: list[Problem]) -> Iterator[Any]:
    yield from payloads
    yield from problems


def _money(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (f"{v:.2f}" if isinstance(v, Decimal) else v) for k, v in row.items()} for row in rows]


def upload(stores: Stores, connectors: Connectors, tenant_id: str, data: IO[bytes], *, file_name: str,
           format: str | None = None, offset: int = 0, limit: int = DEFAULT_PAGE) -> dict[str, Any]:
    """A dry run of an uploaded file for the tenant (its format options, rules and accounting system): the
    summary of the whole file — counts, problems by code, totals per account and per VAT code as read and in the
    accounting system's terms — the first MAX_PROBLEMS problems with file, line and field, and the documents
    `offset` to `offset + limit` with the payload each would be sent and its own problems."""
    from pipeline.records.tenants import TenantRegistry
    from pipeline.translated import format_options

    tenant = TenantRegistry(stores.tables).get(tenant_id)
    format, items = read(connectors, data, file_name=file_name, format=format,
                         options=lambda found: format_options(tenant.sources, found),
                         check=tenant_check(stores, connectors, tenant))
    as_read, in_terms = Totals(), Totals()
    by_type: dict[str, int] = {}
    codes: dict[str, int] = {}
    errors = warnings = count = 0
    listed: list[dict[str, Any]] = []
    shown: list[dict[str, Any]] = []
    page: dict[str, list[dict[str, Any]]] = {}  # reference → its documents on the page (a file may repeat one)
    for item in items:
        if isinstance(item, Problem):
            errors, warnings = errors + item.is_error, warnings + (not item.is_error)
            codes[item.code] = codes.get(item.code, 0) + 1
            if len(listed) < MAX_PROBLEMS:
                listed.append(item.as_dict())
            for entry in page.get(item.reference or "", ()):
                entry["problems"].append(item.as_dict())
        elif isinstance(item, Payload):
            if item.adapted is not None:
                in_terms.add(item.adapted)
            waiting = [e for e in page.get(item.reference, ()) if e["payload"] is None]
            if waiting:
                waiting[0]["payload"] = item.payload
        else:
            by_type[item.type] = by_type.get(item.type, 0) + 1
            as_read.add(item)
            if offset <= count < offset + limit:
                entry = {"index": count, "reference": item.reference, "type": item.type,
                         "document": item.model_dump(mode="json", exclude_none=True), "payload": None, "problems": []}
                shown.append(entry)
                page.setdefault(item.reference, []).append(entry)
            count += 1
    return {
        "file": file_name, "format": format, "tenant_id": tenant.id, "target": tenant.target,
        "summary": {"documents": count, "by_type": by_type, "errors": errors, "warnings": warnings,
                    "problems_by_code": codes,
                    "totals": {"by_account": _money(as_read.by_account()), "by_vat_code": _money(as_read.by_vat_code()),
                               "by_account_and_vat_code": _money(as_read.rows())},
                    "totals_in_target_terms": {"by_account": _money(in_terms.by_account()),
                                               "by_vat_code": _money(in_terms.by_vat_code())}},
        "problems": listed, "problems_complete": errors + warnings <= MAX_PROBLEMS,
        "offset": offset, "limit": limit, "documents": shown,
        "next_offset": offset + limit if offset + limit < count else None,
        "delivered": False,
    }
