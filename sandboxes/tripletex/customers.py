"""Changing a customer in the Tripletex sandbox: `PUT /customer/{id}` as the official spec describes it.

Spec 2.72.00: `PUT /customer/{id}` takes a partial Customer ("Partial object describing what should be updated")
and answers `ResponseWrapperCustomer`. The sandbox keeps `version` as Tripletex does for optimistic concurrency:
a stale `version` is 409 with code 8000 (reference/target-apis.md §1.6) [unverified: whether Tripletex demands
`version` on a customer update; the connector always sends the one it read].
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandboxes.tripletex.invoices import Refused
from sandboxes.tripletex.vouchers import at

if TYPE_CHECKING:
    from sandboxes.tripletex.company import Company

UPDATABLE = {"name", "email", "invoiceEmail", "phoneNumber", "phoneNumberMobile", "postalAddress",
             "invoiceSendMethod", "organizationNumber", "isPrivateIndividual", "language", "invoicesDueIn",
             "invoicesDueInType"}


def route(company: Company, method: str, route: str, body: Any, fields: set[str]) -> tuple[int, Any] | None:
    """The answer to `PUT /customer/{id}`, or None for any other route."""
    parts = route.strip("/").split("/")
    if method != "PUT" or len(parts) != 2 or parts[0] != "customer" or not parts[1].isdigit():
        return None
    if not isinstance(body, dict):
        raise Refused(422, 16000, "Json mapping error: expected an object")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise Refused(422, 16000, "Json mapping error", [at(k, "Feltet eksisterer ikke i objektet.") for k in unknown])
    with company.lock:
        customer = company.customers.get(int(parts[1]))
        if customer is None:
            raise Refused(404, 6000, f"Object not found: customer {parts[1]}")
        if "version" in body and body["version"] != customer["version"]:
            raise Refused(409, 8000, "Revision Exception: the customer was changed by someone else")
        if "name" in body and not str(body["name"] or "").strip():
            raise Refused(422, 18000, "Validering feilet.", [at("name", "Kan ikke være null.")])
        for key in UPDATABLE & set(body):
            customer[key] = body[key]
        customer["version"] += 1
        return 200, {"value": customer}
