"""The pure mapping of a voucher to a Fiken general journal entry: the marker `find` reads back, the description in
166 characters, the lines in whole øre on Fiken's accounts, and every problem of a voucher at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from connectors.targets.fiken.entry import entry, refusal
from connectors.targets.fiken.mapping import DESCRIPTION_MAX, FIKEN_PREFIX, Register, carries, description, marker
from pipeline.model import Posting, Voucher

CHART = {code: {"code": code, "name": code} for code in ("1920", "3000", "3010", "4300", "6800", "2700")}
CUSTOMER = {"contactId": 7, "name": "Fjordkafé Ålesund AS", "customer": True, "customerNumber": 10001,
            "customerAccountCode": "1500:10001"}
REGISTER = Register(accounts=CHART, customers={"number:10001": CUSTOMER, "org:987654325": CUSTOMER},
                    company={"accountingStartDate": "2024-01-01"})


def voucher(*lines: dict[str, object], **fields: object) -> Voucher:
    return Voucher.model_validate({"reference": "K-1", "date": "2026-11-04", "description": "Kontantsalg",
                                   "lines": list(lines), **fields})


def test_the_marker_is_the_reference_in_brackets_or_a_readable_digest() -> None:
    assert marker("KASSE-2026-11-04 æøå") == "[KASSE-2026-11-04 æøå]"
    long = "omnium-" + "x" * 120
    shortened = marker(long)
    assert len(shortened) == 62 and shortened.startswith("[omnium-xxx") and "~" in shortened
    assert marker(long + "y") != shortened  # the digest keeps them apart
    assert marker("A[1]") == f"[A(1)~{marker('A[1]')[6:-1]}]" and "]" not in marker("A[1]")[1:-1]


def test_only_a_description_that_opens_with_the_marker_is_ours() -> None:
    assert carries(f"{FIKEN_PREFIX}[K-1] Kontantsalg", "K-1")
    assert carries("[K-1]", "K-1") and carries("[K-1] x", "K-1")
    assert not carries(f"{FIKEN_PREFIX}[K-12] Kontantsalg", "K-1")
    assert not carries(f"{FIKEN_PREFIX}[K-2] Retur av [K-1]", "K-1")  # another voucher that mentions ours
    assert not carries(None, "K-1")


def test_line_texts_join_the_description_while_they_fit_and_the_rest_is_reported() -> None:
    texts = [{"account": "1920", "amount": "10.00", "description": "Kortterminal på Røros"},
             {"account": "3000", "amount": "-10.00", "description": "x" * 150}]
    text, left_out, shortened = description(voucher(*texts))
    assert text == "[K-1] Kontantsalg: Kortterminal på Røros" and left_out == (1,) and not shortened
    long = voucher(*texts, description="Ø" * 300)
    text, left_out, shortened = description(long)
    assert len(text) == DESCRIPTION_MAX and text.endswith("…") and shortened and left_out == (0, 1)


def test_a_till_voucher_becomes_lines_in_øre_net_of_the_vat_fiken_adds() -> None:
    built = entry(voucher({"account": "1920", "amount": "240.00"},
                          {"account": "3000", "amount": "-125.00", "vat_code": "3"},
                          {"account": "3010", "amount": "-115.00", "vat_code": "31", "vat_amount": "-15.00"}),
                  REGISTER, open_entry=True)
    assert built.problems == () and built.not_accepted == ()
    assert built.body["open"] is True and built.body["description"] == "[K-1] Kontantsalg"
    [journal] = built.body["journalEntries"]
    assert journal["date"] == "2026-11-04"
    assert journal["lines"] == [{"amount": 24000, "debitAccount": "1920"},
                                {"amount": 10000, "creditAccount": "3000", "creditVatCode": 3},
                                {"amount": 10000, "creditAccount": "3010", "creditVatCode": 31}]


def test_a_customer_on_the_receivable_is_posted_on_its_own_account_elsewhere_it_has_no_place() -> None:
    built = entry(voucher({"account": "1500", "amount": "50.00", "customer": {"number": "10001"}},
                          {"account": "3000", "amount": "-50.00", "customer": {"organization_number": "987654325"},
                           "kid": "12344", "dimensions": {"department": "1"}}, voucher_type="kasse"),
                  REGISTER, open_entry=False)
    assert built.problems == ()
    assert built.body["journalEntries"][0]["lines"][0] == {"amount": 5000, "debitAccount": "1500:10001"}
    assert set(built.not_accepted) == {"voucher_type", "lines[1].customer", "lines[1].kid",
                                       "lines[1].dimensions.department"}


def test_every_problem_of_a_voucher_comes_at_once_on_its_field() -> None:
    bad = voucher({"account": "2999", "amount": "10.00"},
                  {"account": "1920", "amount": "10.00", "vat_code": "3"},
                  {"account": "3000", "amount": "-10.00", "vat_code": "81"},
                  {"account": "3000", "amount": "-10.00", "vat_code": "14"},
                  {"account": "1500", "amount": "10.00", "customer": {"number": "99999"}},
                  {"account": "2400", "amount": "-10.00"},
                  {"account": "19x0", "amount": "10.00"},
                  {"account": "3000", "amount": "-10.00", "vat_code": "3", "vat_amount": "-5.00"},
                  date="2023-12-31", currency="EUR")
    found = {(p.code, p.field) for p in entry(bad, REGISTER, open_entry=True).problems}
    assert found == {("unsupported-currency", "currency"), ("before-accounting-start", "date"),
                     ("missing-account", "lines[0].account"), ("vat-code-not-allowed", "lines[1].vat_code"),
                     ("unknown-vat-code", "lines[2].vat_code"), ("vat-code-not-supported", "lines[3].vat_code"),
                     ("missing-customer", "lines[4].customer"), ("supplier-required", "lines[5].supplier"),
                     ("missing-account", "lines[6].account"), ("vat-not-representable", "lines[7].vat_amount")}
    assert all(p.reference == "K-1" for p in entry(bad, REGISTER, open_entry=True).problems)


def test_a_sub_øre_amount_is_a_problem_on_its_line_and_never_rounded() -> None:
    """The shared form refuses a third decimal; a voucher built around it (a rule, a bug) meets the same refusal."""
    lines = (Posting.model_construct(account="1920", amount=Decimal("10.005"), dimensions={}),
             Posting.model_construct(account="3000", amount=Decimal("-10.00"), vat_code="3",
                                     vat_amount=Decimal("-2.001"), dimensions={}))
    odd = Voucher.model_construct(reference="K-2", date=dt.date(2026, 11, 4), currency="NOK", lines=lines)
    built = entry(odd, REGISTER, open_entry=True)
    assert {(p.code, p.field) for p in built.problems} == {("sub-øre-amount", "lines[0].amount"),
                                                           ("sub-øre-amount", "lines[1].vat_amount")}
    assert "10.005" in built.problems[0].message


def test_zero_lines_are_left_out_and_said_so() -> None:
    built = entry(voucher({"account": "1920", "amount": "10.00"}, {"account": "6800", "amount": "0.00"},
                          {"account": "3000", "amount": "-10.00"}), REGISTER, open_entry=True)
    assert len(built.body["journalEntries"][0]["lines"]) == 2 and built.details == {"zero_lines_left_out": [1]}


def test_fikens_refusal_lands_on_the_lines_it_names_or_on_the_date() -> None:
    sale = voucher({"account": "4300", "amount": "80.00"}, {"account": "1920", "amount": "-80.00"})
    [on_line] = refusal(sale, "Linje 1: konto 4300 finnes ikke i kontoplanen")
    assert on_line.field == "lines[0].account" and "4300 finnes ikke" in on_line.message
    [on_date] = refusal(sale, "Perioden er låst: det kan ikke føres bilag datert 2026-11-04")
    assert on_date.field == "date" and on_date.code == "refused-by-fiken"
    [whole] = refusal(sale, "Noe gikk galt")
    assert whole.field is None and "did not say which line" in whole.message
