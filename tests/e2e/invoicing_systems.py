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


# Every system that takes invoices, by its registry name. PowerOffice GO and Fortnox: one line each, with an adapter.
SYSTEMS = {"tripletex": Tripletex, "fiken": Fiken, "visma-net": VismaNet}
