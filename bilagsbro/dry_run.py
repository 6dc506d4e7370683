"""`bilagsbro dry-run`: a customer's file through everything but delivery, streamed, whatever its size.

The file is read by the dry run the workspace and the API use too (pipeline/dry_run.py), and each
document and problem is written out as it comes: as text (a line per document), as JSON lines
(`--json`: one object per line, `{"document": …}`, `{"problem": …}`, `{"payload": …}`, and a last
`{"summary": …}`), or only as a summary (`--summary`: the problems, then counts and the totals per
account and VAT code). With `--tenant` the documents are adapted to the tenant's accounting system
and checked against it in batches of `BATCH`, and the payloads it would be sent are shown. Nothing
grows with the file but the totals (one entry per account and VAT code): memory stays flat. On a
terminal, stderr shows a progress bar while the file is read. Only errors fail the run (exit 1).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from bilagsbro.progress import Progress
from pipeline.dry_run import BATCH, ZERO, Check, Payload, TenantCheck, Totals, bookings, read
from pipeline.errors import Problem

__all__ = ["BATCH", "Report", "TenantCheck", "Totals", "bookings", "run"]


class Report:
    """Writes what the run finds, as it finds it: text, JSON lines, or a summary at the end."""

    def __init__(self, out: IO[str], *, json_lines: bool, summary: bool, file_name: str, format: str | None) -> None:
        self.out, self.json_lines, self.summary_only = out, json_lines, summary
        self.file_name, self.format = file_name, format
        self.documents: dict[str, int] = {}
        self.errors = self.warnings = 0
        self.codes: dict[str, int] = {}
        self.totals = Totals()

    @property
    def count(self) -> int:
        return sum(self.documents.values())

    def document(self, document: Any) -> None:
        self.documents[document.type] = self.documents.get(document.type, 0) + 1
        self.totals.add(document)
        if self.summary_only:
            return
        if self.json_lines:
            self._line({"document": document.model_dump(mode="json", exclude_none=True)})
        else:
            self.out.write(f"  ✓ {document.type} {document.reference} {document.date}"
                           + (f" — {document.description}" if document.description else "") + "\n")

    def problem(self, problem: Problem) -> None:
        if problem.is_error:
            self.errors += 1
        else:
            self.warnings += 1
        self.codes[problem.code] = self.codes.get(problem.code, 0) + 1
        if self.json_lines:
            self._line({"problem": problem.as_dict()})
        else:
            self.out.write(f"  {'✗' if problem.is_error else '!'} {problem}\n")

    def payload(self, payload: dict[str, Any]) -> None:
        if self.json_lines:
            self._line({"payload": payload})
        elif not self.summary_only:
            self.out.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")

    def finish(self) -> None:
        totals = self.totals.rows()
        if self.json_lines:
            self._line({"summary": {
                "file": self.file_name, "format": self.format, "documents": self.count, "by_type": self.documents,
                "errors": self.errors, "warnings": self.warnings, "problems_by_code": self.codes,
                "totals": [{k: (f"{v:.2f}" if isinstance(v, Decimal) else v) for k, v in row.items()} for row in totals],
            }})
        else:
            if self.summary_only:
                self._totals(totals)
            warned = f" ({self.warnings} warning(s))" if self.warnings else ""
            kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.documents.items()))
            self.out.write(f"{self.file_name}: {self.count} document(s){f' ({kinds})' if kinds else ''}, "
                           f"{self.errors + self.warnings} problem(s){warned} [format {self.format}]\n")
        self.out.flush()

    def _totals(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self.out.write(f"{'account':<10} {'VAT':>4} {'lines':>9} {'debit':>18} {'credit':>18} {'net':>18} "
                       f"{'VAT amount':>16}\n")
        for row in rows:
            self.out.write(f"{row['account']:<10} {row['vat_code'] or '':>4} {row['lines']:>9} {row['debit']:>18.2f} "
                           f"{row['credit']:>18.2f} {row['net']:>18.2f} {row['vat_amount']:>16.2f}\n")
        debit = sum((row["debit"] for row in rows), ZERO)
        credit = sum((row["credit"] for row in rows), ZERO)
        self.out.write(f"{'total':<10} {'':>4} {sum(r['lines'] for r in rows):>9} {debit:>18.2f} {credit:>18.2f} "
                       f"{debit - credit:>18.2f}\n")

    def _line(self, value: dict[str, Any]) -> None:
        self.out.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")


def run(conns: Any, path: Path, *, format: str | None, options: Callable[[str | None], Mapping[str, Any]],
        report_to: IO[str], json_lines: bool, summary: bool, check: Check | None = None) -> int:
    """Read `path` and report on it as the shared dry run (pipeline/dry_run.py) finds it; 1 when there are
    errors, else 0."""
    with path.open("rb") as data:
        format, items = read(conns, data, file_name=path.name, format=format, options=options, check=check)
        report = Report(report_to, json_lines=json_lines, summary=summary, file_name=path.name, format=format)
        progress = Progress(path.stat().st_size)
        try:
            for item in items:
                if isinstance(item, Problem):
                    report.problem(item if item.code != "unknown-format" else Problem(
                        "could not tell the file's format; name it with --format", file=path.name,
                        code="unknown-format"))
                elif isinstance(item, Payload):
                    report.payload(item.as_dict())
                else:
                    report.document(item)
                progress.update(data.tell(), report.count, report.errors + report.warnings)
        finally:
            progress.close()
        report.finish()
    return 1 if report.errors else 0
