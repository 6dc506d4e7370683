"""Customers in PowerOffice GO kept in step with the invoices: found by the tenant's match field, created once, updated.

Finding (`GET /Customers`, CustomersApi): GO filters by `customerNos` and `externalImportReference` only, so a
customer is looked for by the `ExternalImportReference` we create customers with (`bilagsbro:<key>`), by number, and
else in the whole list (paged, `Fields=`) by organisation number, e-mail or phone, compared here. Two customers sharing
the identifier are never guessed between (preflight reports them); an archived one is reported, never created beside.

Creating (`POST /Customers`, `CustomerPostDto`, role Customer_Full) goes through connectors.sales.claims — one
creation however many invoices for the new customer arrive at once — and carries `ExternalImportReference`, which GO
keeps unique among customers ("must be unique within each class of Contacts"): a second net under the claims. A
private person (no organisation number) is created with `IsPerson` and first and last name (B2C); a business with
its organisation number (B2B), and `InvoiceDeliveryType` EHF when the customer takes EHF (GO allows it only for a
number registered in ELMA). Updating is a JSON Patch (`PATCH /Customers/{id}`) of what the invoice says otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.sales import claims
from connectors.sales.checks import matching_party
from connectors.targets.poweroffice_go.invoicing import customer_body, customer_patch
from connectors.targets.poweroffice_go.mapping import NAME, external_reference, index_keys, party_keys
from pipeline.errors import DataError, TransientError
from pipeline.model import Party

if TYPE_CHECKING:
    from connectors.targets.poweroffice_go.target import PowerOfficeTarget

PAGE = 5000
FIELDS = ("Id,Number,Name,FirstName,LastName,IsPerson,OrganizationNumber,EmailAddress,InvoiceEmailAddress,PhoneNumber,"
          "IsArchived,IsActive,SubledgerAccountId,ExternalImportReference,InvoiceDeliveryType,MailAddress")
DUPLICATE = "externalimportreference"  # GO's refusal of a reference it holds names the field [unverified wording]


def keys(party: Party) -> tuple[str, ...]:
    return party_keys(party)


def ours(key: str) -> str:
    """The ExternalImportReference of a customer we create for a key (≤ 50 characters, as GO allows)."""
    return external_reference(f"bilagsbro:{key}")


def _search(target: PowerOfficeTarget, key: str) -> list[dict[str, Any]]:
    kind, _, value = key.partition(":")
    made = target.records("Customers", {"externalImportReference": ours(key), "Fields": FIELDS})
    made = [r for r in made if r.get("ExternalImportReference") == ours(key)]
    if made:
        return made
    if kind == "number":
        rows = target.records("Customers", {"customerNos": value, "Fields": FIELDS}) if value.isdigit() else []
        return [r for r in rows if str(r.get("Number")) == value]
    return [r for r in target.records("Customers", {"Fields": FIELDS}, page_size=PAGE) if key in index_keys(r)]


def look(target: PowerOfficeTarget, party: Party) -> dict[str, Any] | None:
    """The customer the party's identifiers name (the first that finds any), `{"_ambiguous": [...]}` for several."""
    for key in keys(party):
        found = {int(r.get("Id") or 0): r for r in _search(target, key)}
        if len(found) == 1:
            return next(iter(found.values()))
        if found:
            return {"_ambiguous": sorted(found), "_key": key}
    return None


def usable(record: dict[str, Any] | None) -> bool:
    return record is not None and not record.get("_ambiguous") and not record.get("IsArchived") \
        and bool(record.get("IsActive", True))


def resolve(target: PowerOfficeTarget, party: Party) -> dict[str, Any] | None:
    """`look`, once per connection and party however many workers ask (pipeline.lookups); only hits are kept."""
    wanted = keys(party)
    if not wanted:
        return None

    def fetch(batch: list[str]) -> dict[str, dict[str, Any]]:
        return {key: found for key in batch if (found := look(target, party)) is not None}

    table = target.context.lookups.fill("invoice-customers", ["|".join(wanted)], fetch,
                                        have=lambda key, held: key in held and usable(held[key]))
    return table.get("|".join(wanted))


def customer(target: PowerOfficeTarget, party: Party, reference: str, *,
             create: bool) -> tuple[dict[str, Any] | None, str]:
    """GO's customer and what happened: found, created, updated; or None and why: missing, ambiguous, archived."""
    settings = target.settings
    wanted = matching_party(party, settings.customer_match)
    found = resolve(target, wanted)
    if found is not None and not usable(found):
        return None, "ambiguous" if found.get("_ambiguous") else "archived"
    if found is None:
        if not create or not settings.create_customers or not keys(wanted):
            return None, "missing"
        made, created = ensure(target, wanted, party, reference)
        return made, "created" if created else "found"
    if create and settings.update_customers:
        operations = customer_patch(party, found)
        if operations:
            updated = target.request("PATCH", f"Customers/{found['Id']}", body=operations, reference=reference,
                                     content_type="application/json-patch+json", role="Customer_Full")
            found = dict(updated) if isinstance(updated, dict) else {**found}
            _remember(target, wanted, found)
            return found, "updated"
    return found, "found"


def ensure(target: PowerOfficeTarget, wanted: Party, full: Party, reference: str) -> tuple[dict[str, Any], bool]:
    """Create the customer once (connectors.sales.claims): claim its identifiers, look again, create if missing."""
    where: dict[str, Any] = {"tenant": target.context.tenant, "connector": NAME, "reference": reference}
    claimed = keys(wanted)

    def again() -> dict[str, Any] | None:
        found = look(target, wanted)
        if found is not None and found.get("_ambiguous"):
            raise DataError(f"{len(found['_ambiguous'])} customers in PowerOffice GO match {found['_key']}; merge "
                            "them in GO", **where)
        return found

    def create() -> dict[str, Any]:
        body = customer_body(full, reference=ours(claimed[0]))
        try:
            made = target.request("POST", "Customers", body=body, reference=reference, role="Customer_Full")
        except DataError as exc:
            if DUPLICATE not in (exc.provider_message or "").lower():
                raise
            made = None  # GO holds a customer with our reference already: its own duplicate check worked
        if not isinstance(made, dict) or "Id" not in made:
            made = look(target, wanted)
        if made is None or made.get("_ambiguous"):
            raise TransientError("PowerOffice GO created the customer but does not list it yet; will look again",
                                 **where)
        return dict(made)

    record, created = claims.ensure_once(target.context, NAME, claimed, reference=reference, look=again,
                                         create=create, id_field="Id")
    if set(record) == {"Id"}:  # another delivery created it: read it
        record = dict(target.request("GET", f"Customers/{record['Id']}"))
    _remember(target, wanted, record)
    return record, created


def _remember(target: PowerOfficeTarget, party: Party, record: dict[str, Any]) -> None:
    target.context.lookups.table("invoice-customers")["|".join(keys(party))] = record
