"""Per accounting system that takes invoices, what the subscription e2e test needs: its sandbox, the connection a
publisher makes, and where the invoice, the payment, the credit note, the customers and what was sent are found in
that sandbox. A system joins the test (tests/e2e/test_subscriptions.py) with its adapter and one line in SYSTEMS.

The connections wait for answers as long as a real one would (no short client timeout: a loaded machine must not
turn a slow answer into an unknown outcome)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sandboxes.fiken import FikenSandbox
from sandboxes.fortnox import FortnoxSandbox
from sandboxes.poweroffice_go import PowerOfficeSandbox
from sandboxes.tripletex import TripletexSandbox
from sandboxes.visma_net import VismaNetSandbox

TIMEOUT = 30  # seconds: every connection's client timeout here
EMAIL = "ase@bygdebladet.no"


class Tripletex:
    """Tripletex (decision 0009): the order invoiced on opt-in, e-mailed by Tripletex, paid by Vipps' payment type."""

    name = "tripletex"

    @contextlib.contextmanager
    def running(self) -> Iterator[Tripletex]:
        with TripletexSandbox() as self.sandbox:
            yield self

    def connection(self) -> tuple[dict[str, Any], dict[str, str], tuple[str, ...]]:
        box = self.sandbox
        return ({"base_url": box.base_url, "timeout": TIMEOUT, "direct_posting": True, "create_customers": True,
                 "send_invoices": True},
                {"consumer_token": box.consumer_token, "employee_token": box.employee_token},
                ("consumer_token", "employee_token"))

    def invoice(self, renewal: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
        assert detail["sent"] == "EMAIL", detail
        [invoice] = self.sandbox.invoicing.invoices.values()
        assert invoice["amount"] == Decimal("349.00") and invoice["kid"] == renewal["data"]["kid"]
        assert self.sandbox.invoicing.sent == [(invoice["id"], "EMAIL")]
        return invoice

    def customers(self) -> list[str]:
        return [c["name"] for c in self.sandbox.company.customers.values() if c["email"] == EMAIL]

    def paid(self, invoice: dict[str, Any]) -> None:
        assert invoice["amountOutstanding"] == Decimal("0.00")
        vipps = next(t["id"] for t in self.sandbox.invoicing.payment_types.values() if t["description"] == "Vipps")
        assert [p["paymentTypeId"] for p in self.sandbox.invoicing.payments] == [vipps]

    def credited(self, invoice: dict[str, Any], renewal: dict[str, Any], detail: dict[str, Any]) -> None:
        [credit] = [i for i in self.sandbox.invoicing.invoices.values() if i["isCreditNote"]]
        assert credit["creditedInvoice"] == invoice["id"] and credit["amount"] == Decimal("-349.00")

    def held(self) -> Any:
        books = self.sandbox.invoicing
        return (len(books.invoices), len(books.orders), len(books.payments), list(books.sent),
                len(self.sandbox.company.customers))


class Fiken:
    """Fiken (decision 0013): Fiken's own invoice made of its draft, sent by Fiken, paid on its sale on the account
    the payment method names, credited by a linked credit note."""

    name = "fiken"

    @contextlib.contextmanager
    def running(self) -> Iterator[Fiken]:
        with FikenSandbox() as self.sandbox:
            self.sandbox.company.add_account("1580", "Vipps-oppgjør")
            yield self

    def connection(self) -> tuple[dict[str, Any], dict[str, str], tuple[str, ...]]:
        box = self.sandbox
        return ({"base_url": box.base_url, "company_slug": box.company.slug, "timeout": TIMEOUT,
                 "direct_posting": True, "create_customers": True, "customer_match": "email", "send_invoices": True,
                 "payment_accounts": {"vipps": "1580", "card": "1580", "bank": "1920:10001"}},
                {"api_token": "sandbox-personal-token"}, ("api_token",))

    def invoice(self, renewal: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
        books = self.sandbox.company.invoicing
        assert detail["sent"], detail
        [invoice] = books.invoices.values()
        assert invoice["gross"] == 34900 and invoice["orderReference"] == renewal["data"]["invoice_number"]
        assert [line["vatType"] for line in invoice["lines"]] == ["LOW", "HIGH"]
        assert [(kind, ident) for kind, ident, _ in books.sent] == [("invoice", invoice["invoiceId"])]
        return invoice

    def customers(self) -> list[str]:
        return [c["name"] for c in self.sandbox.company.contacts.values() if c.get("email") == EMAIL]

    def paid(self, invoice: dict[str, Any]) -> None:
        assert invoice["sale"]["outstandingBalance"] == 0 and invoice["sale"]["settled"] is True
        assert [p["account"] for p in invoice["sale"]["salePayments"]] == ["1580"]  # Vipps lands on its own account

    def credited(self, invoice: dict[str, Any], renewal: dict[str, Any], detail: dict[str, Any]) -> None:
        [credit] = self.sandbox.company.invoicing.credit_notes.values()
        assert credit["associatedInvoiceId"] == invoice["invoiceId"] and credit["gross"] == 34900

    def held(self) -> Any:
        books = self.sandbox.company.invoicing
        payments = sum(len(i["sale"]["salePayments"]) for i in books.invoices.values())
        return (len(books.invoices), len(books.drafts), len(books.credit_notes), payments, list(books.sent),
                len(self.sandbox.company.contacts))


class VismaNet:
    """Visma.net (decision 0011): a released customer invoice sent by AutoInvoice, the Vipps payment applied to it,
    a credit note naming it."""

    name = "visma-net"

    @contextlib.contextmanager
    def running(self) -> Iterator[VismaNet]:
        with VismaNetSandbox() as self.sandbox:
            yield self

    def connection(self) -> tuple[dict[str, Any], dict[str, str], tuple[str, ...]]:
        box = self.sandbox
        return ({"base_url": box.base_url, "token_url": box.token_url, "tenant_id": box.tenant_id,
                 "client_id": box.client_id, "timeout": TIMEOUT, "direct_posting": True, "create_customers": True,
                 "send_invoices": True},
                {"client_secret": box.client_secret}, ("client_secret",))

    def invoice(self, renewal: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
        ledger = self.sandbox.receivables
        assert detail["sent"] == "autoinvoice", detail
        [invoice] = ledger.documents["invoice"].values()
        assert invoice["status"] == "Open" and invoice["amount"] == Decimal("349.00")
        assert invoice["paymentReference"] == renewal["data"]["kid"]
        assert {t["taxId"] for t in invoice["taxDetails"]} == {"33", "3"}
        assert ledger.sent == [("invoice", invoice["referenceNumber"])]
        return invoice

    def customers(self) -> list[str]:
        return [c["name"] for c in self.sandbox.receivables.customers.values()
                if c["mainContact"].get("email") == EMAIL]

    def paid(self, invoice: dict[str, Any]) -> None:
        assert invoice["balance"] == Decimal("0.00") and invoice["status"] == "Closed"
        [paid] = self.sandbox.receivables.documents["payment"].values()
        assert paid["paymentMethod"]["id"] == "VIPPS" and paid["status"] == "Closed"

    def credited(self, invoice: dict[str, Any], renewal: dict[str, Any], detail: dict[str, Any]) -> None:
        assert detail["credits_invoice"] == invoice["referenceNumber"]
        [credit] = self.sandbox.receivables.documents["credit"].values()
        assert credit["amount"] == Decimal("349.00") and credit["status"] == "Open"  # the paid invoice: a credit
        assert f"for faktura {renewal['data']['invoice_number']}" in credit["invoiceText"]

    def held(self) -> Any:
        ledger = self.sandbox.receivables
        return ({k: len(v) for k, v in ledger.documents.items()}, list(ledger.sent), len(ledger.customers))


class PowerOfficeGo:
    """PowerOffice GO (decision 0014): a sales order for a customer created once, posted and delivered by
    createAndSendInvoice (lines sold through products: GO takes account and VAT from them), the Vipps payment a bank
    voucher on 1580 matched to the invoice, a credit note linked by GO's invoice number."""

    name = "poweroffice-go"

    @contextlib.contextmanager
    def running(self) -> Iterator[PowerOfficeGo]:
        with PowerOfficeSandbox() as self.sandbox:
            self.before = len(self.sandbox.client.customers)
            yield self

    def connection(self) -> tuple[dict[str, Any], dict[str, str], tuple[str, ...]]:
        box = self.sandbox
        return ({"base_url": box.base_url, "timeout": TIMEOUT, "direct_posting": True, "create_customers": True,
                 "send_invoices": True, "products": {"3": "ABO", "33": "ABO-LAV"},
                 "payment_accounts": {"vipps": "1580"}},
                {"application_key": box.application_key, "client_key": box.client_key,
                 "subscription_key": box.subscription_key},
                ("application_key", "client_key", "subscription_key"))

    def invoice(self, renewal: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
        sales = self.sandbox.sales
        assert detail["sent"] == "auto" and detail["delivered_as"] == "PdfByEmail", detail
        [invoice] = [i for i in sales.invoices.values() if i["IsCreatedByCurrentIntegration"]]
        assert invoice["TotalAmount"] == Decimal("349.00") and invoice["Balance"] == Decimal("349.00")
        assert invoice["CustomMatchingReference"] == renewal["data"]["invoice_number"]
        assert {line["SalesAccountNo"] for line in invoice["_lines"]} == {3020, 3000}  # VAT 33 and 3 by product
        assert detail["invoice_number"] == str(invoice["InvoiceNo"]) and detail["kid"] == invoice["Cid"]
        assert sales.deliveries == [(invoice["InvoiceNo"], "PdfByEmail", EMAIL)]
        return invoice

    def customers(self) -> list[str]:
        found = [c for c in self.sandbox.client.customers.values() if c.get("EmailAddress") == EMAIL]
        assert [(c["IsPerson"], c["MailAddress"]["City"]) for c in found] == [(True, "Røros")]
        assert len(self.sandbox.client.customers) == self.before + 1
        return [f"{c['FirstName']} {c['LastName']}" for c in found]

    def paid(self, invoice: dict[str, Any]) -> None:
        client = self.sandbox.client
        assert invoice["Balance"] == Decimal("0.00")
        [paid] = [v for v in client.vouchers.values() if v["Id"] in invoice["_payments"]]
        assert client.accounts[paid["VoucherLines"][0]["AccountId"]]["AccountNo"] == 1580

    def credited(self, invoice: dict[str, Any], renewal: dict[str, Any], detail: dict[str, Any]) -> None:
        assert detail["credits_invoice"] == str(invoice["InvoiceNo"])
        [credit] = [i for i in self.sandbox.sales.invoices.values() if i.get("RelatedInvoiceNo") == invoice["InvoiceNo"]]
        assert credit["TotalAmount"] == Decimal("-349.00") and credit["Balance"] == Decimal("-349.00")

    def held(self) -> Any:
        sales, client = self.sandbox.sales, self.sandbox.client
        return (len(sales.orders), len(sales.invoices), len(sales.deliveries), len(client.customers),
                len(client.vouchers))


class Fortnox:
    """Fortnox (decision 0012), connected with a refresh token as the consent leaves one: a booked invoice e-mailed
    once, the Vipps payment on Vipps' mode of payment, Fortnox's own credit linked to the invoice."""

    name = "fortnox"

    @contextlib.contextmanager
    def running(self) -> Iterator[Fortnox]:
        with FortnoxSandbox(rate_limit=None) as self.sandbox:
            self.before = len(self.sandbox.company.invoicing.customers)
            yield self

    def connection(self) -> tuple[dict[str, Any], dict[str, str], tuple[str, ...]]:
        box = self.sandbox
        return ({"base_url": box.base_url, "token_url": box.token_url, "auth_url": box.auth_url,
                 "client_id": box.client_id, "timeout": TIMEOUT, "direct_posting": True, "invoicing": True,
                 "create_customers": True, "send_invoices": True},
                {"refresh_token": next(iter(box.refresh_tokens)), "client_secret": box.clients[box.client_id]},
                ("refresh_token", "client_secret"))

    def invoice(self, renewal: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
        books = self.sandbox.company.invoicing
        assert detail["sent"] == "email", detail
        [invoice] = books.invoices.values()
        assert invoice["Booked"] and invoice["Total"] == Decimal("349.00") and invoice["OCR"] == renewal["data"]["kid"]
        assert sorted(r["VAT"] for r in invoice["InvoiceRows"]) == [Decimal("12"), Decimal("25")]
        assert books.sent == [(invoice["DocumentNumber"], "email")]
        return invoice

    def customers(self) -> list[str]:
        books = self.sandbox.company.invoicing
        found = [c for c in books.customers.values() if c["Email"] == EMAIL]
        assert [(c["Type"], c["City"]) for c in found] == [("PRIVATE", "Røros")]
        assert len(books.customers) == self.before + 1
        return [c["Name"] for c in found]

    def paid(self, invoice: dict[str, Any]) -> None:
        [paid] = self.sandbox.company.invoicing.payments.values()
        assert invoice["Balance"] == Decimal("0.00") and paid["Booked"] and paid["ModeOfPayment"] == "VIPPS"

    def credited(self, invoice: dict[str, Any], renewal: dict[str, Any], detail: dict[str, Any]) -> None:
        books = self.sandbox.company.invoicing
        assert detail["credits_invoice"] == invoice["DocumentNumber"]
        [credit] = [i for i in books.invoices.values() if i["Credit"] == "true"]
        assert credit["CreditInvoiceReference"] == invoice["DocumentNumber"]
        assert invoice["CreditInvoiceReference"] == credit["DocumentNumber"] and credit["Total"] == Decimal("-349.00")
        assert credit["Booked"] and credit["Balance"] == Decimal("-349.00")  # the paid invoice: the customer in credit
        assert len(books.sent) == 2  # the invoice and the credit invoice, each e-mailed once

    def held(self) -> Any:
        books = self.sandbox.company.invoicing
        return (len(books.invoices), len(books.payments), list(books.sent), len(books.customers))


# Every system that takes invoices, by its registry name.
SYSTEMS = {"tripletex": Tripletex, "fiken": Fiken, "visma-net": VismaNet, "poweroffice-go": PowerOfficeGo,
           "fortnox": Fortnox}
