"""SAF-T Financial: the official examples against their stated totals, and robustness."""

from __future__ import annotations

import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from lxml import etree

from connectors.sources import saft_financial
from pipeline.errors import Problem
from pipeline.model import Voucher
from tests.sources.mutations import broken_files

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
EXAMPLES = ROOT.parent / "shared" / "specs" / "saf-t" / "examples"
CASES = sorted(HERE.glob("*.xml"))


def run(data: bytes, file_name: str, options: dict | None = None) -> list:
    return list(saft_financial.parse(io.BytesIO(data), file_name=file_name, options=options or {}))


def test_sniff() -> None:
    assert saft_financial.sniff((HERE / "vouchers_1_30.xml").read_bytes()[:4096], "x.xml")
    assert saft_financial.sniff(
        b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- x -->\n<AuditFile><Header>', "x.xml"
    )
    assert not saft_financial.sniff(
        b'<?xml version="1.0"?>\n<auditfile xmlns="urn:StandardAuditFile-Taxation-CashRegister:NO">', "x.xml"
    )
    assert not saft_financial.sniff(b"Konto;Belop\n1920;100,00\n", "x.csv")


def _example(name: str) -> bytes:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(f"../shared/specs absent: {path} not found")
    return path.read_bytes()


def test_official_example_matches_its_stated_totals() -> None:
    """Every transaction comes through, and our lines add up to the file's own TotalDebit/TotalCredit.

    Folding VAT into base lines keeps each side's sum (the VAT posting sits on its base line's side), so
    the positive amounts of the vouchers must still equal TotalDebit. The number of vouchers and the sums
    are compared with what the file states, read with plain XPath.
    """
    data = _example("financial-example-888888888.xml")
    tree = etree.parse(io.BytesIO(data))
    stated = {
        name: Decimal(tree.findtext(f".//{{*}}GeneralLedgerEntries/{{*}}{name}"))
        for name in ("NumberOfEntries", "TotalDebit", "TotalCredit")
    }
    results = run(data, "example.xml")
    vouchers = [r for r in results if isinstance(r, Voucher)]
    problems = [r for r in results if isinstance(r, Problem)]
    assert len(vouchers) == stated["NumberOfEntries"] == 53
    assert sum(line.amount for v in vouchers for line in v.lines if line.amount > 0) == stated["TotalDebit"]
    assert -sum(line.amount for v in vouchers for line in v.lines if line.amount < 0) == stated["TotalCredit"]
    # The official file's own slips: TaxAmount 40729.00 where 25 % of 162919.00 is 40729.75 (the posted VAT)
    assert {(p.reference, p.code) for p in problems} == {
        ("saft-888888888-123ABC-1013", "vat-unfolded"),
        ("saft-888888888-123ABC-1041", "vat-unfolded"),
    }
    first = vouchers[0]
    assert [(line.account, line.amount, line.vat_code, line.vat_amount) for line in first.lines] == [
        ("4000", Decimal("12500.00"), "1", Decimal("2500.00")),
        ("2400", Decimal("-12500.00"), None, None),
    ]
    assert first.lines[1].supplier is not None and first.lines[1].supplier.name == "Myke Tekstiler AS"
    assert first.lines[0].dimensions == {"department": "102", "project": "202"}
    # Folding removed exactly the VAT postings: the VAT accounts hold nothing in folded vouchers
    unfolded = {p.reference for p in problems}
    for voucher in vouchers:
        if voucher.reference not in unfolded and any(line.vat_amount for line in voucher.lines):
            assert not [line for line in voucher.lines if line.account in ("2700", "2710", "2711")]


def test_folded_vat_equals_the_files_tax_amounts() -> None:
    """Σ vat_amount over folded vouchers equals Σ TaxAmount of their base lines, recomputed from the XML."""
    data = _example("financial-example-888888888.xml")
    tree = etree.parse(io.BytesIO(data))
    tax_by_transaction: dict[str, Decimal] = defaultdict(Decimal)
    for transaction in tree.iter("{*}Transaction"):
        for line in transaction.iter("{*}Line"):
            side = Decimal(-1) if line.find("{*}CreditAmount") is not None else Decimal(1)
            for amount in line.iterfind("{*}TaxInformation/{*}TaxAmount/{*}Amount"):
                tax_by_transaction[transaction.findtext("{*}TransactionID")] += side * Decimal(amount.text)
    results = run(data, "example.xml")
    unfolded = {r.reference for r in results if isinstance(r, Problem)}
    checked = 0
    for voucher in (r for r in results if isinstance(r, Voucher) and r.reference not in unfolded):
        transaction_id = voucher.reference.rsplit("-", 1)[1]
        assert (
            sum((line.vat_amount or 0 for line in voucher.lines), Decimal(0))
            == tax_by_transaction[transaction_id]
        )
        checked += 1
    assert checked == 51


def test_xmlspy_sample_without_namespace_is_reported_not_raised() -> None:
    data = _example("financial-1.30-xmlspy-example.xml")
    results = run(data, "xmlspy.xml")
    assert all(isinstance(r, Problem) for r in results)
    assert {r.code for r in results} == {
        "invalid",
        "totals",
    }  # customer and supplier on one line; 0 entries stated


def test_vat_accounts_option_replaces_the_defaults() -> None:
    data = (HERE / "vouchers_1_30.xml").read_bytes()
    results = run(data, "v.xml", {"vat_accounts": ["2700"]})
    by_reference = {r.reference: r for r in results if isinstance(r, Voucher)}
    purchase = by_reference["saft-888888888-K-1"]  # 2710 is no VAT account now: nothing matches the tax
    assert [line.account for line in purchase.lines] == ["4300", "2710", "2400"]
    assert all(line.vat_code is None for line in purchase.lines)
    assert by_reference["saft-888888888-S-1"].lines[1].vat_amount == Decimal("-250.00")


BROKEN = broken_files([c.read_bytes() for c in CASES], [b"1250.00", b"2025-01-02", b"10001", b">3000<", b">H<", b">K<"])


@settings(max_examples=200, deadline=None)
@given(BROKEN)
def test_never_crashes_and_every_voucher_balances(data: bytes) -> None:
    for result in run(data, "fuzz.xml"):
        assert isinstance(result, Problem | Voucher)
        if isinstance(result, Voucher):
            assert sum(line.amount for line in result.lines) == 0


@pytest.mark.parametrize(("version", "read"), [
    ("1.0", True), ("1.00", True), ("1.10", True), ("1.1", True), ("1.20", True), ("1.30", True), ("1.3", True),
    ("a", True),  # XMLSpy's generated sample: not a version number, read as 1.x
    ("2.0", False), ("2.00", False), ("1.40", False), ("3", False),
])
def test_only_known_versions_are_read(version: str, read: bool) -> None:
    data = (HERE / "vouchers_1_30.xml").read_bytes().replace(
        b"<n1:AuditFileVersion>1.30<", f"<n1:AuditFileVersion>{version}<".encode())
    results = run(data, "v.xml")
    if read:
        assert any(isinstance(r, Voucher) for r in results)
        assert not any(r.code == "unsupported-version" for r in results if isinstance(r, Problem))
    else:
        [problem] = results
        assert isinstance(problem, Problem) and problem.code == "unsupported-version" and problem.is_error
        assert f"version {version}," in problem.message and problem.field == "Header/AuditFileVersion"
