"""A received file gets its whole report, however many problems it has, in flat memory.

In-memory ports (which keep Table Storage's 64 KiB property limit, as Azure and Azurite do); the same
through the local stack on Azurite: tests/e2e/test_big_reports.py.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import connectors
from api import http as api_http
from api import vendor as api
from pipeline.errors import Problem
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.model import Document, Origin, Posting, Voucher
from pipeline.ports import Delivery, Stores, TargetContext
from pipeline.received import receive_file
from pipeline.records import report
from pipeline.records.tenants import TenantRegistry
from pipeline.registry import Connectors
from pipeline.stages import run


def gbat10(vouchers: int, vat_code: str = "Ø") -> bytes:
    """`vouchers` balanced vouchers whose revenue line has a VAT code the tenant has not mapped."""
    rows = []
    for n in range(1, vouchers + 1):
        rows.append(f"GBAT10;{n};20251103;1;11;2025;1920;;125.00;;;;;;;;;;;;Blåbær {n};;;;;;;;;")
        rows.append(f"GBAT10;{n};20251103;1;11;2025;3000;{vat_code};-125.00;;;;;;;;;;;;Salg Ørsta;;;;;;;;;")
    return ("\r\n".join(rows) + "\r\n").encode("cp1252")


class Picky:
    """A target whose preflight refuses every line on account 3000 (a missing account)."""

    name = "picky"

    def __init__(self, context: TargetContext) -> None:
        self.context = context

    def preflight(self, documents: Sequence[Document]) -> list[Problem]:
        return [Problem("account 3000 does not exist in the accounting system", field=f"lines[{i}].account",
                        reference=d.reference, code="missing-account")
                for d in documents for i, line in enumerate(getattr(d, "lines", ())) if line.account == "3000"]

    def render(self, document: Document) -> Any:
        return {}

    def deliver(self, document: Document) -> Delivery:
        raise AssertionError("a file's translation delivers nothing")

    def find(self, reference: str) -> Delivery | None:
        return None


@pytest.fixture
def stack():
    stores = Stores(blobs=MemoryBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
    registry = TenantRegistry(stores.tables)
    tenant = registry.add("Bakeriet på Røa AS", organization_number="999999999")
    conns = Connectors(targets={**connectors.TARGETS, "picky": Picky}, sources=connectors.SOURCES,
                       sniffers=connectors.SNIFFERS)
    return stores, conns, tenant, registry.issue_key(tenant.id)


def translate(stores: Stores, conns: Connectors, tenant: str, data: bytes, *, format: str | None = "gbat10",
              name: str = "bilag-æøå.csv") -> tuple[str, list[str]]:
    """The file translated; returns its receipt and the ids of the documents it sent on, in order."""
    intake = receive_file(stores, tenant, data, file_name=name, format=format, known_formats=conns.sources)
    [envelope] = intake.envelopes
    sent = run("translate", stores, conns, envelope.to_json())
    return intake.receipt, [d["id"] for message in sent for d in json.loads(message)["documents"]]


def get(handler: Any, stores: Stores, conns: Connectors, key: str, receipt: str) -> api_http.Response:
    return handler(stores, conns, api_http.Request("GET", {"id": receipt}, {}, {"authorization": f"Bearer {key}"},
                                              b"", "http://x"))


def test_a_file_with_a_problem_on_each_of_9000_lines_gets_its_whole_report(stack) -> None:
    stores, conns, tenant, key = stack
    receipt, messages = translate(stores, conns, tenant.id, gbat10(4500))
    assert messages == []
    body = get(api.get_receipt, stores, conns, key, receipt).body
    assert body["status"] == "rejected"
    # 4,500 errors, and the one warning GBAT10 gives a file that relies on a guess (guesses.py)
    assert body["counts"] == {"documents": 0, "errors": 4500, "warnings": 1, "preflight_problems": 0}
    assert 0 < len(body["problems"]) <= report.SHOWN and body["complete"] is False
    assert body["report"] == {"json": f"http://x/api/v1/receipts/{receipt}/report",
                              "csv": f"http://x/api/v1/receipts/{receipt}/report.csv"}
    first = next(p for p in body["problems"] if p.get("severity") != "warning")
    assert (first["file"], first["line"], first["reference"], first["field"]) == ("bilag-æøå.csv", 2, "1", "Mva-kode")
    assert "'Ø'" in first["message"]

    whole = get(api.get_receipt_report, stores, conns, key, receipt).body
    assert whole["counts"] == {"documents": 0, "errors": 4500, "warnings": 1, "preflight_problems": 0}
    errors = [p for p in whole["problems"] if p.get("severity") != "warning"]
    assert [p["line"] for p in errors] == list(range(2, 9001, 2))
    assert {p["stage"] for p in whole["problems"]} == {"translate"}

    sheet = get(api.get_receipt_report_csv, stores, conns, key, receipt)
    assert sheet.content_type == "text/csv; charset=utf-8"
    assert 'filename="bilag-___-report.csv"' in sheet.headers["Content-Disposition"]
    assert sheet.body.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 (æøå) only with the BOM
    rows = list(csv.reader(io.StringIO(sheet.body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == list(report.CSV_COLUMNS)
    assert len(rows) == 1 + 4500 + 1
    assert rows[1][:2] == ["translate", "warning"]
    assert rows[2][:7] == ["translate", "error", "bilag-æøå.csv", "2", "1", "Mva-kode", "invalid"]
    assert "'Ø'" in rows[2][7]


def test_the_receipt_lists_the_first_documents_and_the_report_every_document_and_preflight_problem(stack) -> None:
    stores, conns, tenant, key = stack
    registry = TenantRegistry(stores.tables)
    registry.save(registry.get(tenant.id).model_copy(update={"target": "picky"}))
    registry.save(registry.get(tenant.id).model_copy(update={"sources": {"gbat10": {"vat_map": {"Ø": "3"}}}}))
    receipt, messages = translate(stores, conns, tenant.id, gbat10(1200))  # three preflight batches
    assert messages == [f"d-{receipt[2:]}-{n:06d}" for n in range(1200)]
    body = get(api.get_receipt, stores, conns, key, receipt).body
    assert body["status"] == "translated"
    assert body["counts"] == {"documents": 1200, "errors": 0, "warnings": 1, "preflight_problems": 1200}
    assert len(body["documents"]) == report.SHOWN and body["documents"][0]["status_url"].startswith("http://x/")
    assert body["preflight"]["checked"] == 1200 and len(body["preflight"]["problems"]) <= report.SHOWN
    whole = get(api.get_receipt_report, stores, conns, key, receipt).body
    assert [d["reference"] for d in whole["documents"]] == [str(n) for n in range(1, 1201)]
    assert all(d["status_url"] == f"http://x/api/v1/documents/{d['id']}" for d in whole["documents"])
    preflight = [p for p in whole["problems"] if p["stage"] == "preflight"]
    assert [p["reference"] for p in preflight] == [str(n) for n in range(1, 1201)]
    assert {p["code"] for p in preflight} == {"missing-account"}
    row = stores.tables.query("trace", f"{tenant.id}|{receipt}", f"{receipt}|")[-1]  # the receipt's own rows
    assert len(json.dumps(row["Detail"], ensure_ascii=False)) < 32 * 1024  # one table property


def test_a_file_format_detected_from_its_content_gets_the_tenants_options_for_it(stack) -> None:
    stores, conns, tenant, key = stack
    registry = TenantRegistry(stores.tables)
    registry.save(registry.get(tenant.id).model_copy(update={"sources": {"gbat10": {"vat_map": {"Ø": "3"}}}}))
    receipt, messages = translate(stores, conns, tenant.id, gbat10(2), format=None)  # an SFTP drop, no folder
    body = get(api.get_receipt, stores, conns, key, receipt).body
    assert body["counts"]["errors"] == 0 and len(messages) == 2


def test_a_file_with_no_vouchers_is_rejected_with_a_problem_saying_so(stack) -> None:
    stores, conns, tenant, key = stack
    receipt, _ = translate(stores, conns, tenant.id, b"\r\n\r\n")
    body = get(api.get_receipt, stores, conns, key, receipt).body
    assert body["status"] == "rejected" and [p["code"] for p in body["problems"]] == ["empty"]
    assert body["counts"] == {"documents": 0, "errors": 1, "warnings": 0, "preflight_problems": 0}


def test_a_reader_that_raises_keeps_what_it_read_and_ends_the_file_with_a_problem(stack) -> None:
    stores, conns, tenant, key = stack

    def broken(data: Any, *, file_name: str, options: Any) -> Iterator[Any]:
        yield Voucher(reference="ok-1", date="2025-11-03", origin=Origin(format="broken", file=file_name, line=1),
                      lines=(Posting(account="1920", amount="10.00"), Posting(account="3000", amount="-10.00")))
        raise ValueError("a defect in the reader")

    conns.sources = {**conns.sources, "broken": broken}
    receipt, messages = translate(stores, conns, tenant.id, b"anything", format="broken")
    body = get(api.get_receipt, stores, conns, key, receipt).body
    assert len(messages) == 1 and [d["reference"] for d in body["documents"]] == ["ok-1"]
    [problem] = body["problems"]
    assert problem["code"] == "reader-error" and problem["line"] == 1


def test_csv_cells_from_the_file_never_run_as_formulas(stack) -> None:
    stores, conns, tenant, key = stack
    data = "GBAT10;=HYPERLINK(\"x\");20251103;1;11;2025;1920;;1.00\r\n".encode("cp1252")
    receipt, _ = translate(stores, conns, tenant.id, data)
    sheet = get(api.get_receipt_report_csv, stores, conns, key, receipt).body.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(sheet), delimiter=";"))
    assert rows[1][4] == "'=HYPERLINK(\"x\")"
    assert report.csv_cell("-1250.00") == "'-1250.00" and report.csv_cell("Blåbær") == "Blåbær"


def test_the_report_route_waits_for_the_translation_and_answers_404_for_another_tenant(stack) -> None:
    stores, conns, tenant, key = stack
    intake = receive_file(stores, tenant.id, gbat10(1), file_name="x.csv", format="gbat10",
                          known_formats=conns.sources)
    assert get(api.get_receipt_report, stores, conns, key, intake.receipt).status == 409
    assert get(api.get_receipt_report_csv, stores, conns, key, intake.receipt).status == 409
    other = TenantRegistry(stores.tables).add("Annen kunde")
    other_key = TenantRegistry(stores.tables).issue_key(other.id)
    assert get(api.get_receipt_report, stores, conns, other_key, intake.receipt).status == 404


CHILD = """
import resource, sys
sys.path.insert(0, {root!r})
from pathlib import Path
import connectors
from pipeline.received import receive_file
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.ports import Stores
from pipeline.stages import run
from pipeline.records.tenants import TenantRegistry


class DiskBlobs(MemoryBlobs):
    # The original read from disk, the report counted and dropped: what memory holds is the stage's own.
    written = 0

    def open(self, container, path):
        return open(ORIGINAL, "rb") if container == "received" else super().open(container, path)

    def writer(self, container, path, *, content_type=None):
        blobs = self

        class Counting:
            def write(self, data):
                DiskBlobs.written += len(data)

            def commit(self):
                pass

        return Counting()


def translate(path):
    global ORIGINAL
    ORIGINAL = path
    intake = receive_file(stores, tenant.id, b"x", file_name="stor.csv", format="gbat10",
                          known_formats=connectors.SOURCES)
    run("translate", stores, connectors.registry(), intake.envelopes[0].to_json())


stores = Stores(blobs=DiskBlobs(), tables=MemoryTables(), secrets=MemorySecrets())
tenant = TenantRegistry(stores.tables).add("Bakeriet på Røa AS")
translate({small!r})  # every module loaded, every cache warm
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
translate({big!r})
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(after - before, DiskBlobs.written)
"""


def test_translating_100000_vouchers_with_a_problem_each_keeps_memory_flat(tmp_path: Path) -> None:
    """Peak memory (RSS, in a fresh interpreter) grows by little while a 40 MB report streams out."""
    import subprocess
    import sys

    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    small.write_bytes(gbat10(200))
    big.write_bytes(gbat10(100_000))
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=root, small=str(small), big=str(big))],
                         capture_output=True, text=True, check=True).stdout
    grown_kib, written = (int(v) for v in out.split())
    assert written > 30_000_000  # the whole report went out ...
    assert grown_kib < 16 * 1024, f"peak memory grew {grown_kib / 1024:.0f} MiB while writing {written / 1e6:.0f} MB"


def test_a_listed_receipt_whose_trace_is_not_written_yet_is_received_not_404(stack) -> None:
    """Intake lists a file before its first trace row: the list and the status URL never disagree."""
    from pipeline.records.trace import TraceLog

    stores, conns, tenant, key = stack
    TraceLog(stores.tables).index_receipt(tenant.id, "r-20261201000000abc", {"file": "kasse.xml", "via": "sftp"})
    response = get(api.get_receipt, stores, conns, key, "r-20261201000000abc")
    assert response.status == 200
    assert response.body["status"] == "received" and response.body["documents"] == []
    assert get(api.get_receipt, stores, conns, key, "r-20261201000000abd").status == 404
