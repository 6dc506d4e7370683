"""The Finago Office sandbox behaves like the published service: ASP.NET's faults, sessions, the quota, and the
rules SaveBundleList applies (nothing saved unless all of it may be)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest
from lxml import etree

from sandboxes.finago_office import Books, FinagoOfficeSandbox, Refused
from tests.finago_office.finago_support import services

ENVELOPE = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
            '<s:Body>{}</s:Body></s:Envelope>')
WS = "http://24sevenOffice.com/webservices"
ACCOUNT = "/Economy/Account/V004/Accountservice.asmx"
AUTH = "/authenticate/v001/authenticate.asmx"


@pytest.fixture
def box():
    services()  # skips (fails under CI) without the official WSDLs
    sandbox = FinagoOfficeSandbox().start()
    yield sandbox
    sandbox.stop()


def post(box, path, operation, body, *, session=None, namespace=WS):
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{namespace}/{operation}"'}
    if session:
        headers["Cookie"] = f"ASP.NET_SessionId={session}"
    return httpx.post(box.base_url + path, content=ENVELOPE.format(body).encode(), headers=headers)


def fault(response):
    node = etree.fromstring(response.content).find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    return node.findtext("faultcode"), node.findtext("faultstring")


def login(box, password=None):
    body = (f'<Login xmlns="{WS}"><credential><ApplicationId>{box.application_id}</ApplicationId>'
            f'<Password>{password or box.user.password}</Password><Username>{box.user.username}</Username>'
            '</credential></Login>')
    return post(box, AUTH, "Login", body)


def test_a_login_gives_a_session_cookie_every_service_then_takes(box):
    answer = login(box)
    session = answer.cookies["ASP.NET_SessionId"]
    assert answer.status_code == 200 and session in answer.text and box.logins == 1
    accounts = post(box, ACCOUNT, "GetAccountList", f'<GetAccountList xmlns="{WS}"/>', session=session)
    assert accounts.status_code == 200 and "<AccountNo>1920</AccountNo>" in accounts.text
    without = post(box, ACCOUNT, "GetAccountList", f'<GetAccountList xmlns="{WS}"/>')
    assert without.status_code == 500 and fault(without) == (
        "soap:Server", "Server was unable to process request. ---> Not authenticated")
    save = post(box, ACCOUNT, "SaveBundleList", f'<SaveBundleList xmlns="{WS}"><BundleList/></SaveBundleList>')
    assert save.status_code == 200 and "<Type>NotAuthenticated</Type>" in save.text


def test_a_refused_login_is_a_fault_or_with_the_switch_an_empty_answer(box):
    refused = login(box, password="feil")
    assert refused.status_code == 500 and "Invalid username or password" in fault(refused)[1]
    box.empty_login = True
    empty = login(box, password="feil")
    assert empty.status_code == 200 and "<LoginResult>" not in empty.text and box.logins == 0


def test_aspnets_client_faults_for_what_it_cannot_read(box):
    unknown = post(box, ACCOUNT, "GetAccountLists", f'<GetAccountList xmlns="{WS}"/>')
    assert unknown.status_code == 500 and fault(unknown)[0] == "soap:Client"
    assert "did not recognize the value of HTTP Header SOAPAction" in fault(unknown)[1]
    broken = post(box, ACCOUNT, "GetEntryId", f'<GetEntryId xmlns="{WS}"><argEntryId><Date>i går</Date>'
                                              '<SortNo>1</SortNo><EntryNo>0</EntryNo></argEntryId></GetEntryId>')
    assert broken.status_code == 500 and fault(broken)[0] == "soap:Client"
    assert fault(broken)[1].startswith("Server was unable to read request.")
    assert httpx.get(box.base_url + "/finnes/ikke.asmx?wsdl").status_code == 404


def test_the_quota_blocks_with_its_quarantine_until_the_hour_is_over():
    services()
    box = FinagoOfficeSandbox(rate_limit=2).start()
    try:
        session = login(box).cookies["ASP.NET_SessionId"]
        assert post(box, ACCOUNT, "GetTypeList", f'<GetTypeList xmlns="{WS}"/>', session=session).status_code == 200
        blocked = post(box, ACCOUNT, "GetTypeList", f'<GetTypeList xmlns="{WS}"/>', session=session)
        assert blocked.status_code == 500
        code, text = fault(blocked)
        assert text.startswith("Limit exceeded by 1. Request is blocked. Quarantine ends at ")
        ends = dt.datetime.strptime(text.rsplit(" at ", 1)[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
        assert dt.timedelta(minutes=59) < ends - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    finally:
        box.stop()


def test_identities_choose_the_client_whose_books_are_read(box):
    other = Books(client_id=2002, name="Regnskapsklient Ørsta AS").seed_demo()
    other.accounts.pop(1920)
    second = box.add_client(other)
    session = login(box).cookies["ASP.NET_SessionId"]
    listed = post(box, AUTH, "GetIdentities", f'<GetIdentities xmlns="{WS}"/>', session=session)
    assert listed.text.count("<Identity>") == 2 and "Regnskapsklient Ørsta AS" in listed.text
    chosen = post(box, AUTH, "SetIdentityById", f'<SetIdentityById xmlns="{WS}"><identityId>{second.id}'
                                                '</identityId></SetIdentityById>', session=session)
    assert "<SetIdentityByIdResult>true</SetIdentityByIdResult>" in chosen.text
    accounts = post(box, ACCOUNT, "GetAccountList", f'<GetAccountList xmlns="{WS}"/>', session=session)
    assert "<AccountNo>1920</AccountNo>" not in accounts.text


# -- SaveBundleList's rules, on the books themselves ----------------------------------------------------


def entry(account, amount, **more):
    return {"AccountNo": str(account), "Amount": str(amount), "Date": "2026-11-20T00:00:00", **more}


def bundle_list(*entries, option=1, year=2026, number=1, ignore=(), allow_difference=False):
    return {"SaveOption": str(option), "AllowDifference": str(allow_difference).lower(),
            "IgnoreWarnings": {"string": list(ignore)} if ignore else None,
            "Bundles": {"Bundle": {"YearId": str(year), "Name": "Bilagsbro test",
                                   "Vouchers": {"Voucher": {"TransactionNo": str(number), "Sort": "5",
                                                            "Entries": {"Entry": list(entries)}}}}}}


def refused(books, body):
    with pytest.raises(Refused) as caught:
        books.save(body)
    assert books.journal == [] and books.ledger == [] or caught.value.kind in ("DuplicateData", "DataAlreadySaved")
    return caught.value


def test_every_problem_of_a_bundle_is_named_and_nothing_is_saved():
    books = Books().seed_demo()
    problem = refused(books, bundle_list(entry(1920, "100.00"), entry(2999, "-90.00"),
                                         entry(1920, "-10.005", TaxNo="3"), entry(3000, "0", TaxNo="86",
                                                                                 DepartmentId="404")))
    assert problem.kind == "Exception"
    for words in ("Account 2999 does not exist", "more than 2 decimals", "VAT code 3 is not allowed on account 1920",
                  "VAT code 86 does not exist", "Department 404 does not exist", "not in balance"):
        assert words in problem.description


@pytest.mark.parametrize(("year", "day", "words"), [
    (2025, "2025-06-01T00:00:00", "accounting year 2025 is locked"),
    (2030, "2030-06-01T00:00:00", "Accounting year 2030 is not set up"),
    (2026, "2027-01-01T00:00:00", "outside accounting year 2026"),
])
def test_closed_and_missing_years_are_refused(year, day, words):
    books = Books().seed_demo()
    body = bundle_list(entry(1920, "10.00", Date=day), entry(3000, "-10.00", TaxNo="3", Date=day), year=year)
    assert words in refused(books, body).description


def test_a_journal_may_be_out_of_balance_when_allowed_a_posting_never():
    books = Books().seed_demo()
    books.save(bundle_list(entry(1920, "10.00"), entry(3000, "-9.00", TaxNo="3"), allow_difference=True))
    assert len(books.journal) == 1
    assert "not in balance" in refused(Books().seed_demo(), bundle_list(
        entry(1920, "10.00"), entry(3000, "-9.00"), option=0, allow_difference=True)).description


def test_a_direct_posting_needs_its_vat_booked_unless_the_warning_is_ignored():
    books = Books().seed_demo()
    gross = (entry(1920, "125.00"), entry(3000, "-125.00", TaxNo="3"))
    assert refused(books, bundle_list(*gross, option=0)).kind == "NotSaved"
    split = (entry(1920, "125.00"), entry(3000, "-100.00", TaxNo="3", VatAmount="-25.00"), entry(2700, "-25.00"))
    books.save(bundle_list(*split, option=0))
    assert [row["Amount"] for row in books.ledger] == [Decimal("125.00"), Decimal("-100.00"), Decimal("-25.00")]
    Books().seed_demo().save(bundle_list(*gross, option=0, ignore=("vatisnotinbalance",)))


def test_a_reference_already_on_the_same_account_with_the_same_sign_is_duplicate_data():
    books = Books().seed_demo()
    books.save(bundle_list(entry(1500, "100.00", InvoiceReferenceNo="7001", CustomerId="10001"),
                           entry(3000, "-100.00", InvoiceReferenceNo="REF-1")))
    again = refused(books, bundle_list(entry(1920, "100.00", InvoiceReferenceNo="REF-1X"),
                                       entry(3000, "-100.00", InvoiceReferenceNo="REF-1")))
    assert again.kind == "DuplicateData" and "REF-1" in again.description
    # The invoice's payment names the same invoice on the other side: no duplicate.
    books.save(bundle_list(entry(1920, "100.00", InvoiceReferenceNo="BET-1"),
                           entry(1500, "-100.00", InvoiceReferenceNo="7001", CustomerId="10001")))
    books.save(bundle_list(entry(1920, "100.00", InvoiceReferenceNo="REF-2"),
                           entry(3000, "-100.00", InvoiceReferenceNo="REF-1"), ignore=("invoicealreadyexists",)))
    assert len(books.journal) == 3
    books.journal_references_checked = False  # the other reading: the journal is not searched
    books.save(bundle_list(entry(1920, "100.00", InvoiceReferenceNo="REF-2"),
                           entry(3000, "-100.00", InvoiceReferenceNo="REF-2")))


def test_a_posted_voucher_number_cannot_be_used_again_in_its_year():
    books = Books().seed_demo()
    split = (entry(1920, "10.00"), entry(3000, "-10.00"))
    books.save(bundle_list(*split, option=0, number=7))
    assert books.next_number(dt.date(2026, 11, 20), 5) == 8
    assert refused(books, bundle_list(entry(1920, "20.00"), entry(3000, "-20.00"), option=0, number=7)).kind == (
        "DataAlreadySaved")


def test_the_ledger_is_searched_by_invoice_number_and_date_the_journal_only_when_listed():
    books = Books().seed_demo()
    books.save(bundle_list(entry(1920, "10.00", InvoiceReferenceNo="A"), entry(3000, "-10.00", InvoiceReferenceNo="A"),
                           option=0))
    books.save(bundle_list(entry(1920, "10.00", InvoiceReferenceNo="B"), entry(3000, "-10.00", InvoiceReferenceNo="B")))
    day = {"DateStart": "2026-11-20T00:00:00", "DateEnd": "2026-11-21T00:00:00"}
    assert len(books.transactions({**day, "InvoiceNo": "A"})) == 2
    assert books.transactions({**day, "InvoiceNo": "B"}) == []
    assert books.transactions({"DateStart": "2026-11-21T00:00:00", "DateEnd": "2026-11-22T00:00:00",
                               "InvoiceNo": "A"}) == []
    books.transactions_list_journal = True
    assert all(row["Hidden"] for row in books.transactions({**day, "InvoiceNo": "B"}))
    books.post_journal()
    assert [v["draft"] for v in books.vouchers()] == [False, False]
