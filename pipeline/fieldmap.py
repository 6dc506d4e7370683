"""The public field map: for every field of the shared form, what each accounting system does with it — where it
lands and how, what the system works out itself, what it has no place for and why — targets side by side.

The fields are read off the model (pipeline/model.py), so a new field of the shared form is in the map at once and
every target must say what becomes of it; the targets' answers are their descriptors' `accepts.fields`
(pipeline.descriptors.FieldMap), proven by the contract suite. Rendered as docs/field-map.md
(`python -m connectors.fieldmap --write docs/field-map.md`; a test fails when the file is stale) and as the API
docs' page GET /api/docs/field-map.

A customer or supplier (`Party`) is one field: systems match or create it as a whole. `type` (the document type)
and `origin` (set by Bilagsbro) are not the sender's fields.
"""

from __future__ import annotations

import html as _html
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from pipeline.descriptors import (
    Derived,
    Descriptor,
    FieldMap,
    FieldRule,
    Lands,
    NotAccepted,
    Refused,
    TargetDescriptor,
    targets,
)
from pipeline.model import DOCUMENT_TYPES as MODELS
from pipeline.model import InvoiceLine, Posting

DOCUMENT_TYPES = tuple(MODELS)  # voucher, sales_invoice, payment: the field map's sections, in this order
NOT_THE_SENDERS = ("type", "origin")
DIMENSIONS = ("department", "project")  # named in the shared form; any other is `dimensions.*`
TITLES = {"voucher": "Vouchers", "sales_invoice": "Sales invoices", "payment": "Payments"}


def _fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name in model.model_fields:
        if name in NOT_THE_SENDERS:
            continue
        path = f"{prefix}{name}"
        if name == "lines":
            line = Posting if model is MODELS["voucher"] else InvoiceLine
            out.extend(_fields(line, "lines[]."))
        elif name == "dimensions":
            out.extend([*(f"{path}.{d}" for d in DIMENSIONS), f"{path}.*"])
        else:
            out.append(path)
    return out


def shared_fields(document_type: str) -> tuple[str, ...]:
    """Every field of a document type a sender may set, in the model's order: `reference`, `lines[].amount`, …"""
    return tuple(_fields(MODELS[document_type]))


def as_is(document_types: tuple[str, ...] = DOCUMENT_TYPES, how: str = "as is") -> FieldMap:
    """The map of a target that keeps the shared form itself (the file target): every field where it was."""
    return {t: {f: Lands(f, how) for f in shared_fields(t)} for t in document_types}


def not_accepted(descriptor: TargetDescriptor) -> set[str]:
    """The fields the map says may be left out: not accepted, or landing only in some cases (`Lands.otherwise`)."""
    return {f for rules in descriptor.accepts.fields.values() for f, rule in rules.items()
            if isinstance(rule, NotAccepted) or isinstance(rule, Lands) and rule.otherwise}


def missing(descriptor: TargetDescriptor) -> dict[str, list[str]]:
    """Per document type the target takes, the fields its map says nothing about (and fields it invents)."""
    gaps: dict[str, list[str]] = {}
    for document_type in descriptor.accepts.documents:
        said = descriptor.accepts.fields.get(document_type, {})
        fields = shared_fields(document_type)
        wrong = [f for f in fields if f not in said] + [f"unknown: {f}" for f in said if f not in fields]
        if wrong:
            gaps[document_type] = wrong
    return gaps


def describe(rule: FieldRule | None) -> dict[str, Any]:
    """One rule as data (what the JSON, the Markdown and the HTML say)."""
    if isinstance(rule, Lands):
        return {"kind": "lands", "to": rule.to, "how": rule.how,
                **({"otherwise": rule.otherwise} if rule.otherwise else {})}
    if isinstance(rule, Derived):
        return {"kind": "derived", "how": rule.how}
    if isinstance(rule, NotAccepted):
        return {"kind": "not accepted", "reason": rule.reason}
    if isinstance(rule, Refused):
        return {"kind": "only", "accepted": list(rule.accepted), "reason": rule.reason}
    return {"kind": "no map"}


def _cell(rule: FieldRule | None, taken: bool, markdown: bool) -> str:
    def code(text: str) -> str:  # a table cell's pipe is escaped even inside a code span (GitHub's tables)
        return f"`{text.replace('|', chr(92) + '|')}`" if markdown else f"<code>{_html.escape(text)}</code>"

    def plain(text: str) -> str:
        return text.replace("|", "\\|") if markdown else _html.escape(text)

    def strong(text: str) -> str:
        return f"**{text}**" if markdown else f"<strong>{text}</strong>"

    if not taken:
        return "—"
    if isinstance(rule, Lands):
        otherwise = f"; otherwise {strong('not accepted')}: {plain(rule.otherwise)}" if rule.otherwise else ""
        return f"→ {code(rule.to)}" + ("" if rule.how == "as is" else f": {plain(rule.how)}") + otherwise
    if isinstance(rule, Derived):
        return f"{strong('worked out')}: {plain(rule.how)}"
    if isinstance(rule, NotAccepted):
        return f"{strong('not accepted')}: {plain(rule.reason)}"
    if isinstance(rule, Refused):
        return f"{strong('only ' + ', '.join(rule.accepted))}: {plain(rule.reason)}"
    return strong("no map")


def markdown(registry: Mapping[str, Descriptor]) -> str:
    """docs/field-map.md."""
    systems = targets(registry)
    out = ["# The field map", "",
           "<!-- generated from connectors.CONNECTORS: python -m connectors.fieldmap --write docs/field-map.md -->", "",
           "What each accounting system does with every field of the [shared form](shared-form.md): where it lands "
           "(→ the system's field) and how, what the system works out itself, what it has no place for (delivered "
           "without it, and named in the delivery's `not_accepted`), and values it refuses before delivery — as a "
           "draft reaches it (Bilagsbro's default; a system without drafts: a direct posting), the text saying where "
           "a direct posting differs. Each claim is checked against the connector itself by the contract suite "
           "(`tests/contract/test_target_contract.py`). `—`: the system does not take this kind of document "
           "(its preflight says so: `unsupported-document`).", ""]
    for document_type in DOCUMENT_TYPES:
        out += [f"## {TITLES[document_type]}", "",
                "| field | " + " | ".join(d.title for d in systems.values()) + " |",
                "|---|" + "---|" * len(systems)]
        for name in shared_fields(document_type):
            cells = [_cell(d.accepts.fields.get(document_type, {}).get(name), document_type in d.accepts.documents,
                           True) for d in systems.values()]
            out.append(f"| `{name}` | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def html(registry: Mapping[str, Descriptor], base_url: str = "") -> str:
    """The API docs' page: the same tables."""
    systems = targets(registry)
    parts = []
    for document_type in DOCUMENT_TYPES:
        head = "".join(f"<th>{_html.escape(d.title)}</th>" for d in systems.values())
        rows = []
        for name in shared_fields(document_type):
            cells = "".join(f"<td>{_cell(d.accepts.fields.get(document_type, {}).get(name), document_type in d.accepts.documents, False)}</td>"  # noqa: E501
                            for d in systems.values())
            rows.append(f"<tr><td><code>{_html.escape(name)}</code></td>{cells}</tr>")
        parts.append(f"<h2>{TITLES[document_type]}</h2><table><tr><th>field</th>{head}</tr>{''.join(rows)}</table>")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bilagsbro field map</title>
<style>body{{font-family:system-ui,sans-serif;max-width:90rem;margin:2rem auto}}td,th{{padding:.3rem;vertical-align:top;
text-align:left;border-bottom:1px solid #ddd}}</style></head><body><h1>The field map</h1>
<p>What each accounting system does with every field of the shared form, side by side: where it lands and how, what
the system works out itself, what it has no place for (left out, and named in the delivery's <code>not_accepted</code>),
and values it refuses before delivery — as a draft reaches it (the default), the text saying where a direct posting
differs. — : the system does not take this kind of document.
Checked against each connector by the contract suite. The API: <a href="{base_url}/api/docs">/api/docs</a>.</p>
{''.join(parts)}</body></html>"""
