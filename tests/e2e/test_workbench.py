"""The bookkeeper's tools over HTTP on Azurite against the Tripletex sandbox (issue 14 §4–6): vouchers blocked by an
account Tripletex lacks are one cause in the problems list; a rule previewed, then saved as a version (If-Match);
the whole group retried at once and delivered once each; the rule rolled back; a GBAT10 file with æøå dry-run for the
tenant's Tripletex, its text intact in the payloads, nothing delivered."""

from __future__ import annotations

import httpx
import pytest

from pipeline.records.connections import connect
from pipeline.records.tenants import TenantRegistry
from sandboxes.tripletex import TripletexSandbox
from tests.e2e.test_documents_over_http import wait_for
from tests.unit.test_dry_run_upload import GBAT10

pytestmark = pytest.mark.e2e
CAUSE = "tripletex.missing-account.3999"


def sale(reference: str, account: str = "3999") -> dict:
    return {"type": "voucher", "reference": reference, "date": "2026-11-20", "description": "Kaffe og vafler på Å",
            "lines": [{"account": "1920", "amount": "250.00"},
                      {"account": account, "amount": "-250.00", "vat_code": "3", "description": "Salg – blåbærvafler"}]}


def test_blocked_vouchers_are_fixed_by_a_rule_from_their_group_and_retried_at_once(stack):
    with TripletexSandbox() as tripletex:
        registry = TenantRegistry(stack.stores.tables)
        tenant = registry.add("Vaffelbua på Å AS")
        connect(registry, stack.stores.secrets, tenant.id, "tripletex",
                settings={"base_url": tripletex.base_url, "timeout": 5},
                credentials={"consumer_token": tripletex.consumer_token,
                             "employee_token": tripletex.employee_token},
                required=("consumer_token", "employee_token"))
        admin_key = registry.issue_key(None, role="admin")
        rules_url = f"/api/v1/admin/tenants/{tenant.id}/rules"
        with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"},
                          timeout=60) as client, \
                httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {admin_key}"},
                             timeout=60) as admin:
            posted = client.post("/api/v1/documents", json=[sale(f"VAF-{n}") for n in range(3)] + [sale("OK-1", "3000")])
            assert posted.status_code == 202, posted.text
            ids = [d["id"] for d in posted.json()["documents"]]
            assert [wait_for(client, i)["status"] for i in ids] == ["blocked"] * 3 + ["delivered"]

            listed = client.get("/api/v1/problems").json()
            [group] = listed["groups"]
            assert group["cause"] == CAUSE and group["documents"] == 3 and group["target"] == "tripletex"
            assert group["message"] == "account 3999 does not exist in Tripletex"
            assert group["fix"]["rule"] == "account_map" and group["fix"]["key"] == "3999"
            page = client.get(f"/api/v1/problems/{CAUSE}", params={"limit": 2}).json()
            following = client.get(page["next"].removeprefix(stack.url)).json()
            assert sorted(d["id"] for d in page["affected"] + following["affected"]) == sorted(ids[:3])
            assert following["next"] is None

            # The rule first previewed, then saved on the version it was based on.
            current = admin.get(rules_url)
            etag = current.headers["ETag"]
            new_rules = {"account_map": {"3999": "3000"}}
            preview = admin.post(f"{rules_url}/preview", json={"rules": new_rules}).json()
            assert preview["counts"]["now_passes"] == 3 and preview["counts"]["unchanged"] == 1
            assert {d["verdict"] for d in preview["documents"] if d["reference"].startswith("VAF")} == {"now_passes"}
            saved = admin.put(rules_url, headers={"If-Match": etag},
                              json={"rules": new_rules, "reason": "3999 er salgskontoen 3000 hos oss"})
            assert saved.status_code == 200, saved.text
            assert saved.headers["ETag"] == '"rules-1"' and saved.json()["diff"][0]["key"] == "3999"
            assert admin.put(rules_url, headers={"If-Match": etag}, json=new_rules).status_code == 409

            retried = client.post(f"/api/v1/problems/{CAUSE}/retry", json={"reason": "kontoen er mappet"})
            assert retried.status_code == 202, retried.text
            assert retried.json()["counts"] == {"resubmitted": 3}
            assert [wait_for(client, i)["status"] for i in ids[:3]] == ["delivered"] * 3
            assert client.get("/api/v1/problems").json()["groups"] == []
            numbers = sorted(v["externalVoucherNumber"] for v in tripletex.vouchers)
            assert numbers == ["OK-1", "VAF-0", "VAF-1", "VAF-2"]  # each once

            back = admin.post(f"{rules_url}/versions/0/rollback", json={"reason": "tilbake til start"})
            assert back.status_code == 200 and back.json()["version"] == 2 and back.json()["rules"]["account_map"] == {}
            versions = admin.get(f"{rules_url}/versions").json()["versions"]
            assert [(v["version"], v["action"]) for v in versions] == [(2, "rollback"), (1, "save"), (0, "initial")]

            # A dry run of a GBAT10 file from the till (Windows-1252, æøå) for this tenant's Tripletex.
            assert admin.put(f"/api/v1/admin/tenants/{tenant.id}/formats/gbat10",
                             json={"vat_map": {"3": "3"}}).status_code == 200
            dry = client.post("/api/v1/dry-run", params={"format": "gbat10", "name": "kasse-nov.txt"},
                              content=GBAT10, headers={"Content-Type": "application/octet-stream"})
            assert dry.status_code == 200, dry.text
            body = dry.json()
            assert body["summary"]["documents"] == 2 and body["target"] == "tripletex"
            assert {r["account"]: r["net"] for r in body["summary"]["totals"]["by_account"]} == {
                "1920": "1750.00", "3000": "-1250.00", "3999": "-500.00"}
            first = body["documents"][0]
            assert first["document"]["description"] == "Kortsalg Ærøy"
            postings = first["payload"]["postings"]
            assert "Salg blåbær og søtsaker" in {p["description"] for p in postings}
            [missing] = [p for p in body["problems"] if p["code"] == "missing-account"]
            assert (missing["file"], missing["line"], missing["field"]) == ("kasse-nov.txt", 4, "lines[1].account")
            assert len(tripletex.vouchers) == 4  # nothing delivered by the dry run
