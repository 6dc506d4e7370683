"""The preview of a change of rules: what new rules would do to the tenant's blocked documents and its most recent
ones, before anything is saved.

Each document's shared form is adapted twice — with the rules in force and with the new ones — and the new result
asked of the accounting system's preflight (its connection's cached lookups; a batch at a time), so that per
document it says: now passes, still blocked (why), newly blocked (why), payload changes (which fields), or
unchanged. Bounded and streamed: every document the problems index holds (pipeline/records/problems.py) and the
`recent` newest others of the document index, read a page at a time and yielded one by one; nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.errors import BilagsbroError
from pipeline.ports import NotFound, Stores
from pipeline.records import documents
from pipeline.records import problems as index
from pipeline.rules import Rules, apply

if TYPE_CHECKING:
    from pipeline.records.tenants import Tenant
    from pipeline.registry import Connectors

BATCH = 100  # documents asked of the preflight at a time
DEFAULT_RECENT, MAX_RECENT = 50, 500
MAX_FIELDS = 20
MAX_PAGES = 10  # pages of the document index read for the recent documents, at most  # changed fields named per document
VERDICTS = ("now_passes", "still_blocked", "newly_blocked", "payload_changes", "unchanged", "unreadable",
            "unchecked")


@dataclass
class Tally:
    """The counts of a preview, and the first `keep` documents' verdicts in full."""

    keep: int = 100
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))
    documents: list[dict[str, Any]] = field(default_factory=list)
    seen: int = 0

    def add(self, verdict: dict[str, Any]) -> None:
        self.seen += 1
        self.counts[verdict["verdict"]] += 1
        if len(self.documents) < self.keep:
            self.documents.append(verdict)

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.seen, "counts": self.counts, "documents": self.documents,
                "truncated": self.seen > len(self.documents)}


def candidates(stores: Stores, tenant: str, recent: int) -> Iterator[tuple[str, str | None, bool]]:
    """(document id, reference, held up now) of every blocked or failed document, then of the `recent` newest
    others — each once, a page at a time."""
    after = ""
    while True:
        rows = index.document_rows(stores.tables, tenant, after=after)
        for row in rows:
            yield str(row["Id"]), row.get("Reference"), True
        if len(rows) < index.PAGE:
            break
        after = str(rows[-1]["RowKey"])
    taken, query = 0, documents.Query(limit=min(documents.MAX_PAGE, max(recent, 1)))
    for _ in range(MAX_PAGES):  # a tenant whose newest documents are all held up: never the whole history
        if taken >= recent:
            return
        page, cursor = documents.search(stores.tables, tenant, query)
        for listed in page:
            if listed.get("status") in ("blocked", "failed", "rejected", "received") or taken >= recent:
                continue
            taken += 1
            yield str(listed["id"]), listed.get("reference"), False
        if cursor is None:
            return
        query = documents.Query(limit=query.limit, cursor=cursor)


def preview(stores: Stores, connectors: Connectors, tenant: Tenant, rules: Rules, *,
            recent: int = DEFAULT_RECENT) -> Iterator[dict[str, Any]]:
    """Per document, what `rules` would change against the tenant's rules in force (a verdict each, streamed)."""
    batch: list[tuple[str, str | None, bool]] = []
    for candidate in candidates(stores, tenant.id, recent):
        batch.append(candidate)
        if len(batch) >= BATCH:
            yield from _judge(stores, connectors, tenant, rules, batch)
            batch = []
    if batch:
        yield from _judge(stores, connectors, tenant, rules, batch)


def _judge(stores: Stores, connectors: Connectors, tenant: Tenant, rules: Rules,
           batch: Sequence[tuple[str, str | None, bool]]) -> Iterator[dict[str, Any]]:
    from pipeline.envelope import Enclosure
    from pipeline.problems import annotated
    from pipeline.records.history import load

    loaded: list[tuple[str, bool, Any, Any, Any]] = []
    for document_id, reference, held in batch:
        base = {"id": document_id, "reference": reference, "was": "blocked or failed" if held else "passed"}
        try:
            source = load(stores.blobs, stores.tables, tenant.id, Enclosure(document_id, reference))
        except (NotFound, ValueError):
            yield {**base, "verdict": "unreadable", "reason": "its shared form is gone or no longer valid"}
            continue
        try:
            before = apply(source, tenant.rules)
        except ValueError:
            before = None
        try:
            after = apply(source, rules)
        except ValueError as exc:
            yield {**base, "verdict": "newly_blocked" if not held else "still_blocked",
                   "problems": [{"message": f"the new rules make a document the shared form refuses: {exc}"[:500],
                                 "code": "invalid"}]}
            continue
        loaded.append((document_id, held, source, before, after))
    if not loaded:
        return
    try:
        target = connectors.target_for(stores, tenant, "rules-preview")
        problems = target.preflight([x[4] for x in loaded])
    except (BilagsbroError, ValueError) as exc:
        for document_id, held, source, _, _ in loaded:
            yield {"id": document_id, "reference": source.reference, "was": "blocked or failed" if held else "passed",
                   "verdict": "unchecked", "reason": f"{tenant.target} could not be asked: {exc}"[:500]}
        return
    found: dict[str, list[dict[str, Any]]] = {}
    by_reference = {x[4].reference: x for x in loaded}
    for problem in problems:
        reference = problem.reference
        if problem.is_error and reference is not None and reference in by_reference:
            _, _, source, _, after = by_reference[reference]
            found.setdefault(reference, []).append(annotated(problem, source, after))
    for document_id, held, source, before, after in loaded:
        shown: dict[str, Any] = {"id": document_id, "reference": source.reference,
                                 "was": "blocked or failed" if held else "passed"}
        changes = _changes(before, after)
        payload = _payload_changes(target, before, after) if changes else []
        if changes:
            shown["changes"] = changes[:MAX_FIELDS]
        if payload:
            shown["payload_fields"] = payload[:MAX_FIELDS]
        blocked = found.get(source.reference)
        if blocked:
            shown.update(verdict="still_blocked" if held else "newly_blocked", problems=blocked)
        elif held:
            shown["verdict"] = "now_passes"
        else:
            shown["verdict"] = "payload_changes" if changes else "unchanged"
        yield shown


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list | tuple):
        out = {}
        for i, item in enumerate(value):
            out.update(_flat(item, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _changes(before: Any, after: Any) -> list[dict[str, Any]]:
    """The shared form's fields the new rules set otherwise (`lines[1].account`: 3999 → 3000)."""
    old = _flat(before.model_dump(mode="json", exclude_none=True)) if before is not None else {}
    new = _flat(after.model_dump(mode="json", exclude_none=True))
    return [{"field": name, "before": old.get(name), "after": new.get(name)}
            for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name) and name != "origin"]


def _payload_changes(target: Any, before: Any, after: Any) -> list[str]:
    """The payload's fields that differ: what the accounting system would get otherwise."""
    import json

    try:
        old = _flat(json.loads(json.dumps(target.render(before), default=str))) if before is not None else {}
        new = _flat(json.loads(json.dumps(target.render(after), default=str)))
    except Exception:  # noqa: BLE001 - a payload that cannot be made is no payload change to name
        return []
    return [name for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]
