"""The Business NXT connector against its sandbox: drafts (unposted batches), the opted-in update and what happens
when it is refused or its answer is lost, exactly once through the ledger, preflight with every problem at once,
voucher numbers for a burst of workers, and the connection test in the customer's words."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from connectors.targets.business_nxt.descriptor import DESCRIPTOR
from pipeline.errors import ConfigError, OutcomeUnknown
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryTables
from pipeline.model import Voucher
from tests.contract.harnesses.business_nxt import Harness


def _voucher(reference: str = "NXT-1", day: str = "2026-11-04", **line: Any) -> Voucher:
    return Voucher(reference=reference, date=day, description="Dagsoppgjør Ålesund",
                   lines=[{"account": "1920", "amount": "480.00", "description": "Vipps og kort"},
                          {"account": "3000", "amount": "-480.00", "vat_code": "3", **line}])


def _target(nxt: Harness, **settings: Any) -> Any:
    context = nxt.connect(direct_posting=bool(settings.pop("direct_posting", False)))
    context.settings = {**context.settings, **settings}
    return DESCRIPTOR.connect(context)


def _once(nxt: Harness, tables: MemoryTables, voucher: Voucher, **settings: Any) -> Any:
    return deliver_once(tables, _target(nxt, **settings), voucher, tenant="kunde-1", target_name="business-nxt",
                        document_id="d-1", lease=dt.timedelta(0))


def test_a_draft_is_an_unposted_batch_with_our_reference_on_its_rows(nxt: Harness) -> None:
    delivery = _target(nxt).deliver(_voucher())
    company = nxt.sandbox.company
    [batch] = company.batches.values()
    assert delivery.draft and delivery.remote_id == f"batch:{batch['batchNo']}/voucher:60001"
    assert batch["description"] == "Dagsoppgjør Ålesund" and company.updated == []
    assert [(r["debitAccountNo"], r["creditAccountNo"], r["amountDomestic"], r["additionalText"], r["voucherDate"])
            for r in batch["vouchers"]] == [(1920, 3000, 480, "NXT-1", 20261104)]


def test_direct_posting_updates_the_batch(nxt: Harness) -> None:
    target = _target(nxt, direct_posting=True)
    delivery = target.deliver(_voucher())
    assert (delivery.draft, delivery.remote_id) == (False, "voucher:60001") and nxt.sandbox.company.batches == {}
    found = target.find("NXT-1")
    assert found is not None and (found.remote_id, found.draft, found.details["journal"]) == ("voucher:60001", False, 1)
    assert [r["additionalText"] for r in nxt.sandbox.company.updated] == ["NXT-1"]
    assert "update_batch" in nxt.transport.documents


def test_a_refused_update_leaves_the_draft_says_why_and_is_never_made_twice(nxt: Harness) -> None:
    nxt.sandbox.company.locked_until = 20261130  # locked after our preflight looked: the update refuses it
    target = _target(nxt, direct_posting=True)
    target.context.lookups.fill("company", ["information"], lambda _: {"information": {"lockedUntilDate": 0}})
    tables = MemoryTables()
    outcome = deliver_once(tables, target, _voucher(), tenant="kunde-1", target_name="business-nxt",
                           document_id="d-1", lease=dt.timedelta(0))
    assert outcome.delivery.draft and "locked period" in outcome.delivery.details["not_posted"]
    again = _once(nxt, tables, _voucher(), direct_posting=True)
    assert again.duplicate and len(nxt.sandbox.company.batches) == 1


def test_an_update_whose_answer_is_lost_is_finished_by_the_retry_not_repeated(nxt: Harness) -> None:
    nxt.sandbox.faults.add("timeout", on="update")
    tables = MemoryTables()
    with pytest.raises(OutcomeUnknown):
        _once(nxt, tables, _voucher(), direct_posting=True)
    outcome = _once(nxt, tables, _voucher(), direct_posting=True)
    assert outcome.looked_up and outcome.duplicate and outcome.delivery.draft is False
    assert len(nxt.sandbox.company.updated) == 1 and nxt.sandbox.company.batches == {}


def test_a_batch_created_but_its_update_refused_in_transit_is_updated_by_the_retry(nxt: Harness) -> None:
    nxt.sandbox.faults.add("503", on="update")  # refused: the update never got through
    tables = MemoryTables()
    with pytest.raises(OutcomeUnknown):
        _once(nxt, tables, _voucher(), direct_posting=True)
    outcome = _once(nxt, tables, _voucher(), direct_posting=True)
    assert outcome.looked_up and outcome.delivery.draft is False
    assert [r["additionalText"] for r in nxt.sandbox.company.updated] == ["NXT-1"]


def test_preflight_reports_every_problem_at_once_in_business_nxts_terms(nxt: Harness) -> None:
    nxt.sandbox.company.locked_until = 20261031
    nxt.sandbox.company.accounts[6800]["barred"] = True
    voucher = Voucher(reference="MANGEL-1", date="2026-10-15", lines=[
        {"account": "6800", "amount": "100.00"},
        {"account": "3100", "amount": "-100.00", "vat_code": "3"},
        {"account": "1500", "amount": "10.00", "customer": {"number": "K-7"}},
        {"account": "3000", "amount": "-10.00", "vat_code": "3", "dimensions": {"project": "999"}},
    ])
    problems = {(p.code, p.field) for p in _target(nxt).preflight([voucher])}
    assert problems == {("closed-period", "date"), ("missing-account", "lines[0].account"),
                        ("vat-code-not-allowed", "lines[1].vat_code"), ("missing-customer", "lines[2].customer"),
                        ("missing-project", "lines[3].dimensions.project")}


def test_a_burst_of_workers_gets_distinct_voucher_numbers_from_one_read_of_the_series(nxt: Harness) -> None:
    target = _target(nxt)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: target.deliver(_voucher(f"B-{i}")), range(24)))
    numbers = sorted(r["voucherNo"] for r in nxt.sandbox.company.unposted())
    assert numbers == list(range(60001, 60025))
    assert nxt.transport.documents.count("voucher_series") == 1
    assert nxt.transport.documents.count("accounts") == 1  # lookups: single flight


def test_accounts_missing_names_each_with_why(nxt: Harness) -> None:
    nxt.sandbox.company.accounts[4300]["barred"] = True
    assert _target(nxt).accounts_missing(["1920", "2999", "4300", "15x"]) == {
        "15x": "is no account number Business NXT can have (integers)", "2999": "does not exist in Business NXT",
        "4300": "is barred (sperret) in Business NXT"}


def test_companies_lists_what_every_customer_id_reaches(nxt: Harness) -> None:
    listed = _target(nxt, customer_ids="5000001; 5000002", company_no=None).companies()
    assert [(c["value"], c["name"], c["customer_id"]) for c in listed] == [
        (5280001, "Fjordkafé Demo AS", 5000001), (5280002, "Bjørnøya Bakeri AS", 5000001),
        (5290001, "Lillehammer Sport AS", 5000002)]
    assert listed[0]["organization_number"] == "912345688"


def test_the_connection_test_reads_the_companys_facts(nxt: Harness) -> None:
    answer = _target(nxt).check()
    assert answer["company"] == "Fjordkafé Demo AS" and answer["company_no"] == 5280001
    assert answer["facts"] == {"company": "Fjordkafé Demo AS", "organization_number": "912345688",
                               "fiscal_year": 2026, "vat_term": "bimonthly", "period_type": "12 periods a year",
                               "locked_until": None}


@pytest.mark.parametrize(("settings", "words"), [
    ({"company_no": None}, "choose the Business NXT company (--company-no): 5280001 Fjordkafé Demo AS; 5280002"),
    ({"company_no": 5280003}, "company 5280003 is not one the integration reaches"),
    ({"customer_ids": "5000001, 424242"}, "Business NXT customer 424242"),
    ({"voucher_series": 9}, "voucher series 9 does not exist in Fjordkafé Demo AS; it has: 1 Kasse; 6 Diverse bilag"),
])
def test_the_connection_test_says_what_is_wrong_in_the_customers_words(nxt: Harness, settings: dict[str, Any],
                                                                       words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _target(nxt, **settings).check()
    assert words in caught.value.message


def test_a_client_without_access_to_any_company_is_told_what_to_set_up(nxt: Harness) -> None:
    nxt.sandbox.reachable[nxt.sandbox.client_id] = set()
    with pytest.raises(ConfigError) as caught:
        _target(nxt).check()
    assert "«Connect Application Access»" in caught.value.message


def test_the_token_is_fetched_once_for_many_requests_and_again_after_a_401(nxt: Harness) -> None:
    target = _target(nxt)
    target.deliver(_voucher("T-1"))
    nxt.sandbox.expire_tokens()
    target.deliver(_voucher("T-2"))
    assert nxt.sandbox.requests["token"] == 2 and nxt.sandbox.requests["unauthorized"] == 1
    kept = [e.url + e.request_body.decode() + e.response_body.decode() + json.dumps(e.request_headers)
            for e in target.context.exchanges.exchanges]
    assert any("access_token" in text for text in kept)  # the token requests are in the exchange log ...
    for secret in (nxt.sandbox.client_secret, *nxt.sandbox.issued):  # ... without the secret or any token
        assert all(secret not in text for text in kept)
