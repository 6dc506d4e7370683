"""The Visma Business import file: what it writes reads back through our own Visma Business reader unchanged, in
every encoding a tenant's Visma Business reads, lands where the customer's import job picks it up, and numbers
each voucher once."""

from __future__ import annotations

import io
import threading
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.sources import visma_business
from connectors.targets.visma_business_file.descriptor import DESCRIPTOR
from pipeline.memory import MemoryBlobs, MemoryExchanges, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.names import CONTAINER_DELIVERIES, CONTAINER_SFTP
from pipeline.ports import Stores, TargetContext
from pipeline.received import receive_drop

RICH = Voucher(
    reference="faktura-10042/æøå", date="2026-11-20", description="Faktura 10042 til Fjordkafé Ålesund AS",
    lines=[{"account": "1500", "amount": "1250.00", "kid": "0000100420", "invoice_number": "10042",
            "due_date": "2026-12-04", "description": "Kundefordring «Ærlig» \"Åpen\"",
            "customer": {"number": "10001", "name": "Fjordkafé Ålesund AS", "organization_number": "988077917",
                         "address": {"lines": ["Øvre gate 1"], "postal_code": "6002", "city": "Ålesund"}}},
           {"account": "3000", "amount": "-1000.00", "vat_code": "3", "vat_amount": "-200.00",
            "description": "Konsulenttimer, blåbærprosjekt", "dimensions": {"department": "2", "project": "100"}},
           {"account": "3020", "amount": "-250.00", "vat_code": "31", "description": "Bær\nlinje to"}])


def connect(blobs: MemoryBlobs, tables: MemoryTables | None = None, **settings: Any) -> Any:
    context = TargetContext(tenant="kunde-1", settings=settings, secrets=MemorySecrets(), blobs=blobs,
                            exchanges=MemoryExchanges(), tables=tables or MemoryTables())
    return DESCRIPTOR.connect(context)


def read_back(data: bytes, **options: Any) -> Voucher:
    found = list(visma_business.parse(io.BytesIO(data), file_name="bilag.txt",
                                      options={"vat_map": {"3": "3", "31": "31", "33": "33", "5": "5"}, **options}))
    [voucher] = [d for d in found if isinstance(d, Voucher)]
    assert [p for p in found if not isinstance(p, Voucher) and p.severity == "error"] == []
    return voucher


@pytest.mark.parametrize("encoding", ["windows-1252", "cp865", "cp850"])
def test_the_file_reads_back_through_our_reader_unchanged(encoding: str) -> None:
    blobs = MemoryBlobs()
    target = connect(blobs, encoding=encoding, first_voucher_number=5001)
    text = "Kundefordring «Ærlig» \"Åpen\"" if encoding == "windows-1252" else "Kundefordring \"Åpen\" Ærlig"
    voucher = RICH.model_copy(update={"lines": (RICH.lines[0].model_copy(update={"description": text}),
                                                *RICH.lines[1:])})
    assert target.preflight([voucher]) == []
    delivery = target.deliver(voucher)
    container, path = delivery.remote_id.split("/", 1)
    data = blobs.get(container, path)
    assert (b"@CONVERT_FROM_OEM_TO_ANSI(1)" in data) is (encoding != "windows-1252")
    assert "Ålesund".encode(encoding) in data and b"\r\n" in data
    back = read_back(data, **({"oem_codepage": encoding} if encoding == "cp850" else {}))
    assert back.reference == "5001" and back.date == RICH.date and delivery.details["voucher_number"] == 5001
    assert [(p.account, p.amount, p.vat_code, p.vat_amount) for p in back.lines] == [
        ("1500", Decimal("1250.00"), None, None), ("3000", Decimal("-1000.00"), "3", Decimal("-200.00")),
        ("3020", Decimal("-250.00"), "31", None)]
    first = back.lines[0]
    assert (first.kid, first.invoice_number, first.due_date) == ("0000100420", "10042", RICH.lines[0].due_date)
    assert first.customer is not None and first.customer.model_dump(exclude_none=True) == \
        RICH.lines[0].customer.model_dump(exclude_none=True)  # type: ignore[union-attr]
    assert back.lines[1].dimensions == {"department": "2", "project": "100"}
    assert [p.description for p in back.lines] == [text, "Konsulenttimer, blåbærprosjekt", "Bær linje to"]


def test_characters_the_encoding_lacks_are_named_not_replaced() -> None:
    # « » and the quote survive windows-1252, not the OEM code pages: the problem names the field.
    problems = connect(MemoryBlobs(), encoding="cp865").preflight([RICH])
    assert {(p.field, p.code) for p in problems} == {("lines[0].description", "unwritable-character")}
    emoji = RICH.model_copy(update={"description": "Kaffe ☕"})
    assert [p.field for p in connect(MemoryBlobs()).preflight([emoji])] == ["description"]


TEXT = st.text(alphabet="abcæøåÆØÅ \"'.,-/1", min_size=1, max_size=30).filter(lambda t: t.strip() == t and t)
AMOUNT = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999.99"), places=2)


@settings(max_examples=60, deadline=None)
@given(amounts=st.lists(AMOUNT, min_size=1, max_size=6), texts=st.lists(TEXT, min_size=7, max_size=7))
def test_money_and_norwegian_text_survive_every_round_trip(amounts: list[Decimal], texts: list[str]) -> None:
    lines = [{"account": "3000", "amount": str(-a), "description": texts[i]} for i, a in enumerate(amounts)]
    lines.append({"account": "1920", "amount": str(sum(amounts)), "description": texts[6]})
    voucher = Voucher(reference="P-1", date="2026-01-31", description=texts[6], lines=lines)
    target = connect(MemoryBlobs())
    data = target.context.blobs.get(*target.deliver(voucher).remote_id.split("/", 1))
    back = read_back(data)
    assert [(p.account, p.amount, p.description) for p in back.lines] == \
        [(p.account, p.amount, p.description) for p in voucher.lines]


def test_an_sftp_drop_lands_in_the_tenants_outbound_folder_which_intake_leaves_alone() -> None:
    blobs = MemoryBlobs()
    target = connect(blobs, drop="sftp", direct_posting=True)
    delivery = target.deliver(RICH)
    assert delivery.remote_id == f"{CONTAINER_SFTP}/kunde-1/outbound/visma-business/post/faktura-10042%2F%C3%A6%C3%B8%C3%A5.txt"
    assert not delivery.draft and target.find(RICH.reference) == delivery.__class__(
        remote_id=delivery.remote_id, draft=False, details={"voucher_number": 1})
    name = delivery.remote_id.removeprefix(f"{CONTAINER_SFTP}/")
    stores = Stores(blobs=blobs, tables=MemoryTables(), secrets=MemorySecrets())
    assert receive_drop(stores, name, b"", known_formats={}) is None  # not taken for an inbound file
    assert list(blobs.list(CONTAINER_DELIVERIES)) == []


def test_concurrent_deliveries_never_share_a_voucher_number() -> None:
    blobs, tables = MemoryBlobs(), MemoryTables()
    numbers: list[int] = []

    def work(i: int) -> None:
        voucher = RICH.model_copy(update={"reference": f"R-{i}"})
        numbers.append(connect(blobs, tables, first_voucher_number=100).deliver(voucher).details["voucher_number"])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(100, 124))


def test_render_shows_where_the_file_lands_its_records_and_the_very_text_deliver_writes() -> None:
    blobs = MemoryBlobs()
    target = connect(blobs, first_voucher_number=7001, vat_codes={"31": "33"})
    rendered = target.render(RICH)
    delivery = target.deliver(RICH)
    container, path = delivery.remote_id.split("/", 1)
    assert rendered["file"] == delivery.remote_id
    assert blobs.get(container, path) == rendered["text"].encode("windows-1252")
    # The records are the file's rows, field by field: what a row leaves out is written 0 (a text: "").
    heading = visma_business.tokens(next(r for r in rendered["text"].splitlines() if r.startswith("@WaVo"))
                                    .removeprefix("@WaVo(").removesuffix(")").replace(",", " "))
    written = [dict(zip(heading, visma_business.tokens(row), strict=True))
               for row in rendered["text"].splitlines() if row.startswith("7001 ")]
    assert [{k: v for k, v in row.items() if v not in ("0", "", "0.00")} for row in written] == rendered["WaVo"]
    assert rendered["WaVo"][0]["DbAcNo"] == "10001" and rendered["WaVo"][0]["DbAcCl"] == "1"
    assert rendered["WaVo"][2]["CrTxCd"] == "33" and "CrAcNo" in rendered["WaVo"][2]
    assert rendered["WaBnd"] == [{"ValDt": "20261120", "Descr": RICH.description}]
    assert rendered["Actor"][0]["CustNo"] == "10001" and rendered["Actor"][0]["Parea"] == "Ålesund"

