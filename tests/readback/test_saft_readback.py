"""A company's SAF-T Financial file as its ledger source: read back and checked against its own chart's balances.

The official example file of Skatteetaten (`../shared/specs/saf-t/examples/financial-example-888888888.xml`, SAF-T
Financial 1.30) through the HTTP handlers (api/ledger.py) with in-memory ports. What the check must find is worked
out here independently, with lxml over the same file: per account of MasterFiles, closing minus opening balance
against the sum of its lines.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from lxml import etree

import connectors
from api import ledger as api
from pipeline.readback.store import LedgerStore
from tests.export.saft_support import SPECS, specs_needed
from tests.readback.readback_support import Events, body, drain, messages_of, request, stores, tenant

EXAMPLE = SPECS / "saf-t" / "examples" / "financial-example-888888888.xml"


def _independently(data: bytes) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """(closing − opening per MasterFiles account, the sum of each account's lines), debit positive."""
    root = etree.fromstring(data)
    ns = {"s": root.nsmap.get(None) or root.nsmap["n1"]}

    def amount(node: etree._Element, path: str) -> Decimal:
        return Decimal(node.findtext(path, namespaces=ns) or 0)

    stated = {a.findtext("s:AccountID", namespaces=ns): amount(a, "s:ClosingDebitBalance")
              - amount(a, "s:ClosingCreditBalance") - amount(a, "s:OpeningDebitBalance")
              + amount(a, "s:OpeningCreditBalance")
              for a in root.iterfind("s:MasterFiles/s:GeneralLedgerAccounts/s:Account", ns)}
    lines: dict[str, Decimal] = defaultdict(Decimal)
    for line in root.iterfind("s:GeneralLedgerEntries/s:Journal/s:Transaction/s:Line", ns):
        lines[str(line.findtext("s:AccountID", namespaces=ns))] += (amount(line, "s:DebitAmount/s:Amount")
                                                                   - amount(line, "s:CreditAmount/s:Amount"))
    return {str(k): v for k, v in stated.items()}, dict(lines)


def _read(data: bytes) -> tuple[dict[str, object], object, str, str]:
    s = stores()
    tenant_id, key = tenant(s)
    registry = connectors.registry()
    answer = api.post_ledger_file(s, registry, request(key, query={"format": "saft", "name": "SAF-T Financial.xml"},
                                                       body=data, method="POST"))
    assert answer.status == 202, answer.body
    drain(s, registry.ledger_opener(s, registry), messages_of(answer), Events())  # type: ignore[misc]
    return body(api.ledger_sync(s, registry, request(key))), s, tenant_id, key


def test_the_official_example_is_read_over_its_selection_and_its_own_disagreements_are_reported() -> None:
    specs_needed("Skatteetaten's SAF-T Financial example file")
    data = EXAMPLE.read_bytes()
    stated, lines = _independently(data)
    disagreeing = {a for a in stated if stated[a] != lines.get(a, Decimal(0))}
    assert disagreeing, "the example file agrees with itself: this test would prove nothing about the check"

    progress, s, tenant_id, key = _read(data)

    assert progress["status"] == "done" and progress["years"] == ["2017-01-01..2017-04-30"]
    assert {m["account"] for m in progress["mismatches"]} == disagreeing  # type: ignore[union-attr]
    for mismatch in progress["mismatches"]:  # type: ignore[union-attr]
        assert mismatch["period"] == "2017-01-01..2017-04-30"
        assert Decimal(mismatch["reported"]) == stated[mismatch["account"]]
        assert Decimal(mismatch["ours"]) == lines.get(mismatch["account"], Decimal(0))
    yearly = [b for b in LedgerStore(s.tables, s.blobs, tenant_id).balances() if b.reported is not None]  # type: ignore[attr-defined]
    assert {b.account for b in yearly} == set(stated)
    assert sum(1 for b in yearly if b.matches) == len(stated) - len(disagreeing) > 0
    chart = body(api.ledger_accounts(s, connectors.registry(), request(key)))["accounts"]
    root = etree.fromstring(data)
    ns = {"s": root.nsmap.get(None) or root.nsmap["n1"]}
    names = {a.findtext("s:AccountID", namespaces=ns): a.findtext("s:AccountDescription", namespaces=ns)
             for a in root.iterfind("s:MasterFiles/s:GeneralLedgerAccounts/s:Account", ns)}
    assert {a["number"]: a["name"] for a in chart} == names
