"""Switching accounting systems without switching integrations: a tenant on Tripletex sends its export file, switches
its connection to PowerOffice GO through the admin API (the source, its format and the tenant's rules unchanged),
sends the same file again and a new one — and each voucher is in the system it was sent to, once, none twice."""

from __future__ import annotations

import time

import httpx
import pytest

from pipeline.connections import connect
from pipeline.tenants import TenantRegistry
from sandboxes.poweroffice_go import PowerOfficeSandbox
from sandboxes.tripletex import TripletexSandbox
from tests.poweroffice_go.support import stored

pytestmark = pytest.mark.e2e

HEADER = ("VoucherNo,VoucherDate,VoucherTypeNo,VoucherText,DepNo,ProjectNo,DebitAccountNo,CreditAccountNo,VATCode,"
          "Amount,DueDate,KID,SuppliersInvoiceNo,SAFTStdVatCode,SAFTStdVatCodeCredit\n")
BEFORE = HEADER + ("700,20261120,1,Kontantsalg Ålesund,,,1920,3000,,1250.00,,,,,3\n"
                   "701,20261121,1,Kortsalg Bodø – blåbær,1,,1920,3000,,399.00,,,,,3\n")
AFTER = HEADER + ("702,20261122,1,Nettsalg Røros,,,1920,3000,,125.50,,,,,3\n"
                  "703,20261123,1,Kiosk Tromsø – æøå ÆØÅ,1,,1920,3000,,80.00,,,,,3\n")


def send_file(client: httpx.Client, name: str, content: str) -> list[dict]:
    response = client.post("/api/v1/files", params={"format": "visma-global", "name": name},
                           content=content.encode("utf-8"))
    assert response.status_code == 202, response.text
    receipt = response.json()["receipt"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/receipts/{receipt}").json()
        statuses = [client.get(d["status_url"]).json() for d in body.get("documents", [])]
        if body["status"] == "translated" and statuses and all(s["status"] == "delivered" for s in statuses):
            return statuses
        assert not any(s["status"] in ("blocked", "failed") for s in statuses), statuses
        time.sleep(0.2)
    raise AssertionError(body)


def test_a_tenant_switches_from_tripletex_to_poweroffice_go_and_each_voucher_lands_once_where_it_was_sent(stack):
    with TripletexSandbox() as tripletex, PowerOfficeSandbox(rate_limit=1000) as go:
        registry = TenantRegistry(stack.stores.tables)
        tenant = registry.add("Fjellbua på Ørland AS", organization_number=go.client.organization_number)
        connect(registry, stack.stores.secrets, tenant.id, "tripletex",
                settings={"base_url": tripletex.base_url, "timeout": 5},
                credentials={"consumer_token": tripletex.consumer_token, "employee_token": tripletex.employee_token},
                required=("consumer_token", "employee_token"))
        admin = registry.issue_key(None, role="admin")
        with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"},
                          timeout=30) as client:
            before = send_file(client, "dag-1.csv", BEFORE)
            references = sorted(s["reference"] for s in before)
            assert len(references) == 2 and {s["trace"][-1]["detail"]["target"] for s in before} == {"tripletex"}

            with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as a:
                switched = a.put(f"/api/v1/admin/tenants/{tenant.id}/connection", json={
                    "target": "poweroffice-go",
                    "settings": {"base_url": go.base_url, "timeout": 5,
                                 "organization_number": go.client.organization_number},
                    "credentials": {"application_key": go.application_key, "client_key": go.client_key,
                                    "subscription_key": go.subscription_key}})
            assert switched.status_code == 200, switched.text
            assert switched.json()["check"]["client"] == go.client.name

            again = send_file(client, "dag-1.csv", BEFORE)  # the very same export, now for PowerOffice GO
            after = send_file(client, "dag-2.csv", AFTER)
            resent = send_file(client, "dag-2.csv", AFTER)  # sent twice by mistake: delivered once
            new_references = sorted(s["reference"] for s in after)
            assert sorted(s["reference"] for s in again) == references
            assert {s["trace"][-1]["detail"]["target"] for s in again + after + resent} == {"poweroffice-go"}
            assert [s["trace"][-1]["step"] for s in resent] == ["duplicate", "duplicate"]

        in_tripletex = [v["externalVoucherNumber"] for v in tripletex.vouchers]
        in_go = [s.reference for s in stored(go)]
        assert sorted(in_tripletex) == references  # the first file once; nothing sent after the switch
        assert sorted(in_go) == sorted(references + new_references)  # each once: no double from the resend
        drafts = [s for s in stored(go) if s.draft]
        assert len(drafts) == 4 and any("Kiosk Tromsø – æøå ÆØÅ" in s.text for s in drafts)
