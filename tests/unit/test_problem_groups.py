"""Problems (issue 14 §4): blocked and failed documents grouped by a stable cause with its fix, the affected
documents paged, and every document of a cause retried at once — checked first, a cause still there reported per
document (in-memory ports; over HTTP, Azurite and the Tripletex sandbox: tests/e2e/test_workbench.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

import connectors
from api import problems as problems_api
from pipeline import retention
from pipeline.errors import ConfigError, Problem
from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets
from pipeline.ports import Delivery, Stores
from pipeline.problem_retry import retries
from pipeline.records import documents
from pipeline.records import problems as index
from pipeline.records.names import QUEUE_TRANSLATED, TABLE_TRACE
from pipeline.records.tenants import TenantRegistry
from pipeline.records.trace import TraceLog
from pipeline.registry import Connectors
from pipeline.rule_versions import save
from pipeline.rules import Rules
from tests.unit.test_history import Scanning, call, post
from tests.unit.test_inflight import drain

STATE: dict[str, Any] = {"refuse": False, "accounts": {"1920", "3000", "1500"}, "posted": []}


class Regnskap:
    """An accounting system without account 3999 and VAT code 86; it refuses its credentials on demand."""

    name = "regnskap"

    def __init__(self, context: Any) -> None:
        self.context = context

    def preflight(self, documents):
        found = []
        for d in documents:
            for i, line in enumerate(d.lines):
                if line.account not in STATE["accounts"]:
                    found.append(Problem(f"account {line.account} does not exist in Regnskap", reference=d.reference,
                                         field=f"lines[{i}].account", code="missing-account"))
                if line.vat_code == "86":
                    found.append(Problem("VAT code 86 is not a Regnskap VAT code", reference=d.reference,
                                         field=f"lines[{i}].vat_code", code="unknown-vat-code"))
        return found

    def render(self, document):
        return {"bilag": document.reference, "konti": [line.account for line in document.lines]}

    def deliver(self, document):
        if STATE["refuse"]:
            raise ConfigError("Regnskap POST /bilag failed with HTTP 401: credentials or permissions refused",
                              status=401, connector="regnskap", tenant=self.context.tenant)
        STATE["posted"].append(document.reference)
        return Delivery(remote_id=f"r-{document.reference}", draft=True)

    def find(self, reference):
        return None

    def check(self):
        if STATE["refuse"]:
            raise ConfigError("Regnskap refused the credentials", status=401)
        return {"company": "Regnskap test"}


@pytest.fixture
def shop():
    return make_shop()


def make_shop():
    """A tenant on Regnskap, in-memory ports: (stores, connectors, tenant id, its API key)."""
    STATE.update(refuse=False, accounts={"1920", "3000", "1500"}, posted=[])
    stores = Stores(blobs=MemoryBlobs(), tables=Scanning(), secrets=MemorySecrets(), queues=MemoryQueues())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Fjordkafeen på Å AS")
    registry.save(registry.get(tenant.id).model_copy(update={"target": "regnskap"}))
    conns = Connectors(targets={**connectors.TARGETS, "regnskap": Regnskap}, sources=connectors.SOURCES,
                       sniffers=connectors.SNIFFERS)
    return stores, conns, tenant.id, registry.issue_key(tenant.id)


def voucher(reference: str, account: str = "3000", vat: str = "3") -> dict[str, Any]:
    return {"type": "voucher", "reference": reference, "date": "2026-11-20", "description": "Vafler og kaffe – Å",
            "lines": [{"account": "1920", "amount": "100.00"},
                      {"account": account, "amount": "-100.00", "vat_code": vat}]}


def groups(shop) -> dict[str, dict[str, Any]]:
    stores, conns, _, key = shop
    response = call(problems_api.list_problems, stores, conns, key)
    assert response.status == 200, response.body
    return {g["cause"]: g for g in response.body["groups"]}


def retry(shop, cause: str, reason: str = "kontoen er lagt til i regelsettet") -> Any:
    stores, conns, _, key = shop
    response = call(problems_api.retry_problem, stores, conns, key, path={"cause": cause},
                    body=json.dumps({"reason": reason}).encode(), headers={"content-type": "application/json"})
    drain(stores, conns, QUEUE_TRANSLATED, response.messages.get(QUEUE_TRANSLATED, []))
    return response


def test_blocked_documents_are_grouped_by_cause_with_its_parameters_and_the_fix_at_hand(shop):
    stores, conns, tenant, key = shop
    post(stores, conns, key, [voucher(f"K-{n}", account="3999") for n in range(3)]
         + [voucher("M-1", vat="86"), voucher("B-1", account="3999", vat="86"), voucher("OK-1")])
    found = groups(shop)
    assert list(found) == ["regnskap.missing-account.3999", "regnskap.unknown-vat-code.86"]  # most documents first
    account = found["regnskap.missing-account.3999"]
    assert account["documents"] == 4 and account["statuses"] == {"blocked": 4}
    assert account["params"] == {"field": "lines[].account", "value": "3999"}
    assert account["message"] == "account 3999 does not exist in Regnskap"
    assert account["fix"]["action"] == "rule" and account["fix"]["rule"] == "account_map"
    assert account["fix"]["key"] == "3999" and account["fix"]["or"]["where"] == "the chart of accounts"
    vat = found["regnskap.unknown-vat-code.86"]
    assert vat["documents"] == 2 and vat["fix"]["rule"] == "vat_map" and vat["fix"]["key"] == "86"
    assert STATE["posted"] == ["OK-1"]


def test_a_groups_documents_are_paged_newest_first_and_listing_groups_reads_only_the_problems_index(shop):
    stores, conns, tenant, key = shop
    ids = []
    for n in range(5):  # one request each: five receipts, newest last
        ids += [d["id"] for d in post(stores, conns, key, [voucher(f"K-{n}", account="3999")]).body["documents"]]
    stores.tables.requests.clear()
    groups(shop)
    assert stores.tables.requests == {"scan": 1}  # one range read of the problems partition, no trace read
    cause = "regnskap.missing-account.3999"
    ids.sort(key=lambda i: documents.row_key(i) or "")  # the document index's order: newest second first
    first = call(problems_api.get_problem, stores, conns, key, path={"cause": cause}, query={"limit": "2"})
    assert first.status == 200 and first.body["documents"] == 5
    assert [d["id"] for d in first.body["affected"]] == ids[:2]
    rest = call(problems_api.get_problem, stores, conns, key, path={"cause": cause},
                query={"limit": "10", "cursor": first.body["cursor"]})
    assert [d["id"] for d in rest.body["affected"]] == ids[2:] and rest.body["next"] is None
    assert call(problems_api.get_problem, stores, conns, key, path={"cause": "regnskap.missing-account.4000"}).status \
        == 404
    assert call(problems_api.get_problem, stores, conns, key, path={"cause": cause},
                query={"cursor": "tull"}).status == 400


def test_retrying_a_group_after_the_fix_delivers_each_once_and_one_whose_cause_remains_is_reported(shop):
    stores, conns, tenant, key = shop
    blocked = post(stores, conns, key, [voucher("K-1", account="3999"), voucher("K-2", account="3999"),
                                        voucher("B-1", account="3999", vat="86")]).body["documents"]
    save(stores.tables, tenant, Rules(account_map={"3999": "3000"}), based_on=0, by="test", reason="3999 er 3000")
    done = retry(shop, "regnskap.missing-account.3999")
    assert done.status == 202
    assert done.body["counts"] == {"resubmitted": 3}  # B-1's account is fixed too; its VAT code is its own cause
    assert sorted(STATE["posted"]) == ["K-1", "K-2"]
    found = groups(shop)
    assert list(found) == ["regnskap.unknown-vat-code.86"] and found["regnskap.unknown-vat-code.86"]["documents"] == 1
    step = [s for s in TraceLog(stores.tables).read(tenant, blocked[0]["id"]) if s["step"] == "resubmitted"][-1]
    assert step["detail"]["reason"] == "kontoen er lagt til i regelsettet" and step["detail"]["by"].startswith("api key")
    assert step["detail"]["cause"] == "regnskap.missing-account.3999"
    [audited] = retries(stores, tenant)
    assert audited["cause"] == "regnskap.missing-account.3999" and audited["counts"] == {"resubmitted": 3}
    assert audited["reason"] == "kontoen er lagt til i regelsettet" and audited["by"].startswith("api key ")
    # The VAT code is still unknown: nothing is sent, and each document says why.
    again = retry(shop, "regnskap.unknown-vat-code.86", reason="prøver igjen")
    assert again.body["counts"] == {"still_there": 1}
    [still] = again.body["documents"]
    assert still["reference"] == "B-1" and still["problems"][0]["code"] == "unknown-vat-code"
    assert groups(shop)["regnskap.unknown-vat-code.86"]["documents"] == 1
    assert sorted(STATE["posted"]) == ["K-1", "K-2"]
    retried_again = retry(shop, "regnskap.missing-account.3999")
    assert retried_again.status == 404  # nothing held up by it any more


def test_refused_credentials_are_one_cause_whose_fix_is_to_reconnect_and_a_retry_reports_them_still_refused(shop):
    stores, conns, tenant, key = shop
    STATE["refuse"] = True
    post(stores, conns, key, [voucher(f"V-{n}") for n in range(4)])
    found = groups(shop)
    group = found["regnskap.credentials-refused"]
    assert group["documents"] == 4 and group["statuses"] == {"failed": 4} and group["fix"]["action"] == "reconnect"
    assert retry(shop, "regnskap.credentials-refused").body["counts"] == {"still_there": 4}
    STATE["refuse"] = False  # new credentials
    assert retry(shop, "regnskap.credentials-refused").body["counts"] == {"resubmitted": 4}
    assert sorted(STATE["posted"]) == ["V-0", "V-1", "V-2", "V-3"] and groups(shop) == {}


def test_the_retention_sweep_takes_expired_documents_out_of_the_index(shop):
    stores, conns, tenant, key = shop
    post(stores, conns, key, [voucher("K-1", account="3999")])
    assert groups(shop)
    retention.sweep(stores, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=91))
    assert groups(shop) == {}
    assert [k for (t, p, k) in stores.tables.rows if t == TABLE_TRACE and p == index.partition(tenant)] == []


def test_a_cause_key_is_safe_in_a_url_and_a_table_key_whatever_the_value():
    from pipeline.problems import causes_of

    [cause] = causes_of("blocked", {"target": "tripletex", "problems": [
        {"message": "customer Ærlig Handel AS / org 999 does not exist", "code": "missing-customer",
         "field": "lines[0].customer", "value": "Ærlig Handel AS/#?"}]})
    assert cause["key"].startswith("tripletex.missing-customer.~") and index.valid_cause(cause["key"])
    assert cause["params"]["value"] == "Ærlig Handel AS/#?"
