"""The Fiken sandbox's sales side: customer contacts written, invoice and credit-note drafts, invoices made of them,
credit notes linked to an invoice, sending, and payments on an invoice's sale — open amounts kept.

Shapes and rules from the official spec (`../shared/specs/fiken/fiken-api-v2.yaml`): `invoiceishDraftRequest`
(required customerId, daysUntilDueDate, type; lines need quantity; a UUID of our choosing, filter `uuid`),
`POST …/drafts/{id}/createInvoice` → 201 + Location, `invoiceResult` (invoiceNumber from Fiken's counter, its own
KID, `sale` with `outstandingBalance`), `fullCreditNoteRequest`/`partialCreditNoteRequest` (issueDate, invoiceId),
`sendInvoiceRequest` (method, includeDocumentAttachments required), `payment` (date, account, amount required; fee).
[unverified]: that a draft is gone once an invoice is made of it (here it is); Fiken's VAT rounding (half up here);
that a credit note lowers the sale's outstanding balance (here it does); that a credit note's lines carry positive
prices (here a negative price is refused); the KID Fiken makes (MOD10 of the invoice number here).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from pipeline.norway.kid import kid_mod10

if TYPE_CHECKING:
    from sandboxes.fiken.company import Company
    from sandboxes.fiken.server import FikenSandbox

Answer = tuple[int, Any, dict[str, str]]
RATES = {"HIGH": Decimal(25), "MEDIUM": Decimal(15), "RAW_FISH": Decimal("11.11"), "LOW": Decimal(12),
         "EXEMPT": Decimal(0), "EXEMPT_IMPORT_EXPORT": Decimal(0), "OUTSIDE": Decimal(0), "NONE": Decimal(0),
         "EXEMPT_REVERSE": Decimal(0)}
SEND_METHODS = {"email", "ehf", "efaktura", "sms", "letter", "auto"}
CONTACT_READ_ONLY = ("contactId", "createdDate", "lastModifiedDate", "customerNumber", "customerAccountCode",
                     "supplierNumber", "supplierAccountCode", "notes", "documents")


class Invoicing:
    """A company's drafts, invoices, credit notes, sales and payments; guarded by the company's lock."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self.drafts: dict[int, dict[str, Any]] = {}
        self.credit_drafts: dict[int, dict[str, Any]] = {}
        self.invoices: dict[int, dict[str, Any]] = {}
        self.credit_notes: dict[int, dict[str, Any]] = {}
        self.sales: dict[int, dict[str, Any]] = {}  # «Annet salg» by saleId, and their drafts (external.py)
        self.sale_drafts: dict[int, dict[str, Any]] = {}
        self.projects: dict[int, dict[str, Any]] = {}  # projectResult by projectId (external.py seeds them)
        self.sent: list[tuple[str, int, tuple[str, ...]]] = []  # ("invoice"|"creditNote", id, methods)
        self._ids = itertools.count(70_001)
        self._numbers = itertools.count(10_001)
        self._credit_numbers = itertools.count(20_001)

    # -- shared checks ------------------------------------------------------------------------------------------

    def _customer(self, contact_id: Any) -> dict[str, Any]:
        from sandboxes.fiken.server import Problem

        contact = self.company.contacts.get(contact_id) if isinstance(contact_id, int) else None
        if contact is None or not contact.get("customer"):
            raise Problem(400, f"customerId {contact_id} er ikke en kunde")
        return contact

    def _lines(self, lines: Any, *, credit: bool = False) -> list[dict[str, Any]]:
        from sandboxes.fiken.server import Problem

        if not isinstance(lines, list) or not lines:
            raise Problem(400, "lines mangler")
        made = []
        for i, line in enumerate(lines):
            if not isinstance(line, dict) or not isinstance(line.get("quantity"), int | float | str):
                raise Problem(400, f"lines[{i}].quantity mangler")
            vat_type = line.get("vatType")
            if vat_type not in RATES:
                raise Problem(400, f"lines[{i}].vatType {vat_type!r} er ikke en MVA-type for salg")
            account = str(line.get("incomeAccount") or "")
            if account not in self.company.accounts:
                raise Problem(400, f"lines[{i}].incomeAccount {account!r} finnes ikke")
            price = line.get("unitPrice")
            if not isinstance(price, int) or price < 0:
                raise Problem(400, f"lines[{i}].unitPrice må være et ikke-negativt heltall (øre)")
            if len(str(line.get("description") or "")) > 200:
                raise Problem(400, f"lines[{i}].description er lengre enn 200 tegn")
            net = int((Decimal(price) * Decimal(str(line["quantity"]))).quantize(Decimal(1), ROUND_HALF_UP))
            vat = int((net * RATES[vat_type] / 100).quantize(Decimal(1), ROUND_HALF_UP))
            made.append({"description": line.get("description"), "unitPrice": price, "quantity": line["quantity"],
                         "vatType": vat_type, "incomeAccount": account, "net": net, "vat": vat, "gross": net + vat,
                         "vatInPercent": float(RATES[vat_type])})
        return made

    # -- drafts -------------------------------------------------------------------------------------------------

    def add_draft(self, body: Any, *, credit: bool, commit: bool) -> int:
        from sandboxes.fiken.server import Problem

        if not isinstance(body, dict):
            raise Problem(400, "Ugyldig utkast")
        for name in ("customerId", "daysUntilDueDate", "type"):
            if body.get(name) is None:
                raise Problem(400, f"{name} mangler")
        if body["type"] != ("credit_note" if credit else "invoice"):
            raise Problem(400, f"type {body['type']!r} hører ikke hjemme her")
        contact = self._customer(body["customerId"])
        lines = self._lines(body.get("lines"), credit=credit)
        from sandboxes.fiken.external import project

        named = project(self, body.get("projectId"))
        if not commit:
            return 0
        ident = next(self._ids)
        draft = {"draftId": ident, "uuid": body.get("uuid") or str(ident), "type": body["type"],
                 "issueDate": body.get("issueDate") or dt.date.today().isoformat(),
                 "daysUntilDueDate": body["daysUntilDueDate"], "invoiceText": body.get("invoiceText"),
                 "orderReference": body.get("orderReference"), "currency": body.get("currency") or "NOK",
                 "lines": lines, "net": sum(x["net"] for x in lines), "gross": sum(x["gross"] for x in lines),
                 "customers": [contact], "lastModifiedDate": dt.date.today().isoformat(), "project": named}
        (self.credit_drafts if credit else self.drafts)[ident] = draft
        return ident

    def make_invoice(self, draft_id: int, *, commit: bool) -> int:
        from sandboxes.fiken.server import Problem

        draft = self.drafts.get(draft_id)
        if draft is None:
            raise Problem(404, f"Fant ikke fakturautkast {draft_id}")
        if not commit:
            return 0
        del self.drafts[draft_id]
        issue = dt.date.fromisoformat(draft["issueDate"])
        return self._invoice(draft["customers"][0], draft["lines"], issue,
                             issue + dt.timedelta(days=int(draft["daysUntilDueDate"])), draft_uuid=draft["uuid"],
                             text=draft.get("invoiceText"), order_reference=draft.get("orderReference"),
                             project=draft.get("project"))

    def _invoice(self, contact: dict[str, Any], lines: list[dict[str, Any]], issue: dt.date, due: dt.date, *,
                 draft_uuid: str | None = None, text: str | None = None, order_reference: str | None = None,
                 number: int | None = None, project: dict[str, Any] | None = None) -> int:
        ident, number = next(self._ids), number or next(self._numbers)
        net, vat = sum(x["net"] for x in lines), sum(x["vat"] for x in lines)
        sale = {"saleId": next(self._ids), "saleNumber": str(number), "date": issue.isoformat(), "kind": "invoice",
                "netAmount": net, "vatAmount": vat, "settled": False, "totalPaid": 0, "outstandingBalance": net + vat,
                "dueDate": due.isoformat(), "kid": kid_mod10(str(number)), "salePayments": [], "currency": "NOK",
                "customer": contact, "deleted": False, "writeOff": False}
        self.invoices[ident] = {
            "invoiceId": ident, "createdDate": dt.date.today().isoformat(), "lastModifiedDate": dt.date.today().isoformat(),
            "invoiceNumber": number, "kid": sale["kid"], "issueDate": issue.isoformat(), "dueDate": due.isoformat(),
            "net": net, "vat": vat, "gross": net + vat, "netInNok": net, "vatInNok": vat, "grossInNok": net + vat,
            "cash": False, "invoiceText": text, "orderReference": order_reference, "invoiceDraftUuid": draft_uuid,
            "lines": lines, "currency": "NOK", "sentManually": False, "associatedCreditNotes": [], "customer": contact,
            "sale": sale, "project": project}
        return ident

    def seed_invoice(self, contact_id: int, number: int, gross_øre: int) -> int:
        """An invoice made in Fiken itself (not by us): one line at 25 %."""
        net = gross_øre * 4 // 5
        line = {"description": "Faktura laget i Fiken", "unitPrice": net, "quantity": 1, "vatType": "HIGH",
                "incomeAccount": "3000", "net": net, "vat": gross_øre - net, "gross": gross_øre, "vatInPercent": 25.0}
        with self.company.lock:
            return self._invoice(self.company.contacts[contact_id], [line], dt.date(2026, 11, 1),
                                 dt.date(2026, 11, 15), number=number)

    # -- credit notes -------------------------------------------------------------------------------------------

    def credit(self, body: Any, *, whole: bool, commit: bool) -> int:
        from sandboxes.fiken.server import Problem

        if not isinstance(body, dict) or not body.get("issueDate"):
            raise Problem(400, "issueDate mangler")
        named = body.get("invoiceId")
        invoice = self.invoices.get(named) if isinstance(named, int) else None
        if invoice is None and whole:
            raise Problem(400, f"invoiceId {body.get('invoiceId')} finnes ikke")
        lines = invoice["lines"] if whole and invoice else self._lines(body.get("lines"), credit=True)
        gross = sum(x["gross"] for x in lines)
        if invoice is not None and gross > invoice["sale"]["outstandingBalance"] + invoice["sale"]["totalPaid"]:
            raise Problem(400, "Kreditnotaen er større enn fakturaen")
        from sandboxes.fiken.external import project

        named = project(self, body.get("project")) if not whole else (invoice or {}).get("project")
        if not commit:
            return 0
        ident = next(self._ids)
        contact = invoice["customer"] if invoice else self._customer(body.get("contactId"))
        self.credit_notes[ident] = {
            "creditNoteId": ident, "creditNoteNumber": next(self._credit_numbers), "customer": contact,
            "net": sum(x["net"] for x in lines), "vat": sum(x["vat"] for x in lines), "gross": gross,
            "netInNok": sum(x["net"] for x in lines), "vatInNok": sum(x["vat"] for x in lines), "grossInNok": gross,
            "creditNoteText": body.get("creditNoteText"), "orderReference": body.get("orderReference"),
            "address": contact.get("address") or {"country": "Norway"}, "lines": lines, "currency": "NOK",
            "issueDate": body["issueDate"], "settled": False,
            "associatedInvoiceId": invoice["invoiceId"] if invoice else None, "project": named}
        if invoice is not None:
            invoice["associatedCreditNotes"].append(ident)
            sale = invoice["sale"]
            sale["outstandingBalance"] -= gross
            sale["settled"] = sale["outstandingBalance"] <= 0
        return ident

    # -- payments -----------------------------------------------------------------------------------------------

    def _sale(self, sale_id: int) -> dict[str, Any] | None:
        """An invoice's sale, or an «Annet salg»."""
        found = next((i["sale"] for i in self.invoices.values() if i["sale"]["saleId"] == sale_id), None)
        return found if found is not None else self.sales.get(sale_id)

    def sale(self, sale_id: int) -> dict[str, Any]:
        from sandboxes.fiken.server import Problem

        found = self._sale(sale_id)
        if found is None:
            raise Problem(404, f"Fant ikke salg {sale_id}")
        return dict(found)

    def pay(self, sale_id: int, body: Any, *, commit: bool) -> int:
        from sandboxes.fiken.server import Problem

        sale = self._sale(sale_id)
        if sale is None:
            raise Problem(404, f"Fant ikke salg {sale_id}")
        if not isinstance(body, dict) or any(body.get(k) is None for k in ("date", "account", "amount")):
            raise Problem(400, "date, account og amount må oppgis")
        if not isinstance(body["amount"], int) or not isinstance(body.get("fee", 0), int):
            raise Problem(400, "amount og fee er heltall (øre)")
        if str(body["account"]) not in self.company.accounts:
            raise Problem(400, f"Kontoen {body['account']} finnes ikke")
        if not commit:
            return 0
        ident = next(self._ids)
        fee = int(body.get("fee") or 0)
        sale["salePayments"].append({"paymentId": ident, "date": body["date"], "account": body["account"],
                                     "amount": body["amount"], "currency": "NOK", "fee": fee})
        sale["totalPaid"] += body["amount"]
        sale["outstandingBalance"] -= body["amount"] + fee
        sale["settled"] = sale["outstandingBalance"] <= 0
        return ident

    def send(self, kind: str, body: Any) -> None:
        from sandboxes.fiken.server import Problem

        id_field = "invoiceId" if kind == "invoice" else "creditNoteId"
        held = self.invoices if kind == "invoice" else self.credit_notes
        if not isinstance(body, dict) or body.get(id_field) not in held:
            raise Problem(400, f"{id_field} {body.get(id_field) if isinstance(body, dict) else None} finnes ikke")
        methods = body.get("method")
        if not isinstance(methods, list) or not methods or not set(methods) <= SEND_METHODS \
                or "includeDocumentAttachments" not in body:
            raise Problem(400, "method (auto, email, ehf, efaktura, sms, letter) og includeDocumentAttachments "
                               "må oppgis")
        self.sent.append((kind, int(body[id_field]), tuple(methods)))


def route(box: FikenSandbox, company: Company, method: str, rest: str, query: dict[str, str], body: Any, *,
          commit: bool) -> Answer | None:
    """The sales side's routes under /companies/{slug}; None when the path is not one of them."""
    from sandboxes.fiken.server import Problem, paged

    books: Invoicing = company.invoicing
    base = f"{box.base_url}/companies/{company.slug}"
    from sandboxes.fiken.external import route as external_route

    with company.lock:
        answer = external_route(books, base, method, rest, query, body, commit=commit)
        if answer is not None:
            return answer
        if method == "POST" and rest == "/contacts":
            if not isinstance(body, dict) or not str(body.get("name") or "").strip():
                raise Problem(400, "name mangler")
            if not commit:
                return 201, None, {}
            fields = {k: v for k, v in body.items() if k not in CONTACT_READ_ONLY and k not in ("customer", "supplier",
                                                                                                 "inactive", "name")}
            made = company.add_contact(body["name"], customer=bool(body.get("customer")),
                                       supplier=bool(body.get("supplier")), **fields)
            return 201, None, {"Location": f"{base}/contacts/{made['contactId']}"}
        contact = re.fullmatch(r"/contacts/(\d+)", rest)
        if contact:
            found = company.contacts.get(int(contact.group(1)))
            if found is None:
                raise Problem(404, f"Fant ikke kontakt {contact.group(1)}")
            if method == "GET":
                return 200, found, {}
            if method == "PUT":
                if not isinstance(body, dict) or not str(body.get("name") or "").strip():
                    raise Problem(400, "name mangler")
                if commit:
                    found.update({k: v for k, v in body.items() if k not in CONTACT_READ_ONLY})
                    found["lastModifiedDate"] = dt.date.today().isoformat()
                return 200, None, {"Location": f"{base}/contacts/{found['contactId']}"}
        for kind, drafts in (("invoices", books.drafts), ("creditNotes", books.credit_drafts)):
            if rest == f"/{kind}/drafts" and method == "GET":
                items = [d for d in drafts.values() if all(str(d.get(k)) == v for k, v in query.items()
                                                           if k in ("uuid", "orderReference"))]
                page, headers = paged(items, query)
                return 200, page, headers
            if rest == f"/{kind}/drafts" and method == "POST":
                ident = books.add_draft(body, credit=kind == "creditNotes", commit=commit)
                return 201, None, ({"Location": f"{base}/{kind}/drafts/{ident}"} if ident else {})
            one = re.fullmatch(rf"/{kind}/drafts/(\d+)", rest)
            if one and method == "GET":
                if int(one.group(1)) not in drafts:
                    raise Problem(404, f"Fant ikke utkast {one.group(1)}")
                return 200, drafts[int(one.group(1))], {}
        if rest == "/invoices/counter" and method == "GET":
            return 200, {"value": max([10_000, *(i["invoiceNumber"] for i in books.invoices.values())])}, {}
        making = re.fullmatch(r"/invoices/drafts/(\d+)/createInvoice", rest)
        if making and method == "POST":
            ident = books.make_invoice(int(making.group(1)), commit=commit)
            return 201, None, ({"Location": f"{base}/invoices/{ident}"} if ident else {})
        if rest == "/invoices" and method == "GET":
            filters = {"invoiceDraftUuid": "invoiceDraftUuid", "orderReference": "orderReference",
                       "invoiceNumber": "invoiceNumber"}
            items = [i for i in books.invoices.values()
                     if all(str(i.get(field)) == query[name] for name, field in filters.items() if name in query)
                     and ("customerId" not in query or str(i["customer"]["contactId"]) == query["customerId"])]
            page, headers = paged(items, query)
            return 200, page, headers
        one_invoice = re.fullmatch(r"/invoices/(\d+)", rest)
        if one_invoice and method == "GET":
            if int(one_invoice.group(1)) not in books.invoices:
                raise Problem(404, f"Fant ikke faktura {one_invoice.group(1)}")
            return 200, books.invoices[int(one_invoice.group(1))], {}
        if rest in ("/creditNotes/full", "/creditNotes/partial") and method == "POST":
            ident = books.credit(body, whole=rest.endswith("full"), commit=commit)
            return 201, None, ({"Location": f"{base}/creditNotes/{ident}"} if ident else {})
        if rest == "/creditNotes" and method == "GET":
            items = [n for n in books.credit_notes.values()
                     if ("customerId" not in query or str(n["customer"]["contactId"]) == query["customerId"])
                     and ("issueDate" not in query or n["issueDate"] == query["issueDate"])]
            page, headers = paged(items, query)
            return 200, page, headers
        one_note = re.fullmatch(r"/creditNotes/(\d+)", rest)
        if one_note and method == "GET":
            if int(one_note.group(1)) not in books.credit_notes:
                raise Problem(404, f"Fant ikke kreditnota {one_note.group(1)}")
            return 200, books.credit_notes[int(one_note.group(1))], {}
        if rest in ("/invoices/send", "/creditNotes/send") and method == "POST":
            if commit:
                books.send("invoice" if rest.startswith("/invoices") else "creditNote", body)
            return 200, None, {}
        payments = re.fullmatch(r"/sales/(\d+)/payments", rest)
        if payments and method == "GET":
            return 200, books.sale(int(payments.group(1)))["salePayments"], {}
        if payments and method == "POST":
            ident = books.pay(int(payments.group(1)), body, commit=commit)
            return 201, None, ({"Location": f"{base}/sales/{payments.group(1)}/payments/{ident}"} if ident else {})
        sale = re.fullmatch(r"/sales/(\d+)", rest)
        if sale and method == "GET":
            return 200, books.sale(int(sale.group(1))), {}
    return None
