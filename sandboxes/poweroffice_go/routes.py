"""The PowerOffice GO sandbox's sales endpoints over HTTP (the model is sales.py): which route does what, which role
it needs (403 without), and its answer — 201 with the DTO, 202 for createAndSendInvoice, a list for sentState.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sandboxes.poweroffice_go.company import Invalid
from sandboxes.poweroffice_go.sales import GoSales


def route(sales: GoSales, method: str, route: str, query: dict[str, str], body: Any,
          require: Callable[[str], None], missing: Callable[[str], Exception],
          moment: Callable[[str | None], dt.datetime | None]) -> tuple[int, Any] | None:
    """The sales endpoints, or None for a route that is not one of them."""
    client = sales.client
    if route == "/Products" and method == "GET":
        require("Product")
        return 200, list(sales.products.values())
    if route == "/Customers" and method == "POST":
        require("Customer_Full")
        return 201, _strip(sales.create_customer(_object(body)))
    if route == "/Customers" and method == "GET" and query.get("externalImportReference"):
        return 200, [_strip(c) for c in client.customers.values()
                     if c.get("ExternalImportReference") == query["externalImportReference"]]
    if route.startswith("/Customers/") and route[len("/Customers/"):].isdigit():
        customer_id = int(route[len("/Customers/"):])
        if method == "PATCH":
            require("Customer_Full")
            found = sales.patch_customer(customer_id, body)
        else:
            found = client.customers.get(customer_id) if method == "GET" else None
        if found is None:
            raise missing(f"Customer with id = {customer_id} not found.")
        return 200, _strip(found)
    if route == "/SalesOrders/Complete" and method == "POST":
        require("SalesOrders_Full")
        return 201, _strip(sales.create_order(_object(body)))
    if route == "/SalesOrders" and method == "GET":
        return 200, [_strip(o) for o in sales.list_orders(query, moment(query.get("lastChangedDateTimeOffsetGreaterThan")))]
    if route.startswith("/SalesOrders/") and route.count("/") == 2 and method == "GET" and route != \
            "/SalesOrders/sentState":
        found = sales.orders.get(route.split("/")[2])
        if found is None:
            raise missing(f"Sales order with id = {route.split('/')[2]} not found.")
        return 200, {k: v for k, v in _strip(found).items() if k != "SalesOrderLines"}  # SalesOrderDto: no lines
    if route == "/SalesOrders/sentState" and method == "GET":
        state = sales.states.get(query.get("id") or "")
        if state is None:
            raise missing(f"Sales order with id = {query.get('id')} has no sent state.")
        return 200, [state]
    if route.startswith("/SalesOrders/") and route.endswith("/createAndSendInvoice") and method == "POST":
        require("SalesOrders_Full")
        order_id = route.split("/")[2]
        accepted = sales.send(order_id, body if isinstance(body, dict) else {})
        if accepted is None:
            raise missing(f"Sales order with id = {order_id} not found.")
        return 202, accepted
    if route == "/OutgoingInvoices" and method == "GET":
        require("OutgoingInvoices")
        return 200, sales.list_invoices(query)
    if route == "/Vouchers/BankJournals" and method == "POST":
        require("BankVoucher_Full")
        return 201, sales.post_bank_voucher(_object(body))
    return None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Invalid("Validation error(s)", ["The request body is missing."])
    return body


def _strip(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}
