"""Retry every document a problem's cause holds up at once (pipeline/problems.py), each checked first: a document
whose cause is still there is reported so, with its problems, and left as it is; the others go through the one
retry path (pipeline/retry.py). Each retry of a group is audited as a whole too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipeline.errors import BilagsbroError
from pipeline.ports import Stores
from pipeline.problems import annotated, causes_of
from pipeline.records import problems as index

if TYPE_CHECKING:
    from pipeline.registry import Connectors

MAX_RETRY = 5000  # documents one retry of a group takes (the rest: retry again, it continues with them)
CHECK_BATCH = 100  # documents whose cause is checked (the accounting system's preflight) at a time


def retry_group(stores: Stores, connectors: Connectors, tenant_id: str, cause: str, *, by: str, reason: str
                ) -> dict[str, Any]:
    """Retry every document a cause holds up (up to MAX_RETRY; the answer says how many remain). Each is checked
    first — its shared form adapted with today's rules and asked of the system's preflight, or for a refused
    connection the connection test — and one whose cause is still there is left as it is and reported so; the
    others go through the retry path (pipeline/retry.py), audited with `by` and `reason`."""
    from pipeline.records.tenants import TenantRegistry
    from pipeline.records.trace import TraceLog
    from pipeline.retry import resubmit, retried

    tenant = TenantRegistry(stores.tables).get(tenant_id)
    outcomes: list[dict[str, Any]] = []
    chosen = []
    envelopes = []
    counts: dict[str, int] = {}
    rows_seen = 0
    for batch in _batches(stores, tenant_id, cause):
        rows_seen += len(batch)
        for row, still in zip(batch, _still_there(stores, connectors, tenant, cause, batch), strict=True):
            if still is not None:
                outcome = {"id": row["Id"], "reference": row.get("Reference"), "outcome": "still_there",
                           "problems": still}
            else:
                from pipeline.records.trace import TraceLog
                from pipeline.retry import retried

                rows = TraceLog(stores.tables).rows(tenant_id, str(row["Id"]))
                if not rows:
                    outcome = {"id": row["Id"], "reference": row.get("Reference"), "outcome": "gone"}
                else:
                    chosen.append(retried(str(row["Id"]), rows))
                    outcome = {"id": row["Id"], "reference": row.get("Reference"), "outcome": "resubmitted"}
            counts[outcome["outcome"]] = counts.get(outcome["outcome"], 0) + 1
            outcomes.append(outcome)
        if chosen:
            envelopes += resubmit(stores, tenant_id, chosen, by=by, reason=reason, extra={"cause": cause})
            chosen = []
        if rows_seen >= MAX_RETRY:
            break
    _audit(stores, tenant_id, cause, by=by, reason=reason, counts=counts)
    return {"cause": cause, "counts": counts, "documents": outcomes, "envelopes": envelopes,
            "more": rows_seen >= MAX_RETRY}


def _audit(stores: Stores, tenant: str, cause: str, *, by: str, reason: str, counts: Mapping[str, int]) -> None:
    """One row per retry of a group (who, why, what became of its documents), beside the resends' audit rows;
    each document's own `resubmitted` step carries who and why too."""
    import datetime as dt

    from pipeline.records.names import TABLE_LEDGER

    at = dt.datetime.now(dt.UTC)
    stores.tables.upsert(TABLE_LEDGER, {"PartitionKey": f"{tenant}|retries",
                                        "RowKey": f"{at:%Y%m%dT%H%M%S%f}|{cause}"[:1000], "Cause": cause,
                                        "By": by[:200], "Reason": reason[:1000], "At": at.isoformat(),
                                        "Counts": dict(counts)})


def retries(stores: Stores, tenant: str, limit: int = 100) -> list[dict[str, Any]]:
    """The latest retries of groups, newest first: who, why, which cause, what became of its documents."""
    from pipeline.records.names import TABLE_LEDGER

    rows = stores.tables.query(TABLE_LEDGER, f"{tenant}|retries")[-limit:]
    return [{"cause": r.get("Cause"), "by": r.get("By"), "reason": r.get("Reason"), "at": r.get("At"),
             "counts": r.get("Counts") or {}} for r in reversed(rows)]


def _batches(stores: Stores, tenant: str, cause: str) -> Iterator[list[dict[str, Any]]]:
    cursor: str | None = None
    while True:
        rows, cursor = index.affected(stores.tables, tenant, cause, limit=CHECK_BATCH, cursor=cursor)
        if rows:
            yield rows
        if cursor is None:
            return


def _still_there(stores: Stores, connectors: Connectors, tenant: Any, cause: str,
                 rows: Sequence[Mapping[str, Any]]) -> list[list[dict[str, Any]] | None]:
    """Per row: the problems showing its cause is still there, or None when it is gone (or cannot be told)."""
    from pipeline.adapted import preflight
    from pipeline.envelope import Enclosure
    from pipeline.records.history import load
    from pipeline.records.tenants import through

    kind = str(rows[0].get("Kind"))
    target = rows[0].get("Target")
    try:
        seen = through(tenant, str(target)) if target else tenant
    except BilagsbroError:
        return [None] * len(rows)
    if kind in ("credentials-refused", "configuration"):
        from pipeline.records.connections import check

        result = check(stores, connectors, seen)
        if result.get("ok"):
            return [None] * len(rows)
        error = result.get("error") or {}
        return [[{"message": str(error.get("message") or "the connection test failed"), "code": kind}]] * len(rows)
    if str(rows[0].get("Step")) != "blocked":
        return [None] * len(rows)
    loaded: list[Any] = []
    readable: list[int] = []
    for i, row in enumerate(rows):
        try:
            loaded.append(load(stores.blobs, stores.tables, tenant.id, Enclosure(str(row["Id"]), row.get("Reference"))))
            readable.append(i)
        except Exception:  # noqa: BLE001 - its shared form is gone: the retry itself says so
            continue
    answer: list[list[dict[str, Any]] | None] = [None] * len(rows)
    if not loaded:
        return answer
    try:
        _, adapted, problems = preflight(stores, connectors, seen, loaded, "problems-retry")
    except (BilagsbroError, ValueError):
        return answer  # cannot be told now: retried, and the stage reports what it finds
    by_reference: dict[str, list[dict[str, Any]]] = {}
    sources = {d.reference: d for d in loaded}
    targets = {d.reference: d for d in adapted}
    for problem in problems:
        if problem.reference is None or not problem.is_error:
            continue
        shown_problem = annotated(problem, sources.get(problem.reference), targets.get(problem.reference))
        if any(c["key"] == cause for c in causes_of("blocked", {"target": target, "problems": [shown_problem]})):
            by_reference.setdefault(problem.reference, []).append(shown_problem)
    for i, document in zip(readable, loaded, strict=True):
        answer[i] = by_reference.get(document.reference)
    return answer
