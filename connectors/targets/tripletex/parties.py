"""Customers and suppliers in Tripletex: found by what identifies them, and a missing customer created once.

**Finding** (`find`): by customer (supplier) number in one bulk lookup, then per party by organisation
number, e-mail and — customers only — mobile phone, best first, stopping at the first that matches. An
identifier two or more records share is never guessed: it is kept as ambiguous, for preflight to report.

**Creating** (`ensure`). Per-order vouchers for a new customer often arrive together (an order and its return; two orders in one
pull), and Tripletex has no idempotency key for `POST /customer`: two workers that both looked up, found
nothing and created would leave two customers. So, for a party the connection may create (setting
`create_customers`, off by default; `mapping.creatable`):

1. **Look up before create**: the caller resolved the party by number, organisation number, e-mail and
   mobile phone, and found none of them.
2. **Claim** every identifier of the party in the ledger table (partition `<tenant>|tripletex|customers`,
   one row per identifier): an insert only one worker wins, with a lease. A worker meeting a live claim
   stops with `ClaimHeld` (the deliver stage looks again a few seconds later); one meeting a claim recorded
   `created` takes that customer; one meeting an expired claim (its worker died) takes it over.
3. The claimant **looks up once more** — a worker whose claim expired may have created the customer, or
   someone did in Tripletex — creates it only if it is still missing, and records its id on every claim.
A worker that dies between `POST /customer` and step 3's record leaves claims whose lease runs out; the
next one looks up before creating and finds the customer by the identifiers it was created with. That is
why only parties with an organisation number, e-mail, phone or numeric customer number are created.
[unverified] Tripletex's search sees a customer as soon as its POST has answered (read-after-write).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from connectors.invoicing import claims
from connectors.targets.tripletex.mapping import (
    LOOKUP_CHUNK,
    NAME,
    Register,
    customer_payload,
    matched,
    party_keys,
)
from pipeline.errors import DataError
from pipeline.model import Party
from pipeline.norway.phone import national_number, normalise_phone

if TYPE_CHECKING:
    from connectors.targets.tripletex.target import TripletexTarget

NUMBER_PARAMS = {"customer": ("customerAccountNumber", "customerNumber"), "supplier": ("supplierNumber", "supplierNumber")}


def find(target: TripletexTarget, path: str, wanted: Iterable[Party], found: dict[str, dict[str, Any]]) -> None:
    """Resolve parties into `found` (the register's customers or suppliers, by key).

    Tripletex hides inactive customers and suppliers unless asked (`isInactive` defaults to false on
    `GET /customer` and `GET /supplier`, spec 2.72.00). A party the usual lookups miss is looked up once more
    among the inactive ones, so that preflight says "customer number 10001 is inactive" rather than "does
    not exist" — and `create_customers` never creates a second customer beside an inactive one. An inactive
    match is not kept as resolved: it is looked up again next time (it may have been reactivated).
    """
    def unresolved(party: Party) -> bool:
        record = matched(party, found)
        return record is None or bool(record.get("_ambiguous")) or bool(record.get("isInactive"))

    pending = [p for p in wanted if unresolved(p)]
    _lookup(target, path, pending, found, unresolved, inactive=False)
    missing = [p for p in pending if matched(p, found) is None]
    _lookup(target, path, missing, found, unresolved, inactive=True)


def _lookup(target: TripletexTarget, path: str, pending: list[Party], found: dict[str, dict[str, Any]],
            unresolved: Callable[[Party], bool], *, inactive: bool) -> None:
    if not pending:
        return
    extra = {"isInactive": "true"} if inactive else {}
    # Only numeric customer numbers can exist in Tripletex (customerNumber is an integer).
    numbers = sorted({k.split(":", 1)[1] for p in pending for k in party_keys(p)
                      if k.startswith("number:") and k.split(":", 1)[1].isdigit()})
    param, key_field = NUMBER_PARAMS[path]
    for i in range(0, len(numbers), LOOKUP_CHUNK):
        for record in target._list(path, {param: ",".join(numbers[i:i + LOOKUP_CHUNK]), **extra}):
            found[f"number:{record.get(key_field)}"] = record
    for party in pending:
        for key in party_keys(party):
            if not unresolved(party) or (inactive and matched(party, found) is not None):
                break
            kind, _, value = key.partition(":")
            if kind == "number" or (kind == "phone" and path != "customer"):
                continue  # numbers: looked up above; suppliers cannot be searched by phone
            matches = _search(target, path, kind, value, extra)
            if len(matches) == 1:
                found[key] = matches[0]
            elif matches:  # never pick one of several: report them (and never create yet another)
                found[key] = {"_ambiguous": sorted(int(m["id"]) for m in matches), "_key": key}
                break


def _search(target: TripletexTarget, path: str, kind: str, value: str,
            extra: dict[str, str]) -> list[dict[str, Any]]:
    """`GET /customer` (or `/supplier`) by one identifier, keeping only exact matches."""
    if kind == "org":
        return [m for m in target._list(path, {"organizationNumber": value, **extra})
                if re.sub(r"\s", "", str(m.get("organizationNumber") or "")) == value]
    if kind == "email":
        return [m for m in target._list(path, {"email": value, **extra}) if str(m.get("email", "")).lower() == value]
    # phoneNumberMobile is the only phone filter (spec 2.72.00); whether it matches exactly or by
    # containment is not documented [unverified]: we ask for the forms a Norwegian mobile number is
    # written in — E.164, the eight digits, and 3-2-3 groups ("912 34 567", Språkrådet's rule) — and
    # keep those whose mobile or other number is the same number.
    national = national_number(value)
    forms = [value] + ([national, f"{national[:3]} {national[3:5]} {national[5:]}"] if national else [])
    by_id: dict[int, dict[str, Any]] = {}
    for form in forms:
        for record in target._list(path, {"phoneNumberMobile": form, **extra}):
            by_id[int(record["id"])] = record
    return [m for m in by_id.values()
            if value in (normalise_phone(str(m.get("phoneNumberMobile") or "")),
                         normalise_phone(str(m.get("phoneNumber") or "")))]


def ensure(target: TripletexTarget, party: Party, *, reference: str, full: Party | None = None) -> dict[str, Any]:
    """The Tripletex customer for `party`: found, taken from another worker's creation, or created now, once
    (connectors.invoicing.claims).

    `party` carries the identifiers it is matched and claimed by (the tenant's match field); `full`, when given, is
    the whole customer to create (name, address, e-mail, delivery method)."""
    context = target.context
    keys = party_keys(party)
    records: dict[int, dict[str, Any]] = {}

    def look() -> int | None:
        fresh = Register()
        target.find_parties([party], fresh)
        found = matched(party, fresh.customers)
        if found is not None and found.get("_ambiguous"):
            raise DataError(f"{len(found['_ambiguous'])} customers in Tripletex match {found['_key']}; "
                            "merge them in Tripletex", tenant=context.tenant, connector=NAME, reference=reference)
        if found is None:
            return None
        records[int(found["id"])] = found
        return int(found["id"])

    def create() -> int:
        made = target.create_customer(customer_payload(full or party), reference=reference)
        records[int(made["id"])] = made
        return int(made["id"])

    ident, _ = claims.create_once(context.tables, tenant=context.tenant, connector=NAME, keys=keys,
                                  reference=reference, look=look, create=create)
    record = records.get(ident, {"id": ident})
    _remember(target.register, keys, record)
    return record


def _remember(register: Register, keys: tuple[str, ...], record: dict[str, Any]) -> None:
    for key in keys:
        register.customers[key] = record
