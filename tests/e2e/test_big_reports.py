"""A file with a problem on every voucher gets its whole report, through the local stack on Azurite.

Before: a 9,000-line GBAT10 file with an unmapped VAT code put every problem into one trace row,
Table Storage refused it (PropertyValueTooLarge, 64 KiB) and the receipt ended with no problems at all.
"""

from __future__ import annotations

import csv
import io
import time

import pytest

pytestmark = pytest.mark.e2e

VOUCHERS = 100_000


def gbat10(vouchers: int) -> bytes:
    """Balanced vouchers whose revenue line has a VAT code ('Ø') the tenant never mapped."""
    out = io.BytesIO()
    for n in range(1, vouchers + 1):
        out.write(f"GBAT10;{n};20251103;1;11;2025;1920;;125.00;;;;;;;;;;;;Blåbær {n};;;;;;;;;\r\n"
                  f"GBAT10;{n};20251103;1;11;2025;3000;Ø;-125.00;;;;;;;;;;;;Salg Ørsta;;;;;;;;;\r\n".encode("cp1252"))
    return out.getvalue()


@pytest.mark.long
def test_a_file_of_100000_vouchers_with_a_problem_on_each_gets_its_whole_report(stack, tenant, client):
    response = client.post("/api/v1/files", params={"format": "gbat10", "name": "dagsoppgjør.csv"},
                           content=gbat10(VOUCHERS), timeout=120)
    assert response.status_code == 202, response.text
    receipt_url = response.json()["status_url"]
    deadline = time.monotonic() + 600
    while (body := client.get(receipt_url).json())["status"] not in ("translated", "rejected", "failed"):
        assert time.monotonic() < deadline, body
        time.sleep(0.5)
    assert body["status"] == "rejected", body["trace"][-1]
    # every voucher an error, and the one warning for a file that relies on a GBAT10 guess
    assert body["counts"] == {"documents": 0, "errors": VOUCHERS, "warnings": 1, "preflight_problems": 0}
    assert 0 < len(body["problems"]) <= 20 and body["complete"] is False
    first = next(p for p in body["problems"] if p.get("severity") != "warning")
    assert (first["file"], first["line"], first["reference"], first["field"]) == ("dagsoppgjør.csv", 2, "1", "Mva-kode")

    sheet = client.get(body["report"]["csv"], timeout=300)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert sheet.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["stage", "severity", "file", "line", "voucher", "field", "code", "message"]
    assert len(rows) == 1 + VOUCHERS + 1
    assert rows[-1][:6] == ["translate", "error", "dagsoppgjør.csv", str(2 * VOUCHERS), str(VOUCHERS), "Mva-kode"]
    assert "'Ø'" in rows[-1][7]

    whole = client.get(body["report"]["json"], timeout=300).json()
    assert whole["counts"] == body["counts"] and whole["file"] == "dagsoppgjør.csv"
    errors = [p for p in whole["problems"] if p.get("severity") != "warning"]
    assert len(errors) == VOUCHERS
    assert {p["reference"] for p in errors} == {str(n) for n in range(1, VOUCHERS + 1)}
