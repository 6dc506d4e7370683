"""Test support for PowerOffice GO: its published contract as a request checker, and what the sandbox holds.

PowerOffice's own OpenAPI files are not in ../shared/specs (none is public in our stores), so the contract is written
down here from the generated clients that were made from them (reference/target-apis.md §2.8: pacely-ai/poweroffice-node
`src/v2/openapi/**`, stianwe/PowerOfficeGoV2 `docs/models/**`): the operations the connector may call with their
documented query parameters, and the request DTOs' properties — which are required, which are numbers, ids or dates.
`ContractCheckingTransport` holds every request the connector sends against it, as tests/tripletex holds Tripletex's
requests against its official spec; a property GO's DTO does not name is a violation (GO would ignore it silently).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

import httpx

from sandboxes.poweroffice_go import PowerOfficeSandbox
from tests.contract.harness import Stored

PAGING = {"PageNumber", "PageSize", "Fields", "OrderBy"}
# (method, path under /v2) → documented query parameters (paging and field selection: ResourceParameters).
OPERATIONS: dict[tuple[str, str], set[str]] = {
    ("GET", "/ClientIntegrationInformation"): set(),
    ("GET", "/OrganizationSettings"): set(),
    ("GET", "/LockDateSettings"): set(),
    ("GET", "/GeneralLedgerAccounts"): {"accountNos", "agricultureDepartments", "lastChangedDateTimeOffsetGreaterThan"},
    ("GET", "/VatCodes"): {"includeExpired", "isActive"},
    ("GET", "/Customers"): {"contactGroupIds", "customerCreatedDateTimeOffsetGreaterThan", "customerNos",
                            "externalImportReference", "externalNos", "lastChangedDateTimeOffsetGreaterThan"},
    ("GET", "/Suppliers"): {"contactGroupIds", "externalImportReference", "externalNos",
                            "lastChangedDateTimeOffsetGreaterThan", "supplierCreatedDateTimeOffsetGreaterThan",
                            "supplierNos"},
    ("GET", "/Departments"): {"codes", "createdDateTimeOffsetGreaterThan", "createdFromImportJournalId", "isActive",
                              "lastChangedDateTimeOffsetGreaterThan", "managerEmployeeNo", "name"},
    ("GET", "/Projects"): {"createdDateTimeOffsetGreaterThan", "customerNos", "departmentCodes",
                           "excludeArchivedProject", "includeSubProjects", "lastChangedDateTimeOffsetGreaterThan",
                           "name", "projectBillingMethod", "projectCodes", "projectManagerEmployeeNos", "status"},
    ("GET", "/SubLedgerNumberSeries"): set(),
    ("GET", "/JournalEntryVouchers"): {"createdDateTimeOffsetGreaterThan", "lastChangedDateTimeOffsetGreaterThan",
                                       "inApprovalWorkflow", "isPosted"},
    ("GET", "/JournalEntryVouchers/ManualJournals/{id}"): set(),
    ("GET", "/Vouchers/ManualJournals/{id}"): set(),
    ("GET", "/AccountTransactions"): {"fromDate", "toDate", "accountNos", "agricultureDepartments",
                                      "createdDateTimeOffsetGreaterThan", "departmentCodes", "includeSubProject",
                                      "lastChangedDateTimeOffsetGreaterThan", "productCodes", "projectCodes", "vatCodes",
                                      "voucherNos", "voucherTypes"},
    ("POST", "/JournalEntryVouchers/ManualJournals"): set(),
    ("POST", "/Vouchers/ManualJournals"): set(),
    # Sales (stianwe/PowerOfficeGoV2 docs/apis: ProductsApi, CustomersApi, SalesOrderCompleteApi, SalesOrdersApi,
    # CreateAndSendInvoiceApi, OutgoingInvoicesApi, BankVoucherPostingApi).
    ("GET", "/Products"): {"createdDateTimeOffsetGreaterThan", "lastChangedDateTimeOffsetGreaterThan",
                           "productCodes", "productGroupIds"},
    ("GET", "/Customers/{id}"): set(),
    ("POST", "/Customers"): set(),
    ("PATCH", "/Customers/{id}"): set(),
    ("POST", "/SalesOrders/Complete"): set(),
    ("GET", "/SalesOrders"): {"customerNos", "departmentCodes", "includeSubProject",
                              "lastChangedDateTimeOffsetGreaterThan", "onlyCreatedByCurrentIntegration", "orderStatus",
                              "projectCodes", "showInherited"},
    ("POST", "/SalesOrders/{id}/createAndSendInvoice"): set(),
    ("GET", "/SalesOrders/sentState"): {"id"},
    ("GET", "/SalesOrders/{id}"): {"showInherited"},
    ("GET", "/OutgoingInvoices"): {"customerNos", "invoiceNos", "fromDate", "toDate", "voucherNos",
                                   "customMatchingReferences", "createdByCurrentIntegration", "unpaid"},
    ("POST", "/Vouchers/BankJournals"): set(),
}
REQUIRED_QUERY = {("GET", "/AccountTransactions"): {"fromDate", "toDate"}}
TIMESTAMP_PARAMS = re.compile(r"DateTimeOffsetGreaterThan$")
# Request DTOs: property → kind ("id": integer, "number", "date", "text", "lines", "object"), required ones marked "!".
DRAFT_LINE = {"Accrual": "object", "AgricultureDetails": "object", "CreditAccountId": "id", "CreditVatId": "id",
              "CreditVatReturnSpecification": "text", "CurrencyAmount": "number", "CurrencyCode": "text",
              "CurrencyExchangeRate": "number", "DebitAccountId": "id", "DebitVatId": "id",
              "DebitVatReturnSpecification": "text", "DepartmentId": "id", "Description": "text", "Dim1Id": "id",
              "Dim2Id": "id", "Dim3Id": "id", "LocationId": "id", "PostingDate": "date", "ProductId": "id",
              "ProjectId": "id", "Quantity": "number", "Quantity2": "number"}
DRAFT = {"Comment": "text", "CurrencyCode": "text!", "DepartmentId": "id", "Description": "text", "Dim1Id": "id",
         "Dim2Id": "id", "Dim3Id": "id", "LocationId": "id", "ManualVoucherLines": "lines", "ProjectId": "id",
         "VoucherDate": "date!"}
DIRECT_LINE = {"PostingDate": "date!", "AccountId": "id!", "CurrencyAmount": "number", "CurrencyCode": "text",
               "CurrencyExchangeRate": "number", "CustomMatchingReference": "text", "DepartmentId": "id",
               "Description": "text", "Dim1Id": "id", "Dim2Id": "id", "Dim3Id": "id", "ExternalLineReference": "text",
               "LocationId": "id", "ProductId": "id", "ProjectId": "id", "Quantity": "number", "Quantity2": "number",
               "VatId": "id!", "VatReturnSpecification": "text"}
DIRECT = {"CurrencyCode": "text!", "Description": "text", "ExternalImportReference": "text", "ImportedVoucherNo": "id",
          "SaftBatchId": "text", "SaftSourceId": "text", "VoucherDate": "date!", "VoucherLines": "lines"}
ORDER_LINE = {"Accrual": "object", "Allowance": "number", "DepartmentCode": "text", "DepartmentId": "id",
              "Description": "text", "Dim1Code": "text", "Dim1Id": "id", "Dim2Code": "text", "Dim2Id": "id",
              "Dim3Code": "text", "Dim3Id": "id", "ExternalImportReference": "text", "LineType": "text",
              "LocationCode": "text", "LocationId": "id", "ProductCode": "text", "ProductId": "id",
              "ProductUnitCost": "number", "ProductUnitPrice": "number", "ProjectCode": "text", "ProjectId": "id",
              "Quantity": "number", "SellersReferenceEmployeeId": "id", "SellersReferenceEmployeeNo": "id",
              "SortOrder": "id", "UnitOfMeasureCode": "text", "UseStandardSalesAccount": "bool",
              "VatReturnSpecification": "text"}
ORDER = {"BrandingThemeCode": "text", "BrandingThemeId": "id", "ContactDeliveryAddressId": "id", "ContractNo": "text",
         "CurrencyCode": "text", "CurrencyExchangeRate": "number", "CustomMatchingReference": "text",
         "CustomerId": "id", "CustomerNo": "id", "CustomerReference": "text", "CustomerReferenceContactPersonId": "id",
         "DeliveryDate": "date", "DeliveryTerm": "text", "DeliveryTermId": "id", "DepartmentCode": "text",
         "DepartmentId": "id", "Dim1Code": "text", "Dim1Id": "id", "Dim2Code": "text", "Dim2Id": "id",
         "Dim3Code": "text", "Dim3Id": "id", "ExternalImportReference": "text", "ImportedOrderNo": "id",
         "LocationCode": "text", "LocationId": "id", "PaymentTerm": "id", "PaymentTermId": "id", "ProjectCode": "text",
         "ProjectId": "id", "PurchaseOrderReference": "text", "RelatedInvoiceNo": "id", "SalesOrderDate": "date",
         "SalesOrderLines": "lines", "SalesOrderStatus": "text", "SalesPersonEmployeeId": "id",
         "SalesPersonEmployeeNumber": "id"}
SEND = {"DeliveryType": "text", "EmailAddress": "text", "OverrideDueDate": "date", "VoucherDate": "date"}
BANK_LINE = {**DIRECT_LINE, "Cid": "text", "InvoiceNo": "text"}
BANK = {k: v for k, v in DIRECT.items()}
CUSTOMER = {name: "text" for name in (
    "CurrencyCode", "DeliveryTerm", "DepartmentCode", "EmailAddress", "ExternalImportReference", "FirstName",
    "InvoiceBrandingThemeCode", "InvoiceDeliveryType", "InvoiceEmailAddress", "InvoiceEmailAddressCC", "LastName",
    "LegalName", "Name", "NationalIdNumber", "NoticeOfDebtCollectionDeliveryType", "OrganizationNumber",
    "PaymentReminderEmailAddress", "PhoneNumber", "ReminderDeliveryType", "SubLedgerNumberSeriesId", "WebsiteUrl")}
CUSTOMER.update({name: "bool" for name in (
    "DoNotAddLatePaymentFees", "DoNotAddLatePaymentInterest", "DoNotAutomatePaymentNotifications", "IsArchived",
    "IsPerson", "IsVatFree", "SendPaymentReminders", "TransferToDebtCollectionAgency", "UseInvoiceFee")})
CUSTOMER.update({"Allowance": "number", "BillableRate": "number", "CustomerSince": "date", "DateOfBirth": "date",
                 "DeliveryTermId": "id", "DepartmentId": "id", "ExternalNumber": "id", "InvoiceBrandingThemeId": "id",
                 "MailAddress": "object", "Number": "id", "PaymentTerm": "id", "PaymentTermId": "id",
                 "SalesPersonEmployeeId": "id", "SalesPersonEmployeeNumber": "id", "ContactGroupIds": "list"})
ADDRESS = {"AddressLine1": "text", "AddressLine2": "text", "City": "text!", "CountryCode": "text",
           "ExternalCode": "text", "ZipCode": "text!"}
DELIVERY_TYPES = {"Auto", "PdfByEmail", "PdfPrintForDownload"}
CUSTOMER_DELIVERY = {"PdfByEmail", "Print", "EHF", "AvtaleGiro", "External", "Efaktura", "Factoring"}
BODIES: dict[str, tuple[dict[str, str], dict[str, str] | None, str | None]] = {
    "/JournalEntryVouchers/ManualJournals": (DRAFT, DRAFT_LINE, "ManualVoucherLines"),
    "/Vouchers/ManualJournals": (DIRECT, DIRECT_LINE, "VoucherLines"),
    "/Vouchers/BankJournals": (BANK, BANK_LINE, "VoucherLines"),
    "/SalesOrders/Complete": (ORDER, ORDER_LINE, "SalesOrderLines"),
    "/SalesOrders/{id}/createAndSendInvoice": (SEND, None, None),
    "/Customers": (CUSTOMER, None, None)}


def _kind_problems(where: str, value: Any, kind: str) -> list[str]:
    if value is None:
        return []
    base = kind.rstrip("!")
    ok = {"id": isinstance(value, int) and not isinstance(value, bool),
          "number": isinstance(value, (int, Decimal)) and not isinstance(value, bool),
          "text": isinstance(value, str), "object": isinstance(value, dict), "lines": isinstance(value, list),
          "bool": isinstance(value, bool), "list": isinstance(value, list),
          "date": isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None}[base]
    return [] if ok else [f"{where}: {value!r} is not of kind {base}"]


def body_problems(schema: dict[str, str], body: Any, at: str) -> list[str]:
    if not isinstance(body, dict):
        return [f"{at}: not an object"]
    out = [f"{at}.{k}: not a property of the DTO" for k in body if k not in schema]
    out += [f"{at}.{k}: required" for k, kind in schema.items() if kind.endswith("!") and body.get(k) is None]
    out += [p for k, v in body.items() if k in schema for p in _kind_problems(f"{at}.{k}", v, schema[k])]
    return out


class ContractCheckingTransport(httpx.BaseTransport):
    """Sends to the sandbox over real HTTP, and records every way a request breaks GO's published contract."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.violations: list[str] = []
        self.checked = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.violations.extend(self.problems(request))
        self.checked += 1
        return self.inner.handle_request(request)

    def problems(self, request: httpx.Request) -> list[str]:
        path, where = request.url.path, f"{request.method} {request.url.path}"
        out = [] if request.headers.get("Ocp-Apim-Subscription-Key") else [f"{where}: no Ocp-Apim-Subscription-Key"]
        if path.lower().endswith("/oauth/token"):
            auth = request.headers.get("Authorization", "")
            if request.method != "POST" or not auth.startswith("Basic ") or ":" not in base64.b64decode(auth[6:]).decode():
                out.append(f"{where}: the token request is a POST with Basic applicationKey:clientKey")
            if "application/x-www-form-urlencoded" not in request.headers.get("Content-Type", "") or \
                    request.content != b"grant_type=client_credentials":
                out.append(f"{where}: the token request's body is the form grant_type=client_credentials")
            return out
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            out.append(f"{where}: no Bearer token")
        route = re.sub(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?=/|$)", "/{id}",
                       path.split("/v2", 1)[-1])
        route = re.sub(r"^/Customers/\d+$", "/Customers/{id}", route)
        declared = OPERATIONS.get((request.method, route))
        if declared is None or "/v2/" not in path:
            return [*out, f"{where}: no such operation in GO's API v2"]
        query = dict(httpx.QueryParams(request.url.query))
        out += [f"{where}: query parameter {k!r} is not declared" for k in query if k not in declared | PAGING]
        out += [f"{where}: required query parameter {k!r} missing" for k in REQUIRED_QUERY.get((request.method, route), ())
                if k not in query]
        for name, value in query.items():
            if TIMESTAMP_PARAMS.search(name):
                try:
                    if dt.datetime.fromisoformat(value).tzinfo is None:
                        out.append(f"{where}: {name} has no offset")
                except ValueError:
                    out.append(f"{where}: {name}={value!r} is no timestamp")
        if request.method == "PATCH":
            body = json.loads(request.content, parse_float=Decimal)
            if "application/json-patch+json" not in request.headers.get("Content-Type", ""):
                out.append(f"{where}: a JSON Patch is sent as application/json-patch+json")
            for i, op in enumerate(body if isinstance(body, list) else [None]):
                name = str((op or {}).get("path") or "").strip("/")
                if not isinstance(op, dict) or op.get("op") not in ("replace", "add", "remove") or name not in CUSTOMER:
                    out.append(f"{where}: body[{i}] is no JSON Patch operation on a CustomerPatchDto property")
        if request.method == "POST":
            schema, line_schema, lines_key = BODIES[route]
            body = json.loads(request.content, parse_float=Decimal)
            out += [f"{where}: {p}" for p in body_problems(schema, body, "body")]
            for i, line in enumerate(body.get(lines_key) or [] if lines_key else []):
                out += [f"{where}: {p}" for p in body_problems(line_schema or {}, line, f"body.{lines_key}[{i}]")]
            if isinstance(body.get("MailAddress"), dict):
                out += [f"{where}: {p}" for p in body_problems(ADDRESS, body["MailAddress"], "body.MailAddress")]
            if route.endswith("createAndSendInvoice") and body.get("DeliveryType") not in DELIVERY_TYPES:
                out.append(f"{where}: DeliveryType {body.get('DeliveryType')!r} is not a SendInvoiceDeliveryType")
            if body.get("InvoiceDeliveryType") not in CUSTOMER_DELIVERY | {None}:
                out.append(f"{where}: InvoiceDeliveryType {body.get('InvoiceDeliveryType')!r} is not one")
        return out


def stored(sandbox: PowerOfficeSandbox) -> list[Stored]:
    """Every voucher GO holds, drafts and posted, in the order created, with our reference and its texts."""
    client = sandbox.client
    out: list[tuple[str, Stored]] = []
    seen: set[str] = set()
    for voucher in list(client.drafts.values()):
        seen.add(voucher["Id"])
        lines = voucher["ManualVoucherLines"]
        out.append((voucher["_created"].isoformat(), Stored(reference_in(voucher), not voucher["_posted"],
                                                           texts(voucher, lines))))
    for voucher in list(client.vouchers.values()):
        if voucher["Id"] not in seen:
            out.append((voucher["CreatedDateTimeOffset"], Stored(reference_in(voucher), False,
                                                                 texts(voucher, voucher["VoucherLines"]))))
    return [s for _, s in sorted(out, key=lambda pair: pair[0])]


def reference_in(voucher: dict[str, Any]) -> str:
    """Our reference: the ExternalImportReference of a direct voucher, else the marker ending the description."""
    if voucher.get("ExternalImportReference"):
        return str(voucher["ExternalImportReference"])
    found = re.search(r"\[([^\[\]]+)\]\s*$", str(voucher.get("Description") or ""))
    return found.group(1) if found else ""


def texts(voucher: dict[str, Any], lines: list[dict[str, Any]]) -> str:
    return " ".join([str(voucher.get("Description") or ""), *(str(line.get("Description") or "") for line in lines)])
