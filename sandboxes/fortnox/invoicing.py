"""The Fortnox sandbox's customer ledger: customers, invoices (unbooked drafts, booked, credited), invoice payments,
modes of payment and sending — answered as Fortnox API v3 answers them.

Routes ([spec-derived]: ThorinEk/fortnox-php-api-client docs/Api/InvoicesResourceApi.md, InvoicePaymentsResourceApi.md,
CustomersResourceApi.md, generated from Fortnox's OpenAPI, 2023; reference/target-apis.md §8.4):
- customers: customers.py.
- `POST /3/invoices` `{"Invoice": {CustomerNumber, InvoiceDate, DueDate, OCR, ExternalInvoiceReference1/2,
  VATIncluded, Currency, CreditInvoiceReference, InvoiceRows: [{Description, AccountNumber, DeliveredQuantity,
  Price, VAT}]}}` → 201, unbooked (`Booked: false`); `GET /3/invoices?externalinvoicereference1=|
  externalinvoicereference2=|ocr=`; `PUT /3/invoices/{n}/bookkeep`; `PUT /3/invoices/{n}/credit` (a booked
  invoice, once: the credit invoice's number lands in the original's `CreditInvoiceReference`);
  `GET /3/invoices/{n}/email` (the customer's e-mail) and `/einvoice` (a customer set up for e-invoices).
- `POST /3/invoicepayments` `{"InvoicePayment": {InvoiceNumber, Amount, PaymentDate, ModeOfPayment,
  ModeOfPaymentAccount, WriteOffs: [{Amount, AccountNumber, Description}]}}` against a booked invoice: its balance
  falls by the amount and the write-offs [unverified: how Fortnox signs write-offs]; `GET /3/invoicepayments?
  invoicenumber=`; `PUT /3/invoicepayments/{n}/bookkeep`; `GET /3/modesofpayments[/{Code}]`.
- VAT on an invoice row is a percentage the company's VAT setup must know: a Swedish company takes 25, 12, 6 and 0
  (`vat_rates`); what a Norwegian company in Fortnox takes is [unverified].
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandboxes.fortnox.company import Refused
from sandboxes.fortnox.customers import Customers
from sandboxes.ledger_seed import CUSTOMERS

ØRE = Decimal("0.01")
# the seeded customers (the read-back's parties too), with Swedish organisation numbers (a private one has none)
SEEDED = {"10001": ("556677-8899", "COMPANY"), "10002": ("556123-4567", "COMPANY"), "10003": ("", "PRIVATE")}
MODES = {"BG": ("Bankgiro", 1920), "KORT": ("Kortbetaling", 1580), "VIPPS": ("Vipps", 1582)}
LIST_FIELDS = ("DocumentNumber", "CustomerNumber", "CustomerName", "InvoiceDate", "DueDate", "Total", "Balance",
               "Booked", "Cancelled", "Credit", "CreditInvoiceReference", "OCR", "ExternalInvoiceReference1",
               "ExternalInvoiceReference2", "Sent", "Currency")


def _money(value: Any, what: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise Refused(400, f"Ogiltigt belopp i {what}", 2000106) from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise Refused(400, f"Ogiltigt belopp i {what}", 2000106)
    return amount


@dataclass
class Invoicing(Customers):
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # CustomerNumber → Customer (customers.py)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)  # DocumentNumber → Invoice
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)  # Number → InvoicePayment
    modes: dict[str, dict[str, Any]] = field(default_factory=dict)  # Code → ModeOfPayment
    sent: list[tuple[str, str]] = field(default_factory=list)  # (DocumentNumber, "email" | "einvoice")
    vat_rates: set[Decimal] = field(default_factory=lambda: {Decimal(r) for r in ("25", "12", "6", "0")})
    lock: threading.RLock = field(default_factory=threading.RLock)

    def seed(self) -> Invoicing:
        for number, name in CUSTOMERS.items():
            org, kind = SEEDED.get(number, ("", "PRIVATE"))
            self.customers[number] = self._customer({"CustomerNumber": number, "Name": name,
                                                     "OrganisationNumber": org, "Type": kind})
        self.modes = {code: {"Code": code, "Description": text, "AccountNumber": account}
                      for code, (text, account) in MODES.items()}
        return self

    def seed_invoice(self, company: Any, customer: str, number: str, total: Decimal, *, ocr: str = "") -> dict[str, Any]:
        """A booked invoice made in Fortnox itself (not by Bilagsbro), carrying the source's invoice `number`."""
        made = self.create_invoice({"Invoice": {
            "CustomerNumber": customer, "InvoiceDate": "2026-11-01", "DueDate": "2026-11-15", "OCR": ocr,
            "ExternalInvoiceReference2": number, "VATIncluded": True,
            "InvoiceRows": [{"Description": "Blåbær", "Price": total, "DeliveredQuantity": 1, "VAT": 25}]}}, company)
        made["Booked"] = True
        return made

    # -- invoices ---------------------------------------------------------------------------------------------

    def create_invoice(self, body: Any, company: Any) -> dict[str, Any]:
        given = body.get("Invoice") if isinstance(body, dict) else None
        if not isinstance(given, dict):
            raise Refused(400, "Ogiltig JSON: objektet Invoice saknas", 2002115)
        customer = self.customers.get(str(given.get("CustomerNumber") or ""))
        if customer is None:
            raise Refused(400, f"Kunde inte hitta kund {given.get('CustomerNumber')}", 2000204)
        try:
            day = dt.date.fromisoformat(str(given.get("InvoiceDate")))
            due = dt.date.fromisoformat(str(given.get("DueDate") or given.get("InvoiceDate")))
        except ValueError:
            raise Refused(400, "Ogiltigt datum i InvoiceDate eller DueDate", 2000190) from None
        year = company.year_of(day)
        if year is None:
            raise Refused(400, "Datumet ligger utanför räkenskapsåret", 2000605)
        credited = str(given.get("CreditInvoiceReference") or "")
        if credited and credited != "0" and credited not in self.invoices:
            raise Refused(400, f"Kunde inte hitta faktura {credited}", 2000434)
        included = bool(given.get("VATIncluded", False))
        rows, total, vat_total = [], Decimal("0"), Decimal("0")
        for row in given.get("InvoiceRows") or []:
            price = _money(row.get("Price", 0), "Price")
            quantity = _money(row.get("DeliveredQuantity", 1), "DeliveredQuantity")
            rate = _money(row.get("VAT", 25), "VAT")
            if rate not in self.vat_rates:
                raise Refused(400, f"Ogiltig momssats {rate} (företaget har {sorted(self.vat_rates)})", 2000756)
            account = row.get("AccountNumber")
            if account is not None:
                found = company.accounts[year].get(str(account))
                if found is None or not found["Active"]:
                    raise Refused(400, f"Kunde inte hitta konto {account}", 2001304)
            amount = (price * quantity).quantize(ØRE, ROUND_HALF_UP)
            vat = (amount * rate / (100 + rate) if included else amount * rate / 100).quantize(ØRE, ROUND_HALF_UP)
            total += amount if included else amount + vat
            vat_total += vat
            rows.append({**row, "Price": price, "DeliveredQuantity": quantity, "VAT": rate, "Total": amount})
        if not rows:
            raise Refused(400, "Fakturan saknar rader", 2000589)
        with self.lock:
            number = str(1 + max((int(n) for n in self.invoices), default=0))
            made = {"@url": f"/3/invoices/{number}", "DocumentNumber": number,
                    "CustomerNumber": customer["CustomerNumber"], "CustomerName": customer["Name"],
                    "InvoiceDate": day.isoformat(), "DueDate": due.isoformat(), "OCR": given.get("OCR") or "",
                    "ExternalInvoiceReference1": given.get("ExternalInvoiceReference1") or "",
                    "ExternalInvoiceReference2": given.get("ExternalInvoiceReference2") or "",
                    "Remarks": given.get("Remarks") or "", "Currency": given.get("Currency") or "SEK",
                    "VATIncluded": included, "InvoiceRows": rows, "Total": total, "TotalVAT": vat_total,
                    "Balance": total, "Booked": False, "Cancelled": False, "Sent": False,
                    "Credit": "true" if credited and credited != "0" else "false",
                    "CreditInvoiceReference": credited if credited and credited != "0" else "0"}
            self.invoices[number] = made
        return made

    def invoice(self, number: str) -> dict[str, Any]:
        found = self.invoices.get(number)
        if found is None:
            raise Refused(404, f"Kunde inte hitta faktura {number}", 2000434)
        return found

    def bookkeep(self, number: str) -> dict[str, Any]:
        with self.lock:
            invoice = self.invoice(number)
            if invoice["Cancelled"]:
                raise Refused(400, "Fakturan är makulerad och kan inte bokföras", 2000755)
            if invoice["Booked"]:
                raise Refused(400, "Fakturan är redan bokförd", 2000754)
            invoice["Booked"] = True
            original = self.invoices.get(invoice["CreditInvoiceReference"]) if invoice["Credit"] == "true" else None
            if original is not None:  # a booked credit invoice settles the invoice it credits
                settled = min(original["Balance"], -invoice["Total"]) if original["Balance"] > 0 else Decimal("0")
                original["Balance"] -= settled
                invoice["Balance"] += settled
            return invoice

    def credit(self, number: str, company: Any) -> dict[str, Any]:
        with self.lock:
            original = self.invoice(number)
            if not original["Booked"] or original["Credit"] == "true":
                raise Refused(400, "Endast bokförda fakturor kan krediteras", 2000753)
            if original["CreditInvoiceReference"] not in ("", "0"):
                raise Refused(400, "Fakturan är redan krediterad", 2000752)
            rows = [{**r, "DeliveredQuantity": -r["DeliveredQuantity"]} for r in original["InvoiceRows"]]
            made = self.create_invoice({"Invoice": {
                "CustomerNumber": original["CustomerNumber"], "InvoiceDate": original["InvoiceDate"],
                "DueDate": original["InvoiceDate"],
                "VATIncluded": original["VATIncluded"], "Currency": original["Currency"],
                "CreditInvoiceReference": number, "InvoiceRows": [
                    {k: v for k, v in r.items() if k != "Total"} for r in rows]}}, company)
            original["CreditInvoiceReference"] = made["DocumentNumber"]
            return original

    def send(self, number: str, how: str) -> dict[str, Any]:
        with self.lock:
            invoice = self.invoice(number)
            customer = self.customers[invoice["CustomerNumber"]]
            if how == "email" and not (customer["EmailInvoice"] or customer["Email"]):
                raise Refused(400, "Kunden saknar e-postadress för faktura", 2000762)
            if how == "einvoice" and (customer["DefaultDeliveryTypes"]["Invoice"] != "ELECTRONICINVOICE"
                                      or not customer["OrganisationNumber"]):
                raise Refused(400, "Kunden är inte uppsatt för e-faktura", 2000763)
            invoice["Sent"] = True
            self.sent.append((number, how))
            return invoice

    # -- payments ---------------------------------------------------------------------------------------------

    def pay(self, body: Any) -> dict[str, Any]:
        given = body.get("InvoicePayment") if isinstance(body, dict) else None
        if not isinstance(given, dict):
            raise Refused(400, "Ogiltig JSON: objektet InvoicePayment saknas", 2002115)
        with self.lock:
            invoice = self.invoices.get(str(given.get("InvoiceNumber") or ""))
            if invoice is None:
                raise Refused(400, f"Kunde inte hitta faktura {given.get('InvoiceNumber')}", 2000434)
            if not invoice["Booked"]:
                raise Refused(400, "Fakturan måste vara bokförd innan en betalning kan registreras", 2000751)
            mode = given.get("ModeOfPayment")
            if mode is not None and mode not in self.modes:
                raise Refused(400, f"Kunde inte hitta betalningssätt {mode}", 2000437)
            amount = _money(given.get("Amount"), "Amount")
            offs = [{**w, "Amount": _money(w.get("Amount"), "WriteOffs.Amount")} for w in given.get("WriteOffs") or []]
            for off in offs:
                if not off.get("AccountNumber"):
                    raise Refused(400, "Fältet AccountNumber är obligatoriskt för avskrivning", 2000588)
            number = str(1 + max((int(n) for n in self.payments), default=0))
            made = {"@url": f"/3/invoicepayments/{number}", "Number": number, "InvoiceNumber": invoice["DocumentNumber"],
                    "Amount": amount, "AmountCurrency": amount, "PaymentDate": given.get("PaymentDate"),
                    "ModeOfPayment": mode or "", "ModeOfPaymentAccount": given.get("ModeOfPaymentAccount")
                    or (self.modes.get(mode or "") or {}).get("AccountNumber"), "WriteOffs": offs,
                    "Booked": False, "Source": "manual", "InvoiceOCR": invoice["OCR"],
                    "ExternalInvoiceReference1": invoice["ExternalInvoiceReference1"]}
            invoice["Balance"] -= amount + sum((o["Amount"] for o in offs), Decimal("0"))
            self.payments[number] = made
            return made

    def book_payment(self, number: str) -> dict[str, Any]:
        with self.lock:
            found = self.payments.get(number)
            if found is None:
                raise Refused(404, f"Kunde inte hitta inbetalning {number}", 2000438)
            if found["Booked"]:
                raise Refused(400, "Inbetalningen är redan bokförd", 2000754)
            found["Booked"] = True
            return found

    # -- routing ----------------------------------------------------------------------------------------------

    def route(self, company: Any, method: str, parts: list[str], query: dict[str, str], body: Any, paged: Any,
              commit: bool) -> tuple[int, Any] | None:
        head, rest = parts[0], parts[1:]
        if head == "customers":
            return self.route_customers(method, rest, query, body, paged, commit)
        if head == "invoices":
            return self._invoices(method, rest, query, body, paged, commit, company)
        if head == "invoicepayments":
            return self._payments(method, rest, query, body, paged, commit)
        if head == "modesofpayments" and method == "GET":
            if rest:
                found = self.modes.get(rest[0])
                if found is None:
                    raise Refused(404, f"Kunde inte hitta betalningssätt {rest[0]}", 2000437)
                return 200, {"ModeOfPayment": found}
            return 200, paged(list(self.modes.values()), "ModesOfPayments", query)
        return None

    def _invoices(self, method: str, rest: list[str], query: dict[str, str], body: Any, paged: Any, commit: bool,
                  company: Any) -> tuple[int, Any] | None:
        if method == "GET" and not rest:
            wanted = {"externalinvoicereference1": "ExternalInvoiceReference1", "ocr": "OCR",
                      "externalinvoicereference2": "ExternalInvoiceReference2", "customernumber": "CustomerNumber"}
            with self.lock:
                rows = [{k: i[k] for k in LIST_FIELDS} for i in self.invoices.values()
                        if all(str(i[f]) == query[q] for q, f in wanted.items() if query.get(q))]
            return 200, paged(rows, "Invoices", query)
        if method == "POST" and not rest:
            return 201, {"Invoice": self.create_invoice(body, company) if commit else {}}
        if not rest:
            return None
        if method == "GET" and len(rest) == 1:
            return 200, {"Invoice": self.invoice(rest[0])}
        actions: dict[tuple[str, str], Callable[[str], dict[str, Any]]] = {("PUT", "bookkeep"): self.bookkeep, ("PUT", "credit"): lambda n: self.credit(n, company),
                   ("GET", "email"): lambda n: self.send(n, "email"),
                   ("GET", "einvoice"): lambda n: self.send(n, "einvoice")}
        action = actions.get((method, rest[1])) if len(rest) == 2 else None
        if action is None:
            return None
        if not commit:
            self.invoice(rest[0])
            return 200, {"Invoice": {}}
        return 200, {"Invoice": action(rest[0])}

    def _payments(self, method: str, rest: list[str], query: dict[str, str], body: Any, paged: Any,
                  commit: bool) -> tuple[int, Any] | None:
        if method == "GET" and not rest:
            with self.lock:
                rows = [p for p in self.payments.values()
                        if not query.get("invoicenumber") or p["InvoiceNumber"] == query["invoicenumber"]]
            return 200, paged(rows, "InvoicePayments", query)
        if method == "GET" and len(rest) == 1:
            found = self.payments.get(rest[0])
            if found is None:
                raise Refused(404, f"Kunde inte hitta inbetalning {rest[0]}", 2000438)
            return 200, {"InvoicePayment": found}
        if method == "POST" and not rest:
            return 201, {"InvoicePayment": self.pay(body) if commit else {}}
        if method == "PUT" and len(rest) == 2 and rest[1] == "bookkeep":
            return 200, {"InvoicePayment": self.book_payment(rest[0]) if commit else {}}
        return None
