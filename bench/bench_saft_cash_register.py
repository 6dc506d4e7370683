"""SAF-T Cash Register parsing speed and memory on a ~100 MB file, beside the floor lxml itself sets.

Generates the file in a temporary directory (never committed) by repeating realistic receipts over
several registers and days, then measures, each in a fresh child process (so peak RSS is that run's own):
- `floor`: `lxml.etree.iterparse` over every element, clearing each, doing nothing else;
- `floor (cashtransaction)`: the same with the tag filter our parser uses, releasing each receipt;
- `saft_cash_register.parse`: our parser, all the way to shared-form vouchers.
Usage: `python bench/bench_saft_cash_register.py [megabytes]` (default 100).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGISTERS = 4

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<auditfile xmlns="urn:StandardAuditFile-Taxation-CashRegister:NO">
<header><fiscalYear>2024</fiscalYear><startDate>2024-01-01</startDate><endDate>2024-12-31</endDate>
<curCode>NOK</curCode><dateCreated>2025-01-02</dateCreated><timeCreated>06:00:00</timeCreated>
<softwareDesc>Benchkassa</softwareDesc><softwareVersion>1.0</softwareVersion>
<softwareCompanyName>Bilagsbro</softwareCompanyName><auditfileVersion>1.0</auditfileVersion></header>
<company><companyIdent>999999999</companyIdent><companyName>Kaffebaren på hjørnet AS</companyName>
<vatCodeDetails>
<vatCodeDetail><vatCode>2</vatCode><dateOfEntry>2024-01-01</dateOfEntry><standardVatCode>31</standardVatCode></vatCodeDetail>
<vatCodeDetail><vatCode>3</vatCode><dateOfEntry>2024-01-01</dateOfEntry><standardVatCode>3</standardVatCode></vatCodeDetail>
</vatCodeDetails>
<basics>
<basic><basicType>11</basicType><basicID>CASHSAL</basicID><predefinedBasicID>11001</predefinedBasicID><basicDesc>Salg</basicDesc></basic>
<basic><basicType>12</basicType><basicID>CASH</basicID><predefinedBasicID>12001</predefinedBasicID><basicDesc>Kontant</basicDesc></basic>
<basic><basicType>12</basicType><basicID>DEBCARD</basicID><predefinedBasicID>12002</predefinedBasicID><basicDesc>Bankkort</basicDesc></basic>
</basics>
<location><name>Butikk Grünerløkka</name>
"""

LINE = """<ctLine><nr>{n}</nr><lineID>{i}</lineID><lineType>SAL</lineType><artGroupID>100</artGroupID>\
<artID>{art}</artID><qnt>1</qnt><lineAmntIn>{gross}</lineAmntIn><lineAmntEx>{net}</lineAmntEx><amntTp>C</amntTp>\
<empID>1001</empID><lineDate>{day}</lineDate><lineTime>09:00:00</lineTime><vat><vatCode>{code}</vatCode>\
<vatPerc>{perc}</vatPerc><vatAmnt>{vat}</vatAmnt><vatAmntTp>C</vatAmntTp><vatBasAmnt>{net}</vatBasAmnt></vat></ctLine>
"""

TRANSACTION = """<cashtransaction><nr>{n}</nr><transID>{n}</transID><transType>CASHSAL</transType>\
<transAmntIn>{total}</transAmntIn><transAmntEx>0.00</transAmntEx><amntTp>C</amntTp><empID>1001</empID>\
<periodNumber>1</periodNumber><transDate>{day}</transDate><transTime>09:00:00</transTime>
{lines}<rounding><roundingAmnt>{rounding}</roundingAmnt></rounding>
<payment><paymentType>{kind}</paymentType><paidAmnt>{paid}</paidAmnt><empID>1001</empID><curCode>NOK</curCode>\
<exchRt>1.000000</exchRt><paymentRefID>BAX: 568833-{n}</paymentRefID></payment>
<signature>IMVOfRnF0zS4fLbeQVbzmqLLdHUjlYnjqMqxA+X+o0Fxx3YDlrFRiqyQrRUg932u/scZIEsgcr9G0bXAFG2BR4zedpJoJXMJYlE6\
8ul8jvJ/SsUwIjNxVHWVLVH+nkAGW63L+leGFqNVOZM9Fc7IqgCFfWMdI0XcKKJmyUvxUkI=</signature><keyVersion>1</keyVersion>\
<receiptNum>1</receiptNum><voidTransaction>false</voidTransaction><trainingID>false</trainingID></cashtransaction>
"""

ITEMS = [
    ("32.80", "28.52", "4.28", "2", "15.00"),
    ("116.00", "92.80", "23.20", "3", "25.00"),
    ("179.40", "143.52", "35.88", "3", "25.00"),
    ("25.80", "22.43", "3.37", "2", "15.00"),
]


def generate(path: Path, megabytes: int) -> int:
    """Write a file of about `megabytes` MB; returns how many receipts it holds."""
    from decimal import Decimal

    target = megabytes * 1024 * 1024
    per_register = target // REGISTERS
    n = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(HEAD)
        for register in range(1, REGISTERS + 1):
            out.write(f"<cashregister><registerID>K{register}</registerID>\n")
            written = 0
            while written < per_register:
                n += 1
                day = f"2024-{1 + (n // 20000) % 12:02d}-{1 + (n // 700) % 28:02d}"
                items = [ITEMS[(n + k) % len(ITEMS)] for k in range(1 + n % 3)]
                lines = "".join(
                    LINE.format(n=n, i=i, art=1000 + i, gross=g, net=e, vat=v, code=c, perc=p, day=day)
                    for i, (g, e, v, c, p) in enumerate(items, 1)
                )
                total = sum(Decimal(g) for g, *_ in items)
                cash = n % 2 == 0
                paid = total.quantize(Decimal("1")) if cash else total  # cash is paid in whole kroner
                chunk = TRANSACTION.format(
                    n=n,
                    day=day,
                    lines=lines,
                    total=total,
                    rounding=paid - total,
                    kind="CASH" if cash else "DEBCARD",
                    paid=paid,
                )
                out.write(chunk)
                written += len(chunk.encode("utf-8"))
            out.write("</cashregister>\n")
        out.write("</location>\n</company>\n</auditfile>\n")
    return n


CHILD = r"""
import json, resource, sys, time
from lxml import etree
mode, path = sys.argv[1], sys.argv[2]
start = time.perf_counter()
count = 0
if mode == "floor":
    for _, element in etree.iterparse(path, events=("end",), resolve_entities=False, no_network=True):
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
        count += 1
elif mode == "floor-tagged":
    for _, element in etree.iterparse(path, events=("end",), tag="{*}cashtransaction", resolve_entities=False,
                                      no_network=True):
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
        count += 1
elif mode == "imports":
    from connectors.sources import saft_cash_register
    from pipeline.errors import Problem
else:
    from connectors.sources import saft_cash_register
    from pipeline.errors import Problem
    with open(path, "rb") as data:
        for result in saft_cash_register.parse(data, file_name=path, options={}):
            if isinstance(result, Problem):
                raise SystemExit(str(result))
            count += 1
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "count": count}))
"""


def measure(mode: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "saft-cash-register-bench.xml"
        started = time.perf_counter()
        receipts = generate(path, megabytes)
        size_mb = path.stat().st_size / 1024 / 1024
        print(
            f"generated {size_mb:.1f} MB, {receipts} receipts, {REGISTERS} registers "
            f"in {time.perf_counter() - started:.1f} s"
        )
        for label, mode in (
            ("interpreter + imports, no parsing", "imports"),
            ("floor: iterparse, every element", "floor"),
            ("floor: iterparse, cashtransaction only", "floor-tagged"),
            ("saft_cash_register.parse", "ours"),
        ):
            result = measure(mode, path)
            speed = f"{size_mb / result['seconds']:7.1f} MB/s" if mode != "imports" else " " * 12
            print(
                f"{label:<42} {speed}  {result['seconds']:6.2f} s  "
                f"peak RSS {result['maxrss_kb'] / 1024:6.1f} MB  ({int(result['count'])} "
                f"{'documents' if mode == 'ours' else 'elements'})"
            )


if __name__ == "__main__":
    main()
