"""The PowerOffice GO sandbox's sales side: products, customers (create, patch), sales orders, their posting and
delivery (202 + sentState), outgoing invoices with open amounts, and bank vouchers that pay them.

Shapes are GO's DTOs as the generated clients show them (stianwe/PowerOfficeGoV2 `docs/models`: ProductDto,
CustomerPostDto, SalesOrderCompletePostDto/SalesOrderLinePostDto, SendInvoiceRequestPostDto, InvoiceSentStateDto,
OutgoingInvoiceDto, BankVoucherPostDto). What GO does that no public source shows is marked [unverified] in
docs/fidelity.md: that `ProductUnitPrice` is net of VAT, that a credit note with `RelatedInvoiceNo` is matched against
the invoice it credits, the wording of refusals, and how a second send of one order is refused.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandboxes.poweroffice_go.company import GoClient, Invalid

DELIVERY_TYPES = ("Auto", "PdfByEmail", "PdfPrintForDownload")
CUSTOMER_DELIVERY = ("PdfByEmail", "Print", "EHF", "AvtaleGiro", "External", "Efaktura", "Factoring")
CENT = Decimal("0.01")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _kid(number: int) -> str:
    """GO's KID for an invoice number: the number with its MOD10 check digit (GO's default KID setting)."""
    digits = str(number)
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return digits + str((10 - total % 10) % 10)


class GoSales:
    """One client's products, sales orders, outgoing invoices, deliveries and payments."""

    def __init__(self, client: GoClient) -> None:
        self.client = client
        self.products: dict[int, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}  # unsent sales orders by Id (SalesOrderCompleteDto)
        self.invoices: dict[str, dict[str, Any]] = {}  # posted invoices and credit notes by Id (OutgoingInvoiceDto)
        self.states: dict[str, dict[str, Any]] = {}  # InvoiceSentStateDto by order Id
        self.deliveries: list[tuple[int, str, str]] = []  # (invoice no, how, to): what GO sent
        self.elma: set[str] = {"987654325"}  # organisation numbers registered for EHF
        # How ProductUnitPrice is read: net of VAT (our reading, [unverified]); True reads it as VAT included, the
        # other possible answer, so tests can show that a wrong reading is caught before anything is posted.
        self.prices_include_vat = False
        self._order_numbers = itertools.count(1)
        self._invoice_numbers = itertools.count(10043)

    # -- seeding ----------------------------------------------------------------------------------------------------

    def add_product(self, code: str, name: str, account_no: int, *, archived: bool = False) -> dict[str, Any]:
        with self.client.lock:
            account = self.client.account(account_no)
            product = {"Id": len(self.products) + 501, "Code": code, "Name": name, "IsArchived": archived,
                       "StandardSalesAccount": account_no, "StandardSalesAccountId": account["Id"],
                       "UnitPrice": None, "ProductType": "Service"}
            self.products[product["Id"]] = product
            return product

    def seed_demo(self) -> GoSales:
        """Products a subscription business sells, one per VAT treatment (their sales accounts carry the codes)."""
        self.add_product("ABO", "Abonnement", 3000)
        self.add_product("ABO-MAT", "Abonnement, næringsmidler", 3010)
        self.add_product("ABO-LAV", "Abonnement, lav sats (aviser, kringkasting)", 3020)
        self.add_product("ABO-FRI", "Abonnement, avgiftsfritt", 3100)
        return self

    def seed_invoice(self, customer_no: int, invoice_no: int, total: Decimal) -> dict[str, Any]:
        """An invoice made in GO itself (not by us), open in full."""
        with self.client.lock:
            customer = self._customer_by_number(customer_no)
            invoice = {"Id": str(uuid.uuid4()), "InvoiceNo": invoice_no, "Cid": _kid(invoice_no),
                       "CustomerId": customer["Id"], "CustomerNo": customer_no, "TotalAmount": total,
                       "NetAmount": (total / Decimal("1.25")).quantize(CENT), "Balance": total,
                       "CurrencyCode": "NOK", "VoucherDate": "2026-11-01", "DueDate": "2026-11-15",
                       "IsCreatedByCurrentIntegration": False, "ExternalImportReference": None,
                       "CustomMatchingReference": None, "RelatedInvoiceNo": None, "IsReversed": False,
                       "VoucherNo": 900000 + invoice_no, "_payments": []}
            self.invoices[invoice["Id"]] = invoice
            return invoice

    def _customer_by_number(self, number: Any) -> dict[str, Any]:
        return next(c for c in self.client.customers.values() if str(c["Number"]) == str(number))

    # -- customers --------------------------------------------------------------------------------------------------

    def create_customer(self, body: dict[str, Any]) -> dict[str, Any]:
        out: list[str] = []
        person = bool(body.get("IsPerson"))
        if person and not (body.get("FirstName") and body.get("LastName")):
            out.append("FirstName/LastName: required when IsPerson is true.")
        if not person and not body.get("Name"):
            out.append("Name: the name of a company customer is required.")
        reference = body.get("ExternalImportReference")
        if reference is not None and len(str(reference)) > 50:
            out.append("ExternalImportReference: max length 50 characters.")
        with self.client.lock:
            if reference and any(c.get("ExternalImportReference") == reference for c in self.client.customers.values()):
                out.append(f"ExternalImportReference: a customer with external import reference '{reference}' "
                           "already exists.")
            out += self._delivery_problems(body, body.get("OrganizationNumber"))
            if out:
                raise Invalid("Customer validation error(s)", out)
            series = next(s for s in self.client.series if s["SubLedgerNumberSeriesType"] == "Customer")
            taken = {c["Number"] for c in self.client.customers.values()}
            number = next(n for n in range(series["FromInclusive"], series["ToInclusive"]) if n not in taken)
            name = body.get("Name") or f"{body.get('FirstName')} {body.get('LastName')}"
            contact = self.client.add_contact("customers", number, name, org=body.get("OrganizationNumber"),
                                              email=body.get("EmailAddress"), phone=body.get("PhoneNumber"))
            contact.update({k: v for k, v in body.items() if k not in contact or contact[k] is None},
                           IsPerson=person, IsArchived=False, CreatedDateTimeOffset=_now().isoformat())
            return contact

    def _delivery_problems(self, body: dict[str, Any], org: Any) -> list[str]:
        kind = body.get("InvoiceDeliveryType")
        if kind is not None and kind not in CUSTOMER_DELIVERY:
            return [f"InvoiceDeliveryType: '{kind}' is not a delivery type."]
        if kind == "EHF" and str(org or "") not in self.elma:
            return ["InvoiceDeliveryType: EHF can only be set when the organization number is registered in ELMA."]
        if kind in ("AvtaleGiro", "Efaktura"):
            return [f"InvoiceDeliveryType: {kind} cannot be set directly."]
        return []

    def patch_customer(self, customer_id: int, operations: Any) -> dict[str, Any] | None:
        with self.client.lock:
            customer = self.client.customers.get(customer_id)
            if customer is None:
                return None
            if not isinstance(operations, list):
                raise Invalid("Invalid patch document", ["The body is a JSON Patch array (RFC 6902)."])
            changed = dict(customer)
            for op in operations:
                path = str(op.get("path") or "").strip("/")
                if op.get("op") not in ("replace", "add") or not path or "/" in path:
                    raise Invalid("Invalid patch document", [f"Operation {op!r} is not supported."])
                changed[path] = op.get("value")
            problems = self._delivery_problems(changed, changed.get("OrganizationNumber"))
            if problems:
                raise Invalid("Customer validation error(s)", problems)
            customer.update(changed)
            return customer

    # -- sales orders -----------------------------------------------------------------------------------------------

    def _rate(self, product: dict[str, Any]) -> Decimal:
        account = self.client.account(int(product["StandardSalesAccount"]))
        return Decimal(str(self.client.vat_codes[account["VatCodeId"]]["Rate"]))

    def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        out: list[str] = []
        with self.client.lock:
            customer_id = body.get("CustomerId")
            customer = self.client.customers.get(customer_id) if isinstance(customer_id, int) else None
            if customer is None:
                out.append(f"CustomerId: customer with id = {body.get('CustomerId')} not found.")
            if (body.get("CurrencyCode") or "NOK") != "NOK":
                out.append(f"CurrencyCode: currency {body.get('CurrencyCode')!r} is not active on the client.")
            reference = body.get("ExternalImportReference")
            if reference and any(o.get("ExternalImportReference") == reference
                                 for o in [*self.orders.values(), *self.invoices.values()]):
                raise Invalid("Sales order validation error(s)", [
                    f"ExternalImportReference: a sales order with external import reference '{reference}' already "
                    "exists."])
            lines: list[dict[str, Any]] = []
            net, gross = Decimal(0), Decimal(0)
            for i, line in enumerate(body.get("SalesOrderLines") or []):
                at = f"SalesOrderLines[{i}]"
                product = next((p for p in self.products.values() if p["Code"] == line.get("ProductCode")), None)
                if product is None or product["IsArchived"]:
                    out.append(f"{at}.ProductCode: product '{line.get('ProductCode')}' not found or archived.")
                    continue
                quantity, price = line.get("Quantity"), line.get("ProductUnitPrice")
                if not isinstance(quantity, (int, Decimal)) or quantity == 0:
                    out.append(f"{at}.Quantity: required when the line has a product.")
                    continue
                amount = (Decimal(quantity) * Decimal(price if price is not None else product["UnitPrice"] or 0))
                rate = self._rate(product)
                if self.prices_include_vat:
                    amount = amount / (1 + rate)
                amount = amount.quantize(CENT, ROUND_HALF_UP)
                vat = (amount * rate).quantize(CENT, ROUND_HALF_UP)
                net, gross = net + amount, gross + amount + vat
                lines.append({**line, "Id": len(lines) + 1, "ProductId": product["Id"], "NetAmount": amount,
                              "VatAmount": vat, "SalesAccountNo": product["StandardSalesAccount"]})
            if not lines and not out:
                out.append("SalesOrderLines: the sales order has no lines.")
            related = body.get("RelatedInvoiceNo")
            if related is not None:
                if gross >= 0:
                    out.append("RelatedInvoiceNo: can only be set for sales orders that are credit note drafts.")
                elif not any(v["InvoiceNo"] == related for v in self.invoices.values()):
                    out.append(f"RelatedInvoiceNo: invoice {related} not found.")
            if out:
                raise Invalid("Sales order validation error(s)", out)
            assert customer is not None
            order = {**{k: v for k, v in body.items() if k != "SalesOrderLines"}, "Id": str(uuid.uuid4()),
                     "SalesOrderNo": next(self._order_numbers), "CustomerNo": customer["Number"],
                     "SalesOrderStatus": "Draft", "SalesOrderLines": lines, "NetAmount": net, "TotalAmount": gross,
                     "IsCreatedByCurrentIntegration": True, "LineCount": len(lines),
                     "CreatedDateTimeOffset": _now().isoformat(), "LastChangedDateTimeOffset": _now().isoformat(),
                     "_changed": _now()}
            self.orders[order["Id"]] = order
            return order

    def send(self, order_id: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """createAndSendInvoice: posts the order as an invoice (or credit note) and delivers it; 202 with the request
        (GO queues it: the sandbox processes it at once, so the first sentState already tells)."""
        with self.client.lock:
            order = self.orders.get(order_id)
            if order is None:
                if order_id in self.invoices:
                    raise Invalid("Sales order validation error(s)", ["The sales order is already sent."])
                return None
            kind = body.get("DeliveryType") or "Auto"
            if kind not in DELIVERY_TYPES:
                raise Invalid("Invalid request", [f"DeliveryType: '{kind}' is not a delivery type."])
            customer = self.client.customers[order["CustomerId"]]
            day = str(body.get("VoucherDate") or _now().date().isoformat())
            if self.client.lock_date and day <= self.client.lock_date:
                raise Invalid("Sales order validation error(s)", [f"The date {day} is on or before the lock date."])
            how, to, error = self._delivery(kind, customer, body.get("EmailAddress"))
            del self.orders[order_id]
            number = next(self._invoice_numbers)
            term = order.get("PaymentTerm") or 0
            due = body.get("OverrideDueDate") or (dt.date.fromisoformat(day) + dt.timedelta(days=term)).isoformat()
            credit = order["TotalAmount"] < 0
            invoice = {"Id": order_id, "InvoiceNo": number, "Cid": None if credit else _kid(number),
                       "CustomerId": customer["Id"], "CustomerNo": customer["Number"], "VoucherDate": day,
                       "DueDate": due, "TotalAmount": order["TotalAmount"], "NetAmount": order["NetAmount"],
                       "Balance": order["TotalAmount"], "CurrencyCode": "NOK", "OrderNo": order["SalesOrderNo"],
                       "ExternalImportReference": order.get("ExternalImportReference"),
                       "CustomMatchingReference": order.get("CustomMatchingReference"),
                       "ImportedOrderNo": order.get("ImportedOrderNo"), "RelatedInvoiceNo": order.get("RelatedInvoiceNo"),
                       "IsCreatedByCurrentIntegration": True, "IsReversed": False, "VoucherNo": 500000 + number,
                       "SentDateTimeOffset": _now().isoformat(), "InvoiceDeliveryType": how,
                       "_lines": order["SalesOrderLines"], "_payments": []}
            related = next((v for v in self.invoices.values() if order.get("RelatedInvoiceNo") is not None
                            and v["InvoiceNo"] == order["RelatedInvoiceNo"]), None)
            if related is not None:  # GO matches the credit note with the invoice it credits [unverified]
                settled = min(related["Balance"], -invoice["Balance"])
                related["Balance"] -= settled
                invoice["Balance"] += settled
            self.invoices[order_id] = invoice
            if how not in ("", "Print") and error is None:
                self.deliveries.append((number, how, to))
            self.states[order_id] = {"Id": order_id, "InvoiceNo": number, "DueDate": due, "InvoiceDeliveryType": how,
                                     "IsInvoiceBeingProcessed": False, "LastErrorMessage": error,
                                     "SentDateTimeOffset": invoice["SentDateTimeOffset"]}
            return {"Id": order_id, **body}

    def _delivery(self, kind: str, customer: dict[str, Any], email: Any) -> tuple[str, str, str | None]:
        """How GO delivers: Auto picks EHF (organisation number in ELMA and the customer set up so), else e-mail
        (the request's address, else the customer's invoice e-mail); PdfPrintForDownload delivers nothing."""
        if kind == "PdfPrintForDownload":
            return "Print", "", None
        org = str(customer.get("OrganizationNumber") or "")
        if kind == "Auto" and customer.get("InvoiceDeliveryType") == "EHF" and org in self.elma:
            return "EHF", org, None
        address = email or customer.get("InvoiceEmailAddress") or customer.get("EmailAddress")
        if not address:
            return "PdfByEmail", "", "The customer has no e-mail address to deliver the invoice to."
        return "PdfByEmail", str(address), None

    # -- payments ---------------------------------------------------------------------------------------------------

    def post_bank_voucher(self, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /Vouchers/BankJournals`: a direct voucher (GO's rules, as for manual journals) whose customer lines
        with `InvoiceNo` (else `Cid`) are matched with that invoice's open amount."""
        with self.client.lock:
            voucher = self.client.create_voucher({**body, "VoucherLines": [
                {k: v for k, v in line.items() if k not in ("Cid", "InvoiceNo")}
                for line in body.get("VoucherLines") or []]})
            for line in body.get("VoucherLines") or []:
                invoice = next((v for v in self.invoices.values()
                                if line.get("InvoiceNo") is not None and str(v["InvoiceNo"]) == str(line["InvoiceNo"])
                                or line.get("InvoiceNo") is None and line.get("Cid") and v["Cid"] == line["Cid"]), None)
                if invoice is not None:
                    invoice["Balance"] += Decimal(line["CurrencyAmount"])
                    invoice["_payments"].append(voucher["Id"])
            return voucher

    # -- lists ------------------------------------------------------------------------------------------------------

    def list_orders(self, query: dict[str, str], after: dt.datetime | None) -> list[dict[str, Any]]:
        return [{k: v for k, v in o.items() if k != "SalesOrderLines"} for o in self.orders.values()
                if after is None or o["_changed"] > after]

    def list_invoices(self, query: dict[str, str]) -> list[dict[str, Any]]:
        def wanted(param: str) -> set[str] | None:
            return {p.strip() for p in query[param].split(",")} if query.get(param, "").strip() else None

        numbers, references = wanted("invoiceNos"), wanted("customMatchingReferences")
        return [{k: v for k, v in i.items() if not k.startswith("_")} for i in self.invoices.values()
                if (numbers is None or str(i["InvoiceNo"]) in numbers)
                and (references is None or str(i.get("CustomMatchingReference")) in references)
                and (query.get("unpaid", "").lower() != "true" or i["Balance"] != 0)
                and (query.get("createdByCurrentIntegration", "").lower() != "true"
                     or i["IsCreatedByCurrentIntegration"])]
