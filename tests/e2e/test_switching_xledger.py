"""Switching accounting systems without switching integrations, with Xledger: a tenant on Tripletex sends its export
file, switches to Xledger through the admin API (source, format and rules unchanged), sends again, switches back —
and each voucher is in the system it was sent to, once, whatever was sent twice."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from pipeline.connections import connect
from pipeline.tenants import TenantRegistry
from sandboxes.tripletex import TripletexSandbox
from sandboxes.xledger import Entity, XledgerSandbox

pytestmark = pytest.mark.e2e

HEADER = ("VoucherNo,VoucherDate,VoucherTypeNo,VoucherText,DepNo,ProjectNo,DebitAccountNo,CreditAccountNo,VATCode,"
          "Amount,DueDate,KID,SuppliersInvoiceNo,SAFTStdVatCode,SAFTStdVatCodeCredit\n")
DAY_1 = HEADER + ("800,20261120,1,Kontantsalg Ålesund,,,1920,3000,,1250.00,,,,,3\n"
                  "801,20261121,1,Kortsalg Bodø – blåbær,1,,1920,3000,,399.00,,,,,3\n")
DAY_2 = HEADER + "802,20261122,1,Nettsalg Røros – æøå ÆØÅ,,100,1920,3000,,125.50,,,,,3\n"
DAY_3 = HEADER + "803,20261123,1,Kiosk Tromsø,2,,1920,3000,,80.00,,,,,3\n"


def send_file(client: httpx.Client, name: str, content: str) -> list[dict[str, Any]]:
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


def switch(stack: Any, admin: str, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client:
        answer = client.put(f"/api/v1/admin/tenants/{tenant}/connection", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_tenant_switches_to_xledger_and_back_and_each_voucher_lands_once_where_it_was_sent(stack: Any) -> None:
    xledger = XledgerSandbox(entity=Entity(processing="deferred")).start()  # Xledger's import job runs later
    try:
        with TripletexSandbox() as tripletex:
            registry = TenantRegistry(stack.stores.tables)
            tenant = registry.add("Fjellbua på Ørland AS", organization_number="999999999")
            tripletex_body = {"target": "tripletex", "settings": {"base_url": tripletex.base_url, "timeout": 5},
                              "credentials": {"consumer_token": tripletex.consumer_token,
                                              "employee_token": tripletex.employee_token}}
            connect(registry, stack.stores.secrets, tenant.id, "tripletex", settings=tripletex_body["settings"],
                    credentials=tripletex_body["credentials"], required=("consumer_token", "employee_token"))
            admin = registry.issue_key(None, role="admin")
            with httpx.Client(base_url=stack.url, timeout=30,
                              headers={"Authorization": f"Bearer {registry.issue_key(tenant.id)}"}) as client:
                day_1 = sorted(s["reference"] for s in send_file(client, "dag-1.csv", DAY_1))

                switched = switch(stack, admin, tenant.id, {
                    "target": "xledger", "settings": {"base_url": xledger.base_url, "timeout": 5},
                    "credentials": {"api_token": xledger.token}})
                assert switched["check"]["company"] == xledger.entity.name
                again = send_file(client, "dag-1.csv", DAY_1)  # the same export, now for Xledger
                day_2 = send_file(client, "dag-2.csv", DAY_2)
                resent = send_file(client, "dag-2.csv", DAY_2)  # by mistake: found in the ledger, not sent
                assert {s["trace"][-1]["detail"]["target"] for s in again + day_2 + resent} == {"xledger"}
                assert [s["trace"][-1]["step"] for s in resent] == ["duplicate"]
                xledger.entity.process()

                switch(stack, admin, tenant.id, tripletex_body)
                day_3 = send_file(client, "dag-3.csv", DAY_3)
                back = send_file(client, "dag-1.csv", DAY_1)  # Tripletex has these: nothing twice
                assert [s["trace"][-1]["step"] for s in back] == ["duplicate", "duplicate"]

            in_tripletex = sorted(v["externalVoucherNumber"] for v in tripletex.vouchers)
            in_xledger = sorted(ref for ref, _, _ in xledger.held())
            assert in_tripletex == sorted(day_1 + [s["reference"] for s in day_3])
            assert in_xledger == sorted(day_1 + [s["reference"] for s in day_2])
            assert all(draft for _, draft, _ in xledger.held()) and len(xledger.entity.vouchers) == 3
            assert "æøå ÆØÅ" in " ".join(text for _, _, text in xledger.held())
    finally:
        xledger.stop()
        assert xledger.invalid() == []
