"""Rules, versioned (issue 14 §5): every change a version with who, when and why, its diff, rollback to any version
as a new one, 409 for a save based on an old version, per-customer exceptions, and a preview of what a change does
to blocked and recent documents before it is saved (in-memory ports; over HTTP: tests/e2e/test_workbench.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from api import rules as rules_api
from pipeline import rule_versions
from pipeline.model import Voucher
from pipeline.records.names import TABLE_STATE
from pipeline.records.tenants import TenantRegistry
from pipeline.rules import CustomerException, Rules, apply
from tests.unit.test_history import call, post
from tests.unit.test_problem_groups import make_shop, voucher


@pytest.fixture
def shop():
    return make_shop()

def admin_call(shop, handler, *, body: Any = None, path: dict[str, str] | None = None,
               query: dict[str, str] | None = None, headers: dict[str, str] | None = None):
    stores, conns, tenant, _ = shop
    admin = TenantRegistry(stores.tables).issue_key(None, role="admin")
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else b""
    return call(handler, stores, conns, admin, path={"id": tenant, **(path or {})}, query=query, body=raw,
                headers={"content-type": "application/json", **(headers or {})})


def test_each_save_is_a_version_with_who_when_why_and_a_diff_and_an_old_base_is_refused_with_409(shop):
    stores, _, tenant, _ = shop
    TenantRegistry(stores.tables).save(TenantRegistry(stores.tables).get(tenant).model_copy(
        update={"rules": Rules(vat_map={"3": "3"})}))  # rules from before versioning: they become version 0
    current = admin_call(shop, rules_api.get_rules)
    assert current.body["version"] == 0 and current.headers["ETag"] == '"rules-0"'
    first = admin_call(shop, rules_api.put_rules, headers={"if-match": '"rules-0"'},
                       body={"rules": {"vat_map": {"3": "3"}, "account_map": {"3999": "3000"}},
                             "reason": "3999 finnes ikke i Tripletex"})
    assert first.status == 200 and first.headers["ETag"] == '"rules-1"' and first.body["based_on"] == 0
    assert first.body["diff"] == [{"rule": "account_map", "key": "3999", "change": "added", "after": "3000"}]
    assert first.body["by"].startswith("admin key ") and first.body["reason"] == "3999 finnes ikke i Tripletex"
    # Someone else saved meanwhile: a change based on version 0 is refused, and says which version is in force.
    stale = admin_call(shop, rules_api.put_rules, headers={"if-match": '"rules-0"'}, body={"vat_map": {}})
    assert stale.status == 409 and stale.body["current_version"] == 1 and stale.body["etag"] == '"rules-1"'
    assert TenantRegistry(stores.tables).get(tenant).rules.account_map == {"3999": "3000"}
    # A bare Rules object without If-Match (the API before versions) is a version too, based on the one in force.
    second = admin_call(shop, rules_api.put_rules, body={"account_map": {"3999": "3010"}})
    assert second.status == 200 and second.body["version"] == 2
    assert {(c["rule"], c["key"], c["change"]) for c in second.body["diff"]} == {
        ("account_map", "3999", "changed"), ("vat_map", "3", "removed")}
    tenant_now = TenantRegistry(stores.tables).get(tenant)
    assert tenant_now.rules_version == 2 and tenant_now.rules.account_map == {"3999": "3010"}
    listed = admin_call(shop, rules_api.list_rule_versions, query={"limit": "2"})
    assert [v["version"] for v in listed.body["versions"]] == [2, 1] and "before=1" in listed.body["next"]
    assert "rules" not in listed.body["versions"][0]
    rest = admin_call(shop, rules_api.list_rule_versions, query={"before": "1"})
    assert [v["action"] for v in rest.body["versions"]] == ["initial"] and rest.body["next"] is None
    diff = admin_call(shop, rules_api.diff_rule_versions, path={"version": "2"}, query={"against": "0"})
    assert {(c["rule"], c["change"]) for c in diff.body["diff"]} == {("account_map", "added"), ("vat_map", "removed")}
    assert admin_call(shop, rules_api.get_rule_version, path={"version": "7"}).status == 404


def test_a_rollback_is_a_new_version_with_the_earlier_rules(shop):
    stores, _, tenant, _ = shop
    admin_call(shop, rules_api.put_rules, body={"rules": {"account_map": {"3999": "3000"}}, "reason": "første"})
    admin_call(shop, rules_api.put_rules, body={"rules": {"account_map": {"3999": "3100"}}, "reason": "andre"})
    back = admin_call(shop, rules_api.rollback_rules, path={"version": "1"}, headers={"if-match": '"rules-2"'},
                      body={"reason": "3100 var feil"})
    assert back.status == 200 and back.body["version"] == 3 and back.body["action"] == "rollback"
    assert back.body["rollback_of"] == 1 and back.body["rules"]["account_map"] == {"3999": "3000"}
    assert back.body["diff"] == [{"rule": "account_map", "key": "3999", "change": "changed", "before": "3100",
                                  "after": "3000"}]
    assert TenantRegistry(stores.tables).get(tenant).rules.account_map == {"3999": "3000"}
    assert admin_call(shop, rules_api.rollback_rules, path={"version": "1"}, headers={"if-match": '"rules-2"'},
                      body={"reason": "igjen"}).status == 409
    assert admin_call(shop, rules_api.rollback_rules, path={"version": "9"}, body={"reason": "finnes ikke"}).status \
        == 404


def test_two_saves_on_one_version_cannot_both_land_and_a_save_cut_short_is_completed_on_the_next_read(shop):
    stores, _, tenant, _ = shop
    rule_versions.save(stores.tables, tenant, Rules(account_map={"1": "2"}), based_on=0, by="a", reason="a")
    with pytest.raises(rule_versions.Outdated) as refused:
        rule_versions.save(stores.tables, tenant, Rules(account_map={"1": "3"}), based_on=0, by="b", reason="b")
    assert refused.value.current == 1
    # A host that died after writing version 2's row but before the tenant's: the row is the commit.
    stores.tables.insert(TABLE_STATE, rule_versions._row(tenant, 2, Rules(account_map={"1": "4"}), at="x", by="c",
                                                         reason="c", action="save", based_on=1))
    assert TenantRegistry(stores.tables).get(tenant).rules_version == 1
    seen, newest = rule_versions.in_force(stores.tables, tenant)
    assert newest is not None and newest.version == 2 and seen.rules.account_map == {"1": "4"}
    assert TenantRegistry(stores.tables).get(tenant).rules.account_map == {"1": "4"}


def test_rules_too_large_for_the_tenants_row_are_refused_by_name(shop):
    huge = {"account_map": {f"{n:06d}": f"{n:06d}" for n in range(3000)}}
    refused = admin_call(shop, rules_api.put_rules, body=huge)
    assert refused.status == 422 and "characters" in refused.body["error"]


def test_a_customers_exception_maps_that_customers_documents_only_and_keeps_them_balanced():
    rules = Rules(account_map={"3000": "3010"},
                  customers={"10042": CustomerException(account_map={"3000": "3100"}, vat_map={"3": "52"},
                                                        note="eksportkunde")})

    def sale(customer: dict[str, str] | None) -> Voucher:
        return Voucher.model_validate({"type": "voucher", "reference": "F-1", "date": "2026-11-20", "lines": [
            {"account": "1500", "amount": "125.00", **({"customer": customer} if customer else {})},
            {"account": "3000", "amount": "-125.00", "vat_code": "3"}]})

    export = apply(sale({"number": "10042", "name": "Fjord Export GmbH"}), rules)
    assert [(line.account, line.vat_code) for line in export.lines] == [("1500", None), ("3100", "52")]
    assert sum((line.amount for line in export.lines), Decimal(0)) == 0
    by_org = Rules(customers={"999888771": CustomerException(account_map={"3000": "3100"})})
    assert apply(sale({"organization_number": "999888771"}), by_org).lines[1].account == "3100"
    assert apply(sale({"number": "2", "name": "Andre AS"}), rules).lines[1].account == "3010"  # the general map
    assert apply(sale(None), rules).lines[1].account == "3010"


def test_the_preview_says_per_document_what_new_rules_do_and_writes_nothing(shop):
    stores, conns, tenant, key = shop
    post(stores, conns, key, [voucher("K-1", account="3999"), voucher("K-2", account="3999"),
                              voucher("B-1", vat="86"), voucher("OK-1"), voucher("OK-2", account="1500")])
    before = dict(stores.tables.rows)
    preview = admin_call(shop, rules_api.preview_rules, body={"rules": {"account_map": {"3999": "3000",
                                                                                        "1500": "1510"}}})
    assert preview.status == 200, preview.body
    verdicts = {d["reference"]: d for d in preview.body["documents"]}
    assert verdicts["K-1"]["verdict"] == "now_passes" and verdicts["K-2"]["verdict"] == "now_passes"
    assert verdicts["K-1"]["changes"] == [{"field": "lines[1].account", "before": "3999", "after": "3000"}]
    assert verdicts["K-1"]["payload_fields"] == ["konti[1]"]
    assert verdicts["B-1"]["verdict"] == "still_blocked" and verdicts["B-1"]["problems"][0]["code"] == "unknown-vat-code"
    assert verdicts["OK-1"]["verdict"] == "unchanged"
    assert verdicts["OK-2"]["verdict"] == "newly_blocked"  # 1510 does not exist there
    assert verdicts["OK-2"]["problems"][0]["value"] == "1510" and verdicts["OK-2"]["problems"][0]["source_value"] == "1500"
    assert preview.body["counts"]["now_passes"] == 2 and preview.body["checked"] == 5
    assert preview.body["diff"][0]["rule"] == "account_map"
    written = {k for k in stores.tables.rows.keys() - before.keys() if k[0] != "apikeys"}  # the admin key issued
    assert written == set()  # nothing written
    bounded = admin_call(shop, rules_api.preview_rules, body={"rules": {}, "recent": 0, "limit": 1})
    assert bounded.body["checked"] == 3 and len(bounded.body["documents"]) == 1 and bounded.body["truncated"]
