"""Switching with a preview (issue 13 §3), over HTTP on Azurite against the Tripletex and PowerOffice GO sandboxes:
the preview names what GO lacks of the tenant's last 90 days (an account only the Tripletex company has) without
changing anything; the switch keeps Tripletex read-only and resends the open period to GO, each voucher once."""

from __future__ import annotations

import httpx
import pytest

from pipeline.records.connections import connect
from pipeline.records.tenants import TenantRegistry
from sandboxes.poweroffice_go import PowerOfficeSandbox
from sandboxes.tripletex import TripletexSandbox
from tests.e2e.test_documents_over_http import wait_for
from tests.poweroffice_go.support import stored

pytestmark = pytest.mark.e2e


def voucher(reference: str, day: str, account: str = "3000", **dimensions: str) -> dict:
    return {"type": "voucher", "reference": reference, "date": day, "description": "Leie av lokale – Ålesund",
            "lines": [{"account": "1920", "amount": "500.00"},
                      {"account": account, "amount": "-500.00", "vat_code": "3" if account == "3000" else "0",
                       **({"dimensions": dimensions} if dimensions else {})}]}


def test_a_switch_is_previewed_then_made_with_the_open_period_resent(stack):
    with TripletexSandbox() as tripletex, PowerOfficeSandbox(rate_limit=1000) as go:
        tripletex.company.add_account(3600, "Leieinntekt fast eiendom")
        registry = TenantRegistry(stack.stores.tables)
        tenant = registry.add("Sjøbua på Ålesund AS", organization_number=go.client.organization_number)
        connect(registry, stack.stores.secrets, tenant.id, "tripletex",
                settings={"base_url": tripletex.base_url, "timeout": 5},
                credentials={"consumer_token": tripletex.consumer_token, "employee_token": tripletex.employee_token},
                required=("consumer_token", "employee_token"))
        admin_key = registry.issue_key(None, role="admin")
        new = {"target": "poweroffice-go",
               "settings": {"base_url": go.base_url, "timeout": 5,
                            "organization_number": go.client.organization_number},
               "credentials": {"application_key": go.application_key, "client_key": go.client_key,
                               "subscription_key": go.subscription_key}}
        with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"},
                          timeout=60) as client, \
                httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60) as admin:
            posted = client.post("/api/v1/documents", json=[
                voucher("OKT-1", "2026-10-30", kampanje="høstsalg"), voucher("NOV-1", "2026-11-02"),
                voucher("NOV-2", "2026-11-03", account="3600"), voucher("NOV-3", "2026-11-04", account="3600")])
            assert posted.status_code == 202, posted.text
            ids = [d["id"] for d in posted.json()["documents"]]
            assert {wait_for(client, i)["status"] for i in ids} == {"delivered"}

            seen = admin.post(f"/api/v1/admin/tenants/{tenant.id}/switch/preview", json=new)
            assert seen.status_code == 200, seen.text
            body = seen.json()
            assert body["from"] == "tripletex" and body["to"] == "poweroffice-go" and body["connection"]["ok"]
            assert body["documents"]["checked"] >= 4 and body["documents"]["would_refuse"] == 2
            [missing] = body["documents"]["missing"]["accounts"]
            assert missing["value"] == "3600" and missing["documents"] == 2
            assert sorted(missing["examples"]) == ["NOV-2", "NOV-3"]
            # What GO leaves out of what these documents fill: a dimension it has no field for, as Tripletex did.
            [dropped] = body["fields"]
            assert dropped["field"] == "lines[].dimensions.*" and dropped["documents"] == 1
            assert "Dim1–3" in dropped["dropped"] and dropped["before"].startswith("also left out: Tripletex")
            assert registry.get(tenant.id).target == "tripletex"  # a preview changes nothing
            assert stored(go) == []

            go.client.add_account(3600, "Leieinntekt fast eiendom")  # the customer fixes it in GO, then switches
            switched = admin.post(f"/api/v1/admin/tenants/{tenant.id}/switch", json={
                **new, "reason": "byttet til PowerOffice GO 1. november", "resend_from": "2026-11-01"})
            assert switched.status_code == 200, switched.text
            assert switched.json()["kept_read_only"] == "tripletex"
            assert switched.json()["resend"]["counts"] == {"send": 3}
            for document_id in ids[1:]:
                final = wait_for(client, document_id, done=("delivered", "failed", "blocked"))
                assert final["trace"][-1]["detail"]["target"] == "poweroffice-go", final["trace"][-1]
            assert sorted(s.reference for s in stored(go)) == ["NOV-1", "NOV-2", "NOV-3"]
            connection = admin.get(f"/api/v1/admin/tenants/{tenant.id}/connection").json()
            assert connection["target"] == "poweroffice-go"
            assert connection["connections"]["tripletex"]["mode"] == "read-only"

            # The old system is kept for history, not for sending; the new one holds what was resent.
            to_old = client.post(f"/api/v1/documents/{ids[0]}/resend", json={"target": "tripletex", "reason": "test"})
            assert to_old.status_code == 422 and "read-only" in to_old.json()["error"]
            again = client.post(f"/api/v1/documents/{ids[1]}/resend", json={"reason": "test"})
            assert again.status_code == 409 and again.json()["target"] == "poweroffice-go"
        assert sorted(v["externalVoucherNumber"] for v in tripletex.vouchers) == ["NOV-1", "NOV-2", "NOV-3", "OKT-1"]
