"""History over HTTP on Azurite (issue 13 §1–2): the list with its filters and cursor (the Azure adapter's range
reads with service-side filters), the original byte for byte, the shared form, the payload, the exchanges, a
resend that stops at a system holding the document and goes through when forced, and 410 for an expired id."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pipeline import retention
from pipeline.records import documents
from pipeline.records.names import TABLE_LEDGER
from tests.e2e.test_documents_over_http import voucher, wait_for

pytestmark = pytest.mark.e2e


def test_a_tenants_documents_are_found_read_back_and_resent_over_http(stack, tenant, client):
    raw = json.dumps([voucher(f"hist-kasse-{i}") for i in range(5)] + [voucher("hist-nett-1")],
                     ensure_ascii=False, indent=2).encode("utf-8")
    posted = client.post("/api/v1/documents", content=raw, headers={"content-type": "application/json"})
    assert posted.status_code == 202, posted.text
    ids = [d["id"] for d in posted.json()["documents"]]
    for document_id in ids:
        wait_for(client, document_id)

    listed = client.get("/api/v1/documents", params={"reference_prefix": "hist-kasse-", "status": "delivered",
                                                     "limit": 2})
    assert listed.status_code == 200, listed.text
    seen = [d["id"] for d in listed.json()["documents"]]
    next_url = listed.json()["next"]
    while next_url:
        page = client.get(next_url).json()
        seen += [d["id"] for d in page["documents"]]
        next_url = page["next"]
    assert seen == ids[:5]  # one receipt: its documents in the order they came; hist-nett-1 filtered out
    first = client.get("/api/v1/documents", params={"receipt": posted.json()["receipt"], "limit": 1}).json()
    assert first["documents"][0]["target"] == "file" and first["documents"][0]["source"] == "shared-form"
    assert client.get("/api/v1/documents", params={"status": "blocked", "reference_prefix": "hist-"}).json()[
        "documents"] == []
    assert client.get("/api/v1/documents", params={"status": "nonsense"}).status_code == 400

    original = client.get(f"/api/v1/documents/{ids[3]}/original")
    assert original.status_code == 200 and original.content == raw
    assert original.headers["content-type"].startswith("application/json")
    assert original.headers["x-bilagsbro-index"] == "3"
    shared = client.get(f"/api/v1/documents/{ids[3]}/shared-form")
    assert shared.status_code == 200 and shared.json()["description"] == "Dagsoppgjør kasse 7 – Ærøy, Østfold, Åsane"
    payload = client.get(f"/api/v1/documents/{ids[3]}/payload")
    assert payload.status_code == 200 and payload.json()["target"] == "file" and payload.json()["payload"]
    assert client.get(f"/api/v1/documents/{ids[3]}/exchanges").json() == {"id": ids[3], "exchanges": []}

    # Resend: the file target holds it already; forced, it is written again, and the ledger says by whom and why.
    refused = client.post(f"/api/v1/documents/{ids[0]}/resend", json={"reason": "kunden spør"})
    assert refused.status_code == 409 and refused.json()["outcome"] == "already_there"
    forced = client.post(f"/api/v1/documents/{ids[0]}/resend",
                         json={"reason": "slettet i regnskapet – sendes på nytt", "force": True})
    assert forced.status_code == 202, forced.text
    final = wait_for(client, ids[0], done=("delivered",))
    assert [t["step"] for t in final["trace"]][-3:] == ["resubmitted", "adapted", "delivered"]
    resent = [r for r in stack.stores.tables.query(TABLE_LEDGER, f"{tenant[0].id}|resends")]
    assert [(r["Document"], r["Reason"]) for r in resent] == [(ids[0], "slettet i regnskapet – sendes på nytt")]
    dry = client.post("/api/v1/resends", json={"filter": {"reference_prefix": "hist-"},
                                                         "reason": "test"})
    assert dry.status_code == 200 and dry.json()["counts"] == {"already_there": 6}


def test_an_expired_document_is_410_and_the_sweep_clears_azurite(stack, tenant, client):
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=120)).strftime("%Y%m%d%H%M%S")
    expired = client.get(f"/api/v1/documents/d-{old}abcdefabcdef-000001/original")
    assert expired.status_code == 410 and expired.json()["expired"] is True
    posted = client.post("/api/v1/documents", json=voucher("hist-utløper-1")).json()["documents"][0]["id"]
    wait_for(client, posted)
    # As of 91 days from now (tables, and blobs as the lifecycle rule would: Azurite has none).
    swept = retention.sweep(stack.stores, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=91), blobs=True,
                            tenants=[tenant[0].id])  # this test's tenant only: the stack is shared
    assert swept.documents >= 1 and sum(swept.blobs.values()) >= 1
    assert documents.row(stack.stores.tables, tenant[0].id, posted) is None
    assert client.get(f"/api/v1/documents/{posted}").status_code == 404
