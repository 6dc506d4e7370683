"""The public field map is generated from the connectors' descriptors: docs/field-map.md is the generator's output (a
test fails when it is stale), and GET /api/docs/field-map serves the same map, targets side by side."""

from __future__ import annotations

from pathlib import Path

import connectors
from api import docs as docs_api
from api import http as api_http
from pipeline import descriptors
from pipeline.fieldmap import DIMENSIONS, markdown, shared_fields
from pipeline.model import DOCUMENT_TYPES, InvoiceLine, Posting

ROOT = Path(__file__).resolve().parents[1]
TARGETS = descriptors.targets(connectors.CONNECTORS)


def test_docs_field_map_md_is_the_generators_output() -> None:
    assert (ROOT / "docs" / "field-map.md").read_text("utf-8") == markdown(connectors.CONNECTORS) + "\n", (
        "docs/field-map.md is stale: python -m connectors.fieldmap --write docs/field-map.md")


def test_a_stale_map_would_be_caught() -> None:
    import dataclasses

    from pipeline.descriptors import NotAccepted

    tripletex = TARGETS["tripletex"]
    fields = {t: {**rules, "lines[].invoice_number": NotAccepted("changed")} for t, rules in
              tripletex.accepts.fields.items()}
    changed = {**connectors.CONNECTORS, "tripletex": dataclasses.replace(
        tripletex, accepts=dataclasses.replace(tripletex.accepts, fields=fields))}
    assert markdown(changed) != markdown(connectors.CONNECTORS)


def test_the_map_lists_every_field_of_the_shared_form_and_every_target() -> None:
    text = markdown(connectors.CONNECTORS)
    for descriptor in TARGETS.values():
        assert descriptor.title in text
    for document_type, model in DOCUMENT_TYPES.items():
        fields = shared_fields(document_type)
        line = Posting if document_type == "voucher" else InvoiceLine
        top = {f for f in model.model_fields if f not in ("type", "origin", "lines")}
        lines = {f"lines[].{f}" for f in getattr(line, "model_fields", {}) if f != "dimensions"}
        dimensions = {f"lines[].dimensions.{d}" for d in (*DIMENSIONS, "*")} if "lines" in model.model_fields else set()
        assert set(fields) == top | (lines | dimensions if "lines" in model.model_fields else set())
        for field in fields:
            assert f"| `{field}` |" in text
    assert "| `lines[].kid` | **not accepted**: KID belongs to Tripletex invoices" in text
    assert "**only NOK**" in text and "**worked out**" in text


def test_the_api_docs_serve_the_map_and_link_it() -> None:
    request = api_http.Request("GET", {}, {}, {}, b"", "http://localhost")
    page = docs_api.docs_field_map(None, connectors.registry(), request)  # type: ignore[arg-type]
    assert page.status == 200 and page.content_type.startswith("text/html")
    for descriptor in TARGETS.values():
        assert f"<th>{descriptor.title}</th>" in page.body
    assert "<code>lines[].vat_amount</code>" in page.body and "<strong>worked out</strong>" in page.body
    docs = docs_api.docs_html(None, connectors.registry(), request)  # type: ignore[arg-type]
    assert 'href="http://localhost/api/docs/field-map"' in docs.body


def test_every_row_of_the_tables_has_a_cell_per_target() -> None:
    import re

    columns = len(TARGETS) + 1
    for line in markdown(connectors.CONNECTORS).splitlines():
        if line.startswith("| "):
            assert len(re.findall(r"(?<!\\)\|", line)) == columns + 1, line
