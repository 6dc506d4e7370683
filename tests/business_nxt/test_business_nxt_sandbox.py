"""The Business NXT sandbox holds to the published contract: Visma Connect's token flow and OAuth errors, nginx's
401, the gateway's 429, GraphQL's error shape (validation against our schema file with GraphQL.NET's codes,
Business NXT's words for a company the integration may not reach), and Business NXT's rules for batches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandboxes.business_nxt import BusinessNxtSandbox
from sandboxes.business_nxt.server import SCOPE


@pytest.fixture
def box() -> Iterator[BusinessNxtSandbox]:
    sandbox = BusinessNxtSandbox().start()
    yield sandbox
    sandbox.stop()


def _token(box: BusinessNxtSandbox, **form: str) -> httpx.Response:
    data = {"grant_type": "client_credentials", "client_id": box.client_id, "client_secret": box.client_secret,
            "scope": SCOPE, **form}
    return httpx.post(box.token_url, data=data)


def _ask(box: BusinessNxtSandbox, query: str, variables: dict[str, Any] | None = None,
         token: str | None = None) -> httpx.Response:
    token = token or _token(box).json()["access_token"]
    return httpx.post(box.base_url, json={"query": query, "variables": variables or {}},
                      headers={"Authorization": f"Bearer {token}"})


def _batch(**row: Any) -> dict[str, Any]:
    values = {"voucherNo": 60001, "voucherDate": 20261104, "valueDate": 20261104, "debitAccountNo": 1920,
              "creditAccountNo": 3000, "creditTaxCode": 3, "amountDomestic": Decimal("100.00"),
              "additionalText": "S-1", **row}
    return {"voucherSeriesNo": 6, "valueDate": 20261104, "vouchers": [{k: v for k, v in values.items() if v is not None}]}


CREATE = """mutation m($cid: Int!, $b: [Batch_Input!]!) { useCompany(no: $cid) {
  batch_create(values: $b) { affectedRows items { batchNo vouchers: joindown_Voucher_via_Batch { items { voucherNo
  amountDomestic } } } } } }"""
UPDATE = """mutation u($cid: Int!, $n: Int!) { useCompany(no: $cid) { batch_processings {
  updateBatch(filter: {batchNo: {_eq: $n}}) { succeeded } } } }"""


def _create(box: BusinessNxtSandbox, *rows: dict[str, Any]) -> dict[str, Any]:
    body = {"query": CREATE, "variables": {"cid": 5280001, "b": list(rows)}}
    token = _token(box).json()["access_token"]
    answer = httpx.post(box.base_url, content=json.dumps(body, default=str).replace('"100.00"', "100.00"),
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    return dict(answer.json(parse_float=Decimal))


def test_client_credentials_give_a_bearer_token_and_refusals_are_oauth_errors(box: BusinessNxtSandbox) -> None:
    answer = _token(box)
    assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer" and answer.json()["expires_in"] > 0
    assert (_token(box, client_secret="feil").status_code, _token(box, client_secret="feil").json()) == (
        400, {"error": "invalid_client"})
    assert _token(box, scope="openid").json() == {"error": "invalid_scope"}
    assert _token(box, grant_type="password").json() == {"error": "unsupported_grant_type"}


def test_no_or_an_expired_token_is_nginx_401_html(box: BusinessNxtSandbox) -> None:
    token = _token(box).json()["access_token"]
    box.expire_tokens()
    answer = _ask(box, "{ availableCompanies(customerNo: 5000001) { totalCount } }", token=token)
    assert answer.status_code == 401 and answer.headers["content-type"].startswith("text/html")
    assert b"401 Authorization Required" in answer.content and b"nginx" in answer.content


def test_past_the_rate_limit_the_gateway_answers_429(box: BusinessNxtSandbox) -> None:
    box.rate_limit = 2
    token = _token(box).json()["access_token"]
    statuses = [_ask(box, "{ availableCompanies(customerNo: 5000001) { totalCount } }", token=token).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_a_query_the_schema_does_not_take_is_a_graphql_validation_error_with_its_location(
        box: BusinessNxtSandbox) -> None:
    answer = _ask(box, "query read($cid: Int!) {\n  useCompany(no: $cid) {\n    generalLedgerAccount {\n"
                       "      totalRows\n    }\n  }\n}", {"cid": 5280001})
    assert answer.status_code == 200
    [error] = answer.json()["errors"]
    assert "Cannot query field 'totalRows'" in error["message"]
    assert error["locations"] == [{"line": 4, "column": 7}] and error["extensions"]["code"] == "FIELDS_ON_CORRECT_TYPE"


def test_a_company_the_integration_does_not_reach_is_refused_in_business_nxts_words(box: BusinessNxtSandbox) -> None:
    answer = _ask(box, "{ useCompany(no: 5280003) { generalLedgerAccount { totalCount } } }").json()
    assert answer["data"] == {"useCompany": None}
    assert answer["errors"][0]["message"].startswith("Error: Could not get authorize user using VismaNetCompanyId: "
                                                     "5280003")


def test_available_companies_per_customer_only_those_the_integration_reaches(box: BusinessNxtSandbox) -> None:
    query = "query q($c: Int) { availableCompanies(customerNo: $c) { totalCount items { name vismaNetCompanyId } } }"
    found = _ask(box, query, {"c": 5000001}).json()["data"]["availableCompanies"]
    assert [c["vismaNetCompanyId"] for c in found["items"]] == [5280001, 5280002]  # not 5280003
    assert "errors" in _ask(box, query, {"c": None}).json()  # a service names its customer [unverified]
    assert "errors" in _ask(box, query, {"c": 999}).json()


def test_tables_page_with_first_and_after(box: BusinessNxtSandbox) -> None:
    query = """query q($after: String) { useCompany(no: 5280001) { generalLedgerAccount(first: 5, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } items { accountNo } } } }"""
    seen: list[int] = []
    after = None
    while True:
        page = _ask(box, query, {"after": after}).json()["data"]["useCompany"]["generalLedgerAccount"]
        seen += [a["accountNo"] for a in page["items"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(box.company.accounts) and len(seen) == page["totalCount"]


@pytest.mark.parametrize(("row", "words"), [
    ({"creditAccountNo": 2999}, "Account 2999 does not exist"),
    ({"creditTaxCode": 86}, "Tax code 86 does not exist"),
    ({"creditAccountNo": 3100, "creditTaxCode": 3}, "Tax code 3 is not allowed for account 3100 (locked to 5)"),
    ({"amountDomestic": Decimal("-5")}, "positive amount"),
    ({"voucherDate": 20260231}, "not a valid date"),
    ({"debitAccountNo": None, "creditAccountNo": None}, "debit account or a credit account"),
    ({"orgUnit1": 404}, "Organisational unit 404"),
    ({"customerNo": 99999, "debitAccountNo": 99999}, "Customer 99999 does not exist"),
])
def test_rows_business_nxt_refuses_make_no_batch(box: BusinessNxtSandbox, row: dict[str, Any], words: str) -> None:
    answer = _create(box, _batch(**row))
    assert words in answer["errors"][0]["message"] and answer["errors"][0]["path"] == ["useCompany", "batch_create"]
    assert box.company.batches == {}


def test_an_unbalanced_batch_is_registered_but_not_updated(box: BusinessNxtSandbox) -> None:
    created = _create(box, _batch(creditAccountNo=None))  # a debit without its credit: allowed while registering
    batch = created["data"]["useCompany"]["batch_create"]["items"][0]["batchNo"]
    refused = _ask(box, UPDATE, {"cid": 5280001, "n": batch}).json()
    assert "does not balance: debit 100.00, credit 0" in refused["errors"][0]["message"]
    assert list(box.company.batches) == [batch] and box.company.updated == []


def test_a_voucher_in_the_locked_period_is_not_updated(box: BusinessNxtSandbox) -> None:
    box.company.locked_until = 20261130
    batch = _create(box, _batch())["data"]["useCompany"]["batch_create"]["items"][0]["batchNo"]
    refused = _ask(box, UPDATE, {"cid": 5280001, "n": batch}).json()
    assert "locked period" in refused["errors"][0]["message"]


def test_updating_moves_the_rows_to_updated_vouchers_and_frees_the_batch_number(box: BusinessNxtSandbox) -> None:
    first = _create(box, _batch())["data"]["useCompany"]["batch_create"]["items"][0]
    assert first["vouchers"]["items"] == [{"voucherNo": 60001, "amountDomestic": Decimal("100.00")}]
    assert _ask(box, UPDATE, {"cid": 5280001, "n": first["batchNo"]}).json()["data"]["useCompany"][
        "batch_processings"]["updateBatch"] == {"succeeded": True}
    assert [(r["journalNo"], r["additionalText"]) for r in box.company.updated] == [(1, "S-1")]
    second = _create(box, _batch(voucherNo=60002, additionalText="S-2"))
    assert second["data"]["useCompany"]["batch_create"]["items"][0]["batchNo"] == first["batchNo"]  # reused
    assert box.company.series[6]["nextVoucherNo"] == 60003
