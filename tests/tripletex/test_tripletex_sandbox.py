"""The sandbox speaks Tripletex: envelopes, auth, validation messages, request ids, rate limits, faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandboxes.tripletex import TripletexSandbox


@pytest.fixture
def api(sandbox: TripletexSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url + "/", timeout=5) as client:
        token = client.put("token/session/:create", params={
            "consumerToken": sandbox.consumer_token, "employeeToken": sandbox.employee_token,
            "expirationDate": "2030-01-01"}).json()["value"]["token"]
        client.auth = httpx.BasicAuth("0", token)
        yield client


def ids(sandbox: TripletexSandbox) -> dict[str, int]:
    company = sandbox.company
    return {"1500": company.account(1500)["id"], "1920": company.account(1920)["id"],
            "3000": company.account(3000)["id"], "2400": company.account(2400)["id"],
            "vat3": company.vat_type("3")["id"],
            "customer": next(iter(company.customers)), "supplier": next(iter(company.suppliers))}


def voucher(*postings: dict[str, Any], date: str | None = "2026-11-02", **extra: Any) -> dict[str, Any]:
    rows = [{"row": i, "date": date, **p} for i, p in enumerate(postings, 1)]
    return {"date": date, "description": "Bilag æøå", "postings": rows, **extra}


def post(api: httpx.Client, body: Any, send: str = "false") -> httpx.Response:
    return api.post("ledger/voucher", params={"sendToLedger": send},
                    content=json.dumps(body, ensure_ascii=False).encode(),
                    headers={"Content-Type": "application/json; charset=utf-8"})


def test_a_balanced_voucher_is_stored_with_unicode_and_the_list_envelope_finds_it(
        api: httpx.Client, sandbox: TripletexSandbox) -> None:
    i = ids(sandbox)
    response = post(api, voucher({"account": {"id": i["1920"]}, "amountGross": 99.5},
                                 {"account": {"id": i["3000"]}, "amountGross": -99.5, "vatType": {"id": i["vat3"]},
                                  "description": "Smørbrød på Ås"}, externalVoucherNumber="Ø-1"))
    assert response.status_code == 201 and response.headers["x-tlx-request-id"]
    created = response.json()["value"]
    assert created["tempNumber"] >= 1 and created["number"] == 0
    assert created["postings"][1]["description"] == "Smørbrød på Ås"
    sandbox.external_number_finds_drafts = True  # the lenient answer (see test_the_draft_switch_…)
    found = api.get("ledger/voucher/>externalVoucherNumber", params={"externalVoucherNumber": "Ø-1"}).json()
    assert set(found) == {"fullResultSize", "from", "count", "versionDigest", "values"}
    assert [v["id"] for v in found["values"]] == [created["id"]]
    drafts = api.get("ledger/voucher/>nonPosted", params={"includeNonApproved": "true"}).json()["values"]
    assert [v["id"] for v in drafts] == [created["id"]]
    assert api.get(f"ledger/voucher/{created['id']}").json()["value"]["description"] == "Bilag æøå"


def test_validation_refuses_what_tripletex_refuses_all_messages_at_once(
        api: httpx.Client, sandbox: TripletexSandbox) -> None:
    i = ids(sandbox)
    sandbox.company.deactivate_account(3000)
    body = voucher({"account": {"id": i["1500"]}, "amountGross": 100},  # customer ledger without customer
                   {"account": {"id": i["2400"]}, "amountGross": 10},  # supplier ledger without supplier
                   {"account": {"id": i["3000"]}, "amountGross": -100},  # inactive, and 10 off balance
                   {"account": {"id": 999999}, "amountGross": 0, "vatType": {"id": 888888}})
    body["postings"][1]["row"] = 0
    response = post(api, body)
    assert response.status_code == 422
    error = response.json()
    assert error["status"] == 422 and error["code"] == 18000
    assert error["message"] == "Validering feilet." and error["developerMessage"] == "VALIDATION_ERROR"
    assert error["requestId"] == response.headers["x-tlx-request-id"]
    # Tripletex's shape: `field` without the row, `path` with it (or null), `rootId` null for a new voucher.
    assert all(set(m) == {"field", "message", "path", "rootId"} and m["rootId"] is None
               for m in error["validationMessages"])
    by_path = {m["path"]: (m["field"], m["message"]) for m in error["validationMessages"] if m["path"]}
    assert by_path["postings[0].customer.id"] == ("postings.customer.id", "Kunde mangler.")
    assert by_path["postings[1].supplier.id"] == ("postings.supplier.id", "Leverandør mangler.")
    assert by_path["postings[2].account.id"] == ("postings.account.id", "Konto 3000 er inaktiv.")
    assert "postings[3].account.id" in by_path and "postings[3].vatType.id" in by_path
    whole = {(m["field"], m["message"]) for m in error["validationMessages"] if m["path"] is None}
    assert ("postings.row", "Posteringene på rad 0 (guiRow 0) er systemgenererte og kan ikke opprettes eller endres "
                            "på utsiden av Tripletex.") in whole
    assert ("postings", "Summen av posteringene for 2026-11-02 er ikke lik 0.") in whole
    assert sandbox.vouchers == []


def test_missing_dates_and_unknown_fields_are_refused(api: httpx.Client, sandbox: TripletexSandbox) -> None:
    i = ids(sandbox)
    undated = post(api, voucher({"account": {"id": i["1920"]}, "amountGross": 1},
                                {"account": {"id": i["3000"]}, "amountGross": -1}, date=None))
    assert undated.status_code == 422
    assert {m["field"] for m in undated.json()["validationMessages"]} >= {"date", "postings.date"}
    assert "postings[0].date" in {m["path"] for m in undated.json()["validationMessages"]}
    invented = post(api, voucher({"account": {"id": i["1920"]}, "amountGross": 1, "kid": "123"},
                                 {"account": {"id": i["3000"]}, "amountGross": -1}))
    assert invented.status_code == 422 and invented.json()["code"] == 16000
    assert sandbox.vouchers == []


def test_auth_is_required_and_the_company_must_be_reachable(sandbox: TripletexSandbox, api: httpx.Client) -> None:
    with httpx.Client(base_url=sandbox.base_url + "/") as anonymous:
        response = anonymous.get("ledger/account")
        assert response.status_code == 401 and response.json()["code"] == 3000
        assert response.headers["x-tlx-request-id"]
        refused = anonymous.put("token/session/:create", params={
            "consumerToken": "x", "employeeToken": "y", "expirationDate": "2030-01-01"})
        assert refused.status_code == 403
    token = api.auth._auth_header.split()[1]  # type: ignore[union-attr]
    other = httpx.get(sandbox.base_url + "/token/session/>whoAmI", headers={"Authorization": "Basic " + token})
    assert other.status_code == 200
    assert other.json()["value"]["companyId"] == sandbox.company.id


def test_lookup_filters_and_paging(api: httpx.Client, sandbox: TripletexSandbox) -> None:
    accounts = api.get("ledger/account", params={"number": "1500,1920,9999"}).json()
    assert sorted(a["number"] for a in accounts["values"]) == [1500, 1920]
    assert accounts["values"][0]["ledgerType"] == "CUSTOMER"
    page = api.get("ledger/account", params={"from": 2, "count": 3}).json()
    assert page["from"] == 2 and page["count"] == 3 and page["fullResultSize"] == len(sandbox.company.accounts)
    vat = api.get("ledger/vatType", params={"number": "3,31,33,1,11,13,0,5,6"}).json()["values"]
    assert {v["number"]: str(v["percentage"]) for v in vat} == {
        "0": "0", "1": "25", "11": "15", "13": "12", "3": "25", "31": "15", "33": "12", "5": "0", "6": "0"}
    customers = api.get("customer", params={"customerAccountNumber": "10002"}).json()["values"]
    assert [c["name"] for c in customers] == ["Blåbærgården Økologiske"]
    assert api.get("customer", params={"organizationNumber": "987654325"}).json()["values"][0]["customerNumber"] == 10001
    assert api.get("department", params={"departmentNumber": "2"}).json()["values"][0]["name"] == "Nettbutikk"
    assert api.get("project", params={"number": "100"}).json()["values"][0]["name"] == "Sommerkampanje Bodø"


def test_rate_limit_headers_and_429_for_the_rest_of_the_period(api: httpx.Client, sandbox: TripletexSandbox) -> None:
    ok = api.get("ledger/account", params={"number": "1500"})
    assert int(ok.headers["X-Rate-Limit-Limit"]) == sandbox.rate_limit
    assert int(ok.headers["X-Rate-Limit-Remaining"]) < sandbox.rate_limit
    assert int(ok.headers["X-Rate-Limit-Reset"]) >= 1
    sandbox.exhaust_rate_limit()
    for _ in range(2):
        limited = api.get("ledger/account")
        assert limited.status_code == 429 and limited.headers["X-Rate-Limit-Remaining"] == "0"
        assert limited.headers["Retry-After"] == limited.headers["X-Rate-Limit-Reset"]


def test_faults_fire_as_many_times_as_asked(api: httpx.Client, sandbox: TripletexSandbox) -> None:
    i = ids(sandbox)
    body = voucher({"account": {"id": i["1920"]}, "amountGross": 1}, {"account": {"id": i["3000"]}, "amountGross": -1})
    sandbox.faults.add(r"^/ledger/voucher$", "POST", "commit_then_500")
    sandbox.faults.add(r"^/ledger/account", "GET", "503", times=2)
    sandbox.faults.add(r"^/customer", "GET", "429")
    assert post(api, body).status_code == 500
    assert len(sandbox.vouchers) == 1  # committed before answering 500
    assert post(api, body).status_code == 201
    assert [api.get("ledger/account").status_code for _ in range(3)] == [503, 503, 200]
    limited = api.get("customer")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert [k for k, _, _ in sandbox.faults.fired] == ["commit_then_500", "503", "503", "429"]
    assert sandbox.count("GET", "/v2/ledger/account") == 3
    with pytest.raises(ValueError):
        sandbox.faults.add(".", "GET", "teapot")


def test_fields_selects_what_comes_back(api: httpx.Client) -> None:
    accounts = api.get("ledger/account", params={"number": "1500", "fields": "id,number"}).json()["values"]
    assert [set(a) for a in accounts] == [{"id", "number"}]
    who = api.get("token/session/>whoAmI", params={"fields": "companyId,company(id,name)"}).json()["value"]
    assert set(who) == {"companyId", "company"}
    assert "ledgerType" in api.get("ledger/account", params={"fields": "*"}).json()["values"][0]


def test_customers_are_created_as_tripletex_validates_them_and_found_by_mobile_phone(
        api: httpx.Client, sandbox: TripletexSandbox) -> None:
    created = api.post("customer", json={"name": "Åse Ødegård", "phoneNumberMobile": "+4791234567",
                                         "isPrivateIndividual": True})
    assert created.status_code == 201
    customer = created.json()["value"]
    assert customer["name"] == "Åse Ødegård" and customer["customerNumber"] >= 10000 and customer["id"]
    found = api.get("customer", params={"phoneNumberMobile": "+4791234567"}).json()["values"]
    assert [c["id"] for c in found] == [customer["id"]]
    assert api.get("customer", params={"phoneNumberMobile": "91234567"}).json()["values"] == []  # exact match

    nameless = api.post("customer", json={"email": "x@example.no"})
    assert nameless.status_code == 422 and nameless.json()["validationMessages"][0]["field"] == "name"
    taken = api.post("customer", json={"name": "Dublett", "customerNumber": 10001})
    assert taken.status_code == 422 and taken.json()["validationMessages"][0]["field"] == "customerNumber"
    invented = api.post("customer", json={"name": "X", "mobil": "1"})
    assert invented.status_code == 422 and invented.json()["code"] == 16000
