"""SAF-T Cash Register: the official example against its own Z report, and robustness."""

from __future__ import annotations

import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from lxml import etree

from connectors.sources import saft_cash_register
from pipeline.errors import Problem
from pipeline.model import Voucher
from tests.sources.mutations import broken_files

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
EXAMPLE = ROOT.parent / "shared" / "specs" / "saf-t" / "examples" / "cash-register-example-999999999.xml"
CASES = sorted(HERE.glob("*.xml"))


def run(data: bytes, file_name: str, options: dict | None = None) -> list:
    return list(saft_cash_register.parse(io.BytesIO(data), file_name=file_name, options=options or {}))


def test_sniff() -> None:
    assert saft_cash_register.sniff((HERE / "daily_settlement.xml").read_bytes()[:4096], "x.xml")
    assert saft_cash_register.sniff(b'<?xml version="1.0"?>\n<auditfile><header>', "x.xml")
    assert not saft_cash_register.sniff(
        b'<?xml version="1.0"?>\n<AuditFile xmlns="urn:StandardAuditFile-Taxation-Financial:NO">', "x.xml"
    )
    assert not saft_cash_register.sniff(b"Konto;Belop\n1920;100,00\n", "x.csv")


def _example() -> bytes:
    if not EXAMPLE.exists():
        pytest.skip(f"../shared/specs absent: {EXAMPLE} not found")
    return EXAMPLE.read_bytes()


def test_official_example_matches_its_z_report() -> None:
    """Our settlement's sales per VAT code and payments per type equal what the till's Z report states.

    The report is read independently with plain XPath; its VAT codes are the till's own, mapped to
    standard codes through the file's vatCodeDetails.
    """
    data = _example()
    tree = etree.parse(io.BytesIO(data))
    ns = {"cr": "urn:StandardAuditFile-Taxation-CashRegister:NO"}
    standard = {
        d.findtext("cr:vatCode", namespaces=ns): d.findtext("cr:standardVatCode", namespaces=ns)
        for d in tree.iterfind(".//cr:vatCodeDetail", ns)
    }
    stated_sales: dict[str, Decimal] = {}
    stated_vat: dict[str, Decimal] = {}
    for row in tree.iterfind(".//cr:reportCashSaleVat", ns):
        code = standard[row.findtext("cr:vatCode", namespaces=ns)]
        net, vat = (
            Decimal(row.findtext("cr:cashSaleAmnt", namespaces=ns)),
            Decimal(row.findtext("cr:vatAmnt", namespaces=ns)),
        )
        if net or vat:
            stated_sales[code], stated_vat[code] = net + vat, vat
    stated_payments = {
        row.findtext("cr:paymentType", namespaces=ns): Decimal(row.findtext("cr:paymentAmnt", namespaces=ns))
        for row in tree.iterfind(".//cr:reportPayment", ns)
    }

    results = run(data, EXAMPLE.name)
    assert [r for r in results if isinstance(r, Problem)] == []
    [voucher] = results
    assert isinstance(voucher, Voucher)
    sales: dict[str, Decimal] = defaultdict(Decimal)
    vat: dict[str, Decimal] = defaultdict(Decimal)
    for line in voucher.lines:
        if line.vat_code is not None:
            sales[line.vat_code] -= line.amount
            vat[line.vat_code] -= line.vat_amount or 0
    assert dict(sales) == stated_sales == {"3": Decimal("411.40"), "31": Decimal("102.80")}
    assert dict(vat) == stated_vat
    by_account = {line.account: line.amount for line in voucher.lines}
    assert by_account["1900"] == stated_payments["CASH"]
    assert by_account["1920"] == stated_payments["DEBCARD"]
    total_sales = Decimal(tree.findtext(".//cr:reportTotalCashSales/cr:totalCashSaleAmnt", namespaces=ns))
    assert sum(sales.values()) == total_sales
    assert by_account["7790"] == total_sales - sum(stated_payments.values())  # the 0.40 rounded off in cash
    assert voucher.reference == "saft-cr-999999999-11.222-33.44.567-2020-01-01"


def test_example_totals_from_the_transactions_themselves() -> None:
    """Independently of the Z report: Σ lineAmntIn per standard code, Σ paidAmnt, Σ roundingAmnt."""
    data = _example()
    tree = etree.parse(io.BytesIO(data))
    codes = {
        d.findtext("{*}vatCode"): d.findtext("{*}standardVatCode") for d in tree.iter("{*}vatCodeDetail")
    }
    per_code: dict[str, Decimal] = defaultdict(Decimal)
    for line in tree.iter("{*}ctLine"):
        per_code[codes[line.findtext("{*}vat/{*}vatCode")]] += Decimal(line.findtext("{*}lineAmntIn"))
    paid = sum(Decimal(p.findtext("{*}paidAmnt")) for p in tree.iter("{*}payment"))
    rounding = sum(Decimal(r.findtext("{*}roundingAmnt")) for r in tree.iter("{*}rounding"))
    [voucher] = run(data, EXAMPLE.name)
    assert {line.vat_code: -line.amount for line in voucher.lines if line.vat_code} == per_code
    assert sum(line.amount for line in voucher.lines if line.account in ("1900", "1920")) == paid
    assert sum(line.amount for line in voucher.lines if line.account == "7790") == -rounding


def test_options_cannot_be_nonsense() -> None:
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError):
        run(b"<auditfile/>", "x.xml", {"group_by": "week"})


BROKEN = broken_files([c.read_bytes() for c in CASES], [b"99.00", b"2024-03-01", b"CASH", b"-0.50", b">H<", b">D<"])


@settings(max_examples=200, deadline=None)
@given(BROKEN)
def test_never_crashes_and_every_voucher_balances(data: bytes) -> None:
    for result in run(data, "fuzz.xml"):
        assert isinstance(result, Problem | Voucher)
        if isinstance(result, Voucher):
            assert sum(line.amount for line in result.lines) == 0
