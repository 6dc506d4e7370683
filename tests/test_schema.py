"""The published JSON Schema is the model: a change to one without the other fails here."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from api.openapi import shared_form_schema, spec

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = json.loads((ROOT / "bilagsbro" / "samples" / "documents.json").read_text("utf-8"))


def test_committed_schema_matches_the_model():
    committed = json.loads((ROOT / "docs" / "shared-form.schema.json").read_text("utf-8"))
    assert committed == shared_form_schema(), "run `make schema` and commit docs/shared-form.schema.json"


def test_samples_validate_against_the_schema():
    validator = jsonschema.Draft202012Validator(shared_form_schema())
    for sample in SAMPLES:
        assert list(validator.iter_errors(sample)) == []


def test_schema_refuses_a_float_amount_and_unknown_fields():
    validator = jsonschema.Draft202012Validator(shared_form_schema())
    bad = json.loads(json.dumps(SAMPLES[0]))
    bad["lines"][0]["amount"] = 1250.0
    bad["lines"][1]["colour"] = "red"
    messages = [e.message for e in validator.iter_errors(bad)]
    assert messages  # the union reports why no branch matched


def test_openapi_document_is_valid_structure():
    document = spec("http://localhost")
    assert document["openapi"].startswith("3.1")
    assert {"/api/v1/documents", "/api/v1/files", "/api/v1/documents/{id}"} <= set(document["paths"])
    assert "Document" in document["components"]["schemas"]
