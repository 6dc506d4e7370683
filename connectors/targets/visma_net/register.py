"""What a Visma.net company holds that vouchers need — chart, VAT, VAT categories, department values, projects and
financial periods — looked up once per connection and shared by every worker (pipeline.lookups: single flight).

Visma.net's list endpoints take no list of numbers to filter by (spec 2025-04-24: `GET /v1/account` filters by
`active`, `publicCode`, `externalCode1/2`, `analysisCode`, `greaterThanValue`), and a company's chart, VAT IDs and
VAT categories are a few hundred rows: each is read whole in one request, and every row is kept. Department values
are the values of one segment of the SUBACCOUNT dimension (`GET /v1/dimension/SUBACCOUNT/{segmentId}`); projects
are read one by one (`GET /v1/project/{projectID}`, a 404 a miss). Financial periods (`GET /v1/financialPeriod`)
are kept `PERIOD_SECONDS`: a period closed in Visma.net meanwhile is refused there anyway (and that refusal is
mapped to the voucher's date).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from connectors.http import kept
from connectors.targets.visma_net.mapping import Register
from pipeline.errors import BilagsbroError
from pipeline.model import Voucher

if TYPE_CHECKING:
    from connectors.targets.visma_net.target import VismaNetTarget

PERIOD_SECONDS = 600.0
SUBACCOUNT = "SUBACCOUNT"


def register(target: VismaNetTarget) -> Register:
    """The connection's register: views of its lookups' tables (filled by `resolve`)."""
    table = target.context.lookups.table
    return Register(accounts=table("accounts"), vats=table("vats"), vat_categories=table("vat_categories"),
                    departments=table("departments"), projects=table("projects"), items=table("items"))


def _all(target: VismaNetTarget, path: str, key: str) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
    def fetch(_: list[str]) -> dict[str, dict[str, Any]]:
        rows = target.get(path) or []
        return {str(row[key]): row for row in rows if isinstance(row, dict) and row.get(key) is not None}
    return fetch


def _segment(target: VismaNetTarget) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
    number = target.settings.department_segment

    def fetch(values: list[str]) -> dict[str, dict[str, Any]]:
        segment = _found(lambda: target.get(f"v1/dimension/{SUBACCOUNT}/{number}"))
        if segment is None:
            return {}
        if segment.get("validate") is False:  # the segment takes any value: nothing to check
            return {value: {"valueId": value, "active": True, "_unchecked": True} for value in values}
        return {str(v["valueId"]): v for v in segment.get("segmentValues") or () if v.get("valueId") is not None}
    return fetch


def _projects(target: VismaNetTarget) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
    def fetch(ids: list[str]) -> dict[str, dict[str, Any]]:
        found = {}
        for project in ids:
            record = _found(lambda p=project: target.get(f"v1/project/{quote(p, safe='')}"))  # type: ignore[misc]
            if record is not None:
                found[project] = record
        return found
    return fetch


def _items(target: VismaNetTarget) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
    """Inventory items by number (`GET /v1/inventory/{inventoryNumber}`, a 404 a miss): an invoice names a few, and
    the list endpoint filters by one number only."""
    def fetch(numbers: list[str]) -> dict[str, dict[str, Any]]:
        found = {}
        for number in numbers:
            record = _found(lambda n=number: target.get(f"v1/inventory/{quote(n, safe='')}"))  # type: ignore[misc]
            if record is not None:
                found[number] = record
        return found
    return fetch


def _found(read: Callable[[], Any]) -> Any:
    """The answer, or None where Visma.net says there is no such thing (404)."""
    try:
        return read()
    except BilagsbroError as exc:
        if exc.status == 404:
            return None
        raise


def resolve(target: VismaNetTarget, vouchers: Sequence[Voucher]) -> Register:
    """Fill the connection's register with what these vouchers need: at most one lookup per kind, one for a burst."""
    lines = [line for voucher in vouchers for line in voucher.lines]
    lookups = target.context.lookups
    found = register(target)
    lookups.fill("accounts", [line.account for line in lines], _all(target, "v1/account", "accountCD"))
    lookups.fill("vats", [str(line.vat_code) for line in lines if line.vat_code is not None],
                 _all(target, "v1/vat", "vatId"))
    categories = {str(category) for line in lines if line.vat_code is not None
                  and (category := (found.accounts.get(line.account) or {}).get("taxCategory"))}
    lookups.fill("vat_categories", sorted(categories), _all(target, "v1/vatCategory", "vatCategoryId"))
    lookups.fill("departments", [line.dimensions["department"] for line in lines if "department" in line.dimensions],
                 _segment(target))
    lookups.fill("projects", [line.dimensions["project"] for line in lines if "project" in line.dimensions],
                 _projects(target))
    found.periods = periods(target)
    return found


def periods(target: VismaNetTarget) -> list[dict[str, Any]]:
    """The company's financial periods, read at most every PERIOD_SECONDS per connection (and once for a burst:
    the workers that need them meanwhile wait for that read)."""
    cache: dict[str, Any] = target.context.cache.setdefault(f"{target.name}:periods", {})
    with kept(target.context, (target.name, "periods-lock"), threading.Lock):
        if "at" not in cache or time.monotonic() - cache["at"] > PERIOD_SECONDS:
            cache["rows"] = [p for p in target.get("v1/financialPeriod") or () if isinstance(p, dict)]
            cache["at"] = time.monotonic()
        rows: list[dict[str, Any]] = cache["rows"]
    return rows


def forget(target: VismaNetTarget) -> None:
    """Drop what was looked up (after someone changed the chart or the periods in Visma.net)."""
    target.context.lookups.clear()
    target.context.cache.pop(f"{target.name}:periods", None)
