"""The Fiken sandbox's «Annet salg» (a sale whose invoice was made outside Fiken), sale drafts, and projects.

Shapes from the official spec (`../shared/specs/fiken/fiken-api-v2.yaml`): `POST /sales` (`saleRequest`: date, kind,
paid, lines and currency required; `orderLine` needs vatType, and netPrice or netPriceInCurrency), `GET /sales`
(filters saleNumber, settled), `POST /sales/drafts` (`draftRequest`: cash and lines required; `draftLineRequest`: text,
vatType, incomeAccount, net and gross required), `GET /sales/drafts` (paged, no filter), `GET /projects` (filters
number, name, completed). Payments on a sale are the invoices module's (`/sales/{saleId}/payments`).
[unverified]: that Fiken takes the VAT an order line gives rather than computing it (here it is taken as given);
that a sale may have negative lines, a credit note booked as «Annet salg» (here it may); that a sale draft's lines
carry no project of their own when the draft has one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import TYPE_CHECKING, Any

from sandboxes.fiken.invoices import RATES

if TYPE_CHECKING:
    from sandboxes.fiken.invoices import Answer, Invoicing

_ids = itertools.count(90_001)


def add_project(books: Invoicing, number: str, name: str, *, completed: bool = False) -> dict[str, Any]:
    """A project as Fiken keeps one (projectResult)."""
    ident = next(_ids)
    books.projects[ident] = {"projectId": ident, "number": number, "name": name, "description": name,
                             "startDate": "2026-01-01", "completed": completed}
    return books.projects[ident]


def project(books: Invoicing, ident: Any) -> dict[str, Any] | None:
    """The project a body names by `projectId`; a Problem when it names one that does not exist."""
    from sandboxes.fiken.server import Problem

    if ident is None:
        return None
    found = books.projects.get(ident) if isinstance(ident, int) else None
    if found is None:
        raise Problem(400, f"projectId {ident} finnes ikke")
    return found


def _order_lines(books: Invoicing, lines: Any) -> list[dict[str, Any]]:
    from sandboxes.fiken.server import Problem

    if not isinstance(lines, list) or not lines:
        raise Problem(400, "lines mangler")
    made = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict) or line.get("vatType") not in RATES:
            raise Problem(400, f"lines[{i}].vatType mangler eller er ikke en MVA-type for salg")
        net, vat = line.get("netPrice"), line.get("vat", 0)
        if not isinstance(net, int) or not isinstance(vat, int):
            raise Problem(400, f"lines[{i}].netPrice og vat er heltall (øre)")
        account = str(line.get("account") or "")
        if account not in books.company.accounts:
            raise Problem(400, f"lines[{i}].account {account!r} finnes ikke")
        made.append({"description": line.get("description"), "netPrice": net, "vat": vat, "account": account,
                     "vatType": line["vatType"]})
    return made


def create_sale(books: Invoicing, body: Any, *, commit: bool) -> int:
    from sandboxes.fiken.server import Problem

    if not isinstance(body, dict):
        raise Problem(400, "Ugyldig salg")
    for name in ("date", "kind", "lines", "currency"):
        if body.get(name) is None:
            raise Problem(400, f"{name} mangler")
    if not isinstance(body.get("paid"), bool):
        raise Problem(400, "paid mangler")
    if body["kind"] not in ("cash_sale", "invoice", "external_invoice"):
        raise Problem(400, f"kind {body['kind']!r} er ugyldig")
    contact = books._customer(body["customerId"]) if body.get("customerId") is not None else None
    lines = _order_lines(books, body["lines"])
    named = project(books, body.get("projectId"))
    if not commit:
        return 0
    net, vat = sum(x["netPrice"] for x in lines), sum(x["vat"] for x in lines)
    ident = next(_ids)
    books.sales[ident] = {
        "saleId": ident, "saleNumber": body.get("saleNumber"), "date": body["date"], "kind": body["kind"],
        "netAmount": net, "vatAmount": vat, "settled": bool(body["paid"]), "totalPaid": 0,
        "outstandingBalance": 0 if body["paid"] else net + vat, "lines": lines, "customer": contact,
        "currency": body["currency"], "dueDate": body.get("dueDate"), "kid": body.get("kid"), "salePayments": [],
        "project": named, "deleted": False, "writeOff": False, "lastModifiedDate": dt.date.today().isoformat()}
    return ident


def create_sale_draft(books: Invoicing, body: Any, *, commit: bool) -> int:
    from sandboxes.fiken.server import Problem

    if not isinstance(body, dict) or not isinstance(body.get("cash"), bool):
        raise Problem(400, "cash mangler")
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines:
        raise Problem(400, "lines mangler")
    for i, line in enumerate(lines):
        missing = [k for k in ("text", "vatType", "incomeAccount", "net", "gross") if not isinstance(line, dict)
                   or line.get(k) is None]
        if missing:
            raise Problem(400, f"lines[{i}]: {', '.join(missing)} mangler")
        if str(line["incomeAccount"]) not in books.company.accounts:
            raise Problem(400, f"lines[{i}].incomeAccount {line['incomeAccount']!r} finnes ikke")
    contact = books._customer(body["contactId"]) if body.get("contactId") is not None else None
    named = project(books, body.get("projectId"))
    if not commit:
        return 0
    ident = next(_ids)
    books.sale_drafts[ident] = {
        "draftId": ident, "uuid": f"00000000-0000-4000-8000-{ident:012d}", "invoiceIssueDate": body.get(
            "invoiceIssueDate"), "dueDate": body.get("dueDate"), "invoiceNumber": body.get("invoiceNumber"),
        "contact": contact, "project": named, "cash": body["cash"], "currency": body.get("currency") or "NOK",
        "kid": body.get("kid"), "paid": bool(body.get("paid")), "attachments": [], "payments": [],
        "lines": [{"text": x["text"], "vatType": x["vatType"], "incomeAccount": x["incomeAccount"], "net": x["net"],
                   "gross": x["gross"]} for x in lines]}
    return ident


def route(books: Invoicing, base: str, method: str, rest: str, query: dict[str, str], body: Any, *,
          commit: bool) -> Answer | None:
    """`/sales`, `/sales/drafts`, `/projects`; None for another path (the caller holds the company's lock)."""
    from sandboxes.fiken.server import Problem, paged

    if rest == "/sales" and method == "POST":
        ident = create_sale(books, body, commit=commit)
        return 201, None, ({"Location": f"{base}/sales/{ident}"} if ident else {})
    if rest == "/sales" and method == "GET":
        every = [i["sale"] for i in books.invoices.values()] + list(books.sales.values())
        items = [s for s in every if ("saleNumber" not in query or str(s.get("saleNumber")) == query["saleNumber"])
                 and ("settled" not in query or str(bool(s["settled"])).lower() == query["settled"])]
        page, headers = paged(items, query)
        return 200, page, headers
    if rest == "/sales/drafts" and method == "POST":
        ident = create_sale_draft(books, body, commit=commit)
        return 201, None, ({"Location": f"{base}/sales/drafts/{ident}"} if ident else {})
    if rest == "/sales/drafts" and method == "GET":
        page, headers = paged(list(books.sale_drafts.values()), query)
        return 200, page, headers
    one = re.fullmatch(r"/sales/drafts/(\d+)", rest)
    if one and method == "GET":
        if int(one.group(1)) not in books.sale_drafts:
            raise Problem(404, f"Fant ikke utkast {one.group(1)}")
        return 200, books.sale_drafts[int(one.group(1))], {}
    if rest == "/projects" and method == "GET":
        items = [p for p in books.projects.values()
                 if ("number" not in query or p["number"] == query["number"])
                 and ("name" not in query or p["name"] == query["name"])
                 and ("completed" not in query or str(p["completed"]).lower() == query["completed"])]
        page, headers = paged(items, query)
        return 200, page, headers
    return None
