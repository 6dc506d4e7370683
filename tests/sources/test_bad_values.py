"""One bad value never sinks a file: every source turns it into a problem on its voucher, and says so
when a file holds nothing to book. (The golden files beside this show each case in full.)"""

from __future__ import annotations

import io
import random
from decimal import Decimal
from typing import Any

import pytest

import connectors
from pipeline.errors import Problem
from pipeline.norway import amounts, text
from tests.sources.mutations import huge
from tests.sources.seeds import GENERATORS

FORMATS = sorted(GENERATORS)


def parse(format: str, data: bytes, options: dict[str, Any] | None = None) -> list[Any]:
    return list(connectors.SOURCES[format](io.BytesIO(data), file_name="fil.dat", options=options or {}))


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("seed", range(6))
def test_a_huge_amount_is_a_problem_on_its_voucher_and_the_other_vouchers_go_on(format: str, seed: int) -> None:
    rng = random.Random(f"{format}-{seed}")
    original = GENERATORS[format](rng)
    mutation = huge(original, rng)
    bad = original.vouchers[mutation.voucher or 0]
    items = parse(format, mutation.apply(original), original.options)
    problems = [i for i in items if isinstance(i, Problem) and i.is_error]
    references = [i.reference for i in items if not isinstance(i, Problem)]
    assert references == [v.reference for v in original.vouchers if v is not bad] or format == "saft-cash-register"
    assert bad.reference not in references
    # SIE's references hash what a voucher books, so the broken voucher's differs from the good one's.
    named = [p for p in problems if p.field and p.reference and bad.first_line <= (p.line or 0) <= bad.last_line]
    assert named, problems
    assert all(p.file == "fil.dat" for p in named)
    assert any(p.reference == bad.reference for p in named) or format == "sie4"


@pytest.mark.parametrize(("format", "data"), [
    ("gbat10", b""),
    ("gbat10", b"\r\n\r\n"),
    ("visma-business", b"@IMPORT_METHOD(3)\r\n@WaVo(VoNo,VoDt,DbAcNo,CrAcNo,Am)\r\n"),
    ("visma-global", b"VoucherNo,VoucherDate,DebitAccountNo,CreditAccountNo,Amount\r\n"),
    ("sie4", b"#FLAGGA 0\r\n#SIETYP 4\r\n"),
    ("saft-cash-register", b'<auditfile xmlns="urn:StandardAuditFile-Taxation-CashRegister:NO"><header/></auditfile>'),
    ("saft-financial", b'<AuditFile xmlns="urn:StandardAuditFile-Taxation-Financial:NO"><Header/></AuditFile>'),
    ("shared-form", b"[]"),
    ("shared-form", b'{"documents": []}'),
])
def test_a_file_with_no_vouchers_gets_a_problem_saying_so(format: str, data: bytes) -> None:
    [problem] = parse(format, data)
    assert isinstance(problem, Problem) and problem.is_error and problem.file == "fil.dat"
    assert problem.code in ("empty", "no-vouchers")  # SIE names the #SIETYP it found


@pytest.mark.parametrize("format", FORMATS)
def test_every_format_cut_off_after_its_first_bytes_says_something(format: str) -> None:
    original = GENERATORS[format](random.Random(format))
    cut = original.vouchers[0].start  # everything before the first voucher: headings, prolog
    items = parse(format, original.data[:cut], original.options)
    assert items and all(isinstance(i, Problem) for i in items)


def test_one_damaged_byte_in_a_windows_1252_file_spoils_its_voucher_not_the_file() -> None:
    rows = ["GBAT10;1;20251103;1;11;2025;1920;;100.00;;;;;;;;;;;;Blåbær;;;;;;;;;",
            "GBAT10;1;20251103;1;11;2025;3000;3;-100.00;;;;;;;;;;;;Smørbrød;;;;;;;;;",
            "GBAT10;2;20251104;1;11;2025;1920;;50.00;;;;;;;;;;;;Ål@;;;;;;;;;",
            "GBAT10;2;20251104;1;11;2025;3000;3;-50.00;;;;;;;;;;;;Øl;;;;;;;;;"]
    data = "\r\n".join(rows).encode("cp1252").replace(b"@", b"\x81")  # a byte Windows-1252 has no letter for
    items = parse("gbat10", data, {"vat_map": {"3": "3"}})
    [voucher] = [i for i in items if not isinstance(i, Problem)]
    assert [line.description for line in voucher.lines] == ["Blåbær", "Smørbrød"]  # not 'Bl\u2020b\u2019r'
    [problem] = [i for i in items if isinstance(i, Problem) and i.is_error]
    assert (problem.reference, problem.line, problem.field) == ("2", 3, "Beskrivelse hovedbok")


def test_whole_bytes_that_are_utf8_but_for_one_byte_are_refused_with_its_offset() -> None:
    with pytest.raises(text.UndecodableText) as caught:
        text.decode("Blåbær;Ørret;".encode() + b"\xf0\x91" + "Smør".encode())
    assert caught.value.offset == len("Blåbær;Ørret;".encode())


def test_a_negative_amount_of_40_digits_is_read_exactly_not_rounded() -> None:
    digits = "1234567890" * 4
    assert amounts.parse_amount("-" + digits) == Decimal("-" + digits)
    assert str(amounts.parse_amount("-" + digits)) == "-" + digits


def test_a_huge_decimal_in_the_shared_form_is_a_validation_error_not_a_crash() -> None:
    from pydantic import ValidationError

    from pipeline.model import Posting

    with pytest.raises(ValidationError, match="more than 15 digits"):
        Posting(account="1920", amount=Decimal("1" + "0" * 40))


@pytest.mark.parametrize("data", [b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
                                  b'[{"type": "voucher", "lines": ' + b"[" * 5000 + b"]" * 5000 + b"}]"])
def test_json_nested_too_deeply_is_a_problem_not_a_crash(data: bytes) -> None:
    [problem] = parse("shared-form", data)
    assert isinstance(problem, Problem) and problem.code == "malformed-json"


def test_an_amount_of_40_digits_is_shown_exactly_not_rounded() -> None:
    assert amounts.format_amount(Decimal("-" + "1" * 40), thousands="") == "-" + "1" * 40 + ",00"


def test_json_nested_too_deeply_is_a_400_from_the_api_not_a_500() -> None:
    from api import http as api_http
    from api import vendor as api
    from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
    from pipeline.ports import Stores
    from pipeline.records.tenants import TenantRegistry

    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    registry = TenantRegistry(stores.tables)
    key = registry.issue_key(registry.add("Kiosken på hjørnet AS").id)
    response = api.post_documents(stores, connectors.registry(), api_http.Request(
        "POST", {}, {}, {"authorization": f"Bearer {key}", "content-type": "application/json"}, b"[" * 100_000))
    assert response.status == 400 and response.body["problems"][0]["code"] == "malformed-json"
