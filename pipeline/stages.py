"""The stages after receipt: translated → adapted → delivered, and what happens when one fails.

Each stage takes an envelope, reads the content it points to, writes its own step to the trace log
and returns the envelopes for the next queue. A stage never retries by itself: a `TransientError`
(or any unexpected exception) propagates so the queue redelivers the message; a `DataError` or
`ConfigError` is written to the trace and ends the document's journey until someone fixes the
cause and asks for a retry.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any, cast
from urllib.parse import unquote

from pipeline.descriptors import Descriptor
from pipeline.envelope import Envelope, trace_id
from pipeline.errors import BilagsbroError, ClaimHeld, ConfigError, DataError, Problem
from pipeline.history import BlobExchangeLog, blob_ref, document_path, split_ref
from pipeline.inflight import behind, open_journeys, overtaken, record, stage_lease
from pipeline.intake import DOCUMENT
from pipeline.ledger import deliver_once
from pipeline.lookups import connection_key
from pipeline.model import TARGET_TERMS, Document, Origin
from pipeline.names import CONTAINER_DOCUMENTS, QUEUE_ADAPTED, QUEUE_RECEIVED, QUEUE_TRANSLATED
from pipeline.ports import Stores, Target, TargetContext, TargetFactory
from pipeline.report import FileReport
from pipeline.rules import apply
from pipeline.telemetry import stage_span
from pipeline.tenants import Tenant, TenantRegistry
from pipeline.trace import TraceEntry, TraceLog

log = logging.getLogger("bilagsbro.pipeline")
CLAIM_RECHECK_SECONDS = 5
SNIFF_BYTES = 65536  # what format detection looks at

SourceParser = Callable[..., Iterable[Any]]
Sniffer = Callable[[bytes, str], bool]


@dataclass
class Connectors:
    """What the composition root plugs in: the registries of sources and targets (connectors.registry())."""

    targets: Mapping[str, TargetFactory]
    sources: Mapping[str, SourceParser] = field(default_factory=dict)
    sniffers: Mapping[str, Sniffer] = field(default_factory=dict)
    # Every connector's descriptor (pipeline.descriptors): settings, secrets, what it accepts.
    descriptors: Mapping[str, Descriptor] = field(default_factory=dict)
    # Per connection (pipeline.lookups.connection_key): what its connector keeps between messages — HTTP
    # clients, sessions, lookups. A changed connection gets a fresh one; the old one is closed.
    caches: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def close(self) -> None:
        """Close what connectors keep between messages (HTTP clients and sessions): on host shutdown."""
        with self._lock:
            caches = dict(self.caches)
            self.caches.clear()
        close_all(caches)

    def detect(self, head: bytes, file_name: str) -> str | None:
        for name, sniff in self.sniffers.items():
            if sniff(head, file_name):
                return name
        return None

    def cache_for(self, tenant: Tenant) -> dict[str, Any]:
        """The cache of the tenant's connection as it is now; those of its earlier connections are closed."""
        key = connection_key(tenant.id, tenant.target, tenant.target_settings)
        with self._lock:
            cache = self.caches.get(key)
            if cache is not None:
                return cache
            stale = {k: v for k, v in self.caches.items() if k[:2] == key[:2]}
            for old in stale:
                del self.caches[old]
            cache = self.caches[key] = {}
        close_all(stale)
        return cache

    def forget(self, tenant_id: str) -> None:
        """Drop this process's sessions and lookups of a tenant (its connection was just replaced)."""
        with self._lock:
            stale = {k: v for k, v in self.caches.items() if k[0] == tenant_id}
            for key in stale:
                del self.caches[key]
        close_all(stale)

    def target_for(self, stores: Stores, tenant: Tenant, document_id: str) -> Target:
        factory = self.targets.get(tenant.target)
        if factory is None:
            raise ConfigError(f"tenant {tenant.id} points to unknown target {tenant.target!r}", tenant=tenant.id)
        context = TargetContext(
            tenant=tenant.id,
            settings=tenant.target_settings,
            secrets=stores.secrets,
            blobs=stores.blobs,
            exchanges=BlobExchangeLog(stores.blobs, tenant.id, document_id),
            cache=self.cache_for(tenant),
            tables=stores.tables,
        )
        return factory(context)


def close_all(value: Any) -> None:
    """Close everything closeable a cache holds (HTTP clients), however deep."""
    if isinstance(value, dict):
        for item in list(value.values()):
            close_all(item)
    elif callable(getattr(value, "close", None)) and not isinstance(value, type):
        value.close()


def _load(stores: Stores, ref: str, context: dict[str, str] | None = None) -> Document:
    container, path = split_ref(ref)
    return DOCUMENT.validate_json(stores.blobs.get(container, path), context=context)


def _entry(env: Envelope, step: str, detail: dict[str, Any], reference: str | None = None) -> TraceEntry:
    return TraceEntry(env.tenant, env.document, step, detail, reference=reference, receipt=env.receipt,
                      attempt=env.attempt, trace_id=trace_id(env.traceparent))


def _step(stores: Stores, env: Envelope, step: str, detail: dict[str, Any], reference: str | None = None, *,
          then: Sequence[Envelope] = (), queue: str | None = None, delay: float = 0.0) -> list[Envelope]:
    """A stage's step in the trace and where the document goes next (to `queue`); nothing next ends it."""
    return record(stores.tables, [_entry(env, step, detail, reference)], hop=env.hop, then=then, queue=queue,
                  delay=delay)


# translated ---------------------------------------------------------------------------------------


def translate(stores: Stores, connectors: Connectors, env: Envelope) -> list[Envelope]:
    if env.kind == "file":
        return _translate_file(stores, connectors, env)
    document = _load(stores, env.blob)  # checked at the API edge; re-read in the shared form
    return _step(stores, env, "translated", {"shared_form": env.blob, "type": document.type}, document.reference,
                 then=[env.next()], queue=QUEUE_TRANSLATED)


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


def _translate_file(stores: Stores, connectors: Connectors, env: Envelope) -> list[Envelope]:
    """Each document of the file stored and traced as it is parsed, each problem reported as it comes.

    Nothing grows with the file but one small envelope per good document: the report streams to
    Blob Storage (pipeline/report.py), the whole-file preflight runs in batches, and the receipt's
    trace row keeps counts and the first few.
    """
    container, path = split_ref(env.blob)
    file_name = unquote(path.rsplit("/", 1)[-1])  # the blob name is quoted (history.original_path)
    tenant = TenantRegistry(stores.tables).get(env.tenant)
    report = FileReport(stores.blobs, env.tenant, env.receipt)
    check = _FilePreflight(stores, connectors, tenant, env)
    envelopes: list[Envelope] = []
    with stores.blobs.open(container, path) as data:
        format, items = read_file(connectors, data, file_name=file_name, format=env.format,
                                  options=lambda found: format_options(tenant.sources, found))
        for item in items:
            if isinstance(item, Problem):
                report.problem(item)
                continue
            envelopes.append(_accept(stores, env, item, len(envelopes), format, file_name, report))
            for problem in check.add(item):
                report.problem(problem, stage="preflight")
    for problem in check.finish():
        report.problem(problem, stage="preflight")
    report.commit()
    # The file's own journey has guarded its documents until here; from now on each has its own.
    open_journeys(stores.tables, env.tenant, [e.document for e in envelopes])
    step = "translated" if report.documents.count or not report.errors else "rejected"
    _step(stores, env, step, {"format": format, **report.summary(check.summary())})
    return envelopes


def _accept(stores: Stores, env: Envelope, document: Document, index: int, format: str | None,
            file_name: str, report: FileReport) -> Envelope:
    if document.origin is None:
        document = document.model_copy(update={"origin": Origin(format=format or "", file=file_name)})
    document_id = child_id(env.receipt, index)  # the same on a second run after a crash: nothing doubles
    doc_path = document_path(env.tenant, document_id)
    stores.blobs.put(CONTAINER_DOCUMENTS, doc_path, document.model_dump_json(exclude_none=True).encode("utf-8"),
                     content_type="application/json; charset=utf-8")
    child = Envelope(tenant=env.tenant, document=document_id, receipt=env.receipt,
                     blob=blob_ref(CONTAINER_DOCUMENTS, doc_path), traceparent=env.traceparent).next()
    origin = document.origin.model_dump(exclude_none=True) if document.origin else {}
    [child] = record(stores.tables, [
        _entry(child, "received", {"receipt": env.receipt, "original": env.blob, **origin}, document.reference),
        _entry(child, "translated", {"shared_form": child.blob, "type": document.type, "format": format},
               document.reference),
    ], hop=None, then=[child], queue=QUEUE_TRANSLATED)
    report.document({"id": document_id, "reference": document.reference, "type": document.type,
                     **({"line": origin["line"]} if "line" in origin else {})})
    return child


def child_id(receipt: str, index: int) -> str:
    """The id of a file's `index`th document: unguessable (the receipt's) and the same on every run."""
    return f"d-{receipt.removeprefix('r-')}-{index:06d}"


def preflight(stores: Stores, connectors: Connectors, tenant: Tenant, documents: list[Document],
              trace_as: str) -> tuple[Target, list[Document], list[Problem]]:
    """The documents in the tenant's terms and everything its accounting system would refuse in them.

    `trace_as` names the history folder any requests the check makes are kept under.
    """
    target = connectors.target_for(stores, tenant, trace_as)
    adapted = [apply(d, tenant.rules) for d in documents]
    return target, adapted, (target.preflight(adapted) if adapted else [])


FILE_PREFLIGHT_BATCH = 500


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


# adapted ------------------------------------------------------------------------------------------


def adapt(stores: Stores, connectors: Connectors, env: Envelope) -> list[Envelope]:
    document = _load(stores, env.blob)
    try:
        tenant = TenantRegistry(stores.tables).get(env.tenant)
        adapted = apply(document, tenant.rules)
        target = connectors.target_for(stores, tenant, env.document)
        problems = target.preflight([adapted])
    except (ConfigError, DataError) as exc:
        _step(stores, env, "failed", {"stage": "adapt", "error": exc.context()}, document.reference)
        return []
    except ValueError as exc:  # a rule produced something the model refuses
        _step(stores, env, "failed", {"stage": "adapt", "error": {"kind": "DataError", "message": str(exc)}},
              document.reference)
        return []
    if problems:
        _step(stores, env, "blocked", {
            "stage": "preflight", "target": tenant.target,
            "problems": [p.as_dict() for p in problems],
            "remedy": "fix the accounting system or the tenant's rules, then POST .../retry",
        }, document.reference)
        return []
    path = document_path(env.tenant, env.document, "adapted")
    stores.blobs.put(CONTAINER_DOCUMENTS, path, adapted.model_dump_json(exclude_none=True).encode("utf-8"),
                     content_type="application/json; charset=utf-8")
    return _step(stores, env, "adapted", {
        "target": tenant.target, "adapted": blob_ref(CONTAINER_DOCUMENTS, path), "preflight": "ok",
        "payload": _jsonable(target.render(adapted)),
    }, document.reference, then=[env.next(blob=blob_ref(CONTAINER_DOCUMENTS, path), target=tenant.target)],
        queue=QUEUE_ADAPTED)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# delivered ----------------------------------------------------------------------------------------


def deliver(stores: Stores, connectors: Connectors, env: Envelope) -> list[Envelope]:
    document = _load(stores, env.blob, TARGET_TERMS)  # adapted: in the target's VAT codes
    tenant = TenantRegistry(stores.tables).get(env.tenant)
    if env.target and env.target != tenant.target:
        # The tenant switched systems after this was adapted: adapt the shared form again for the new one.
        shared = blob_ref(CONTAINER_DOCUMENTS, document_path(env.tenant, env.document))
        if stores.queues is None:
            raise ConfigError("the tenant switched targets and no queue sender is configured to re-adapt",
                              tenant=env.tenant)
        [again] = _step(stores, env, "resubmitted", {
            "reason": f"target changed from {env.target} to {tenant.target}", "next": "adapt"}, document.reference,
            then=[replace(env, blob=shared, target=None)], queue=QUEUE_TRANSLATED)
        stores.queues.send(QUEUE_TRANSLATED, again.to_json())
        return []
    try:
        target = connectors.target_for(stores, tenant, env.document)
        outcome = deliver_once(stores.tables, target, document, tenant=env.tenant, target_name=tenant.target,
                               document_id=env.document)
    except (ConfigError, DataError) as exc:
        _step(stores, env, "failed", {"stage": "deliver", "target": tenant.target, "error": exc.context()},
              document.reference)
        return []
    except ClaimHeld as exc:
        if stores.queues is None:
            raise
        # A duplicate arrived while the first copy is being posted: look again once that may be done,
        # without spending this message's tries (the queue redelivers after a delay of our choosing).
        if behind(stores.tables, env):
            return []  # the copy holding the claim has finished meanwhile: this one has nothing left to do
        delay = max(1, min(CLAIM_RECHECK_SECONDS, math.ceil(exc.retry_after or CLAIM_RECHECK_SECONDS)))
        [again] = _step(stores, env, "waiting", {"stage": "deliver", "reason": exc.message, "recheck_in_s": delay},
                        document.reference, then=[env], queue=QUEUE_ADAPTED, delay=delay)
        stores.queues.send(QUEUE_ADAPTED, again.to_json(), delay_seconds=delay)
        return []
    delivery = outcome.delivery
    detail = {
        "target": tenant.target, "remote_id": delivery.remote_id, "draft": delivery.draft,
        **({"url": delivery.url} if delivery.url else {}),
        **({"not_accepted": list(delivery.not_accepted)} if delivery.not_accepted else {}),
        **({"looked_up_first": True} if outcome.looked_up else {}),
        **delivery.details,
    }
    step = "duplicate" if outcome.duplicate and not outcome.looked_up else "delivered"
    if step == "duplicate":
        detail["note"] = "this reference was delivered before; nothing was posted again"
    _step(stores, env, step, detail, document.reference)
    return []


# failures -----------------------------------------------------------------------------------------


STAGES = {"translate": translate, "adapt": adapt, "deliver": deliver}
INPUT = {"translate": QUEUE_RECEIVED, "adapt": QUEUE_TRANSLATED, "deliver": QUEUE_ADAPTED}


def run(stage: str, stores: Stores, connectors: Connectors, message: str | bytes,
        *, dequeue_count: int | None = None) -> list[str]:
    """Run one stage on one queue message; what the trigger functions call.

    Returns the next stage's messages. A retryable failure is written to the trace and re-raised so
    the queue redelivers the message (after maxDequeueCount it goes to the poison queue).
    """
    env = Envelope.from_json(message)
    if overtaken(stores.tables, env, dequeue_count):
        # A copy (the sweeper's, or the original back after its host died) already moved it on.
        log.info("dropped a %s message for %s/%s: hop %s is behind its document", stage, env.tenant, env.document,
                 env.hop)
        return []
    try:
        with stage_lease(stores.tables, env), stage_span(stage, env) as traceparent:
            # Every envelope a stage returns continues its document's trace; the stage's own span is
            # the parent of whatever it sends on.
            return [replace(e, traceparent=traceparent).to_json() for e in STAGES[stage](stores, connectors, env)]
    except BilagsbroError as exc:
        _trace_retry(stores, env, stage, exc.context(), dequeue_count)
        raise
    except Exception as exc:
        _trace_retry(stores, env, stage, {"kind": type(exc).__name__, "message": str(exc)[:500]}, dequeue_count)
        raise


def _trace_retry(stores: Stores, env: Envelope, stage: str, error: dict[str, Any], dequeue_count: int | None) -> None:
    log.warning("stage %s failed for %s/%s (try %s): %s", stage, env.tenant, env.document, dequeue_count,
                error.get("message"))
    try:  # the queue brings this very message back: the document waits on it still
        record(stores.tables, [_entry(env, "retrying", {"stage": stage, "try": dequeue_count, "error": error})],
               hop=env.hop, then=[env], queue=INPUT[stage], again=True)
    except Exception:  # the trace must never hide the original failure
        log.exception("could not write the trace for %s", env.document)


def poisoned(stores: Stores, queue: str, message: str | bytes, *, dequeue_count: int | None = None) -> None:
    """A message gave up after maxDequeueCount tries: say so, with the last error, in the trace."""
    try:
        env = Envelope.from_json(message)
    except (ValueError, TypeError):
        log.error("unreadable message in %s-poison: %r", queue, message[:200])
        return
    if behind(stores.tables, env):  # a later copy got it further: nothing to report
        log.info("ignored a poisoned copy for %s/%s: its document has moved on", env.tenant, env.document)
        return
    trace = TraceLog(stores.tables)
    last = next((r for r in reversed(trace.read(env.tenant, env.document)) if r["step"] == "retrying"), None)
    _step(stores, env, "poisoned", {
        "queue": queue,
        "gave_up_at": dt.datetime.now(dt.UTC).isoformat(),
        "last_error": (last or {}).get("detail", {}).get("error", "unknown"),
        "remedy": "fix the cause, then POST /api/v1/documents/{id}/retry",
    })
    log.error("document %s/%s poisoned in %s", env.tenant, env.document, queue)
