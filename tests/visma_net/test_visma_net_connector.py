"""The Visma.net connector end to end against its sandbox: drafts on hold, release on opt-in, exact money, VAT split
out, æøå intact, one token per connection, and what it reports as not accepted."""

from __future__ import annotations

import time
from decimal import Decimal

from connectors.targets.visma_net.mapping import short_reference
from pipeline.model import Voucher
from tests.visma_net.visma_net_support import Wired

SALE = Voucher(reference="KASSE-20261104", date="2026-11-04", description="Dagsoppgjør Bjørkelangen — æøå ÆØÅ",
               lines=[{"account": "1920", "amount": "99.99", "description": "Kortterminal på Røros"},
                      {"account": "3000", "amount": "-99.99", "vat_code": "3", "description": "Salg av blåbær",
                       "dimensions": {"department": "2", "project": "100"}}])


def amounts(batch: dict[str, object]) -> list[tuple[str, Decimal, Decimal]]:
    return [(str(line["accountNumber"]), Decimal(str(line["debitAmount"])), Decimal(str(line["creditAmount"])))
            for line in batch["journalTransactionLines"]]  # type: ignore[attr-defined]


def test_a_voucher_is_a_journal_transaction_on_hold_with_vat_split_exactly(w: Wired) -> None:
    delivery = w.target().deliver(SALE)
    [batch] = w.sandbox.batches
    assert delivery.draft and delivery.remote_id == batch["batchNumber"] and batch["status"] == "Hold"
    # 99.99 gross at 25 %: VAT 99.99 × 25 / 125 = 19.998 → 20.00 (half-up to øre), net 79.99
    assert amounts(batch) == [("1920", Decimal("99.99"), 0), ("3000", 0, Decimal("79.99")), ("2700", 0, Decimal("20.00"))]
    assert batch["createVatTransaction"] is True and batch["skipVatAmountValidation"] is False
    assert batch["financialPeriod"] == "202611" and batch["transactionDate"].startswith("2026-11-04")
    base = batch["journalTransactionLines"][1]
    assert base["vat"] == {"id": "3"} and base["vatCode"] == {"id": "SALG"}
    assert base["subaccount"]["segments"] == [{"segmentId": 1, "segmentValue": "2"}] and base["project"] == {"id": "100"}
    assert delivery.details["financial_period"] == "202611" and delivery.details["status"] == "Hold"


def test_without_a_location_the_new_transaction_is_found_by_its_reference(w: Wired) -> None:
    w.sandbox.location = False
    delivery = w.target(direct_posting=True).deliver(SALE)
    [batch] = w.sandbox.batches
    assert delivery.remote_id == batch["batchNumber"] and batch["status"] == "Posted"
    assert w.sandbox.count("GET", "/v2/journaltransaction") == 1


def test_norwegian_letters_arrive_intact_in_every_text(w: Wired) -> None:
    w.target().deliver(SALE)
    [batch] = w.sandbox.batches
    assert batch["description"] == "Dagsoppgjør Bjørkelangen — æøå ÆØÅ"
    texts = [line["transactionDescription"] for line in batch["journalTransactionLines"]]
    assert texts == ["Kortterminal på Røros", "Salg av blåbær", "MVA 3: Salg av blåbær"]


def test_direct_posting_releases_the_transaction(w: Wired) -> None:
    delivery = w.target(direct_posting=True).deliver(SALE)
    [batch] = w.sandbox.batches
    assert batch["status"] == "Posted" and not delivery.draft and delivery.details["status"] == "Released"
    assert w.sandbox.count("POST", "/v2/journaltransaction/") == 1  # the release action
    asked = [e for e in w.exchanges.exchanges if e.url.endswith("/connect/token")]
    assert b"vismanet_erp_service_api%3Aupdate" in asked[0].request_body  # releasing needs more than a draft


def test_the_sources_own_vat_is_kept_and_visma_net_told_not_to_recompute_it(w: Wired) -> None:
    voucher = Voucher(reference="VAT-1", date="2026-11-04", lines=[
        {"account": "1920", "amount": "25.00"},
        {"account": "3020", "amount": "-25.00", "vat_code": "33", "vat_amount": "-2.70"}])  # the rate says 2.68
    w.target().deliver(voucher)
    [batch] = w.sandbox.batches
    assert amounts(batch)[1:] == [("3020", 0, Decimal("22.30")), ("2700", 0, Decimal("2.70"))]
    assert batch["skipVatAmountValidation"] is True


def test_zero_rated_and_outside_vat_lines_carry_the_vat_id_and_no_vat_line(w: Wired) -> None:
    voucher = Voucher(reference="NULL-1", date="2026-11-04", lines=[
        {"account": "1920", "amount": "300.00"},
        {"account": "3000", "amount": "-200.00", "vat_code": "5"},
        {"account": "3000", "amount": "-100.00", "vat_code": "6"}])
    w.target().deliver(voucher)
    [batch] = w.sandbox.batches
    assert [(line["accountNumber"], line["vat"]) for line in batch["journalTransactionLines"]] == [
        ("1920", None), ("3000", {"id": "5"}), ("3000", {"id": "6"})]


def test_a_long_reference_is_shortened_deterministically_and_kept_whole_in_the_description(w: Wired) -> None:
    long = SALE.model_copy(update={"reference": "omnium:ORDRE-2026-000123456:retur"})
    delivery = w.target().deliver(long)
    [batch] = w.sandbox.batches
    short = short_reference(long.reference)
    assert len(short) == 15 and short.startswith("omniu~") and short == short_reference(long.reference)
    assert {line["referenceNumber"] for line in batch["journalTransactionLines"]} == {short}
    assert batch["description"].endswith("(ref. omnium:ORDRE-2026-000123456:retur)")
    assert delivery.details["target_reference"] == short
    found = w.target().find(long.reference)
    assert found is not None and found.remote_id == delivery.remote_id
    assert w.target().find("omnium:ORDRE-2026-000123456:annen") is None  # same first 5 characters, another ref


def test_fields_it_has_no_place_for_are_reported(w: Wired) -> None:
    voucher = Voucher(reference="UTENFOR-2", date="2026-11-04", voucher_type="bank", lines=[
        {"account": "1920", "amount": "50.00", "invoice_number": "10042", "due_date": "2026-11-20"},
        {"account": "3100", "amount": "-50.00", "customer": {"number": "10001"},
         "dimensions": {"kostnadssted": "K-7"}}])
    delivery = w.target().deliver(voucher)
    assert set(delivery.not_accepted) == {"voucher_type", "lines[0].invoice_number", "lines[0].due_date",
                                          "lines[1].customer", "lines[1].dimensions.kostnadssted"}


def test_one_token_and_one_lookup_per_kind_serve_every_voucher_of_the_connection(w: Wired) -> None:
    for i in range(5):
        w.target().deliver(SALE.model_copy(update={"reference": f"KASSE-{i}"}))
    assert w.sandbox.count("POST", "/connect/token") == 1
    for path in ("/v1/account", "/v1/vat", "/v1/vatCategory", "/v1/financialPeriod", "/v1/dimension/SUBACCOUNT/1",
                 "/v1/project/100"):
        assert w.sandbox.count("GET", path) == 1, path
    assert w.sandbox.count("POST", "/v2/journaltransaction") == 5


def test_a_token_is_renewed_a_minute_before_it_ends_and_once_after_visma_net_ends_it(w: Wired) -> None:
    w.target().deliver(SALE)
    auth = w.target().auth()
    started = time.monotonic()
    auth._clock = lambda: started + 3530  # 58 min 50 s later: the hour's token is still good
    w.target().deliver(SALE.model_copy(update={"reference": "KASSE-2"}))
    assert w.sandbox.count("POST", "/connect/token") == 1
    auth._clock = lambda: started + 3545  # within the last minute: renewed before Visma.net would refuse it
    w.target().deliver(SALE.model_copy(update={"reference": "KASSE-3"}))
    assert w.sandbox.count("POST", "/connect/token") == 2
    w.sandbox.expire_tokens()  # revoked on Visma.net's side: one 401, one new token, the request again
    w.target().deliver(SALE.model_copy(update={"reference": "KASSE-4"}))
    assert w.sandbox.count("POST", "/connect/token") == 3
    assert len(w.sandbox.batches) == 4 and w.sandbox.count("POST", "/v2/journaltransaction") == 5  # 4 + the 401


def test_no_secret_or_token_reaches_the_exchange_log(w: Wired) -> None:
    w.target().deliver(SALE)
    logged = " ".join(f"{e.url} {e.request_headers} {e.request_body!r} {e.response_body!r}" for e in w.exchanges.exchanges)
    assert w.sandbox.client_secret not in logged
    assert all(token not in logged for token in w.sandbox.issued)
    assert "[redacted]" in logged
