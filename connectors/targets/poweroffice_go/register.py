"""What a voucher needs from PowerOffice GO, looked up once per connection and burst (pipeline.lookups).

- Accounts `GET /GeneralLedgerAccounts?accountNos=1920,3000` (a list or ranges), VAT codes `GET /VatCodes` (all of
  them: the endpoint has no code filter), departments `GET /Departments?codes=`, projects `GET /Projects?projectCodes=`,
  sub-ledger number series `GET /SubLedgerNumberSeries`, the lock date `GET /LockDateSettings`.
- Customers `GET /Customers?customerNos=` and suppliers `GET /Suppliers?supplierNos=` by number. PowerOffice has no
  filter by organisation number, e-mail or phone (reference/target-apis.md §2.5), so a party without a number that
  resolves is found in the whole register, read once (`Fields` limited to what matching needs) and kept as hits;
  an identifier two records share is ambiguous, never guessed.
- Lists are bare JSON arrays, paged with `PageNumber`/`PageSize` (default 5000); an empty result is `204 No
  Content` with no body (the generated clients: "Given when there is no content to return").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.http import kept
from connectors.targets.poweroffice_go.mapping import Register, index_keys, party_keys, vat_code_for
from pipeline.model import Party, Voucher

if TYPE_CHECKING:
    from connectors.targets.poweroffice_go.target import PowerOfficeTarget

CHUNK = 100  # numbers per filtered lookup, to keep URLs short
PAGE = 5000  # PowerOffice's default page size
LOCK_DATE_SECONDS = 600.0  # a lock date moved in GO is seen within ten minutes; GO refuses the voucher anyway
PARTY_FIELDS = "Id,Number,Name,OrganizationNumber,EmailAddress,PhoneNumber,IsActive,SubledgerAccountId"


def register(target: PowerOfficeTarget) -> Register:
    """A view of the connection's lookup tables (the same dicts, so it sees every later fill)."""
    lookups = target.context.lookups
    return Register(accounts=lookups.table("accounts"), vat_codes=lookups.table("vat_codes"),
                    customers=lookups.table("customers"), suppliers=lookups.table("suppliers"),
                    departments=lookups.table("departments"), projects=lookups.table("projects"),
                    series=list(lookups.table("series").get("all") or ()), lock_date=_lock_date(target))


def resolve(target: PowerOfficeTarget, vouchers: Sequence[Voucher]) -> Register:
    """Fill the connection's tables with what these vouchers need: at most one lookup per kind for a burst."""
    lines = [line for voucher in vouchers for line in voucher.lines]
    lookups = target.context.lookups
    lookups.fill("accounts", [line.account for line in lines], _by_numbers(target, "GeneralLedgerAccounts",
                                                                           "accountNos", "AccountNo"))
    lookups.fill("vat_codes", [vat_code_for(line) for line in lines], lambda _: _all_vat_codes(target))
    lookups.fill("series", ["all"] if lines else [], lambda _: {"all": target.records("SubLedgerNumberSeries", {})})
    for kind, path, param in (("customers", "Customers", "customerNos"), ("suppliers", "Suppliers", "supplierNos")):
        parties = [p for line in lines if (p := getattr(line, kind[:-1])) is not None]
        _parties(target, kind, path, param, parties)
    lookups.fill("departments", [line.dimensions["department"] for line in lines if "department" in line.dimensions],
                 _by_numbers(target, "Departments", "codes", "Code"))
    lookups.fill("projects", [line.dimensions["project"] for line in lines if "project" in line.dimensions],
                 _by_numbers(target, "Projects", "projectCodes", "Code"))
    return register(target)


def _by_numbers(target: PowerOfficeTarget, path: str, param: str, key: str
                ) -> Callable[[list[str]], dict[str, dict[str, Any]]]:
    def fetch(numbers: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        # Account and customer numbers are integers in GO; anything else cannot be one (and a "-" would be a range).
        usable = sorted({n for n in numbers if n.isdigit()} if key in ("AccountNo", "Number") else
                        {n for n in numbers if n and "," not in n})
        for i in range(0, len(usable), CHUNK):
            for record in target.records(path, {param: ",".join(usable[i:i + CHUNK])}):
                found[str(record.get(key))] = record
        return {n: r for n, r in found.items() if n in numbers}
    return fetch


def _all_vat_codes(target: PowerOfficeTarget) -> dict[str, dict[str, Any]]:
    return {str(v.get("Code")): v for v in target.records("VatCodes", {"includeExpired": "true"})}


def _parties(target: PowerOfficeTarget, kind: str, path: str, param: str, wanted: Iterable[Party]) -> None:
    by_keys = {keys: party for party in wanted if (keys := party_keys(party))}

    def have(keys: tuple[str, ...], table: Mapping[str, dict[str, Any]]) -> bool:
        record = next((table[k] for k in keys if k in table), None)
        return record is not None and not record.get("_ambiguous") and bool(record.get("IsActive", True))

    def fetch(batch: list[tuple[str, ...]]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        numbers = sorted({k.split(":", 1)[1] for keys in batch for k in keys[:1] if k.startswith("number:")})
        numbers = [n for n in numbers if n.isdigit()]
        for i in range(0, len(numbers), CHUNK):
            for record in target.records(path, {param: ",".join(numbers[i:i + CHUNK])}):
                found[f"number:{record.get('Number')}"] = record
        if any(not any(k in found for k in keys) for keys in batch):
            found.update(_index(target.records(path, {"Fields": PARTY_FIELDS}, page_size=PAGE), found))
        return found

    target.context.lookups.fill(kind, by_keys, fetch, have=have)


def _index(records: Iterable[dict[str, Any]], found: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every record by each of its keys; a key two records share marks them ambiguous."""
    index: dict[str, dict[str, Any]] = {}
    owners: dict[str, list[int]] = {}
    for record in records:
        for key in index_keys(record):
            owners.setdefault(key, []).append(int(record.get("Id") or 0))
            index[key] = record
    for key, ids in owners.items():
        if len(ids) > 1 and not key.startswith("number:"):
            index[key] = {"_ambiguous": sorted(ids), "_key": key}
    return {k: v for k, v in index.items() if k not in found}


def _lock_date(target: PowerOfficeTarget) -> str | None:
    """GO's lock date, asked once per connection every LOCK_DATE_SECONDS (one request for a burst of workers)."""
    held: _Kept = kept(target.context, ("poweroffice-go", "lock-date"), _Kept)
    with held.lock:
        if held.at is None or time.monotonic() - held.at > LOCK_DATE_SECONDS:
            answer = target.request("GET", "LockDateSettings") or {}
            held.value = str(answer["LockDate"])[:10] if answer.get("LockDate") else None
            held.at = time.monotonic()
        return held.value


class _Kept:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: float | None = None
        self.value: str | None = None
