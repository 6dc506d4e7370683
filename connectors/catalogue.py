"""The registry as people read it: `bilagsbro connectors`, and the README's table of systems and formats.

The README's section between `<!-- connectors:start -->` and `<!-- connectors:end -->` is generated here from
`connectors.CONNECTORS` (tests/test_catalogue.py fails when it is stale):

    python -m connectors.catalogue --write README.md
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.descriptors import Descriptor, FormatDescriptor, PulledDescriptor, TargetDescriptor

START, END = "<!-- connectors:start -->", "<!-- connectors:end -->"
DOCUMENT_NAMES = {"voucher": "vouchers", "sales_invoice": "sales invoices", "payment": "payments"}


def _settings(descriptor: Descriptor) -> dict[str, str]:
    return {name: field.description or "" for name, field in descriptor.settings.model_fields.items()}


def summary(descriptor: Descriptor) -> str:
    """One line on what the connector does."""
    if isinstance(descriptor, TargetDescriptor):
        accepts = descriptor.accepts
        drafts = "drafts first" if accepts.drafts.available else "no draft path"
        if accepts.invoice_drafts is not None and accepts.invoice_drafts.available != accepts.drafts.available:
            drafts += "; invoices: " + ("drafts first" if accepts.invoice_drafts.available else "no draft path")
        return (f"takes {', '.join(DOCUMENT_NAMES.get(d, d) for d in accepts.documents)}; {drafts}; "
                f"currencies: {', '.join(accepts.currencies) or 'any'}")
    if isinstance(descriptor, FormatDescriptor):
        return descriptor.notes
    if isinstance(descriptor, PulledDescriptor):
        return f"pulled on a timer; test: {descriptor.check}"
    return ""


def listing(registry: Mapping[str, Descriptor]) -> list[dict[str, Any]]:
    """Every connector as JSON: what `bilagsbro connectors --json` prints."""
    rows = []
    for name, d in registry.items():
        row: dict[str, Any] = {"name": name, "kind": d.kind, "title": d.title, "summary": summary(d),
                               "settings": _settings(d),
                               "secrets": [{"name": s.name, "label": s.label, "where": s.where} for s in d.secrets],
                               **({"guide": d.guide} if d.guide else {})}
        if isinstance(d, TargetDescriptor):
            accepts = d.accepts
            row["check"] = d.check
            row["accepts"] = {"documents": list(accepts.documents), "currencies": list(accepts.currencies) or "any",
                              "dimensions": list(accepts.dimensions), "checks": list(accepts.checks),
                              "drafts": {"available": accepts.drafts.available, "meaning": accepts.drafts.meaning},
                              **({"invoice_drafts": {"available": accepts.invoice_drafts.available,
                                                     "meaning": accepts.invoice_drafts.meaning}}
                                 if accepts.invoice_drafts is not None else {}),
                              "not_accepted": dict(accepts.not_accepted)}
        rows.append(row)
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _names(values: Any) -> str:
    return ", ".join(f"`{v}`" for v in values) or "—"


def markdown(registry: Mapping[str, Descriptor]) -> str:
    """The README's section (without its markers)."""
    out = ["<!-- generated from connectors.CONNECTORS: python -m connectors.catalogue --write README.md -->", "",
           "**Accounting systems** — `bilagsbro connect TENANT SYSTEM --help` lists each one's settings and secrets",
           "", "| system | name | takes | currencies | dimensions | drafts | credentials | not accepted |",
           "|---|---|---|---|---|---|---|---|"]
    for name, d in registry.items():
        if isinstance(d, TargetDescriptor):
            a = d.accepts
            title = f"[{d.title}]({d.guide})" if d.guide else d.title
            dims = "any" if "*" in a.dimensions else ", ".join(a.dimensions) or "—"
            drafts = a.drafts.meaning if a.drafts.available else f"none: {a.drafts.meaning}"
            if a.invoice_drafts is not None:
                invoices = a.invoice_drafts
                drafts += " — sales invoices: " + (invoices.meaning if invoices.available else f"none: {invoices.meaning}")
            out.append(f"| {_cell(title)} | `{name}` | {', '.join(DOCUMENT_NAMES.get(x, x) for x in a.documents)} | "
                       f"{', '.join(a.currencies) or 'any'} | {dims} | {_cell(drafts)} | "
                       f"{', '.join(s.label for s in d.secrets) or '—'} | {_names(a.not_accepted)} |")
    out += ["", "**File formats** — `POST /api/v1/files?format=NAME`; options: `bilagsbro format TENANT NAME "
            "--options F`", "", "| format | name | notes | options |", "|---|---|---|---|"]
    for name, d in registry.items():
        if isinstance(d, FormatDescriptor):
            out.append(f"| {_cell(d.title)} | `{name}` | {_cell(d.notes)} | {_names(d.settings.model_fields)} |")
    out += ["", "**Pulled sources** — `bilagsbro source add TENANT SOURCE --help`", "",
            "| source | name | settings | credentials |", "|---|---|---|---|"]
    for name, d in registry.items():
        if isinstance(d, PulledDescriptor):
            title = f"[{d.title}]({d.guide})" if d.guide else d.title
            out.append(f"| {_cell(title)} | `{name}` | {_names(d.settings.model_fields)} | "
                       f"{', '.join(s.label for s in d.secrets) or '—'} |")
    return "\n".join(out)


def refresh(text: str, registry: Mapping[str, Descriptor]) -> str:
    """`text` (the README) with its generated section replaced."""
    if START not in text or END not in text:
        raise ValueError(f"the README has no {START} … {END} section")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{markdown(registry)}\n{END}{after}"


def main(argv: list[str] | None = None) -> int:
    import connectors

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", metavar="README", help="rewrite the generated section of this file")
    args = parser.parse_args(argv)
    if args.write:
        path = Path(args.write)
        path.write_text(refresh(path.read_text("utf-8"), connectors.CONNECTORS), "utf-8")
    else:
        sys.stdout.write(markdown(connectors.CONNECTORS) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
