"""The Fortnox sandbox's customers, as the customer ledger (invoicing.py) keeps them: found, created, updated.

Routes ([spec-derived]: ThorinEk/fortnox-php-api-client docs/Api/CustomersResourceApi.md; reference/target-apis.md
§8.5): `GET|POST /3/customers`, `GET|PUT /3/customers/{CustomerNumber}`; the list filters `customernumber`,
`organisationnumber`, `email` (exact here; [unverified] whether Fortnox matches by containment). `Type` is PRIVATE
or COMPANY; `DefaultDeliveryTypes.Invoice` is EMAIL, PRINT or ELECTRONICINVOICE.
"""

from __future__ import annotations

import threading
from typing import Any

from sandboxes.fortnox.company import Refused


class Customers:
    """The customer routes of invoicing.py's `Invoicing`, which holds `customers` and `lock`."""

    customers: dict[str, dict[str, Any]]
    lock: threading.RLock

    @staticmethod
    def _customer(given: dict[str, Any]) -> dict[str, Any]:
        delivery = (given.get("DefaultDeliveryTypes") or {}).get("Invoice") or "PRINT"
        return {"@url": f"/3/customers/{given['CustomerNumber']}", "CustomerNumber": str(given["CustomerNumber"]),
                "Name": given.get("Name") or "", "OrganisationNumber": given.get("OrganisationNumber") or "",
                "Email": given.get("Email") or "", "EmailInvoice": given.get("EmailInvoice") or "",
                "Phone1": given.get("Phone1") or "", "Phone": given.get("Phone1") or "",
                "Address1": given.get("Address1") or "", "Address2": given.get("Address2") or "",
                "ZipCode": given.get("ZipCode") or "", "City": given.get("City") or "",
                "CountryCode": given.get("CountryCode") or "", "Type": given.get("Type") or "COMPANY",
                "Active": given.get("Active", True), "DefaultDeliveryTypes": {"Invoice": delivery}}

    def create_customer(self, body: Any) -> dict[str, Any]:
        given = body.get("Customer") if isinstance(body, dict) else None
        if not isinstance(given, dict):
            raise Refused(400, "Ogiltig JSON: objektet Customer saknas", 2002115)
        if not given.get("Name"):
            raise Refused(400, "Fältet Name är obligatoriskt", 2000588)
        if given.get("Type") not in (None, "PRIVATE", "COMPANY"):
            raise Refused(400, "Ogiltigt värde för Type", 2000106)
        with self.lock:
            number = str(given.get("CustomerNumber") or "")
            if number in self.customers:
                raise Refused(400, f"Kundnumret {number} används redan", 2000637)
            if not number:
                number = str(1 + max((int(n) for n in self.customers if n.isdigit()), default=0))
            made = self._customer({**given, "CustomerNumber": number})
            self.customers[number] = made
        return made

    def update_customer(self, number: str, body: Any) -> dict[str, Any]:
        given = body.get("Customer") if isinstance(body, dict) else None
        if not isinstance(given, dict):
            raise Refused(400, "Ogiltig JSON: objektet Customer saknas", 2002115)
        with self.lock:
            found = self._found_customer(number)
            merged = {**found, **{k: v for k, v in given.items() if k != "CustomerNumber"}}
            self.customers[number] = self._customer(merged)
            return self.customers[number]

    def _found_customer(self, number: str) -> dict[str, Any]:
        found = self.customers.get(number)
        if found is None:
            raise Refused(404, f"Kunde inte hitta kund {number}", 2000204)
        return found

    def route_customers(self, method: str, rest: list[str], query: dict[str, str], body: Any, paged: Any,
                   commit: bool) -> tuple[int, Any] | None:
        if method == "GET" and not rest:
            wanted = {"customernumber": "CustomerNumber", "organisationnumber": "OrganisationNumber", "email": "Email"}
            with self.lock:
                rows = [c for c in self.customers.values()
                        if all(str(c[f]).lower() == query[q].lower() for q, f in wanted.items() if query.get(q))]
            return 200, paged(rows, "Customers", query)
        if method == "GET" and len(rest) == 1:
            return 200, {"Customer": self._found_customer(rest[0])}
        if method == "POST" and not rest:
            return 201, {"Customer": self.create_customer(body) if commit else {}}
        if method == "PUT" and len(rest) == 1:
            return 200, {"Customer": self.update_customer(rest[0], body) if commit else {}}
        return None

