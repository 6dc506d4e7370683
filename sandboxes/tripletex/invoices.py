"""Orders, invoices, credit notes, payments and sending in the Tripletex sandbox, as the official spec describes them.

Routes (spec 2.72.00, `../shared/specs/tripletex/openapi.json`; reference/target-apis.md §1.4):
- `POST /order` (Order with new orderLines embedded) → 201; `GET /order` (orderDateFrom/orderDateTo required;
  number, customerId, isClosed); `GET /order/{id}`.
- `PUT /order/{id}/:invoice?invoiceDate&sendToCustomer&sendType&invoiceIdIfIsCreditNote` → the Invoice.
- `POST /invoice?sendToCustomer&paymentTypeId&paidAmount` (Invoice with `orders:[{id}]`, one order) → 201;
  `GET /invoice` (invoiceDateFrom/invoiceDateTo required; id, invoiceNumber, kid, customerId);
  `GET /invoice/{id}`.
- `PUT /invoice/{id}/:payment?paymentDate&paymentTypeId&paidAmount` → the Invoice, its `amountOutstanding` less.
- `PUT /invoice/{id}/:createCreditNote?date&comment&sendToCustomer` → the credit note (`creditedInvoice`).
- `PUT /invoice/{id}/:send?sendType` → no body; the sandbox keeps what was sent (`sent`).
- `GET /invoice/paymentType` (description / query "containing").
Rules with their sources and what is unverified: docs/fidelity.md (section "Invoices").
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sandboxes.tripletex.vouchers import NULL, at, message, parse_date

if TYPE_CHECKING:
    from sandboxes.tripletex.company import Company

CENT = Decimal("0.01")
ORDER_FIELDS = {
    "id", "version", "customer", "contact", "attn", "receiverEmail", "overdueNoticeEmail", "number", "reference",
    "ourContact", "ourContactEmployee", "department", "orderDate", "project", "invoiceComment", "currency",
    "invoicesDueIn", "status", "invoicesDueInType", "isShowOpenPostsOnInvoices", "isClosed", "deliveryDate",
    "deliveryAddress", "deliveryComment", "isPrioritizeAmountsIncludingVat", "orderLineSorting", "orderGroups",
    "orderLines", "isSubscription", "subscriptionDuration", "subscriptionDurationType",
    "subscriptionPeriodsOnInvoice", "subscriptionInvoicingTimeInAdvanceOrArrears", "subscriptionInvoicingTime",
    "subscriptionInvoicingTimeType", "isSubscriptionAutoInvoicing", "preliminaryInvoice", "sendMethodDescription",
    "invoiceOnAccountVatHigh", "invoiceSMSNotificationNumber", "markUpOrderLines", "discountPercentage",
}
LINE_FIELDS = {
    "id", "version", "product", "inventory", "inventoryLocation", "description", "count", "unitCostCurrency",
    "unitPriceExcludingVatCurrency", "currency", "markup", "discount", "vatType", "order",
    "unitPriceIncludingVatCurrency", "isSubscription", "subscriptionPeriodStart", "subscriptionPeriodEnd",
    "orderGroup", "sortIndex", "isPicked", "pickedDate", "orderedQuantity", "isCharged",
}
INVOICE_FIELDS = {
    "id", "version", "invoiceNumber", "invoiceDate", "customer", "invoiceDueDate", "kid", "comment", "orders",
    "voucher", "currency", "invoiceRemarks", "invoiceRemark", "paymentTypeId", "paidAmount", "ehfSendStatus",
}
SEND_TYPES = ("EMAIL", "EHF", "AVTALEGIRO", "EFAKTURA", "VIPPS", "PAPER", "MANUAL")
# Payment types a new company has (GET /invoice/paymentType), with the account each debits [unverified: the
# names and accounts of a new company's payment types; every company edits them in Tripletex's settings].
PAYMENT_TYPES = (("Betalt til bank", 1920), ("Kontant", 1900), ("Kort", 1920), ("Vipps", 1920),
                 ("Gebyr og avrunding", 7770))


class Refused(Exception):
    """An answer other than 2xx, in Tripletex's envelope (the server turns it into one)."""

    def __init__(self, status: int, code: int, text: str, messages: list[dict[str, Any]] | None = None) -> None:
        super().__init__(text)
        self.status, self.code, self.text, self.messages = status, code, text, messages or []


def _invalid(messages: list[dict[str, Any]]) -> Refused:
    return Refused(422, 18000, "Validering feilet.", messages)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


class Invoicing:
    """One company's orders, invoices, payment types and what was sent."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self.orders: dict[int, dict[str, Any]] = {}
        self.invoices: dict[int, dict[str, Any]] = {}
        self.payment_types: dict[int, dict[str, Any]] = {}
        self.sent: list[tuple[int, str]] = []  # (invoice id, sendType), in order
        self.payments: list[dict[str, Any]] = []
        # [unverified] which organisation numbers the Peppol directory (ELMA) lists: EHF to others is refused.
        self.ehf_receivers: set[str] = set()
        self._order_numbers = itertools.count(1)
        self._invoice_numbers = itertools.count(1)
        for name, account in PAYMENT_TYPES:
            self.add_payment_type(name, account)

    def add_payment_type(self, description: str, account: int) -> dict[str, Any]:
        with self.company.lock:
            found = next((a for a in self.company.accounts.values() if a["number"] == account), None)
            kind: dict[str, Any] = {"id": self.company._next_id(), "version": 0, "description": description,
                    "displayName": description, "debitAccount": {"id": found["id"]} if found else None}
            self.payment_types[kind["id"]] = kind
            return kind

    def seed_invoice(self, customer_number: int, number: int, amount: Decimal, *, date: str = "2026-11-01",
                     kid: str | None = None, vat_code: str = "3") -> dict[str, Any]:
        """An invoice made in Tripletex itself (not by us): an order of one line, invoiced with this number."""
        customer = next(c for c in self.company.customers.values() if c["customerNumber"] == customer_number)
        vat = next(v for v in self.company.vat_types.values() if v["number"] == vat_code)
        with self.company.lock:
            order = self.create_order({"customer": {"id": customer["id"]}, "orderDate": date, "deliveryDate": date,
                                       "isPrioritizeAmountsIncludingVat": True, "orderLines": [
                                           {"description": "Faktura laget i Tripletex", "count": 1,
                                            "unitPriceIncludingVatCurrency": amount, "vatType": {"id": vat["id"]}}]})
            return self.create_invoice({"invoiceDate": date, "invoiceDueDate": date, "orders": [{"id": order["id"]}],
                                        "invoiceNumber": number, "kid": kid}, {"sendToCustomer": "false"})

    # -- routes --------------------------------------------------------------------------------------

    def route(self, method: str, route: str, query: dict[str, str], body: Any,
              listed: Callable[[dict[int, dict[str, Any]], dict[str, tuple[str, str]], dict[str, str]], Any]
              ) -> tuple[int, Any] | None:
        """The answer to an invoicing route, or None when the route is not one of these."""
        parts = route.strip("/").split("/")
        with self.company.lock:
            if method == "GET" and route == "/invoice/paymentType":
                return 200, listed(self.payment_types, {"id": ("id", "in"), "description": ("description", "contains"),
                                                        "query": ("description", "contains")}, query)
            if route == "/order" and method == "POST":
                return 201, {"value": self.create_order(body)}
            if route == "/order" and method == "GET":
                _required(query, "orderDateFrom", "orderDateTo")
                orders = {k: v for k, v in self.orders.items()
                          if query["orderDateFrom"] <= v["orderDate"] < query["orderDateTo"]}
                return 200, listed(orders, {"id": ("id", "in"), "number": ("number", "eq"),
                                            "customerId": ("_customer", "in"), "isClosed": ("isClosed", "bool")}, query)
            if route == "/invoice" and method == "POST":
                return 201, {"value": self.create_invoice(body, query)}
            if route == "/invoice" and method == "GET":
                _required(query, "invoiceDateFrom", "invoiceDateTo")
                invoices = {k: v for k, v in self.invoices.items()
                            if query["invoiceDateFrom"] <= v["invoiceDate"] < query["invoiceDateTo"]}
                return 200, listed(invoices, {"id": ("id", "in"), "invoiceNumber": ("invoiceNumber", "eq"),
                                              "kid": ("kid", "eq"), "customerId": ("_customer", "eq")}, query)
            if len(parts) == 2 and method == "GET" and parts[0] in ("order", "invoice") and parts[1].isdigit():
                return 200, {"value": self._get(parts[0], int(parts[1]))}
            if len(parts) == 3 and method == "PUT" and parts[1].isdigit():
                id_ = int(parts[1])
                if parts[0] == "order" and parts[2] == ":invoice":
                    return 200, {"value": self.invoice_order(id_, query)}
                if parts[0] == "invoice" and parts[2] == ":payment":
                    return 200, {"value": self.pay(id_, query)}
                if parts[0] == "invoice" and parts[2] == ":createCreditNote":
                    return 200, {"value": self.credit(id_, query)}
                if parts[0] == "invoice" and parts[2] == ":send":
                    self.send(id_, query)
                    return 204, None
        return None

    def _get(self, kind: str, id_: int) -> dict[str, Any]:
        found = (self.orders if kind == "order" else self.invoices).get(id_)
        if found is None:
            raise Refused(404, 6000, f"Object not found: {kind} {id_}")
        return found

    # -- orders --------------------------------------------------------------------------------------

    def create_order(self, body: Any) -> dict[str, Any]:
        """`POST /order`: a customer that exists, an order date, a delivery date [unverified: Tripletex's UI
        requires a delivery date; the API's exact rule], lines with a known VAT type and the unit price the
        order prioritises (FAQ: "Enhetspris må være med/uten mva")."""
        if not isinstance(body, dict):
            raise Refused(422, 16000, "Json mapping error: expected an object")
        unknown = sorted(set(body) - ORDER_FIELDS)
        lines = body.get("orderLines") or []
        unknown += [f"orderLines.{k}" for line in lines if isinstance(line, dict) for k in sorted(set(line) - LINE_FIELDS)]
        if unknown:
            raise Refused(422, 16000, "Json mapping error", [at(k, "Feltet eksisterer ikke i objektet.") for k in unknown])
        messages: list[dict[str, Any]] = []
        customer = self.company.customers.get(int((body.get("customer") or {}).get("id") or 0))
        if customer is None:
            messages.append(at("customer", NULL if not body.get("customer") else "Kunden finnes ikke."))
        for name in ("orderDate", "deliveryDate"):
            if parse_date(body.get(name)) is None:
                messages.append(at(name, NULL))
        including = bool(body.get("isPrioritizeAmountsIncludingVat"))
        wanted, other = (("unitPriceIncludingVatCurrency", "unitPriceExcludingVatCurrency") if including else
                         ("unitPriceExcludingVatCurrency", "unitPriceIncludingVatCurrency"))
        made: list[dict[str, Any]] = []
        for i, line in enumerate(lines):
            where = f"orderLines[{i}]"
            vat = self.company.vat_types.get(int((line.get("vatType") or {}).get("id") or 0))
            if vat is None:
                messages.append(at(f"{where}.vatType", "Mva-koden finnes ikke."))
            if line.get(other) is not None and line.get(wanted) is None:
                messages.append(at(f"{where}.{other}", "Enhetspris må være " + ("med" if including else "uten")
                                   + " mva når ordren prioriterer beløp " + ("med" if including else "uten") + " mva."))
            price, count = _decimal(line.get(wanted)), _decimal(line.get("count", 1))
            if price is None or count is None:
                messages.append(at(f"{where}.{wanted}", NULL))
                continue
            if vat is None:
                continue
            rate = Decimal(str(vat["percentage"])) / 100
            gross = (price * count if including else price * count * (1 + rate)).quantize(CENT, ROUND_HALF_UP)
            net = (gross / (1 + rate)).quantize(CENT, ROUND_HALF_UP)
            made.append({"id": self.company._next_id(), "version": 0, "description": line.get("description") or "",
                         "count": count, wanted: price, "vatType": {"id": vat["id"]},
                         "amountIncludingVatCurrency": gross, "amountExcludingVatCurrency": net})
        if not lines:
            messages.append(message("orderLines", "Ordren har ingen ordrelinjer."))
        if messages:
            raise _invalid(messages)
        assert customer is not None
        order = {k: v for k, v in body.items() if k != "orderLines"}
        order.update(id=self.company._next_id(), version=0, number=str(next(self._order_numbers)),
                     customer={"id": customer["id"]}, _customer=customer["id"], isClosed=False,
                     orderLines=made, url=f"tripletex.no/v2/order/{len(self.orders) + 1}")
        self.orders[order["id"]] = order
        return order

    def invoice_order(self, order_id: int, query: dict[str, str]) -> dict[str, Any]:
        """`PUT /order/{id}/:invoice`: the order's lines become an invoice (a credit note when
        invoiceIdIfIsCreditNote names the invoice it credits); the order is closed."""
        _required(query, "invoiceDate")
        order = self._get("order", order_id)
        credited = None
        if query.get("invoiceIdIfIsCreditNote"):
            credited = self._get("invoice", int(query["invoiceIdIfIsCreditNote"]))
        due = None
        if order.get("invoicesDueIn") is not None:
            due = (dt.date.fromisoformat(query["invoiceDate"]) + dt.timedelta(days=int(order["invoicesDueIn"])))
        invoice = self._invoice(order, query["invoiceDate"], (due.isoformat() if due else query["invoiceDate"]),
                                kid=None, number=None, credited=credited)
        self._after(invoice, query)
        return invoice

    def create_invoice(self, body: Any, query: dict[str, str]) -> dict[str, Any]:
        """`POST /invoice` with one existing order (`orders:[{id}]`): invoice date and due date required."""
        if not isinstance(body, dict):
            raise Refused(422, 16000, "Json mapping error: expected an object")
        unknown = sorted(set(body) - INVOICE_FIELDS)
        if unknown:
            raise Refused(422, 16000, "Json mapping error", [at(k, "Feltet eksisterer ikke i objektet.") for k in unknown])
        messages = [at(name, NULL) for name in ("invoiceDate", "invoiceDueDate") if parse_date(body.get(name)) is None]
        orders = body.get("orders") or []
        if len(orders) != 1:
            messages.append(message("orders", "Kun én ordre per faktura støttes."))
        if ("paymentTypeId" in query) != ("paidAmount" in query):
            messages.append(message("paidAmount", "paymentTypeId og paidAmount må oppgis sammen."))
        if messages:
            raise _invalid(messages)
        order = self._get("order", int(orders[0].get("id") or 0))
        number = body.get("invoiceNumber") or None
        if number is not None and any(i["invoiceNumber"] == number for i in self.invoices.values()):
            raise _invalid([at("invoiceNumber", f"Fakturanummer {number} er i bruk.")])
        invoice = self._invoice(order, body["invoiceDate"], body["invoiceDueDate"], kid=body.get("kid"),
                                number=number, credited=None, comment=body.get("comment"))
        self._after(invoice, query)
        return invoice

    def _invoice(self, order: dict[str, Any], date: str, due: str, *, kid: str | None, number: int | None,
                 credited: dict[str, Any] | None, comment: str | None = None) -> dict[str, Any]:
        if order.get("isClosed"):
            raise _invalid([message("order", f"Ordre {order['number']} er allerede fakturert.")])
        gross = sum((line["amountIncludingVatCurrency"] for line in order["orderLines"]), Decimal("0"))
        net = sum((line["amountExcludingVatCurrency"] for line in order["orderLines"]), Decimal("0"))
        id_ = self.company._next_id()
        invoice = {
            "id": id_, "version": 0, "url": f"tripletex.no/v2/invoice/{id_}",
            "invoiceNumber": number or next(self._invoice_numbers), "invoiceDate": date, "invoiceDueDate": due,
            "customer": dict(order["customer"]), "_customer": order["_customer"], "kid": kid or "",
            "comment": comment or "", "invoiceComment": order.get("invoiceComment") or "",
            "orders": [{"id": order["id"]}], "orderLines": [{"id": line["id"]} for line in order["orderLines"]],
            "amount": gross, "amountCurrency": gross, "amountExcludingVat": net, "amountExcludingVatCurrency": net,
            "amountOutstanding": gross, "amountCurrencyOutstanding": gross,
            "isCreditNote": credited is not None, "creditedInvoice": credited["id"] if credited else None,
            "isCredited": False, "isCharged": True, "isApproved": True,
        }
        if credited is not None:
            credited["isCredited"] = True
            _settle(credited, -gross)
            invoice["amountOutstanding"] = invoice["amountCurrencyOutstanding"] = Decimal("0.00")
        order["isClosed"] = True
        self.invoices[id_] = invoice
        return invoice

    def _after(self, invoice: dict[str, Any], query: dict[str, str]) -> None:
        if "paymentTypeId" in query and "paidAmount" in query:
            self.pay(invoice["id"], {"paymentDate": invoice["invoiceDate"], **query})
        if query.get("sendToCustomer", "true").lower() == "true":  # the spec's default for sendToCustomer
            self.send(invoice["id"], {"sendType": query.get("sendType") or "EMAIL"})

    # -- payments, credit notes, sending ------------------------------------------------------------

    def pay(self, invoice_id: int, query: dict[str, str]) -> dict[str, Any]:
        _required(query, "paymentDate", "paymentTypeId", "paidAmount")
        invoice = self._get("invoice", invoice_id)
        if int(query["paymentTypeId"]) not in self.payment_types:
            raise _invalid([message("paymentTypeId", "Betalingstypen finnes ikke.", "paymentTypeId")])
        paid = _decimal(query["paidAmount"])
        if paid is None:
            raise _invalid([message("paidAmount", "Ugyldig beløp.", "paidAmount")])
        _settle(invoice, paid)
        self.payments.append({"invoice": invoice_id, "paymentTypeId": int(query["paymentTypeId"]),
                              "paidAmount": paid, "paymentDate": query["paymentDate"]})
        return invoice

    def credit(self, invoice_id: int, query: dict[str, str]) -> dict[str, Any]:
        """`:createCreditNote`: a credit memo that nullifies the whole invoice."""
        _required(query, "date")
        invoice = self._get("invoice", invoice_id)
        if invoice["isCredited"] or invoice["isCreditNote"]:
            raise _invalid([message("id", "Fakturaen er allerede kreditert.")])
        id_ = self.company._next_id()
        note = {**invoice, "id": id_, "url": f"tripletex.no/v2/invoice/{id_}", "invoiceNumber": next(self._invoice_numbers),
                "invoiceDate": query["date"], "invoiceDueDate": query["date"], "comment": query.get("comment") or "",
                "amount": -invoice["amount"], "amountCurrency": -invoice["amount"],
                "amountExcludingVat": -invoice["amountExcludingVat"],
                "amountExcludingVatCurrency": -invoice["amountExcludingVat"],
                "amountOutstanding": Decimal("0.00"), "amountCurrencyOutstanding": Decimal("0.00"),
                "isCreditNote": True, "creditedInvoice": invoice_id, "isCredited": False, "kid": ""}
        invoice["isCredited"] = True
        _settle(invoice, invoice["amount"])
        self.invoices[id_] = note
        if query.get("sendToCustomer", "true").lower() == "true":
            self.send(id_, {"sendType": query.get("sendType") or "EMAIL"})
        return note

    def send(self, invoice_id: int, query: dict[str, str]) -> None:
        _required(query, "sendType")
        invoice = self._get("invoice", invoice_id)
        kind = query["sendType"]
        if kind not in SEND_TYPES:
            raise _invalid([message("sendType", "Ugyldig verdi.", "sendType")])
        customer = self.company.customers[invoice["_customer"]]
        if kind == "EMAIL" and not (query.get("overrideEmailAddress") or customer.get("invoiceEmail")
                                    or customer.get("email")):
            raise _invalid([message("sendType", "Kunden mangler e-postadresse.", "sendType")])
        if kind == "EHF" and customer.get("organizationNumber") not in self.ehf_receivers:
            raise _invalid([message("sendType", "Mottakeren er ikke registrert for EHF i ELMA.", "sendType")])
        self.sent.append((invoice_id, kind))


def _settle(invoice: dict[str, Any], paid: Decimal) -> None:
    left = (Decimal(str(invoice["amountOutstanding"])) - paid).quantize(CENT)
    invoice["amountOutstanding"] = invoice["amountCurrencyOutstanding"] = left


def _required(query: dict[str, str], *names: str) -> None:
    missing = [name for name in names if not query.get(name)]
    if missing:
        raise Refused(422, 21000, "Validation failed", [message(n, NULL, n) for n in missing])
