"""What Tripletex lets the connector see and do: drafts in the duplicate lookup, the token's permissions,
refusals mapped back to our lines, inactive customers and suppliers. Sources: docs/fidelity.md."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from tripletex_support import Harness

from connectors.targets.tripletex import refusals
from pipeline.errors import ConfigError, DataError, OutcomeUnknown
from pipeline.ledger import deliver_once
from pipeline.memory import MemoryTables
from pipeline.model import Voucher


def sale(reference: str, **customer: Any) -> Voucher:
    return Voucher(reference=reference, date="2026-11-03", description=f"Salg {reference} – Ålesund", lines=[
        {"account": "1500", "amount": "250.00", "customer": customer or {"number": "10001"}},
        {"account": "3000", "amount": "-250.00", "vat_code": "3"}])


# -- drafts and the duplicate lookup ----------------------------------------------------------------

@pytest.mark.parametrize("finds_drafts", [False, True], ids=["search-skips-drafts", "search-lists-drafts"])
def test_exactly_once_whether_or_not_the_number_search_lists_drafts(h: Harness, finds_drafts: bool) -> None:
    """It is not verified that `>externalVoucherNumber` lists non-posted vouchers: either way, a draft whose
    POST answered 500 after committing is found before posting again, and posted once."""
    h.sandbox.external_number_finds_drafts = finds_drafts
    tables = MemoryTables()

    def once() -> Any:
        return deliver_once(tables, h.target(), sale("D-1"), tenant="kunde-1", target_name="tripletex",
                            document_id="doc-1", lease=dt.timedelta(0))

    h.sandbox.faults.add(r"^/ledger/voucher$", "POST", "commit_then_500")
    with pytest.raises(OutcomeUnknown):
        once()
    [draft] = h.sandbox.vouchers
    assert not draft["_posted"]
    listed = h.sandbox.count("GET", "/v2/ledger/voucher/>externalVoucherNumber")
    outcome = once()
    assert outcome.looked_up and outcome.duplicate and outcome.delivery.remote_id == str(draft["id"])
    assert h.sandbox.count("POST", "/v2/ledger/voucher") == 1 and len(h.sandbox.vouchers) == 1
    assert h.sandbox.count("GET", "/v2/ledger/voucher/>externalVoucherNumber") == listed + 1
    assert h.sandbox.count("GET", "/v2/ledger/voucher/>nonPosted") == 1  # the drafts were searched too


def test_the_draft_switch_decides_what_the_number_search_lists(h: Harness) -> None:
    delivered = h.target().deliver(sale("D-2"))
    strict = h.target()._list("ledger/voucher/>externalVoucherNumber", {"externalVoucherNumber": "D-2"})
    h.sandbox.external_number_finds_drafts = True
    lenient = h.target()._list("ledger/voucher/>externalVoucherNumber", {"externalVoucherNumber": "D-2"})
    assert strict == [] and [str(v["id"]) for v in lenient] == [delivered.remote_id]


def test_a_posted_voucher_and_a_draft_of_one_reference_are_reported_as_doubles(h: Harness) -> None:
    h.sandbox.external_number_finds_drafts = True  # listed by both searches: still two vouchers, not three
    posted = h.target(direct_posting=True).deliver(sale("D-3"))
    draft = h.target().deliver(sale("D-3"))
    found = h.target().find("D-3")
    assert found is not None and found.remote_id == posted.remote_id
    assert found.details["duplicates"] == sorted(int(d) for d in (posted.remote_id, draft.remote_id))


# -- permissions: the connection test says what the token lacks ------------------------------------

def test_the_connection_test_lists_what_the_token_needs_and_has(h: Harness) -> None:
    info = h.target(create_customers=True).check()
    assert info["permissions"] == {"needed": ["AUTH_ADVANCED_VOUCHER", "AUTH_CREATE_CUSTOMER"], "missing": []}
    assert h.sandbox.count("GET", "/v2/employee/entitlement") == 1


def test_a_token_without_advanced_voucher_fails_the_connection_test_in_plain_words(h: Harness) -> None:
    h.sandbox.entitlements.discard("AUTH_ADVANCED_VOUCHER")
    with pytest.raises(ConfigError) as caught:
        h.target().check()
    assert "lacks 'Advanced Voucher' (Avansert bilag)" in caught.value.message
    assert "AUTH_CREATE_CUSTOMER" not in caught.value.message  # not needed without create_customers
    # ... and a delivery attempted anyway is refused by Tripletex (403) and says the same.
    with pytest.raises(ConfigError) as refused:
        h.target().deliver(sale("R-1"))
    assert refused.value.status == 403 and "'Advanced Voucher'" in refused.value.message
    assert h.sandbox.vouchers == []


def test_creating_customers_needs_its_permission(h: Harness) -> None:
    h.sandbox.entitlements.discard("AUTH_CREATE_CUSTOMER")
    assert h.target().check()["permissions"]["missing"] == []  # not needed unless the tenant creates
    with pytest.raises(ConfigError, match="'Create customer'"):
        h.target(create_customers=True).check()
    with pytest.raises(ConfigError, match="'Create customer'") as refused:
        h.target(create_customers=True).deliver(sale("R-2", email="ny.kunde@example.no", name="Ny Kunde"))
    assert refused.value.status == 403 and h.sandbox.count("POST", "/v2/customer") == 1


def test_permissions_that_cannot_be_read_are_reported_not_failed(h: Harness) -> None:
    h.sandbox.entitlements_readable = False
    info = h.target().check()
    assert info["permissions"]["missing"] == []
    assert info["permissions"]["unchecked"].startswith("Tripletex would not list the token's permissions (403")


def test_an_accountants_token_reads_its_permissions_in_the_client_company(make_harness: Any) -> None:
    wired: Harness = make_harness(company_id="4711")
    assert wired.target().check()["permissions"]["missing"] == []
    assert wired.sandbox.count("GET", "/v2/employee/entitlement/client") == 1


# -- Tripletex's refusal, put back on our lines --------------------------------------------------------

def test_a_refusal_with_a_path_lands_on_the_line_it_names(h: Harness) -> None:
    target = h.target()
    voucher = sale("E-1")
    target.resolve([voucher])
    h.sandbox.company.customers.pop(next(iter(h.sandbox.company.customers)))  # deleted in Tripletex meanwhile
    with pytest.raises(DataError) as caught:
        target.deliver(voucher)
    [problem] = caught.value.problems
    assert problem.field == "lines[0].customer" and problem.reference == "E-1"
    assert problem.message.startswith("Tripletex refused line 1: Kunde med id")


def test_refusals_without_a_path_say_so() -> None:
    voucher = sale("E-2")
    mapped = refusals.problems(voucher, [
        {"field": "postings.customer.id", "message": "Kunde mangler.", "path": None, "rootId": None},
        {"field": "postings.vatType.id", "path": None, "rootId": None,
         "message": "Kontoen 3000 Salgsinntekt, avgiftspliktig er låst til mva-kode 3: Utgående avgift, høy sats."},
        {"field": "postings", "path": None, "rootId": None,
         "message": "Summen av posteringene for 2026-11-03 er ikke lik 0."},
        {"field": "postings.account.name", "path": "postings[0].account.name", "rootId": None,
         "message": "Kan ikke være null."},
        {"field": "description", "path": "description", "rootId": None, "message": "Kan ikke være null."},
    ])
    assert [(p.field, p.message) for p in mapped] == [
        ("lines", "Tripletex refused the voucher (postings.customer.id): Kunde mangler. — Tripletex did not say "
                  "which line"),
        ("lines[1].vat_code", "Tripletex refused line 2: Kontoen 3000 Salgsinntekt, avgiftspliktig er låst til "
                              "mva-kode 3: Utgående avgift, høy sats."),
        ("lines", "Tripletex refused the voucher (postings): Summen av posteringene for 2026-11-03 er ikke lik 0. "
                  "— Tripletex did not say which line"),
        ("lines[0].account", "Tripletex refused line 1: Kan ikke være null."),
        ("description", "Tripletex refused the voucher (description): Kan ikke være null."),
    ]
    assert refusals.validation_messages(b"<html>502</html>") == []


# -- inactive customers and suppliers ----------------------------------------------------------------

def test_the_sandbox_hides_inactive_customers_and_suppliers_unless_asked(h: Harness) -> None:
    company = h.sandbox.company
    company.add_customer(10090, "Gamle Handel AS", inactive=True)
    company.add_supplier(20090, "Nedlagt Engros AS", inactive=True)
    target = h.target()
    assert target._list("customer", {"customerAccountNumber": "10090"}) == []
    assert [c["name"] for c in target._list("customer", {"customerAccountNumber": "10090", "isInactive": "true"})] \
        == ["Gamle Handel AS"]
    assert target._list("supplier", {"supplierNumber": "20090"}) == []


def test_preflight_says_inactive_not_missing_and_never_creates_beside_an_inactive_customer(h: Harness) -> None:
    company = h.sandbox.company
    company.add_customer(10091, "Gamle Handel AS", inactive=True)
    company.add_customer(10092, "Sovende Kunde AS", email="sover@example.no", inactive=True)
    company.add_supplier(20091, "Nedlagt Engros AS", inactive=True)
    bought = Voucher(reference="I-3", date="2026-11-03", description="Innkjøp", lines=[
        {"account": "2400", "amount": "-80.00", "supplier": {"number": "20091"}},
        {"account": "6800", "amount": "80.00"}])
    target = h.target(create_customers=True)
    problems = target.preflight([sale("I-1", number="10091"), sale("I-2", email="sover@example.no", name="Sovende"),
                                 bought])
    assert [(p.reference, p.field, p.message) for p in problems] == [
        ("I-1", "lines[0].customer", "customer number 10091 is inactive in Tripletex"),
        ("I-2", "lines[0].customer", "customer email sover@example.no is inactive in Tripletex"),
        ("I-3", "lines[0].supplier", "supplier number 20091 is inactive in Tripletex"),
    ]
    with pytest.raises(DataError, match="inactive"):
        target.deliver(sale("I-2", email="sover@example.no", name="Sovende"))
    assert h.sandbox.count("POST", "/v2/customer") == 0 and h.sandbox.vouchers == []
    company.customers[next(c["id"] for c in company.customers.values() if c["customerNumber"] == 10091)][
        "isInactive"] = False  # reactivated in Tripletex: the next preflight sees it
    assert target.preflight([sale("I-1", number="10091")]) == []


def test_inactive_lookups_match_the_spec(h: Harness) -> None:
    h.sandbox.company.add_customer(10093, "Gamle Handel AS", inactive=True, mobile="+4790011223")
    h.target().preflight([sale("I-4", phone="+4790011223", name="Gamle Handel")])
    inactive = [httpx.URL(e.url).params for e in h.exchanges.exchanges
                if "/customer?" in e.url and "isInactive=true" in e.url]
    assert inactive and all(p["isInactive"] == "true" for p in inactive)


def test_connecting_a_token_without_the_permission_keeps_the_old_connection_and_says_why(
        sandbox: Any) -> None:
    import connectors
    from pipeline.memory import MemoryBlobs, MemorySecrets
    from pipeline.ports import Stores
    from pipeline.records.connections import change
    from pipeline.records.tenants import TenantRegistry

    stores = Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())
    tenant = TenantRegistry(stores.tables).add("Bakeriet på Røa AS")
    sandbox.entitlements.discard("AUTH_ADVANCED_VOUCHER")
    outcome = change(stores, connectors.registry(), tenant.id, "tripletex", settings={"base_url": sandbox.base_url},
                     credentials={"consumer_token": sandbox.consumer_token, "employee_token": sandbox.employee_token})
    assert not outcome.activated and TenantRegistry(stores.tables).get(tenant.id).target == "file"
    assert outcome.check["error"]["kind"] == "ConfigError"
    assert "lacks 'Advanced Voucher' (Avansert bilag)" in outcome.check["error"]["message"]
