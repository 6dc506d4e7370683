"""Every envelope the connector sends validates against the official WSDLs; the check itself refuses what breaks
them; the sandbox serves those WSDLs and answers in their shapes."""

from __future__ import annotations

import re

import httpx
import pytest
from lxml import etree

from pipeline.ledger import deliver_once
from pipeline.model import Voucher
from sandboxes.finago_office import soap as sandbox_soap
from sandboxes.finago_office import wsdl as official
from tests.finago_office.finago_support import WsdlCheckingTransport, services, violations

SALE = Voucher(reference="WSDL-1 æøå", date="2026-11-20", description="Faktura til Fjordkafé",
               lines=[{"account": "1500", "amount": "1250.00", "invoice_number": "7001", "kid": "0000070011",
                       "due_date": "2026-12-04", "customer": {"number": "10001"}},
                      {"account": "3000", "amount": "-1000.00", "vat_code": "3", "dimensions": {"department": "1"}},
                      {"account": "3000", "amount": "-250.00", "vat_code": "31", "dimensions": {"project": "100"}}])


def test_every_operation_the_connector_uses_sends_envelopes_the_wsdls_accept(wired):
    target = wired.target()
    assert target.check()["target"] == "finago-office"
    purchase = Voucher(reference="WSDL-0", date="2026-11-20", lines=[
        {"account": "4300", "amount": "800.00", "vat_code": "1"},
        {"account": "2400", "amount": "-800.00", "supplier": {"organization_number": "912345688"}}])
    assert target.preflight([SALE, purchase]) == []
    assert target.render(SALE)["SaveOption"] == 1
    deliver_once(wired.tables, target, SALE, tenant="kunde-1", target_name="finago-office", document_id="d-1")
    wired.sandbox.faults.add("^SaveBundleList$", "POST", "commit_then_500")
    direct = wired.target(direct_posting=True)
    second = SALE.model_copy(update={"reference": "WSDL-2"})
    for _ in range(2):
        try:
            deliver_once(wired.tables, direct, second, tenant="kunde-1", target_name="finago-office", document_id="d-2")
            break
        except Exception:  # noqa: BLE001 - the first answer is the injected 500
            continue
    assert direct.accounts_missing(["1920", "2999"]) == {"2999": "does not exist in Finago Office"}
    used = set(wired.transport.checked)
    assert used >= {"Login", "GetIdentities", "GetClientInformation", "GetTypeList", "GetAccountList", "GetFiscalYears",
                    "GetTaxCodeList", "GetDepartmentList", "GetProjectList", "GetCompanies", "GetEntryId",
                    "SaveBundleList", "GetTransactions"}
    assert wired.transport.violations == []  # (the fixture checks again, after close)


def _request(path: str, action: str, body: bytes, content_type: str = "text/xml; charset=utf-8") -> httpx.Request:
    return httpx.Request("POST", f"http://sandbox{path}", content=body,
                         headers={"Content-Type": content_type, "SOAPAction": action})


ENVELOPE = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{}</s:Body></s:Envelope>')
ENTRY_ID = ('<GetEntryId xmlns="http://24sevenOffice.com/webservices"><argEntryId><Date>2026-11-20T00:00:00</Date>'
            '<SortNo>{}</SortNo><EntryNo>0</EntryNo></argEntryId></GetEntryId>')
ACCOUNT = "/Economy/Account/V004/Accountservice.asmx"
ACTION = '"http://24sevenOffice.com/webservices/GetEntryId"'


@pytest.mark.parametrize(("path", "action", "body", "content_type", "expected"), [
    (ACCOUNT, ACTION, ENVELOPE.format(ENTRY_ID.format(5)), "text/xml; charset=utf-8", None),
    (ACCOUNT, ACTION, ENVELOPE.format(ENTRY_ID.format("fem")), "text/xml; charset=utf-8", "not a valid value"),
    (ACCOUNT, ACTION, ENVELOPE.format(ENTRY_ID.format(5).replace("<EntryNo>0</EntryNo>", "")),
     "text/xml; charset=utf-8", "EntryNo"),
    (ACCOUNT, ACTION, ENVELOPE.format(ENTRY_ID.format(5).replace("</argEntryId>", "<Kommentar>x</Kommentar>"
                                                                 "</argEntryId>")), "text/xml; charset=utf-8",
     "Kommentar"),
    (ACCOUNT, '"http://24sevenOffice.com/webservices/SaveBundleList"', ENVELOPE.format(ENTRY_ID.format(5)),
     "text/xml; charset=utf-8", "the operation takes"),
    (ACCOUNT, ACTION.strip('"'), ENVELOPE.format(ENTRY_ID.format(5)), "text/xml; charset=utf-8", "not quoted"),
    (ACCOUNT, ACTION, ENVELOPE.format(ENTRY_ID.format(5)), "application/soap+xml; charset=utf-8", "Content-Type"),
    ("/Economy/Account/V003/Accountservice.asmx", ACTION, ENVELOPE.format(ENTRY_ID.format(5)),
     "text/xml; charset=utf-8", "no Finago Office service"),
    (ACCOUNT, ACTION, "<GetEntryId/>", "text/xml; charset=utf-8", "not a SOAP 1.1 envelope"),
])
def test_the_check_refuses_what_breaks_the_wsdl(path, action, body, content_type, expected):
    found = violations(_request(path, action, body.encode(), content_type), services())
    if expected is None:
        assert found == []
    else:
        assert found and any(expected in v for v in found), found


def test_the_sandbox_serves_the_official_wsdls_pointing_at_itself(wired):
    for service in services().values():
        served = httpx.get(f"{wired.sandbox.base_url}{service.path}?WSDL")
        assert served.status_code == 200 and served.headers["content-type"].startswith("text/xml")
        addresses = re.compile(rb'location="[^"]+"')
        assert addresses.sub(b"", served.content) == addresses.sub(b"", service.text)
        assert f'location="{wired.sandbox.base_url}{service.path}"'.encode() in served.content


def test_the_sandboxs_answers_validate_against_the_wsdls(wired):
    """What the sandbox answers is what the WSDL says each operation returns (so the connector is read against the
    real shapes, not the sandbox's)."""
    checked = []

    class Answers(httpx.BaseTransport):
        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = self.inner.handle_request(request)
            response.read()
            action = request.headers.get("SOAPAction", "").strip('"')
            service = next((s for s in services().values() if s.path == request.url.path), None)
            if request.method == "POST" and service is not None and response.status_code == 200:
                operation = service.actions[action]
                content = official.payload(etree.fromstring(response.content))
                assert content is not None and content.tag.endswith(operation.name + "Response")
                assert service.schema.validate(etree.ElementTree(content)), (operation.name, service.schema.error_log)
                checked.append(operation.name)
            return response

        def close(self) -> None:
            self.inner.close()

    wired.transport = WsdlCheckingTransport(services(), Answers(httpx.HTTPTransport()))
    target = wired.target()
    target.check()
    target.preflight([SALE])
    target.deliver(SALE)
    target.find(SALE.reference)
    copy = Voucher.model_validate({**SALE.model_dump(mode="json"), "reference": "WSDL-3", "lines": [
        {**line, "invoice_number": "7003"} if line.get("invoice_number") else line
        for line in SALE.model_dump(mode="json")["lines"]]})
    wired.target(direct_posting=True).deliver(copy)
    wired.target(direct_posting=True).find("WSDL-3")
    wired.sandbox.books.transactions_list_journal = True
    assert wired.target().read("transaction", "GetTransactions", searchParams={
        "DateStart": "2026-11-20T00:00:00", "DateEnd": "2026-11-21T00:00:00", "SystemType": None,
        "HasInvoiceId": None})
    assert set(checked) >= {"GetIdentities", "GetClientInformation", "GetTypeList", "GetAccountList", "GetFiscalYears",
                            "GetTaxCodeList", "GetDepartmentList", "GetProjectList", "GetCompanies", "GetEntryId",
                            "SaveBundleList", "GetTransactions", "Login"}


def test_a_fault_has_aspnets_shape():
    parsed = etree.fromstring(sandbox_soap.fault("Client", "Server was unable to read request. ---> x < y"))
    node = parsed.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    assert node is not None and node.findtext("faultcode") == "soap:Client"
    assert node.findtext("faultstring") == "Server was unable to read request. ---> x < y"
