"""Translated: a received file read into shared-form documents, sent on to adapt in envelopes as it is read.

Documents that arrive in the shared form already (the API's, pulled ones) get this step when received
(pipeline/received.py); this stage reads files: their format named or detected, each document received and
translated as its reader yields it, every problem reported with its file and line, a preflight of the whole
file against the tenant's accounting system, and the file's whole report written as it goes
(pipeline/records/report.py). The same reading serves `bilagsbro dry-run` (`read_file`), so the two cannot disagree.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import IO, Any, cast
from urllib.parse import unquote

from pipeline.adapted import preflight
from pipeline.envelope import Enclosure, Envelope, Packer, trace_id
from pipeline.errors import BilagsbroError, ConfigError, Problem
from pipeline.inflight import Done, Overtaken, Send, commit, pending
from pipeline.model import Document, Origin
from pipeline.ports import Stores
from pipeline.records.documents import listing
from pipeline.records.history import enclose, split_ref
from pipeline.records.names import QUEUE_TRANSLATED
from pipeline.records.report import FileReport
from pipeline.records.tenants import Tenant, TenantRegistry
from pipeline.records.trace import TraceEntry, child_id
from pipeline.registry import Connectors
from pipeline.webhook_events import emit

log = logging.getLogger("bilagsbro.pipeline")
SNIFF_BYTES = 65536  # what format detection looks at
FILE_PREFLIGHT_BATCH = 500


def translate(stores: Stores, connectors: Connectors, env: Envelope, *, dequeue_count: int | None = None) -> Done:
    if env.kind == "file":
        return _translate_file(stores, connectors, env)
    # Documents in the shared form already (messages from before intake translated them itself).
    done = Done()
    for enclosure in env.documents:
        done.step(env, enclosure, "translated", {"shared_form": enclosure.blob or "in the message"})
    done.onward.append(env.next())
    return done


def sniff(connectors: Connectors, data: IO[bytes], file_name: str, format: str | None) -> tuple[IO[bytes], str | None]:
    """The stream to parse (from its first byte) and its format: as given, or detected from its head."""
    if format is not None:
        return data, format
    # Peek, don't read: the parser gets the stream from its first byte.
    peeking = io.BufferedReader(cast(Any, data), buffer_size=SNIFF_BYTES)
    return peeking, connectors.detect(peeking.peek(SNIFF_BYTES)[:SNIFF_BYTES], file_name)


def parse_stream(connectors: Connectors, data: IO[bytes], *, file_name: str, format: str | None,
                 options: Mapping[str, Any]) -> Iterator[Document | Problem]:
    """A file's documents and problems as its parser finds them: problems are values, never exceptions.

    A reader that raises anyway has a defect (bench/fuzz.py hunts for them): the file then ends with a
    problem where the reader stopped, and what it yielded before stands. Storage errors while
    reading still propagate, so the queue tries the file again.
    """
    if format is None:
        yield Problem("could not tell the file's format; name it with ?format=", file=file_name, code="unknown-format")
        return
    parser = connectors.sources.get(format)
    if parser is None:
        yield Problem(f"unknown format {format!r}", file=file_name, code="unknown-format")
        return
    line: int | None = None
    try:
        for item in parser(data, file_name=file_name, options=options):
            found = item.line if isinstance(item, Problem) else (item.origin.line if item.origin else None)
            line = found or line
            yield item
    except ConfigError as exc:  # the tenant's options for this format: retrying will not help
        yield Problem(f"the {format} options of this tenant are not valid: {exc.message}", file=file_name,
                      code="options")
    except _READER_DEFECTS as exc:
        log.exception("the %s reader failed on %s after line %s", format, file_name, line)
        yield Problem(f"the {format} reader stopped after this line on a value it could not handle "
                      f"({type(exc).__name__}); nothing after it was read", file=file_name, line=line,
                      code="reader-error")


# What a pure reader can raise by mistake; I/O errors (OSError, the storage SDK's) are not among them.
_READER_DEFECTS = (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, RecursionError,
                   SyntaxError, AssertionError)


def read_file(connectors: Connectors, data: IO[bytes], *, file_name: str, format: str | None,
              options: Callable[[str | None], Mapping[str, Any]]) -> tuple[str | None, Iterator[Document | Problem]]:
    """A file's format (as named, or detected from its head) and its documents and problems as they are read.

    What the translate stage and `bilagsbro dry-run` both read, so that they cannot disagree; nothing
    of the file is held. `options` gives the format's options once the format is known.
    """
    stream, format = sniff(connectors, data, file_name, format)
    return format, parse_stream(connectors, stream, file_name=file_name, format=format, options=options(format))


def format_options(sources: Mapping[str, Mapping[str, Any]], format: str | None) -> dict[str, Any]:
    """A tenant's options for a file format (`Tenant.sources`), as the readers get them."""
    options = dict(sources.get(format or "", {}))
    options.setdefault("vat_map", {})
    return options


def _translate_file(stores: Stores, connectors: Connectors, env: Envelope) -> Done:
    """Each document of the file received and translated as it is parsed, each problem reported as it comes.

    Documents go on in envelopes of up to MAX_DOCUMENTS — each part's trace rows, its envelope's row and the
    file's progress in one transaction, then the part is sent (the last one by the output binding) — so
    nothing grows with the file: the report
    streams to Blob Storage (pipeline/records/report.py), the whole-file preflight runs in batches, and the
    receipt's trace row keeps counts and the first few. A file split again after a crash yields the same
    documents and parts (ids from the receipt) and sends again only the parts its progress does not count.
    """
    assert env.blob is not None and env.id is not None
    container, path = split_ref(env.blob)
    file_name = unquote(path.rsplit("/", 1)[-1])  # the blob name is quoted (history.original_path)
    tenant = TenantRegistry(stores.tables).current(env.tenant)
    report = FileReport(stores.blobs, env.tenant, env.receipt)
    check = _FilePreflight(stores, connectors, tenant, env)
    row = pending(stores.tables, env)
    if row is None:
        raise Overtaken("the file was split already")
    sent_before = int(row.get("Progress") or 0)
    parts = Parts(stores, env, sent_before)
    count = 0
    with stores.blobs.open(container, path) as data:
        format, items = read_file(connectors, data, file_name=file_name, format=env.format,
                                  options=lambda found: format_options(tenant.sources, found))
        for item in items:
            if isinstance(item, Problem):
                report.problem(item)
                continue
            parts.add(_accept(stores, env, item, count, format, file_name, report))
            count += 1
            for problem in check.add(item):
                report.problem(problem, stage="preflight")
    parts.close()
    for problem in check.finish():
        report.problem(problem, stage="preflight")
    report.commit()
    done = Done(recorded=parts.held)
    step = "translated" if report.documents.count or not report.errors else "rejected"
    summary = report.summary(check.summary())
    emit(stores, env.tenant, "file.processed", f"{env.receipt}.processed", {
        "receipt": env.receipt, "file_name": file_name, "format": format, "status": step,
        "counts": summary.get("counts"), "complete": summary.get("complete"), "documents": count})
    done.step(env, None, step, {"format": format, **summary, **({"parts": parts.count} if parts.count else {})})
    return done


class Parts:
    """A file's documents in envelopes as they are parsed: each recorded (its documents' steps and its row,
    and the file's progress) and sent when full; those a crash had sent already are skipped."""

    def __init__(self, stores: Stores, env: Envelope, sent_before: int) -> None:
        self.stores, self.env, self.sent_before = stores, env, sent_before
        ids = (f"{env.id}.{n:05d}" for n in range(1, 1 << 30))
        self.packer = Packer(replace(env, kind="documents", blob=None, format=None), ids)
        self.entries: dict[str, list[TraceEntry]] = {}
        self.count = 0
        self.held: list[Envelope] = []  # the last part (all of them without a queue sender: unit tests)

    def add(self, accepted: tuple[Enclosure, list[TraceEntry]]) -> None:
        enclosure, entries = accepted
        self.entries[enclosure.id] = entries
        self._send(self.packer.add(enclosure))

    def close(self) -> None:
        """The last part goes with the stage's output binding, like any stage's messages."""
        self._send(self.packer.close(), last=True)

    def _send(self, envelope: Envelope | None, *, last: bool = False) -> None:
        if envelope is None:
            return
        rows = [e for d in envelope.documents for e in self.entries.pop(d.id)]
        self.count += 1
        if self.count <= self.sent_before:
            return  # recorded and sent by the run that crashed
        queues = self.stores.queues
        commit(self.stores.tables, self.env.tenant, self.env.receipt, rows,
               sends=[Send(QUEUE_TRANSLATED, envelope)], taken=self.env, progress=self.count)
        if queues is None or last:
            self.held.append(envelope)
        else:
            queues.send(QUEUE_TRANSLATED, envelope.to_json())


def _accept(stores: Stores, env: Envelope, document: Document, index: int, format: str | None,
            file_name: str, report: FileReport) -> tuple[Enclosure, list[TraceEntry]]:
    if document.origin is None:
        document = document.model_copy(update={"origin": Origin(format=format or "", file=file_name)})
    document_id = child_id(env.receipt, index)  # the same on a second run after a crash: nothing doubles
    origin = document.origin.model_dump(exclude_none=True) if document.origin else {}
    report.document({"id": document_id, "reference": document.reference, "type": document.type,
                     **({"line": origin["line"]} if "line" in origin else {})})
    enclosure, kept = enclose(stores.blobs, env.tenant, document_id, document)
    tid = trace_id(env.traceparent)
    return enclosure, [
        TraceEntry(env.tenant, document_id, "received", {"receipt": env.receipt, "original": env.blob, **origin},
                   reference=document.reference, receipt=env.receipt, trace_id=tid),
        TraceEntry(env.tenant, document_id, "translated", {
            "shared_form": enclosure.blob or "kept with this step", "type": document.type, "format": format},
            reference=document.reference, receipt=env.receipt, trace_id=tid, shared_form=kept,
            listing=listing(document_id, document, via="file")),
    ]


class _FilePreflight:
    """One report for the whole file: every missing account, customer, VAT code at once.

    Checked in batches, so a file's documents never sit in memory together. Each document is checked
    again in adapt (the accounting system may change in between); this report is for the person who
    sent the file.
    """

    def __init__(self, stores: Stores, connectors: Connectors, tenant: Tenant, env: Envelope) -> None:
        self.stores, self.connectors, self.tenant, self.env = stores, connectors, tenant, env
        self.batch: list[Document] = []
        self.checked = 0
        self.unavailable: str | None = None

    def add(self, document: Document) -> list[Problem]:
        self.batch.append(document)
        return self.finish() if len(self.batch) >= FILE_PREFLIGHT_BATCH else []

    def finish(self) -> list[Problem]:
        batch, self.batch = self.batch, []
        if not batch or self.unavailable is not None:
            return []
        try:
            _, _, problems = preflight(self.stores, self.connectors, self.tenant, batch, self.env.receipt)
        except (BilagsbroError, ValueError) as exc:
            self.unavailable = str(exc)[:300]
            return []
        self.checked += len(batch)
        return problems

    def summary(self) -> dict[str, Any]:
        return {"target": self.tenant.target, "checked": self.checked,
                **({"unavailable": self.unavailable} if self.unavailable is not None else {})}
