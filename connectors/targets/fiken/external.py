"""«Annet salg»: an invoice the source (a subscription system) made and sent itself, booked in Fiken as a sale with the
source's own invoice number and KID — the tenant's choice (`invoice_flow: external_sale`, decision 0013).

Fiken API v2: `POST /sales` with kind `external_invoice` ("should be used when the invoice document and invoice number
have been created outside Fiken"), found again after an unknown outcome by `GET /sales?saleNumber=`; without the
opt-in to direct posting a sale draft (`POST /sales/drafts`, `draftRequest`), found again among `GET /sales/drafts`
by its `invoiceNumber` (a sale draft takes no UUID of ours). Fiken sends no «Annet salg» and links none to another:
a credit note is a sale of its own with negative lines [unverified that Fiken takes them] and the trace says which
invoice it credits. Payments are registered on the sale as on the sale of Fiken's own invoice (sales.py).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from connectors.targets.fiken import invoicing
from connectors.targets.fiken.customers import created
from pipeline.model import SalesInvoice
from pipeline.ports import Delivery, Entity

if TYPE_CHECKING:
    from connectors.targets.fiken.target import FikenTarget

UNLINKED = ("Fiken links no «Annet salg» to another: the credit note is a sale of its own with negative lines, and "
            "the invoice it credits is named here only")


def _parts(invoice: SalesInvoice) -> list[tuple[Any, int, int]]:
    """(line, net, VAT) in øre, signed as the line (a credit note's lines are negative)."""
    out = []
    for line in invoice.lines:
        vat = invoicing.line_vat(line)
        out.append((line, invoicing._øre(line.amount - vat), invoicing._øre(vat)))
    return out


def sale_payload(invoice: SalesInvoice, *, customer_id: int | None, due: dt.date, income_account: str,
                 project_id: int | None) -> dict[str, Any]:
    """The body of `POST /sales` (`saleRequest`): our number as the sale number, our KID, net and VAT per line."""
    body: dict[str, Any] = {
        "saleNumber": invoice.invoice_number, "date": invoice.date.isoformat(), "kind": "external_invoice",
        "paid": False, "currency": "NOK",
        "lines": [{"description": line.description[:invoicing.TEXT_MAX], "netPrice": net, "vat": vat,
                   "account": line.account or income_account,
                   "vatType": invoicing.SALES_VAT_TYPES.get(line.vat_code or "", "NONE")}
                  for line, net, vat in _parts(invoice)]}
    if customer_id is not None:
        body["customerId"] = customer_id
    if invoice.credits is None:
        body["dueDate"] = due.isoformat()
        if invoice.kid:
            body["kid"] = invoice.kid
    if project_id is not None:
        body["projectId"] = project_id
    return body


def draft_payload(invoice: SalesInvoice, *, customer_id: int | None, due: dt.date, income_account: str,
                  project_id: int | None) -> dict[str, Any]:
    """The body of `POST /sales/drafts` (`draftRequest`): the same sale as a draft someone in the company books."""
    body: dict[str, Any] = {
        "cash": False, "paid": False, "invoiceIssueDate": invoice.date.isoformat(),
        "invoiceNumber": invoice.invoice_number, "currency": "NOK",
        "lines": [{"text": line.description[:invoicing.TEXT_MAX],
                   "vatType": invoicing.SALES_VAT_TYPES.get(line.vat_code or "", "NONE"),
                   "incomeAccount": line.account or income_account, "net": net, "gross": net + vat}
                  for line, net, vat in _parts(invoice)]}
    if customer_id is not None:
        body["contactId"] = customer_id
    if invoice.credits is None:
        body["dueDate"] = due.isoformat()
        if invoice.kid:
            body["kid"] = invoice.kid
    if project_id is not None:
        body["projectId"] = project_id
    return body


def deliver(target: FikenTarget, invoice: SalesInvoice, row: Entity, rendered: dict[str, Any]) -> Delivery:
    """The sale draft, or (direct posting) the sale; each found again before it is made again."""
    from connectors.targets.fiken.sales import _save, index

    company, number = target.company, invoice.invoice_number
    kind = "sale-credit" if invoice.credits else "sale"
    extra = {"Credits": invoice.credits} if invoice.credits else {}
    if target.draft:
        draft_id = int(row.get("SaleDraft") or 0)
        if not draft_id and row.get("Step") == "sale-draft":  # outcome unknown: Fiken's drafts by our number
            draft_id = next((int(d["draftId"]) for d in target._pages(f"{company}/sales/drafts", {})
                             if str(d.get("invoiceNumber")) == number), 0)
        if not draft_id:
            _save(target, row, Step="sale-draft", Kind=kind, **extra)
            draft_id = created(target._request("POST", f"{company}/sales/drafts", body=rendered["draft"],
                                               reference=invoice.reference))
        _save(target, row, SaleDraft=draft_id, Kind=kind, IsDraft=True, **extra)
    else:
        sale_id = int(row.get("Sale") or 0)
        if not sale_id and row.get("Step") == "sale":  # outcome unknown: Fiken's sales by our number
            customer_id = rendered["sale"].get("customerId")
            sale_id = next((int(s["saleId"]) for s in target._pages(f"{company}/sales", {"saleNumber": number})
                            if s.get("kind") == "external_invoice"
                            and (s.get("customer") or {}).get("contactId") == customer_id), 0)
        if not sale_id:
            _save(target, row, Step="sale", Kind=kind, **extra)
            sale_id = created(target._request("POST", f"{company}/sales", body=rendered["sale"],
                                              reference=invoice.reference))
        _save(target, row, Sale=sale_id, Kind=kind, IsDraft=False, **extra)
    if invoice.credits is None:
        index(target, invoice, {"SaleId": int(row.get("Sale") or 0), "SaleDraftId": int(row.get("SaleDraft") or 0)})
    _save(target, row, State="done")
    return delivery(row)


def delivery(row: Entity) -> Delivery:
    details: dict[str, Any] = {"kind": row.get("Kind"), "flow": "external_sale (Annet salg)",
                               "customer_id": row.get("Customer"), "customer": row.get("CustomerWas"),
                               "sent": "not by Fiken: the source sent the invoice"}
    if row.get("Sale"):
        details["sale_id"] = row["Sale"]
    if row.get("SaleDraft"):
        details["sale_draft_id"] = row["SaleDraft"]
    if row.get("Credits"):
        details.update(credits=row["Credits"], credit_link=UNLINKED)
    if row.get("Project"):
        details["project_id"] = row["Project"]
    remote = f"sale:{row['Sale']}" if row.get("Sale") else f"saledraft:{row.get('SaleDraft')}"
    return Delivery(remote_id=remote, draft=bool(row.get("IsDraft")),
                    details={k: v for k, v in details.items() if v not in (None, "")})
