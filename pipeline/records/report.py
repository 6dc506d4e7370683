"""A received file's whole report — every document found, every problem — written to Blob Storage as the
file is translated, so a file of any size gets all of it while the receipt's trace row keeps counts
and the first few.

Three blobs per receipt, beside its documents (`documents/<tenant>/<receipt>/`, kept 90 days):
`documents.jsonl` (one accepted document a line: id, reference, type, line), `problems.jsonl` (one
problem a line, with the stage that found it: translate or preflight; a warning says so in `severity`)
and `problems.csv`, the same
problems for a bookkeeper's spreadsheet: UTF-8 with a byte order mark (so Excel reads æ, ø and å as
such), semicolons (the list separator of Norwegian Excel, and never inside a Norwegian amount),
CRLF line ends, and a leading apostrophe on any cell that starts like a formula (=, +, -, @), so a
value from the file can never run in the spreadsheet (CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

from pipeline.errors import Problem
from pipeline.ports import BlobStore, NotFound
from pipeline.records.history import blob_ref, split_ref
from pipeline.records.names import CONTAINER_DOCUMENTS

SHOWN = 20  # documents and problems of each kind the receipt itself shows
SHOWN_BYTES = 12_000  # ... and at most this much text of them: a table property holds 64 KiB
CSV_COLUMNS = ("stage", "severity", "file", "line", "voucher", "field", "code", "message")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def report_path(tenant: str, receipt: str, name: str) -> str:
    return f"{tenant}/{receipt}/{name}"


def csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_row(values: Any) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerow([csv_cell(v) for v in values])
    return out.getvalue().encode("utf-8")


def csv_header() -> bytes:
    return "\ufeff".encode() + csv_row(CSV_COLUMNS)


def problem_row(problem: Mapping[str, Any]) -> bytes:
    return csv_row([problem.get("stage", "translate"), problem.get("severity", "error"), problem.get("file"),
                    problem.get("line"), problem.get("reference"), problem.get("field"), problem.get("code"),
                    problem.get("message")])


class _Shown:
    """The first entries of a list, bounded by count and by size."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.size = 0
        self.count = 0

    def add(self, item: dict[str, Any]) -> None:
        self.count += 1
        size = len(json.dumps(item, ensure_ascii=False))
        if len(self.items) < SHOWN and self.size + size <= SHOWN_BYTES:
            self.items.append(item)
            self.size += size

    @property
    def complete(self) -> bool:
        return len(self.items) == self.count


class FileReport:
    """Streams one receipt's report to its three blobs; `summary()` is what its trace row keeps."""

    def __init__(self, blobs: BlobStore, tenant: str, receipt: str) -> None:
        def open_(name: str, content_type: str) -> Any:
            return blobs.writer(CONTAINER_DOCUMENTS, report_path(tenant, receipt, name), content_type=content_type)

        self.refs = {name: blob_ref(CONTAINER_DOCUMENTS, report_path(tenant, receipt, name))
                     for name in ("documents.jsonl", "problems.jsonl", "problems.csv")}
        self._documents = open_("documents.jsonl", "application/x-ndjson; charset=utf-8")
        self._problems = open_("problems.jsonl", "application/x-ndjson; charset=utf-8")
        self._csv = open_("problems.csv", "text/csv; charset=utf-8")
        self._csv.write(csv_header())
        self.documents = _Shown()
        self.problems = _Shown()  # found translating the file: errors and warnings
        self.preflight = _Shown()
        self.warnings = 0

    def document(self, entry: dict[str, Any]) -> None:
        self._documents.write(json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n")
        self.documents.add(entry)

    def problem(self, problem: Problem, stage: str = "translate") -> None:
        entry = {"stage": stage, **problem.as_dict()}
        self._problems.write(json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n")
        self._csv.write(problem_row(entry))
        (self.problems if stage == "translate" else self.preflight).add(problem.as_dict())
        self.warnings += stage == "translate" and not problem.is_error

    @property
    def errors(self) -> int:
        """Problems of the translation that left something out (warnings left nothing out)."""
        return self.problems.count - self.warnings

    def commit(self) -> None:
        for writer in (self._documents, self._problems, self._csv):
            writer.commit()

    def summary(self, preflight: Mapping[str, Any]) -> dict[str, Any]:
        """Counts, the first documents and problems, the whole-file preflight and where the rest is."""
        return {
            "counts": {"documents": self.documents.count, "errors": self.errors, "warnings": self.warnings,
                       "preflight_problems": self.preflight.count},
            "documents": self.documents.items,
            "problems": self.problems.items,
            "preflight": {**preflight, "problems": self.preflight.items},
            "complete": self.documents.complete and self.problems.complete and self.preflight.complete,
            "report": self.refs,
        }


def lines(blobs: BlobStore, ref: str) -> Iterator[dict[str, Any]]:
    """The entries of a JSON-lines report blob, read as they stream."""
    container, path = split_ref(ref)
    with blobs.open(container, path) as stream:
        pending = b""
        while chunk := stream.read(1 << 16):
            *complete, pending = (pending + chunk).split(b"\n")
            yield from (json.loads(raw) for raw in complete if raw.strip())
        if pending.strip():
            yield json.loads(pending)


def whole(blobs: BlobStore, detail: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    """(documents, problems) of a translated file from its report blobs; None when they are not there."""
    refs = detail.get("report")
    if not isinstance(refs, Mapping):
        return None
    try:
        return list(lines(blobs, refs["documents.jsonl"])), list(lines(blobs, refs["problems.jsonl"]))
    except (NotFound, KeyError):
        return None
