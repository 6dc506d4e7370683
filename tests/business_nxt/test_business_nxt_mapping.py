"""Shared-form vouchers → Business NXT rows: a debit and a credit account and one positive amount per row, lines
paired only where their row fields agree, every posting kept exactly (property-tested), dates as yyyymmdd."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.targets.business_nxt.mapping import batch_input, encode, rows, yyyymmdd
from pipeline.model import Voucher

UNITS = {"department": 1, "project": 2}


def _voucher(*lines: dict, **extra: object) -> Voucher:
    return Voucher(reference="R-1", date="2026-03-23", description="Dagsoppgjør Røros", lines=lines, **extra)


def test_one_debit_against_two_credits_is_two_rows_each_with_both_accounts() -> None:
    made = rows(_voucher({"account": "1920", "amount": "1000.00"}, {"account": "3000", "amount": "-600.00",
                                                                     "vat_code": "3"},
                         {"account": "3020", "amount": "-400.00", "vat_code": "33"}), UNITS)
    assert [(r["debitAccountNo"], r["creditAccountNo"], r["amountDomestic"], r.get("creditTaxCode"))
            for r, _ in made] == [(1920, 3000, Decimal("600.00"), 3), (1920, 3020, Decimal("400.00"), 33)]
    assert all(r["amountDomestic"] > 0 for r, _ in made)


def test_lines_whose_row_fields_differ_are_not_paired_and_keep_their_own_department() -> None:
    made = rows(_voucher({"account": "1920", "amount": "250.00"},
                         {"account": "3000", "amount": "-250.00", "dimensions": {"department": "2"}}), UNITS)
    assert [(r.get("debitAccountNo"), r.get("creditAccountNo"), r.get("orgUnit1")) for r, _ in made] == [
        (1920, None, None), (None, 3000, 2)]


def test_a_customer_line_is_posted_to_the_customer_number_with_its_kid_and_due_date() -> None:
    made = rows(_voucher({"account": "1500", "amount": "125.00", "customer": {"number": "10001"},
                          "kid": "12345674", "invoice_number": "F-7", "due_date": "2026-04-06"},
                         {"account": "3000", "amount": "-125.00", "vat_code": "3"}), UNITS)
    [(row, carried)] = made
    assert (row["debitAccountNo"], row["customerNo"], row["cid"], row["invoiceNo"], row["dueDate"]) == (
        10001, 10001, "12345674", "F-7", 20260406)
    assert carried == (0, 1)


def test_the_batch_holds_our_reference_on_every_row_dates_as_integers_and_texts_in_norwegian() -> None:
    voucher = _voucher({"account": "1920", "amount": "99.50", "description": "Kortterminal på Røros"},
                       {"account": "3000", "amount": "-99.50", "vat_code": "3", "description": "Salg av blåbær"})
    batch = batch_input(voucher, reference="KASSE-7 æøå", voucher_no=60001, series=6, voucher_type=None,
                        org_units=UNITS)
    assert (batch["voucherSeriesNo"], batch["valueDate"], batch["description"]) == (6, 20260323, "Dagsoppgjør Røros")
    [row] = batch["vouchers"]
    assert (row["voucherNo"], row["voucherDate"], row["additionalText"]) == (60001, 20260323, "KASSE-7 æøå")
    assert row["text"] == "Kortterminal på Røros / Salg av blåbær"
    wire = encode(batch).decode("utf-8")
    assert '"amountDomestic":99.50' in wire and "æøå" in wire  # exact number, UTF-8 text
    assert json.loads(wire)["vouchers"][0]["amountDomestic"] == 99.5


def test_dates_are_yyyymmdd_integers() -> None:
    assert yyyymmdd(dt.date(2026, 1, 5)) == 20260105


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)


@st.composite
def vouchers(draw: st.DrawFn) -> Voucher:
    debits = draw(st.lists(amounts, min_size=1, max_size=5))
    total = sum(debits, Decimal(0))
    cuts = sorted(draw(st.lists(st.integers(1, int(total * 100) - 1), max_size=4, unique=True))) \
        if total > Decimal("0.01") else []
    edges = [Decimal(0), *(Decimal(c) / 100 for c in cuts), total]
    credits = [b - a for a, b in zip(edges, edges[1:], strict=False) if b > a]
    department = st.sampled_from([None, "1", "2"])
    lines = [{"account": str(1900 + i), "amount": str(a), **({"dimensions": {"department": d}} if (d := draw(department))
                                                             else {})} for i, a in enumerate(debits)]
    lines += [{"account": str(3000 + i), "amount": str(-a), **({"dimensions": {"department": d}}
                                                               if (d := draw(department)) else {})}
              for i, a in enumerate(credits)]
    return Voucher(reference="P-1", date="2026-05-17", lines=lines)


@settings(max_examples=200, deadline=None)
@given(vouchers())
def test_rows_keep_every_posting_exactly_and_balance(voucher: Voucher) -> None:
    """Per account and department, the rows post exactly what the lines did, on the same side; amounts > 0."""
    made = rows(voucher, UNITS)
    posted: Counter[tuple[str, int, object]] = Counter()
    for row, _ in made:
        assert row["amountDomestic"] > 0
        for side in ("debit", "credit"):
            if row.get(f"{side}AccountNo"):
                posted[(side, row[f"{side}AccountNo"], row.get("orgUnit1"))] += row["amountDomestic"]
    wanted: Counter[tuple[str, int, object]] = Counter()
    for line in voucher.lines:
        unit = int(line.dimensions["department"]) if "department" in line.dimensions else None
        wanted[("debit" if line.amount > 0 else "credit", int(line.account), unit)] += abs(line.amount)
    assert posted == wanted
