"""Customers in Fortnox kept in step with the invoices: found by the tenant's match field, created once, updated.

Finding ([spec-derived] CustomersResourceApi: list filters `customernumber`, `organisationnumber`, `email`): by
customer number `GET /3/customers/{n}` (404: none), by organisation number `GET /3/customers?organisationnumber=`,
by e-mail `?email=` — each answer kept only where the field is exactly ours ([unverified] whether Fortnox's filters
match exactly or by containment: either is safe). Fortnox has no phone filter, so phone is no match field here. Two
or more customers sharing the identifier are never guessed between (preflight reports them); an inactive customer
is reported, never created beside. Creating goes through connectors.sales.claims (exactly once under concurrent
invoices); `POST /3/customers` answers the customer it made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from connectors.sales import claims
from connectors.sales.checks import matching_party
from connectors.targets.fortnox.invoicing import changes, customer_body
from connectors.targets.fortnox.mapping import NAME
from pipeline.errors import DataError, TransientError
from pipeline.model import Party

if TYPE_CHECKING:
    from connectors.targets.fortnox.target import FortnoxTarget


def keys(party: Party) -> tuple[str, ...]:
    """The identifiers a customer is found and claimed by, best first (no phone: Fortnox cannot search by it)."""
    found = []
    if party.number:
        found.append(f"number:{party.number}")
    if party.organization_number:
        found.append(f"org:{party.organization_number}")
    if party.email:
        found.append(f"email:{party.email.lower()}")
    return tuple(found)


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def _search(target: FortnoxTarget, key: str) -> list[dict[str, Any]]:
    kind, _, value = key.partition(":")
    if kind == "number":
        found = target.found(f"customers/{quote(value, safe='')}", "Customer")
        return [found] if found is not None else []
    param = {"org": "organisationnumber", "email": "email"}[kind]
    rows = list(target.pages("customers", "Customers", {param: value}))
    if kind == "org":
        return [r for r in rows if _digits(r.get("OrganisationNumber")) == _digits(value)]
    return [r for r in rows if str(r.get("Email") or "").lower() == value]


def look(target: FortnoxTarget, party: Party) -> dict[str, Any] | None:
    """The customer the party's identifiers name (the first that finds any), `{"_ambiguous": [...]}` for several."""
    for key in keys(party):
        found = _search(target, key)
        if len(found) == 1:
            return found[0]
        if found:
            return {"_ambiguous": sorted(str(f.get("CustomerNumber")) for f in found), "_key": key}
    return None


def usable(record: dict[str, Any] | None) -> bool:
    return record is not None and not record.get("_ambiguous") and record.get("Active", True) is not False


def resolve(target: FortnoxTarget, party: Party) -> dict[str, Any] | None:
    """`look`, once per connection and party however many workers ask (pipeline.lookups); only usable hits are kept."""
    wanted = keys(party)
    if not wanted:
        return None

    def fetch(batch: list[str]) -> dict[str, dict[str, Any]]:
        return {key: found for key in batch if (found := look(target, party)) is not None}

    table = target.context.lookups.fill("customers", ["|".join(wanted)], fetch,
                                        have=lambda key, held: key in held and usable(held[key]))
    return table.get("|".join(wanted))


def customer(target: FortnoxTarget, party: Party, reference: str, *, create: bool) -> tuple[dict[str, Any] | None, str]:
    """The Fortnox customer and what happened: found, created, updated; or None and why: missing, ambiguous,
    inactive."""
    settings = target.settings
    wanted = matching_party(party, settings.customer_match)
    found = resolve(target, wanted)
    if found is not None and not usable(found):
        return None, "ambiguous" if found.get("_ambiguous") else "inactive"
    if found is None:
        if not create or not settings.create_customers or not keys(wanted):
            return None, "missing"
        made, created = ensure(target, wanted, party, reference)
        return made, "created" if created else "found"
    if create and settings.update_customers:
        changed = changes(party, found)
        if changed:
            number = quote(str(found["CustomerNumber"]), safe="")
            answer = target.request("PUT", f"customers/{number}", body={"Customer": changed}, reference=reference)
            found = dict((answer or {}).get("Customer") or found)
            target.context.lookups.table("customers")["|".join(keys(wanted))] = found
            return found, "updated"
    return found, "found"


def ensure(target: FortnoxTarget, wanted: Party, full: Party, reference: str) -> tuple[dict[str, Any], bool]:
    """Create the customer once (connectors.sales.claims): claim its identifiers, look again, create if missing."""
    where: dict[str, Any] = {"tenant": target.context.tenant, "connector": NAME, "reference": reference}

    def again() -> dict[str, Any] | None:
        found = look(target, wanted)
        if found is not None and found.get("_ambiguous"):
            raise DataError(f"{len(found['_ambiguous'])} customers in Fortnox match {found['_key']}; merge them in "
                            "Fortnox", **where)
        return found

    def create() -> dict[str, Any]:
        answer = target.request("POST", "customers", body=customer_body(full, number=wanted.number),
                                reference=reference)
        made = (answer or {}).get("Customer")
        if not isinstance(made, dict) or not made.get("CustomerNumber"):
            made = look(target, wanted)
        if made is None or made.get("_ambiguous"):
            raise TransientError("Fortnox created the customer but does not list it yet; will look again", **where)
        return dict(made)

    record, created = claims.ensure_once(target.context, NAME, keys(wanted), reference=reference, look=again,
                                         create=create, id_field="CustomerNumber")
    if set(record) == {"CustomerNumber"}:  # another delivery created it: read it
        record = target.found(f"customers/{quote(str(record['CustomerNumber']), safe='')}", "Customer") or record
    target.context.lookups.table("customers")["|".join(keys(wanted))] = record
    return record, created
