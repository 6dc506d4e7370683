"""Resend (issue 13 §2): one document or a filtered set, to the same system or another the tenant is connected to;
explicit and audited, never posted twice by accident, a dry run first (in-memory ports; over HTTP and Azurite:
tests/e2e/test_history.py)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

import connectors
from api import http as api_http
from api import resend as resend_api
from api import vendor as api
from pipeline.errors import Problem
from pipeline.memory import MemoryBlobs, MemoryQueues, MemorySecrets, MemoryTables
from pipeline.ports import Delivery, Stores
from pipeline.records.names import QUEUE_TRANSLATED, TABLE_LEDGER
from pipeline.records.tenants import TenantRegistry
from pipeline.records.trace import TraceLog
from pipeline.registry import Connectors
from tests.unit.test_history import call, voucher
from tests.unit.test_inflight import drain

POSTED: Counter[tuple[str, str]] = Counter()  # (system, reference) → times it was posted


class Ledgerbok:
    """A second accounting system: takes what the file target takes, but has no account 9999."""

    name = "ledgerbok"

    def __init__(self, context: Any) -> None:
        self.context = context

    def preflight(self, documents):
        return [Problem("account 9999 does not exist in Ledgerbok", reference=d.reference, field="lines[1].account",
                        code="missing-account")
                for d in documents for line in getattr(d, "lines", ()) if getattr(line, "account", None) == "9999"]

    def render(self, document):
        return {"bilag": document.reference}

    def deliver(self, document):
        POSTED[("ledgerbok", document.reference)] += 1
        return Delivery(remote_id=f"lb-{document.reference}", draft=True)

    def find(self, reference):
        return None

    def check(self):
        return {"company": "Ledgerbok test"}


def counted(context):
    target = connectors.TARGETS["file"](context)
    deliver = target.deliver

    def counting(document):
        POSTED[("file", document.reference)] += 1
        return deliver(document)

    target.deliver = counting
    return target


@pytest.fixture
def shop():
    POSTED.clear()
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets(), queues=MemoryQueues())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Fjellbakeriet på Røros AS")
    conns = Connectors(targets={**connectors.TARGETS, "file": counted, "ledgerbok": Ledgerbok},
                       sources=connectors.SOURCES, sniffers=connectors.SNIFFERS)
    return stores, conns, tenant.id, registry.issue_key(tenant.id)


def connect_also(stores, tenant: str, system: str, mode: str = "active") -> None:
    registry = TenantRegistry(stores.tables)
    found = registry.get(tenant)
    registry.save(found.model_copy(update={"connections": {**found.connections, system: {"settings": {},
                                                                                             "mode": mode}}}))


def post(stores, conns, key, body) -> list[str]:
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    response = call(api.post_documents, stores, conns, key, body=raw, headers={"content-type": "application/json"})
    drain(stores, conns, QUEUE_TRANSLATED, response.messages[QUEUE_TRANSLATED])
    return [d["id"] for d in response.body["documents"]]


def resend(stores, conns, key, document_id: str, **body: Any) -> api_http.Response:
    response = call(resend_api.resend_document, stores, conns, key, path={"id": document_id},
                    body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                    headers={"content-type": "application/json"})
    drain(stores, conns, QUEUE_TRANSLATED, response.messages.get(QUEUE_TRANSLATED, []))
    return response


def test_a_resend_to_a_system_that_holds_the_document_says_so_and_stops_unless_forced(shop):
    stores, conns, tenant, key = shop
    [document] = post(stores, conns, key, [voucher("V-1")])
    assert POSTED == {("file", "V-1"): 1}
    refused = resend(stores, conns, key, document, reason="kunden spør")
    assert refused.status == 409 and refused.body["outcome"] == "already_there"
    assert "file holds V-1 already" in refused.body["error"] and "force=true" in refused.body["error"]
    assert refused.body["already_there"]["by_document"] == document
    assert POSTED == {("file", "V-1"): 1}
    # The customer deleted it there: forced, it is posted again — once — and the ledger remembers the first.
    forced = resend(stores, conns, key, document, reason="slettet i regnskapet ved en feil – sendes på nytt",
                    force=True)
    assert forced.status == 202 and forced.body["outcome"] == "resubmitted"
    assert POSTED == {("file", "V-1"): 2}
    [entry] = [r for (t, p, _), r in stores.tables.rows.items() if t == TABLE_LEDGER and p == f"{tenant}|file"]
    assert entry["State"] == "delivered" and entry["PreviousRemoteId"] and entry["ReleasedBy"].startswith("api key ")
    assert entry["ReleaseReason"] == "slettet i regnskapet ved en feil – sendes på nytt"
    steps = TraceLog(stores.tables).read(tenant, document)
    resent = [s for s in steps if s["step"] == "resubmitted"]
    assert resent[0]["detail"]["reason"] == "slettet i regnskapet ved en feil – sendes på nytt"
    assert resent[0]["detail"]["by"].startswith("api key ") and resent[0]["detail"]["force"] is True
    assert [s["step"] for s in steps][-2:] == ["adapted", "delivered"]


def test_a_resend_to_another_connected_system_has_its_own_ledger_entry_and_audit(shop):
    stores, conns, tenant, key = shop
    [document] = post(stores, conns, key, [voucher("V-2")])
    connect_also(stores, tenant, "ledgerbok")
    sent = resend(stores, conns, key, document, target="ledgerbok", reason="prøver det nye systemet")
    assert sent.status == 202, sent.body
    assert POSTED == {("file", "V-2"): 1, ("ledgerbok", "V-2"): 1}
    trace = TraceLog(stores.tables).read(tenant, document)
    assert trace[-1]["step"] == "delivered" and trace[-1]["detail"]["target"] == "ledgerbok"
    assert trace[-1]["detail"]["remote_id"] == "lb-V-2"
    # Its own ledger entry: a second resend there stops, while the first system's entry is untouched.
    again = resend(stores, conns, key, document, target="ledgerbok", reason="en gang til")
    assert again.status == 409 and again.body["already_there"]["remote_id"] == "lb-V-2"
    assert POSTED[("ledgerbok", "V-2")] == 1
    audit = [r for (t, p, _), r in sorted(stores.tables.rows.items()) if t == TABLE_LEDGER and p == f"{tenant}|resends"]
    assert [(a["Document"], a["Target"], a["Reason"]) for a in audit] == [(document, "ledgerbok",
                                                                             "prøver det nye systemet")]


@pytest.mark.parametrize(("system", "mode", "status", "words"), [
    ("ledgerbok", "read-only", 422, "read-only"),
    ("tripletex", None, 422, "not connected to 'tripletex'"),
])
def test_a_resend_to_a_system_it_may_not_send_to_is_refused(shop, system, mode, status, words):
    stores, conns, tenant, key = shop
    [document] = post(stores, conns, key, [voucher("V-3")])
    if mode:
        connect_also(stores, tenant, system, mode)
    refused = resend(stores, conns, key, document, target=system, reason="test")
    assert refused.status == status and words in refused.body["error"]
    assert refused.body["problems"][0]["field"] == "target"


def test_a_resend_without_a_reason_or_of_an_unknown_document_is_refused(shop):
    stores, conns, tenant, key = shop
    [document] = post(stores, conns, key, [voucher("V-4")])
    missing = resend(stores, conns, key, document)
    assert missing.status == 422 and missing.body["problems"][0]["field"] == "reason"
    assert resend(stores, conns, key, document[:-1] + "9", reason="hvorfor ikke").status == 404


def test_a_bulk_resend_shows_first_what_would_go_and_what_the_new_system_would_refuse(shop):
    stores, conns, tenant, key = shop
    ids = post(stores, conns, key, [voucher("NOV-1", "2026-11-02"), voucher("NOV-2", "2026-11-20", account="9999"),
                                    voucher("DES-1", "2026-12-01")])
    connect_also(stores, tenant, "ledgerbok")
    body = {"filter": {"date_from": "2026-11-01", "date_to": "2026-11-30"}, "target": "ledgerbok",
            "reason": "alt fra november til det nye systemet"}

    def bulk(**more: Any) -> api_http.Response:
        return call(resend_api.resend_documents, stores, conns, key, body=json.dumps({**body, **more}).encode(),
                    headers={"content-type": "application/json"})

    dry = bulk()
    assert dry.status == 200 and dry.body["dry_run"] is True and dry.messages == {}
    assert dry.body["matched"] == 2 and dry.body["counts"] == {"send": 2} and dry.body["refused_by_preflight"] == 1
    by_ref = {d["reference"]: d for d in dry.body["documents"]}
    assert by_ref["NOV-2"]["would_refuse"][0]["message"] == "account 9999 does not exist in Ledgerbok"
    assert "would_refuse" not in by_ref["NOV-1"]
    assert POSTED == {("file", r): 1 for r in ("NOV-1", "NOV-2", "DES-1")}  # a dry run sends nothing
    # The same to the tenant's own system: each is there already.
    same = call(resend_api.resend_documents, stores, conns, key, headers={"content-type": "application/json"},
                body=json.dumps({**body, "target": None}).encode())
    assert same.body["counts"] == {"already_there": 2}
    sent = bulk(dry_run=False)
    assert sent.status == 202 and sent.body["resubmitted"] == 2
    drain(stores, conns, QUEUE_TRANSLATED, sent.messages[QUEUE_TRANSLATED])
    assert POSTED[("ledgerbok", "NOV-1")] == 1 and ("ledgerbok", "DES-1") not in POSTED
    blocked = TraceLog(stores.tables).read(tenant, ids[1])
    assert blocked[-1]["step"] == "blocked" and blocked[-1]["detail"]["target"] == "ledgerbok"
    again = bulk()
    assert again.body["counts"] == {"already_there": 1, "send": 1}  # NOV-2 was blocked there, never delivered
