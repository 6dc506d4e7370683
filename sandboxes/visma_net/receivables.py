"""The Visma.net sandbox's customer ledger: customers, customer invoices, credit notes and payments, as the API has them.

Contract (official spec `../shared/specs/visma-net/swagger.json`, 2025-04-24; docs/fidelity.md lists what is
unverified): `GET/POST /v1/customer`, `GET/PUT /v1/customer/{customerCd}` (`CustomerDto`, `CustomerUpdateDto`);
`POST /v2/customerinvoice` and `POST /v2/customerCreditNote` (201, `Location` [unverified]), `GET /v1/customerinvoice`
(filters `externalReference`, `paymentReference`, `customer`, `status`), `…/{n}/action/release` and
`…/action/sendToAutoInvoice`; `GET/POST /v1/customerPayment` (filter `invoiceRefNbr`), `…/{n}/action/release`;
`GET /v1/paymentmethod`, `GET /v1/cashaccount`. Documents on hold have status Hold, off hold Balanced; release makes
them Open (a payment or credit note applied to an invoice lowers its balance; at 0 it is Closed). The sandbox
books VAT as the document's tax details say, the lines net of VAT; a document's amount is their sum.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal
from typing import Any

from pipeline.norway.kid import kid_mod10
from sandboxes.visma_net.company import Company
from sandboxes.visma_net.journal import Refused, _money, _value

OPEN = ("Open", "Closed")
SELLABLE = ("Active", "NoPurchases", "NoRequest")  # InventoryDto.status an item may be sold in [unverified: NoRequest]
PAYMENT_METHODS = [("BANK", "Bankinnbetaling", "DirectDeposit"), ("KORT", "Kortbetaling", "CreditCard"),
                   ("VIPPS", "Vipps", "DirectDeposit")]
CUSTOMERS = [("10001", "Fjordkafé Ålesund AS", "913579240", "post@fjordkafe.no"),
             ("10002", "Bakeriet på Røros AS", "987654325", "ordre@bakerietroros.no")]
WRAPPED = ("name", "corporateId", "sendInvoicesByEmail", "acceptAutoInvoices", "printInvoices", "status")


class Receivables:
    """The company's customer ledger: customers by number, documents by kind and ref. no."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self.lock = threading.RLock()
        self.customers: dict[str, dict[str, Any]] = {}
        self.documents: dict[str, dict[str, dict[str, Any]]] = {"invoice": {}, "credit": {}, "payment": {}}
        self.sent: list[tuple[str, str]] = []  # (kind, ref. no.) sent to AutoInvoice
        self.next = {"customer": 20001, "invoice": 100001, "credit": 200001, "payment": 300001}
        self.methods = {m: {"paymentMethodID": m, "description": d, "meansOfPayment": k, "active": True,
                            "useInAP": False, "details": []} for m, d, k in PAYMENT_METHODS}
        for number, name, org, email in CUSTOMERS:
            self._store_customer(number, {"name": {"value": name}, "corporateId": {"value": org},
                                          "mainContact": {"value": {"email": {"value": email}}}})

    # -- customers ------------------------------------------------------------------------------------------------

    def _store_customer(self, number: str, body: dict[str, Any]) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        record = self.customers.setdefault(number, {
            "internalId": len(self.customers) + 1, "number": number, "status": "Active", "createdDateTime": now,
            "mainAddress": {}, "mainContact": {}, "invoiceContact": {}, "sendInvoicesByEmail": False,
            "acceptAutoInvoices": False, "printInvoices": True})
        for name in WRAPPED:
            if _value(body, name) is not None:
                record[name] = _value(body, name)
        if _value(body, "customerClassId") is not None:
            record["customerClass"] = {"id": _value(body, "customerClassId")}
        for name in ("mainContact", "invoiceContact"):
            for key, value in (_value(body, name) or {}).items():
                record[name][key] = value.get("value") if isinstance(value, dict) else value
        address = _value(body, "mainAddress") or {}
        for key, value in address.items():
            if key == "countryId":
                record["mainAddress"]["country"] = {"id": value.get("value"), "name": value.get("value")}
            else:
                record["mainAddress"][key] = value.get("value")
        record["lastModifiedDateTime"] = now
        return record

    def create_customer(self, body: dict[str, Any]) -> str:
        with self.lock:
            if not _value(body, "name"):
                raise Refused("Error: 'Customer name' cannot be empty.")
            number = _value(body, "number") if _value(body, "overrideNumberSeries") else None
            if number is None:
                number = str(self.next["customer"])
                self.next["customer"] += 1
            if number in self.customers:
                raise Refused(f"Error: Customer ID '{number}' already exists.")
            self._store_customer(str(number), body)
            return str(number)

    def update_customer(self, number: str, body: dict[str, Any]) -> None:
        with self.lock:
            if number not in self.customers:
                raise Refused(f"Customer '{number}' cannot be found in the system.", status=404)
            self._store_customer(number, body)

    def list_customers(self, query: dict[str, str]) -> list[dict[str, Any]]:
        def keep(c: dict[str, Any]) -> bool:
            contact = c.get("mainContact") or {}
            return all(wanted == have for wanted, have in (
                (query.get("corporateId"), c.get("corporateId")), (query.get("email"), contact.get("email")),
                (query.get("phone"), contact.get("phone1")), (query.get("name"), c.get("name")),
                (query.get("status"), c.get("status"))) if wanted is not None)
        return [c for c in self.customers.values() if keep(c)]

    # -- invoices and credit notes ---------------------------------------------------------------------------------

    def create_document(self, kind: str, body: dict[str, Any]) -> str:
        """A customer invoice (`CustomerInvoiceUpdateDto`) or credit note (`CustomerCreditNoteUpdateDto`)."""
        company = self.company
        with self.lock, company.lock:
            errors = []
            customer = self.customers.get(str(_value(body, "customerNumber")))
            if customer is None or customer["status"] != "Active":
                errors.append(f"Customer '{_value(body, 'customerNumber')}' cannot be found or is not active.")
            day = _date(_value(body, "documentDate"))
            period = company.period_on(day) if day else None
            if period is None or period.get("closedInCustomerLedger") or not period.get("active", True):
                errors.append(f"The document date {day} is not in an open financial period of the customer ledger.")
            lines = body.get("invoiceLines" if kind == "invoice" else "lines") or []
            if not lines:
                errors.append("The document has no lines.")
            stored_lines, net = [], Decimal(0)
            for line in lines:
                category = _value(line, "vatCodeId")
                if category is not None and category not in company.categories:
                    errors.append(f"VAT category '{category}' cannot be found in the system.")
                account = _value(line, "accountNumber")
                if account is not None and not (company.accounts.get(account) or {}).get("active"):
                    errors.append(f"Account '{account}' is inactive or cannot be found.")
                item = _value(line, "inventoryNumber")
                if item is not None and (company.items.get(item) or {}).get("status") not in SELLABLE:
                    errors.append(f"Inventory item '{item}' cannot be found or may not be sold.")
                amount = (_money(_value(line, "quantity")) * _money(_value(line, "unitPriceInCurrency")))
                net += amount
                stored_lines.append({"lineNumber": _value(line, "lineNumber"), "description": _value(line, "description"),
                                     "quantity": _money(_value(line, "quantity")),
                                     "unitPriceInCurrency": _money(_value(line, "unitPriceInCurrency")),
                                     "amountInCurrency": amount, "account": {"number": account},
                                     "inventory": {"number": item} if item is not None else None,
                                     "vatCode": {"id": category}})
            taxes = body.get("taxDetailLines" if kind == "invoice" else "taxDetails") or []
            vat = Decimal(0)
            for tax in taxes:
                if _value(tax, "taxId") not in company.vats:
                    errors.append(f"VAT ID '{_value(tax, 'taxId')}' cannot be found in the system.")
                vat += _money(_value(tax, "vatAmount"))
            if errors:
                raise Refused("Error creating document.", *errors)
            number = str(self.next[kind])
            self.next[kind] += 1
            total = net + vat
            assert customer is not None and day is not None
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
            self.documents[kind][number] = {
                "documentType": "Invoice" if kind == "invoice" else "CreditNote", "referenceNumber": number,
                "status": "Hold" if _value(body, "hold") else "Balanced", "hold": bool(_value(body, "hold")),
                "customer": {"number": customer["number"], "name": customer.get("name")},
                "documentDate": _value(body, "documentDate"), "documentDueDate": _value(body, "documentDueDate"),
                "externalReference": _value(body, "externalReference"),
                "paymentReference": _value(body, "paymentReference") or kid_mod10(number),
                "invoiceText": _value(body, "invoiceText"), "currencyId": _value(body, "currencyId") or "NOK",
                "project": {"id": _value(body, "project")} if _value(body, "project") else None,
                "financialPeriod": period["period"] if period else None, "amount": total, "balance": total,
                "vatTotal": vat, "detailTotal": net, "createdDateTime": now, "lastModifiedDateTime": now,
                "invoiceLines" if kind == "invoice" else "lines": stored_lines,
                "taxDetails": [{"taxId": _value(t, "taxId"), "taxableAmount": _money(_value(t, "taxableAmount")),
                                "vatAmount": _money(_value(t, "vatAmount"))} for t in taxes],
                "applications": [{"docType": "Invoice", "refNbr": _value(a, "refNbr"),
                                  "amountPaid": _money(_value(a, "amountPaid")), "released": False}
                                 for a in body.get("applicationLines") or ()],
            }
            return number

    def seed_invoice(self, customer: str, number: str, amount: Decimal, *, kid: str | None = None) -> None:
        """An invoice made in Visma.net itself, released (the one a payment or credit note of the suite names)."""
        with self.lock:
            self.documents["invoice"][number] = {
                "documentType": "Invoice", "referenceNumber": number, "status": "Open", "hold": False,
                "customer": {"number": customer, "name": self.customers[customer]["name"]},
                "documentDate": "2026-10-01T00:00:00", "documentDueDate": "2026-10-15T00:00:00",
                "externalReference": None, "paymentReference": kid or kid_mod10(number), "amount": amount,
                "balance": amount, "invoiceLines": [], "taxDetails": [], "applications": []}

    def release(self, kind: str, number: str) -> dict[str, Any]:
        with self.lock:
            doc = self.documents[kind].get(number)
            if doc is None:
                raise Refused(f"Document '{number}' cannot be found in the system.", status=404)
            if doc["status"] == "Hold":
                return {"actionId": str(uuid.uuid4()), "actionResult": "Failed",
                        "errorInfo": "Document is On Hold and cannot be released."}
            if doc["status"] != "Balanced":
                return {"actionId": str(uuid.uuid4()), "actionResult": "Failed",
                        "errorInfo": "Document has already been released."}
            applied = Decimal(0)
            for application in doc.get("applications") or ():
                invoice = self.documents["invoice"].get(str(application["refNbr"]))
                if invoice is None or invoice["status"] != "Open":
                    return {"actionId": str(uuid.uuid4()), "actionResult": "Failed",
                            "errorInfo": f"Invoice '{application['refNbr']}' is not open."}
                invoice["balance"] -= application["amountPaid"] + application.get("balanceWriteOff", Decimal(0))
                invoice["status"] = "Closed" if invoice["balance"] == 0 else "Open"
                application["released"] = True
                applied += application["amountPaid"]
            doc["balance"] = doc["amount"] - applied
            doc["status"] = "Closed" if kind != "invoice" and doc["balance"] == 0 else "Open"
            return {"actionId": str(uuid.uuid4()), "actionResult": "Done", "errorInfo": None}

    def send(self, kind: str, number: str) -> dict[str, Any]:
        with self.lock:
            doc = self.documents[kind].get(number)
            if doc is None:
                raise Refused(f"Document '{number}' cannot be found in the system.", status=404)
            if doc["status"] not in OPEN:
                raise Refused("Only released documents can be sent to AutoInvoice.")
            self.sent.append((kind, number))
            return {"refNbr": number, "documentType": doc["documentType"], "actionId": str(uuid.uuid4()),
                    "actionResult": "Done", "errorInfo": None}

    def list_documents(self, kind: str, query: dict[str, str]) -> list[dict[str, Any]]:
        filters = {"externalReference": "externalReference", "paymentReference": "paymentReference",
                   "status": "status"}
        rows = [d for d in self.documents[kind].values()
                if all(query[q] == d.get(field) for q, field in filters.items() if q in query)
                and ("customer" not in query or query["customer"] == d["customer"]["number"])]
        return [{**d, "metadata": {"totalCount": len(rows), "maxPageSize": 1000}} for d in rows]

    # -- payments -------------------------------------------------------------------------------------------------

    def create_payment(self, body: dict[str, Any]) -> str:
        company = self.company
        with self.lock, company.lock:
            errors = []
            customer = str(_value(body, "customer"))
            if customer not in self.customers:
                errors.append(f"Customer '{customer}' cannot be found in the system.")
            method = self.methods.get(str(_value(body, "paymentMethod")))
            if method is None or not method["active"]:
                errors.append(f"Payment method '{_value(body, 'paymentMethod')}' cannot be found or is inactive.")
            if str(_value(body, "cashAccount")) not in _cash_numbers(company):
                errors.append(f"Cash account '{_value(body, 'cashAccount')}' cannot be found in the system.")
            day = _date(_value(body, "applicationDate"))
            period = company.period_on(day) if day else None
            if period is None or period.get("closedInCustomerLedger") or not period.get("active", True):
                errors.append(f"The application date {day} is not in an open financial period of the customer "
                              "ledger.")
            amount = _money(_value(body, "paymentAmount"))
            applications, applied = [], Decimal(0)
            for line in body.get("paymentLines") or ():
                invoice = self.documents["invoice"].get(str(_value(line, "refNbr")))
                paid, write_off = _money(_value(line, "amountPaid")), _money(_value(line, "balanceWriteOff"))
                if invoice is None or invoice["status"] != "Open" or invoice["customer"]["number"] != customer:
                    errors.append(f"Invoice '{_value(line, 'refNbr')}' is not an open invoice of customer {customer}.")
                elif paid + write_off > invoice["balance"]:
                    errors.append(f"The amount paid exceeds the balance {invoice['balance']} of invoice "
                                  f"'{_value(line, 'refNbr')}'.")
                if write_off and not _value(line, "writeOffReasonCode"):
                    errors.append("A balance write-off needs a reason code.")
                applied += paid
                applications.append({"docType": "Invoice", "refNbr": _value(line, "refNbr"), "amountPaid": paid,
                                     "balanceWriteOff": write_off, "writeOffReasonCode": _value(line,
                                                                                              "writeOffReasonCode")})
            if applied > amount:
                errors.append("The amount applied exceeds the payment amount.")
            if errors:
                raise Refused("Error creating document.", *errors)
            number = str(self.next["payment"])
            self.next["payment"] += 1
            self.documents["payment"][number] = {
                "type": "Payment", "refNbr": number, "referenceNumber": number, "documentType": "Payment",
                "status": "Hold" if _value(body, "hold") else "Balanced", "hold": bool(_value(body, "hold")),
                "applicationDate": _value(body, "applicationDate"), "paymentRef": _value(body, "paymentRef"),
                "customer": {"number": customer}, "paymentMethod": {"id": _value(body, "paymentMethod")},
                "cashAccount": _value(body, "cashAccount"), "currency": _value(body, "currency") or "NOK",
                "paymentAmount": amount, "amount": amount, "invoiceText": _value(body, "invoiceText"),
                "appliedToDocuments": applied, "availableBalance": amount - applied,
                "paymentLines": [{"documentType": "Invoice", "refNbr": a["refNbr"], "amountPaid": a["amountPaid"],
                                  "balanceWriteOff": a["balanceWriteOff"]} for a in applications],
                "applications": applications}
            return number

    def list_payments(self, query: dict[str, str]) -> list[dict[str, Any]]:
        rows = [p for p in self.documents["payment"].values()
                if ("invoiceRefNbr" not in query or any(a["refNbr"] == query["invoiceRefNbr"]
                                                        for a in p["applications"]))
                and ("customer" not in query or query["customer"] == p["customer"]["number"])]
        return [{k: v for k, v in p.items() if k != "applications"} for p in rows]

    def payment_methods(self) -> list[dict[str, Any]]:
        return list(self.methods.values())

    def cash_accounts(self) -> list[dict[str, Any]]:
        return [{"number": n, "description": a["description"], "currency": "NOK"}
                for n, a in self.company.accounts.items() if a.get("cashAccount") and a.get("active")]


def _cash_numbers(company: Company) -> set[str]:
    return {n for n, a in company.accounts.items() if a.get("cashAccount") and a.get("active")}


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


KINDS = {"customerinvoice": "invoice", "customerCreditNote": "credit", "customerPayment": "payment"}


def route(ledger: Receivables, base_url: str, method: str, path: str, query: dict[str, str],
          body: Any) -> tuple[int, Any, dict[str, str]] | None:
    """The customer ledger's routes: (status, payload, headers), or None for a path that is not one of them."""
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[0] not in ("v1", "v2"):
        return None
    resource, rest = parts[1], parts[2:]
    if resource == "paymentmethod" and method == "GET" and not rest:
        return 200, ledger.payment_methods(), {}
    if resource == "cashaccount" and method == "GET" and not rest:
        return 200, ledger.cash_accounts(), {}
    if resource == "customer":
        if not rest and method == "GET":
            return 200, ledger.list_customers(query), {}
        if not rest and method == "POST":
            number = ledger.create_customer(body or {})
            return 201, None, {"Location": f"{base_url}/v1/customer/{number}"}
        if len(rest) == 1 and method == "GET":
            found = ledger.customers.get(rest[0])
            if found is None:
                raise Refused(f"Customer '{rest[0]}' cannot be found in the system.", status=404)
            return 200, found, {}
        if len(rest) == 1 and method == "PUT":
            ledger.update_customer(rest[0], body or {})
            return 204, None, {}
        return None
    kind = KINDS.get(resource)
    if kind is None:
        return None
    if not rest and method == "POST" and (parts[0] == "v2" or kind == "payment"):
        number = ledger.create_payment(body or {}) if kind == "payment" else ledger.create_document(kind, body or {})
        return 201, None, {"Location": f"{base_url}/v1/{resource}/{number}"}
    if parts[0] != "v1":
        return None
    if not rest and method == "GET":
        with ledger.lock:
            listed = ledger.list_payments(query) if kind == "payment" else ledger.list_documents(kind, query)
        return 200, listed, {}
    if len(rest) == 1 and method == "GET":
        with ledger.lock:
            found = ledger.documents[kind].get(rest[0])
            if found is None:
                raise Refused(f"Document '{rest[0]}' cannot be found in the system.", status=404)
            return 200, {k: v for k, v in found.items() if k != "applications" or kind != "payment"}, {}
    if len(rest) == 3 and rest[1] == "action" and method == "POST":
        if rest[2] == "release":
            return 200, ledger.release(kind, rest[0]), {}
        if rest[2] == "sendToAutoInvoice" and kind != "payment":
            return 200, ledger.send(kind, rest[0]), {}
    return None
