"""Customers in Visma.net kept in step with the invoices: found by the tenant's match field, created once, updated.

Finding (spec 2025-04-24): by customer number `GET /v1/customer/{customerCd}` (404: none), by organisation number
`GET /v1/customer?corporateId=`, by e-mail `?email=`, by phone `?phone=` — each answer kept only where the field is
exactly ours ([unverified] whether Visma.net's filters match exactly or by containment: either way is safe). Two or
more customers sharing the identifier are never guessed between (preflight reports them); an inactive customer is
reported, and never created beside. Creating goes through connectors.sales.claims (exactly once under concurrent
invoices); `POST /v1/customer` answers 201 without the customer [unverified: a `Location` header], so the new
customer is read back by its number, or looked up by the identifiers it was created with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from connectors.sales import claims
from connectors.sales.checks import matching_party
from connectors.targets.visma_net.invoicing import customer_body
from connectors.targets.visma_net.mapping import NAME
from pipeline.errors import BilagsbroError, DataError, TransientError
from pipeline.model import Party
from pipeline.norway.phone import normalise_phone

if TYPE_CHECKING:
    from connectors.targets.visma_net.target import VismaNetTarget

INACTIVE = ("Inactive",)


def keys(party: Party) -> tuple[str, ...]:
    """The identifiers a customer is found and claimed by, best first."""
    found = []
    if party.number:
        found.append(f"number:{party.number}")
    if party.organization_number:
        found.append(f"org:{party.organization_number}")
    if party.email:
        found.append(f"email:{party.email.lower()}")
    if party.phone:
        found.append(f"phone:{party.phone}")
    return tuple(found)


def _search(target: VismaNetTarget, key: str) -> list[dict[str, Any]]:
    kind, _, value = key.partition(":")
    if kind == "number":
        try:
            return [dict(target.get(f"v1/customer/{quote(value, safe='')}"))]
        except BilagsbroError as exc:
            if exc.status == 404:
                return []
            raise
    param = {"org": "corporateId", "email": "email", "phone": "phone"}[kind]
    rows = [r for r in target.get("v1/customer", {param: value}) or () if isinstance(r, dict)]

    def same(row: dict[str, Any]) -> bool:
        contact = row.get("mainContact") or {}
        if kind == "org":
            return str(row.get("corporateId") or "").replace(" ", "") == value
        if kind == "email":
            return str(contact.get("email") or "").lower() == value
        return value in (normalise_phone(str(contact.get("phone1") or "")), normalise_phone(str(contact.get("phone2") or "")))
    return [r for r in rows if same(r)]


def look(target: VismaNetTarget, party: Party) -> dict[str, Any] | None:
    """The customer the party's identifiers name (the first that finds any), `{"_ambiguous": [...]}` for several."""
    for key in keys(party):
        found = _search(target, key)
        if len(found) == 1:
            return found[0]
        if found:
            return {"_ambiguous": sorted(str(f.get("number")) for f in found), "_key": key}
    return None


def resolve(target: VismaNetTarget, party: Party) -> dict[str, Any] | None:
    """`look`, once per connection and party however many workers ask (pipeline.lookups); only hits are kept."""
    wanted = keys(party)
    if not wanted:
        return None

    def fetch(batch: list[str]) -> dict[str, dict[str, Any]]:
        return {key: found for key in batch if (found := look(target, party)) is not None}

    # An ambiguous or inactive answer is looked up again next time (someone may have merged or reactivated it).
    table = target.context.lookups.fill("customers", ["|".join(wanted)], fetch,
                                        have=lambda key, held: key in held and usable(held[key]))
    return table.get("|".join(wanted))


def usable(record: dict[str, Any] | None) -> bool:
    return record is not None and not record.get("_ambiguous") and record.get("status") not in INACTIVE


def customer(target: VismaNetTarget, party: Party, reference: str, *,
             create: bool) -> tuple[dict[str, Any] | None, str]:
    """The Visma.net customer and what happened: found, created, updated; or None and why: missing, ambiguous,
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
        changed = _changes(party, found)
        if changed:
            number = str(found["number"])
            target.send("PUT", f"v1/customer/{quote(number, safe='')}", body=changed, reference=reference)
            found = dict(target.get(f"v1/customer/{quote(number, safe='')}"))
            _remember(target, wanted, found)
            return found, "updated"
    return found, "found"


def ensure(target: VismaNetTarget, wanted: Party, full: Party, reference: str) -> tuple[dict[str, Any], bool]:
    """Create the customer once (connectors.sales.claims): claim its identifiers, look again, create if missing."""
    where: dict[str, Any] = {"tenant": target.context.tenant, "connector": NAME, "reference": reference}

    def again() -> dict[str, Any] | None:
        found = look(target, wanted)
        if found is not None and found.get("_ambiguous"):
            raise DataError(f"{len(found['_ambiguous'])} customers in Visma.net match {found['_key']}; merge them "
                            "in Visma.net", **where)
        return found

    def create() -> dict[str, Any]:
        classes = {str(kind): name for kind, name in target.settings.customer_classes.items()}
        body = customer_body(full, number=wanted.number, classes=classes)
        target.send("POST", "v1/customer", body=body, reference=reference)
        made = look(target, wanted)
        if made is None or made.get("_ambiguous"):
            raise TransientError("Visma.net created the customer but does not list it yet; will look again", **where)
        return made

    record, created = claims.ensure_once(target.context, NAME, keys(wanted), reference=reference, look=again,
                                         create=create, id_field="number")
    if set(record) == {"number"}:  # another delivery created it: read it
        record = dict(target.get(f"v1/customer/{quote(str(record['number']), safe='')}"))
    _remember(target, wanted, record)
    return record, created


def _remember(target: VismaNetTarget, party: Party, record: dict[str, Any]) -> None:
    target.context.lookups.table("customers")["|".join(keys(party))] = record


def _changes(party: Party, held: dict[str, Any]) -> dict[str, Any]:
    """The fields of `CustomerUpdateDto` whose value the invoice's customer has and Visma.net does not."""
    body = customer_body(party, number=None, create=False)
    contact = held.get("mainContact") or {}
    address = held.get("mainAddress") or {}
    now: dict[str, Any] = {
        "name": held.get("name"), "corporateId": held.get("corporateId"),
        "sendInvoicesByEmail": held.get("sendInvoicesByEmail"), "acceptAutoInvoices": held.get("acceptAutoInvoices"),
        "printInvoices": held.get("printInvoices"),
        "mainContact": {k: contact.get(k) for k in ("email", "phone1")},
        "invoiceContact": {"email": (held.get("invoiceContact") or {}).get("email")},
        "mainAddress": {**{k: address.get(k) for k in ("addressLine1", "addressLine2", "addressLine3", "postalCode",
                                                       "city")},
                        "countryId": (address.get("country") or {}).get("id")},
    }
    changed = {}
    for name, wrapped in body.items():
        value = wrapped["value"]
        if isinstance(value, dict):
            differs = any(inner["value"] != (now.get(name) or {}).get(key) for key, inner in value.items())
        else:
            differs = value != now.get(name)
        if differs:
            changed[name] = wrapped
    return changed
