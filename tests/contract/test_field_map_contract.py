"""The field map is what each target does: every registered target has a map for every document type it takes, naming
every field of the shared form, and every claim holds against the connector and its sandbox.

A document carrying every field (values the sandbox has: the harness's `present`) is rendered and delivered:
- a field that **lands** at a path has a value there, and changing the field changes that value;
- a field the target **works out** itself changes nothing rendered;
- a field **not accepted** appears nowhere in the payload, and the delivery names each instance in `not_accepted`;
- a field the target takes **only** some values of is a preflight problem, naming the field, with another value.
The map is published as docs/field-map.md and at GET /api/docs/field-map (pipeline/fieldmap.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

import connectors
from pipeline import descriptors
from pipeline.descriptors import Derived, Lands, NotAccepted, Refused, TargetDescriptor
from pipeline.fieldmap import DIMENSIONS, missing, not_accepted, shared_fields
from pipeline.norway.kid import kid_mod10
from pipeline.shared_form import DOCUMENT
from tests.contract.harness import PRESENT, Harness, load

TARGETS = descriptors.targets(connectors.CONNECTORS)


@pytest.fixture(params=sorted(TARGETS))
def system(request: pytest.FixtureRequest) -> Iterator[tuple[TargetDescriptor, Harness]]:
    harness_class = load(request.param)
    if harness_class is None:
        pytest.fail(f"{request.param} has no contract harness")
    harness = harness_class()
    try:
        yield TARGETS[request.param], harness
    finally:
        harness.close()


def _maps_complete(targets: dict[str, TargetDescriptor]) -> None:
    for name, descriptor in targets.items():
        assert descriptor.accepts.fields, f"{name}: its descriptor has no field map (Accepts.fields)"
        assert missing(descriptor) == {}, f"{name}: the field map does not say what becomes of these"


def test_every_registered_target_has_a_map_of_every_field_of_every_document_it_takes() -> None:
    _maps_complete(TARGETS)


def test_a_target_without_a_map_or_with_a_gap_in_it_is_caught() -> None:
    file = TARGETS["file"]
    without = dataclasses.replace(file, accepts=dataclasses.replace(file.accepts, fields={}))
    with pytest.raises(AssertionError, match="no field map"):
        _maps_complete({"file": without})
    gap = {t: {f: r for f, r in rules.items() if f != "lines[].kid"} for t, rules in file.accepts.fields.items()}
    with pytest.raises(AssertionError, match="does not say"):
        _maps_complete({"file": dataclasses.replace(file, accepts=dataclasses.replace(file.accepts, fields=gap))})


def _covered(field: str, descriptor: TargetDescriptor) -> bool:
    """Whether `Accepts.not_accepted` names the field — `lines[].dimensions.*` names every dimension the target's
    `Accepts.dimensions` does not list."""
    declared = descriptor.accepts.not_accepted
    if field in declared:
        return True
    dimension = field.removeprefix("lines[].dimensions.")
    return dimension != field and "lines[].dimensions.*" in declared and dimension not in (
        descriptor.accepts.dimensions) and "*" not in descriptor.accepts.dimensions


def test_the_not_accepted_fields_of_the_map_are_the_descriptors_not_accepted() -> None:
    for name, descriptor in TARGETS.items():
        said = not_accepted(descriptor)
        assert all(_covered(f, descriptor) for f in said), (name, said)
        assert set(descriptor.accepts.not_accepted) <= said, name


# -- a document with every field --------------------------------------------------------------------------------


def _present(harness: Harness) -> dict[str, tuple[str, ...]]:
    return {**PRESENT, **getattr(harness, "present", {})}


def _full(document_type: str, present: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    receivable, bank, payable, revenue = present["accounts"][:4]
    customer = {"number": present["customers"][0], "name": "Fjordkafé Ålesund AS"}
    supplier = {"number": present["suppliers"][0], "name": "Høvding Engros AS"}
    dimensions = {"department": present["departments"][0], "project": present["projects"][0], "kostnadssted": "K-7"}
    common = {"type": document_type, "date": "2026-11-04", "description": "Alle felt på Røros", "currency": "NOK"}
    if document_type == "voucher":
        return {**common, "reference": "FELT-1", "voucher_type": "serie-7", "lines": [
            {"account": receivable, "amount": "1250.00", "description": "Kundefordring", "customer": customer,
             "kid": kid_mod10("1004201"), "invoice_number": "10042", "due_date": "2026-11-18"},
            {"account": revenue, "amount": "-1250.00", "description": "Salg av blåbær",
             "vat_code": present["vat_codes"][0], "vat_amount": "-250.00", "dimensions": dimensions},
            {"account": payable, "amount": "-500.00", "description": "Leverandørgjeld", "supplier": supplier,
             "invoice_number": "F-77", "due_date": "2026-11-30"},
            {"account": bank, "amount": "500.00", "description": "Bank"}]}
    if document_type == "sales_invoice":
        return {**common, "reference": "FELT-F1", "invoice_number": "K-1", "customer": customer,
                "due_date": "2026-11-18", "kid": kid_mod10("1004202"), "credits": "10042", "payment_method": "card",
                "receivable_account": receivable, "total": "-500.00", "lines": [
                    {"description": "Retur av blåbær", "amount": "-500.00", "quantity": "2", "unit_price": "-250.00",
                     "product": "BLÅBÆR-1", "account": revenue, "vat_code": present["vat_codes"][0],
                     "vat_amount": "-100.00", "dimensions": dimensions}]}
    return {**common, "reference": "FELT-B1", "amount": "500.00", "invoice_number": "10042",
            "kid": kid_mod10("1004203"), "customer": customer, "payment_method": "vipps", "bank_account": bank,
            "receivable_account": receivable}


def _other(values: tuple[str, ...], value: str) -> str:
    return next((v for v in values if v != value), value + "9")


def _money(value: str, change: Any) -> str:
    return f"{change(Decimal(value)):.2f}"


def _changed(document: dict[str, Any], field: str, present: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The document with `field` given another valid value (every line that has it)."""
    changed = json.loads(json.dumps(document))
    double = {"amount", "total", "lines[].amount"}
    if field in double:  # amounts change together, so that the document still balances
        for holder in (changed, *changed.get("lines", ())):
            for key in ("amount", "total", "vat_amount", "unit_price"):
                if key in holder:
                    holder[key] = _money(holder[key], lambda x: x * 2)
        return changed
    holders = changed.get("lines", []) if field.startswith("lines[].") else [changed]
    name = field.removeprefix("lines[].")
    for holder in holders:
        if name.startswith("dimensions."):
            dimension = name.removeprefix("dimensions.")
            for key, value in list(holder.get("dimensions", {}).items()):
                if key == dimension or (dimension == "*" and key not in DIMENSIONS):
                    kind = {"department": "departments", "project": "projects"}.get(key)
                    holder["dimensions"][key] = _other(present[kind], value) if kind else value + "9"
            continue
        if name not in holder:
            continue
        value = holder[name]
        if name in ("customer", "supplier"):
            holder[name] = {**value, "number": _other(present[f"{name}s"], value["number"])}
        elif name in ("date", "due_date"):
            holder[name] = (dt.date.fromisoformat(value) + dt.timedelta(days=1)).isoformat()
        elif name == "vat_amount":
            holder[name] = _money(value, lambda x: x - Decimal("0.01") if x > 0 else x + Decimal("0.01"))
        elif name == "unit_price":
            holder[name] = _money(value, lambda x: x - Decimal("0.01"))
        elif name == "vat_code":
            holder[name] = _other(present["vat_codes"], value) if len(present["vat_codes"]) > 1 else "31"
        elif name == "kid":
            holder[name] = kid_mod10("7777777")
        elif name == "quantity":
            holder[name] = str(Decimal(value) + 1)
        elif name == "currency":
            holder[name] = "SEK"
        else:
            holder[name] = f"{value}9" if name.endswith(("account", "number")) else f"{value} (endret)"
    return changed


def _values(payload: Any, path: str) -> list[Any]:
    """The values at `path` (`postings[].amountGross`, `lines[].dimensions.*`, `lines[].debitAccount|creditAccount`)
    in a payload: one per match."""
    found = [payload]
    for part in path.split("."):
        step: list[Any] = []
        for value in found:
            if not isinstance(value, dict):
                step.append(None)
            elif "|" in part and all(p.endswith("[]") for p in part.split("|")):  # whichever list it has
                step.extend(next((value[p[:-2]] for p in part.split("|") if p[:-2] in value), None) or [])
            elif "|" in part:
                step.append(next((value[p] for p in part.split("|") if p in value), None))
            elif part == "*":
                step.extend(v for k, v in value.items() if k not in DIMENSIONS)
            elif part.endswith("[]"):
                step.extend(value.get(part[:-2]) or [])
            else:
                step.append(value.get(part))
        found = step
    return found


def _pattern(field: str) -> str:
    """A map's field as a regular expression of the instances a delivery names: `lines[].kid` → `lines[3].kid`;
    `lines[].dimensions.*` matches the dimensions other than department and project."""
    others = "(?!(?:" + "|".join(DIMENSIONS) + ")$)[^.]+"
    return re.escape(field).replace(r"\[\]", r"\[\d+\]").replace(r"\*", others)


def _names(document: dict[str, Any], field: str) -> list[str]:
    """For `lines[].dimensions.*`: the other dimensions' names, which must not be sent either."""
    if not field.endswith("dimensions.*"):
        return []
    return [key for line in document.get("lines", ()) for key in line.get("dimensions", {}) if key not in DIMENSIONS]


def test_what_the_map_says_is_what_the_target_does(system: tuple[TargetDescriptor, Harness]) -> None:
    descriptor, harness = system
    present = _present(harness)
    for document_type in descriptor.accepts.documents:
        rules = descriptor.accepts.fields.get(document_type)
        assert rules, f"{descriptor.name}: no field map for {document_type}"
        raw = _full(document_type, present)
        assert all(_values(raw, f) for f in shared_fields(document_type)), "the document lacks a field"
        full = DOCUMENT.validate_python(raw)
        # A system without drafts takes documents only with direct posting, as its customers must choose.
        target = descriptor.connect(harness.connect(direct_posting=not descriptor.accepts.drafts.available))
        assert target.preflight([full]) == [], "the document with every field must pass preflight (harness.present)"
        rendered = target.render(full)
        text = json.dumps(rendered, ensure_ascii=False, default=str)
        for field, rule in rules.items():
            changed = DOCUMENT.validate_python(_changed(raw, field, present))
            if isinstance(rule, Lands) and rule.otherwise and not any(
                    v not in (None, "", [], {}) for v in _values(rendered, rule.to)):
                # It cannot land in this document (a credit note's due date): not sent, and named as not accepted.
                assert target.render(changed) == rendered, f"{field} is said not to land here, but it is sent"
                assert any(re.fullmatch(_pattern(field), r) for r in target.deliver(full).not_accepted), field
            elif isinstance(rule, Lands):
                before = _values(rendered, rule.to)
                assert any(v not in (None, "", [], {}) for v in before), f"{field}: nothing at {rule.to}"
                after = _values(json.loads(json.dumps(target.render(changed), default=str)), rule.to)
                assert after != json.loads(json.dumps(before, default=str)), f"{field} does not drive {rule.to}"
            elif isinstance(rule, Derived):
                assert target.render(changed) == rendered, f"{field} is said to be worked out, but it is sent"
            elif isinstance(rule, NotAccepted):
                assert target.render(changed) == rendered, f"{field} is said not to be accepted, but it is sent"
                for value in _names(raw, field):
                    assert value not in text, f"{field} is said not to be accepted, but {value!r} is sent"
            elif isinstance(rule, Refused):
                problems = target.preflight([changed])
                assert field in {p.field for p in problems}, f"{field}: another value is not refused"
        delivery = target.deliver(full)
        declared = [_pattern(f) for f, rule in rules.items()
                    if isinstance(rule, NotAccepted) or isinstance(rule, Lands) and rule.otherwise]
        reported = set(delivery.not_accepted)
        assert all(any(re.fullmatch(p, r) for p in declared) for r in reported), reported
        for field, rule in rules.items():
            if isinstance(rule, NotAccepted):
                expected = len([v for v in _values(raw, field) if v is not None])
                assert len([r for r in reported if re.fullmatch(_pattern(field), r)]) == expected, (field, reported)


@pytest.mark.parametrize(("field", "claim", "caught"), [
    ("lines[].kid", NotAccepted("no place for it"), "is sent"),
    ("currency", Refused("only NOK", ("NOK",)), "not refused"),
    ("date", Derived("worked out"), "but it is sent"),
    ("reference", Lands("description"), "does not drive"),
])
def test_a_claim_the_target_does_not_keep_fails_the_case(field: str, claim: Any, caught: str) -> None:
    file = TARGETS["file"]
    fields = {t: {**rules, field: claim} for t, rules in file.accepts.fields.items()}
    wrong = dataclasses.replace(file, accepts=dataclasses.replace(file.accepts, fields=fields))
    harness = load("file")()
    with pytest.raises(AssertionError, match=caught):
        test_what_the_map_says_is_what_the_target_does((wrong, harness))
