"""Golden payloads: the demo's sample vouchers, rendered for the Visma.net demo company, are exactly
`golden/<reference>.json` — a change in what Visma.net receives shows as a diff to read, not a surprise.
Regenerate with `UPDATE_GOLDEN=1 pytest tests/visma_net/test_visma_net_golden.py`, then read the diff by hand."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.targets.visma_net.mapping import encode
from pipeline.shared_form import DOCUMENT
from tests.visma_net.visma_net_support import Wired

HERE = Path(__file__).parent / "golden"
SAMPLES = Path(__file__).resolve().parents[2] / "bilagsbro" / "samples" / "documents.json"
DOCUMENTS = [DOCUMENT.validate_python(d) for d in json.loads(SAMPLES.read_text("utf-8"))]


@pytest.mark.parametrize("document", DOCUMENTS, ids=[d.reference for d in DOCUMENTS])
def test_the_sample_vouchers_render_to_their_golden_payload(w: Wired, document: object) -> None:
    target = w.target()
    rendered = json.loads(encode(target.render(document)), parse_float=Decimal)  # type: ignore[arg-type]
    path = HERE / f"{document.reference}.json"  # type: ignore[attr-defined]
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(encode(rendered).decode("utf-8") + "\n", encoding="utf-8")
    assert rendered == json.loads(path.read_text("utf-8"), parse_float=Decimal)
    assert w.sandbox.count("POST", "/v2/journaltransaction") == 0  # rendering sends nothing
