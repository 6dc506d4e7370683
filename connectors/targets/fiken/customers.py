"""Fiken's customers kept in sync for invoices: found by the tenant's match field, created once when missing (under
concurrent invoices for one new customer: connectors/sales/claims.py), updated when name, e-mail, organisation
number or address change. A B2B customer is a contact with an organisation number, a B2C one without; whether Fiken
sends EHF is its own choice for an organisation registered as a receiver (sales.py asks for it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.sales import checks as terms
from connectors.sales import claims
from connectors.targets.fiken.mapping import NAME, located
from pipeline.errors import DataError
from pipeline.model import Party

if TYPE_CHECKING:
    from connectors.targets.fiken.target import FikenTarget

READ_ONLY = ("contactId", "createdDate", "lastModifiedDate", "customerNumber", "customerAccountCode",
             "supplierNumber", "supplierAccountCode", "notes", "documents", "contactPerson")


def created(response: Any) -> int:
    """The id in a 201's Location (`…/invoices/drafts/77` → 77)."""
    _, ident = located(response.headers.get("Location"))
    if not ident:
        raise DataError("Fiken answered 201 without a Location naming what it made", connector=NAME)
    return int(ident)


def keys(party: Party) -> list[tuple[str, dict[str, str]]]:
    """(claim key, `GET /contacts` filter) for each identifier, best first. Our customer number is looked up as
    Fiken's memberNumber ("to connect a contact to your own data"; we set it on the contacts we create) and as
    Fiken's own customerNumber (a customer made in Fiken)."""
    found: list[tuple[str, dict[str, str]]] = []
    if party.number and party.number.isdigit():
        found += [(f"member:{int(party.number)}", {"memberNumber": str(int(party.number))}),
                  (f"number:{int(party.number)}", {"customerNumber": str(int(party.number))})]
    if party.organization_number:
        found.append((f"org:{party.organization_number}", {"organizationNumber": party.organization_number}))
    if party.email:
        found.append((f"email:{party.email.strip().lower()}", {"email": party.email.strip()}))
    if party.phone:
        found.append((f"phone:{party.phone}", {"phoneNumber": party.phone}))
    return found


def look_up(target: FikenTarget, party: Party) -> dict[str, Any] | None:
    """The one active customer contact the party's identifiers find (best first); `{"_ambiguous": ids}` for two or
    more, never a guess."""
    for _, query in keys(party):
        hits = {int(c["contactId"]): c for c in target._pages(f"{target.company}/contacts",
                                                               {**query, "customer": "true"})
                if not c.get("inactive")}
        if len(hits) == 1:
            return next(iter(hits.values()))
        if hits:
            return {"_ambiguous": sorted(hits)}
    return None


def contact_body(party: Party) -> dict[str, Any]:
    """The body of `POST /contacts` for a customer: B2B with its organisation number, B2C without."""
    body: dict[str, Any] = {"name": party.name or party.email or party.phone or party.number, "customer": True}
    if party.number and party.number.isdigit():
        body["memberNumber"] = int(party.number)
    if party.organization_number:
        body["organizationNumber"] = party.organization_number
    if party.email:
        body["email"] = party.email.strip()
    if party.phone:
        body["phoneNumber"] = party.phone
    if party.address is not None:
        address: dict[str, Any] = {"country": "Norway"}  # [unverified] Fiken's country names: "Norway" in its examples
        if party.address.lines:
            address["streetAddress"] = party.address.lines[0]
        if len(party.address.lines) > 1:
            address["streetAddressLine2"] = ", ".join(party.address.lines[1:])
        if party.address.postal_code:
            address["postCode"] = party.address.postal_code
        if party.address.city:
            address["city"] = party.address.city
        body["address"] = address
    return body


def customer(target: FikenTarget, party: Party, reference: str, *, create: bool) -> tuple[dict[str, Any] | None, str]:
    """The Fiken customer contact (None: missing or ambiguous) and what happened: "found", "created", "updated"."""
    settings = target.settings
    wanted = terms.matching_party(party, settings.customer_match)
    ident = tuple(k for k, _ in keys(wanted))
    found = look_up(target, wanted)
    if found is not None and found.get("_ambiguous"):
        return None, "found"
    if found is None:
        if not create or not settings.create_customers or not ident:
            return None, "found"

        def look() -> int | None:
            again = look_up(target, wanted)
            if again is not None and again.get("_ambiguous"):
                raise DataError(f"{len(again['_ambiguous'])} Fiken contacts match customer {ident[0]}; merge them "
                                "in Fiken", tenant=target.context.tenant, connector=NAME, reference=reference)
            return None if again is None else int(again["contactId"])

        def make() -> int:
            return created(target._request("POST", f"{target.company}/contacts", body=contact_body(party),
                                            reference=reference))

        def look_again() -> dict[str, Any] | None:
            found_id = look()
            return None if found_id is None else {"contactId": found_id}

        claimed, _ = claims.ensure_once(target.context, NAME, tuple(ident), reference=reference, look=look_again,
                                        create=lambda: {"contactId": make()}, id_field="contactId")
        contact_id = int(claimed["contactId"])
        return target._request("GET", f"{target.company}/contacts/{contact_id}").json(), "created"
    if create and settings.update_customers:
        body = contact_body(party)
        changed = {k: v for k, v in body.items() if k in ("name", "email", "organizationNumber", "address")
                   and _differs(v, found.get(k))}
        if changed:
            kept = {k: v for k, v in found.items() if k not in READ_ONLY and not k.startswith("_")}
            target._request("PUT", f"{target.company}/contacts/{int(found['contactId'])}",
                            body={**kept, **changed, "customer": True}, reference=reference)
            found.update(changed)
            return found, "updated"
    return found, "found"


def _differs(sent: Any, held: Any) -> bool:
    """Whether what we would send differs from what Fiken holds; an address by its lines, postcode and city (the
    country is ours to fill in, and Fiken may spell it its own way [unverified])."""
    if isinstance(sent, dict):
        held = held if isinstance(held, dict) else {}
        return any(value != held.get(key) for key, value in sent.items() if key != "country")
    return bool(sent != held)
