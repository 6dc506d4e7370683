"""Xledger's own rules: the import items a voucher becomes, what its answers mean, and its connection test."""

from __future__ import annotations

from typing import Any

import graphql
import pytest

from connectors.targets.xledger import mapping, target
from connectors.targets.xledger.descriptor import DESCRIPTOR, XledgerSettings
from pipeline.errors import ConfigError, DataError
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets
from pipeline.model import Voucher
from pipeline.ports import TargetContext
from sandboxes.xledger import SCHEMA, XledgerSandbox

SALE = Voucher(reference="KASSE-7 æøå", date="2026-11-04", description="Kontantsalg Ærø",
               lines=[{"account": "1500", "amount": "125.00", "customer": {"number": "10001"}, "invoice_number": "77",
                       "due_date": "2026-11-18", "kid": "12345678903"},
                      {"account": "3000", "amount": "-100.00", "vat_code": "3", "description": "Blåbær",
                       "dimensions": {"department": "2", "project": "100", "kostnadssted": "K-1"}},
                      {"account": "2700", "amount": "-25.00"}])


def test_a_voucher_is_one_import_item_per_line_sharing_its_registration_number() -> None:
    settings = XledgerSettings(department_object=3, tax_rules={"3": "U25"}, transaction_source="KA")
    inputs = mapping.nodes(SALE, number=100000123, settings=settings, draft=True)
    nodes = [i["node"] for i in inputs]
    assert [i["clientId"] for i in inputs] == ["KASSE-7 æøå#0", "KASSE-7 æøå#1", "KASSE-7 æøå#2"]
    assert {n["trRegNumber"] for n in nodes} == {100000123}
    assert [n["amount"] for n in nodes] == ["125.00", "-100.00", "-25.00"]  # signed text, exact
    assert all(n["extIdentifier"] == SALE.reference and n["workflow"] is True for n in nodes)
    assert nodes[0]["subledger"] == {"code": "10001"} and nodes[0]["invoiceNumber"] == "77"
    assert nodes[0]["dueDate"] == "2026-11-18" and nodes[0]["text"] == "Kontantsalg Ærø"
    assert nodes[1]["taxRule"] == {"code": "U25"} and nodes[1]["glObject3"] == {"code": "2"}
    assert nodes[1]["project"] == {"code": "100"} and nodes[1]["text"] == "Blåbær"
    assert nodes[0]["transactionSource"] == {"code": "KA"}
    assert mapping.not_accepted(SALE) == ("lines[0].kid", "lines[1].dimensions.kostnadssted")


def test_every_query_the_connector_sends_fits_the_schema_file() -> None:
    for query in (target.ADD, target.FIND, target.CHECK, target._values(),
                  *(target._codes(k, status=k == "accounts") for k in target.REGISTERS)):
        assert graphql.validate(SCHEMA, graphql.parse(query)) == [], query


def test_the_sandbox_refuses_a_query_that_breaks_the_schema_in_graphqls_error_shape() -> None:
    import httpx

    sandbox = XledgerSandbox().start()
    try:
        answer = httpx.post(sandbox.base_url, json={"query": "{ accounts { edges { node { colour } } } }"},
                            headers={"Authorization": f"token {sandbox.token}"}).json()
        [error] = answer["errors"]
        assert "colour" in error["message"] and error["locations"] and "data" not in answer
        answer = httpx.post(sandbox.base_url, json={"query": "{ entities { edges { node { code } } } }"},
                            headers={"Authorization": f"Bearer {sandbox.token}"})
        assert answer.status_code == 401 and "token" in answer.json()["errors"][0]["message"].lower()
    finally:
        sandbox.stop()


OPENED: list[TargetContext] = []


@pytest.fixture
def sandbox() -> Any:
    from connectors.http import close

    running = XledgerSandbox().start()
    yield running
    while OPENED:
        close(OPENED.pop())
    running.stop()


def connected(sandbox: XledgerSandbox, token: str | None = None, **settings: Any) -> Any:
    context = TargetContext(tenant="kunde-1", settings={"base_url": sandbox.base_url, "secrets": {"api_token": "t"},
                                                        **settings},
                            secrets=MemorySecrets({"t": token or sandbox.token}), blobs=MemoryBlobs(),
                            exchanges=MemoryExchanges(), sleep=lambda s: None)
    OPENED.append(context)
    return DESCRIPTOR.connect(context)


def test_the_connection_test_names_the_entity_and_refuses_in_the_customers_words(sandbox: XledgerSandbox) -> None:
    answer = connected(sandbox).check()
    assert answer["company"] == "Demo Butikk Ærø AS" and answer["target"] == "xledger"
    with pytest.raises(ConfigError, match="API token"):
        connected(sandbox, token="feil").check()
    sandbox.scopes = {"entities", "accounts"}  # a token without read access to the GL import
    with pytest.raises(ConfigError, match="lacks access"):
        connected(sandbox).check()


def test_the_rate_limit_in_a_200_is_waited_out_and_credits_are_the_customers_to_fix(sandbox: XledgerSandbox) -> None:
    sandbox.burst = 0  # every request over the limit: the connector waits and gives up as a passing fault
    from pipeline.errors import TransientError

    with pytest.raises(TransientError) as caught:
        connected(sandbox).check()
    assert caught.value.provider_message == "Too many requests"
    assert sandbox.count() == 4  # tried, and tried again three times


def test_a_voucher_xledger_lacks_things_for_is_refused_before_it_is_sent(sandbox: XledgerSandbox) -> None:
    odd = Voucher(reference="X-1", date="2026-11-04",
                  lines=[{"account": "1920", "amount": "10.00", "vat_code": "3"},
                         {"account": "3000", "amount": "-10.00", "supplier": {"name": "Uten nummer AS"}}])
    xledger = connected(sandbox)
    problems = xledger.preflight([odd])
    assert {(p.code, p.field) for p in problems} == {("vat-not-allowed", "lines[0].vat_code"),
                                                    ("missing-supplier", "lines[1].supplier")}
    with pytest.raises(DataError):
        xledger.deliver(odd)
    assert sandbox.entity.items == [] and xledger.accounts_missing(["3000", "2999"]) == {
        "2999": "is not an open account in Xledger"}
