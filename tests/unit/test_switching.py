"""The switch preview's pure parts: which fields a document fills (named as the field map names them), which
value a preflight problem points at, and what kind of thing the new system lacks (the whole preview against
real sandboxes: tests/e2e/test_switch_preview.py)."""

from __future__ import annotations

import connectors
from pipeline.model import Voucher
from pipeline.problems import value_at
from pipeline.switching import _PARTY_BY_NAME, Tally, _kind, field_changes, used_fields

VOUCHER = Voucher.model_validate({
    "reference": "K-1", "date": "2026-11-20", "description": "Kiosk Tromsø – æøå",
    "lines": [{"account": "1920", "amount": "100.00", "kid": "0000000000018"},
              {"account": "3000", "amount": "-100.00", "vat_code": "3",
               "dimensions": {"department": "10", "bærekraft": "grønn"}}]})


def test_the_fields_a_document_fills_are_named_as_the_field_map_names_them():
    used = used_fields(VOUCHER)
    assert {"reference", "date", "description", "lines[].account", "lines[].amount", "lines[].kid",
            "lines[].vat_code", "lines[].dimensions.department", "lines[].dimensions.*"} <= used
    assert not {"type", "origin", "lines[].dimensions.project"} & used


def _value(document, path):
    return value_at(document, path, party=_PARTY_BY_NAME)  # as the switch preview reads a problem's value


def test_a_problem_points_at_the_value_the_system_lacks_and_is_sorted_by_kind():
    assert _value(VOUCHER, "lines[1].account") == "3000"
    assert _value(VOUCHER, "lines[1].dimensions.department") == "10"
    assert _value(VOUCHER, "lines[7].account") == "" and _value(VOUCHER, None) == ""
    assert [_kind(c, f) for c, f in [("missing-account", "lines[1].account"), ("invalid", "lines[0].vat_code"),
                                     ("missing-customer", "customer"), ("missing-project", None),
                                     ("closed-period", "date")]] == \
        ["accounts", "vat_codes", "customers", "dimensions", "other"]
    tally = Tally()
    for reference in ("A", "B", "C", "D", "A"):
        tally.problem("accounts", "missing-account", "3600", "account 3600 does not exist", reference)
    [found] = tally.as_dict()["missing"]["accounts"]
    assert found["documents"] == 5 and found["examples"] == ["A", "B", "C"]  # a few examples, never them all


def test_what_the_new_system_would_leave_out_is_named_beside_what_the_old_one_did():
    tally = Tally()
    tally.used(VOUCHER)
    tally.used(VOUCHER)
    changes = {c["field"]: c for c in field_changes(connectors.CONNECTORS["tripletex"], connectors.CONNECTORS["fiken"],
                                                    tally.fields)}
    assert changes["lines[].kid"]["documents"] == 2 and "KID" in changes["lines[].kid"]["dropped"]
    assert changes["lines[].kid"]["before"].startswith("also left out: KID belongs to Tripletex invoices")
    assert changes["lines[].dimensions.department"]["before"] == "kept"  # Tripletex has departments, Fiken none
    assert "lines[].account" not in changes
    assert all("dropped" in c or c["differently"]["kind"] != c["before"]["kind"] for c in changes.values())
    back = [c for c in field_changes(connectors.CONNECTORS["fiken"], connectors.CONNECTORS["file"], tally.fields)
            if "dropped" in c]
    assert back == []  # the file target keeps the shared form whole


def test_a_field_the_new_system_treats_otherwise_is_named_from_the_field_map():
    """The file target keeps `currency` as sent; Tripletex takes only NOK (Refused in its field map): a switch
    between them says so, beside the fields Tripletex leaves out."""
    tally = Tally()
    tally.used(VOUCHER)
    changes = {c["field"]: c for c in field_changes(connectors.CONNECTORS["file"], connectors.CONNECTORS["tripletex"],
                                                    tally.fields)}
    assert set(changes) == {"currency", "lines[].kid", "lines[].dimensions.*"}
    currency = changes["currency"]
    assert currency["before"]["kind"] == "lands" and currency["differently"]["kind"] == "only"
    assert currency["differently"]["accepted"] == ["NOK"]
    assert changes["lines[].kid"]["before"] == "kept"
