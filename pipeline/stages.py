"""The stages after receipt: translated → adapted → delivered, and what happens when one fails.

Each stage takes an envelope of up to MAX_DOCUMENTS documents of one receipt, and `run` records what
became of every one of them — its step in the trace, and the envelopes that carry the documents on — in
one entity-group transaction with the end of the envelope it took (pipeline/inflight.py). A stage never
retries by itself: a `TransientError` (or any unexpected exception) for every document of an envelope
propagates so the queue redelivers the message; when only some of its documents fail so, the others go
on and each failing one is sent back alone, after RETRY_SECONDS, to be retried on its own. A `DataError`
or `ConfigError` is written to the trace and ends the document's journey until someone fixes the cause
and asks for a retry.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import IO, Any, cast
from urllib.parse import unquote

from pipeline.descriptors import Descriptor
from pipeline.envelope import Enclosure, Envelope, Packer, pack, trace_id
from pipeline.errors import BilagsbroError, ClaimHeld, ConfigError, DataError, Problem
from pipeline.history import BlobExchangeLog, enclose, load, split_ref
from pipeline.inflight import Overtaken, Send, commit, note_failure, overtaken, pending, settle, stage_lease
from pipeline.ledger import LedgerOutcome, deliver_once
from pipeline.lookups import connection_key
from pipeline.model import TARGET_TERMS, Document, Origin
from pipeline.names import QUEUE_ADAPTED, QUEUE_RECEIVED, QUEUE_TRANSLATED
from pipeline.ports import Stores, Target, TargetContext, TargetFactory
from pipeline.report import FileReport
from pipeline.rules import apply
from pipeline.telemetry import stage_span
from pipeline.tenants import Tenant, TenantRegistry
from pipeline.trace import TraceEntry, TraceLog, child_id

log = logging.getLogger("bilagsbro.pipeline")
CLAIM_RECHECK_SECONDS = 5
DELIVER_AT_ONCE = 8  # documents delivered at the same time (in this process), each through the ledger
RETRY_SECONDS = 5  # host.json's visibilityTimeout: how long a failed message waits before its next try
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



@dataclass
class Done:
    """What a stage made of an envelope: each document's step, and where its documents go next."""

    entries: list[TraceEntry] = field(default_factory=list)
    onward: list[Envelope] = field(default_factory=list)  # to the stage's output queue (its output binding)
    recorded: list[Envelope] = field(default_factory=list)  # ... and those whose rows the stage wrote itself
    sends: list[Send] = field(default_factory=list)  # sent by the stage itself: back a stage, or after a delay
    failures: list[tuple[Enclosure, BaseException]] = field(default_factory=list)  # passing faults, per document

    def step(self, env: Envelope, enclosure: Enclosure | None, step: str, detail: dict[str, Any],
             reference: str | None = None) -> None:
        subject = enclosure.id if enclosure is not None else env.receipt
        self.entries.append(TraceEntry(env.tenant, subject, step, detail, reference=reference or (
            enclosure.reference if enclosure is not None else None), receipt=env.receipt,
            attempt=enclosure.attempt if enclosure is not None else 1, trace_id=trace_id(env.traceparent)))


def _alone(env: Envelope, enclosure: Enclosure, **changes: Any) -> Envelope:
    """One document of an envelope in an envelope of its own (a retry, a wait, a way back)."""
    return env.next(documents=(enclosure,), **changes)


def _retry_alone(env: Envelope, done: Done, stage: str, queue: str, dequeue_count: int | None) -> None:
    """Documents that failed with a passing fault while others went on: each is tried again on its own.

    When every document failed, the whole envelope is the queue's to retry (and, in the end, to poison).
    """
    if not done.failures:
        return
    if len(done.failures) == len(env.documents):
        raise done.failures[0][1]
    for enclosure, exc in done.failures:
        error = exc.context() if isinstance(exc, BilagsbroError) else {"kind": type(exc).__name__,
                                                                        "message": str(exc)[:500]}
        log.warning("stage %s failed for %s/%s: %s; it is tried again on its own", stage, env.tenant, enclosure.id,
                    error.get("message"))
        done.step(env, enclosure, "retrying", {"stage": stage, "try": dequeue_count or 1, "error": error,
                                               "next": f"on its own, in {RETRY_SECONDS} s"})
        done.sends.append(Send(queue, _alone(env, enclosure), delay=RETRY_SECONDS))


# translated ---------------------------------------------------------------------------------------


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
    streams to Blob Storage (pipeline/report.py), the whole-file preflight runs in batches, and the
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
    done.step(env, None, step, {"format": format, **report.summary(check.summary()),
                                **({"parts": parts.count} if parts.count else {})})
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
            reference=document.reference, receipt=env.receipt, trace_id=tid, shared_form=kept),
    ]


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


def adapt(stores: Stores, connectors: Connectors, env: Envelope, *, dequeue_count: int | None = None) -> Done:
    done = Done()
    tenant = TenantRegistry(stores.tables).current(env.tenant)
    adapted: list[Enclosure] = []
    for enclosure in env.documents:
        try:
            document = load(stores.blobs, stores.tables, env.tenant, enclosure)
        except ValueError as exc:  # a document we kept that the model refuses now: its data must be fixed
            done.step(env, enclosure, "failed", {"stage": "adapt", "error": {"kind": "DataError", "message": str(exc)}})
            continue
        except Exception as exc:
            done.failures.append((enclosure, exc))
            continue
        try:
            result = apply(document, tenant.rules)
            target = connectors.target_for(stores, tenant, enclosure.id)
            problems = target.preflight([result])
        except (ConfigError, DataError) as exc:
            done.step(env, enclosure, "failed", {"stage": "adapt", "error": exc.context()}, document.reference)
            continue
        except ValueError as exc:  # a rule produced something the model refuses
            done.step(env, enclosure, "failed", {"stage": "adapt", "error": {"kind": "DataError", "message": str(exc)}},
                      document.reference)
            continue
        except Exception as exc:
            done.failures.append((enclosure, exc))
            continue
        if problems:
            done.step(env, enclosure, "blocked", {
                "stage": "preflight", "target": tenant.target,
                "problems": [p.as_dict() for p in problems],
                "remedy": "fix the accounting system or the tenant's rules, then POST .../retry",
            }, document.reference)
            continue
        carried, _ = enclose(stores.blobs, env.tenant, enclosure.id, result, form="adapted", attempt=enclosure.attempt)
        done.step(env, enclosure, "adapted", {
            "target": tenant.target, "adapted": carried.blob or "in the message", "preflight": "ok",
            "payload": _jsonable(target.render(result)),
        }, document.reference)
        adapted.append(carried)
    _retry_alone(env, done, "adapt", QUEUE_TRANSLATED, dequeue_count)
    done.onward = pack(replace(env, target=tenant.target), adapted)
    return done


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# delivered ----------------------------------------------------------------------------------------


def deliver(stores: Stores, connectors: Connectors, env: Envelope, *, dequeue_count: int | None = None) -> Done:
    done = Done()
    tenant = TenantRegistry(stores.tables).current(env.tenant)
    if env.target and env.target != tenant.target:
        # The tenant switched systems after these were adapted: adapt their shared forms again for the new one.
        again = [Enclosure(d.id, d.reference, d.attempt) for d in env.documents]  # shared forms from the trace
        for enclosure in env.documents:
            done.step(env, enclosure, "resubmitted", {
                "reason": f"target changed from {env.target} to {tenant.target}", "next": "adapt"})
        done.sends.extend(Send(QUEUE_TRANSLATED, e) for e in pack(replace(env, target=None), again))
        return done
    def one(enclosure: Enclosure) -> tuple[Document | None, LedgerOutcome | BaseException]:
        document: Document | None = None
        try:
            document = load(stores.blobs, stores.tables, env.tenant, enclosure, TARGET_TERMS)  # the target's terms
            target = connectors.target_for(stores, tenant, enclosure.id)
            return document, deliver_once(stores.tables, target, document, tenant=env.tenant,
                                          target_name=tenant.target, document_id=enclosure.id)
        except Exception as exc:
            return document, exc

    # Each document through the ledger on its own, DELIVER_AT_ONCE of them at a time (as many as separate
    # messages would have been); what became of them is recorded in their order.
    if len(env.documents) == 1:
        results = [one(env.documents[0])]
    else:
        results = list(_deliverers().map(one, env.documents))
    for enclosure, (document, outcome) in zip(env.documents, results, strict=True):
        reference = document.reference if document is not None else enclosure.reference
        if isinstance(outcome, (ConfigError, DataError)):
            done.step(env, enclosure, "failed", {"stage": "deliver", "target": tenant.target,
                                                 "error": outcome.context()}, reference)
            continue
        if isinstance(outcome, ClaimHeld):
            if pending(stores.tables, env) is None:
                raise Overtaken("a copy of this envelope holds the claim and has finished")
            # A duplicate arrived while the first copy is being posted: look again once that may be done,
            # without spending the queue's tries on it.
            delay = max(1, min(CLAIM_RECHECK_SECONDS, math.ceil(outcome.retry_after or CLAIM_RECHECK_SECONDS)))
            done.step(env, enclosure, "waiting", {"stage": "deliver", "reason": outcome.message,
                                                  "recheck_in_s": delay}, reference)
            done.sends.append(Send(QUEUE_ADAPTED, _alone(env, enclosure), delay=delay))
            continue
        if isinstance(outcome, BaseException):
            done.failures.append((enclosure, outcome))
            continue
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
            if outcome.document_id == enclosure.id:
                detail["by"] = "an earlier attempt of this document, stopped before it could record it"
        done.step(env, enclosure, step, detail, reference)
    _retry_alone(env, done, "deliver", QUEUE_ADAPTED, dequeue_count)
    return done


@functools.cache
def _deliverers() -> ThreadPoolExecutor:
    """The threads that deliver documents side by side, shared by the process's deliver invocations."""
    return ThreadPoolExecutor(max_workers=DELIVER_AT_ONCE, thread_name_prefix="bilagsbro-deliver")


# running a stage ----------------------------------------------------------------------------------


STAGES: dict[str, Callable[..., Done]] = {"translate": translate, "adapt": adapt, "deliver": deliver}
INPUT = {"translate": QUEUE_RECEIVED, "adapt": QUEUE_TRANSLATED, "deliver": QUEUE_ADAPTED}
OUTPUT = {"translate": QUEUE_TRANSLATED, "adapt": QUEUE_ADAPTED}


def run(stage: str, stores: Stores, connectors: Connectors, message: str | bytes,
        *, dequeue_count: int | None = None) -> list[str]:
    """Run one stage on one queue message; what the trigger functions call.

    Returns the next stage's messages (for the output binding). A failure of the whole envelope is written
    to the trace and re-raised so the queue redelivers the message (after maxDequeueCount it goes to the
    poison queue).
    """
    env = Envelope.from_json(message)
    if overtaken(stores.tables, env, dequeue_count):
        # A copy (the sweeper's, or the original back after its host died) already moved it on.
        log.info("dropped a %s message %s of %s/%s: a copy of it was taken first", stage, env.id, env.tenant,
                 env.receipt)
        return []
    try:
        with stage_lease(stores.tables, env), stage_span(stage, env) as traceparent:
            done = STAGES[stage](stores, connectors, env, dequeue_count=dequeue_count)
            # Every envelope a stage sends on continues its documents' trace; the stage's own span is the
            # parent of whatever it sends on.
            onward = [replace(e, traceparent=traceparent) for e in done.onward]
            sends = [Send(OUTPUT[stage], e) for e in onward] + done.sends
            settle(stores.tables, env, done.entries, sends, ended=not (sends or done.recorded))
    except Overtaken as exc:
        log.info("dropped the %s of envelope %s of %s/%s: %s", stage, env.id, env.tenant, env.receipt, exc)
        return []
    except BilagsbroError as exc:
        _trace_retry(stores, env, stage, exc.context(), dequeue_count)
        raise
    except Exception as exc:
        _trace_retry(stores, env, stage, {"kind": type(exc).__name__, "message": str(exc)[:500]}, dequeue_count)
        raise
    for send in done.sends:
        if stores.queues is None:
            raise ConfigError(f"a {stage} stage must send to {send.queue} and no queue sender is configured",
                              tenant=env.tenant)
        stores.queues.send(send.queue, send.envelope.to_json(), delay_seconds=math.ceil(send.delay))
    return [e.to_json() for e in [*onward, *done.recorded]]


def _trace_retry(stores: Stores, env: Envelope, stage: str, error: dict[str, Any], dequeue_count: int | None) -> None:
    log.warning("stage %s failed for envelope %s of %s/%s (try %s): %s", stage, env.id, env.tenant, env.receipt,
                dequeue_count, error.get("message"))
    done = Done()
    if env.kind == "file":
        done.step(env, None, "retrying", {"stage": stage, "try": dequeue_count, "error": error})
    for enclosure in env.documents:
        done.step(env, enclosure, "retrying", {"stage": stage, "try": dequeue_count, "error": error})
    try:  # the queue brings this very message back: its row stays, with the error on it
        note_failure(stores.tables, env, done.entries, error)
    except Exception:  # the trace must never hide the original failure
        log.exception("could not write the trace for envelope %s", env.id)


def poisoned(stores: Stores, queue: str, message: str | bytes, *, dequeue_count: int | None = None) -> None:
    """A message gave up after maxDequeueCount tries: say so, with the last error, in its documents' traces."""
    try:
        env = Envelope.from_json(message)
    except (ValueError, TypeError):
        log.error("unreadable message in %s-poison: %r", queue, message[:200])
        return
    row = pending(stores.tables, env)
    if row is None:  # a later copy got it further: nothing to report
        log.info("ignored a poisoned copy of envelope %s of %s/%s: it has moved on", env.id, env.tenant, env.receipt)
        return
    last_error: Any = json.loads(row["LastError"]) if row.get("LastError") else None
    if last_error is None:  # a message from before envelopes had rows: the last retry in its trace
        trace = TraceLog(stores.tables).read(env.tenant, env.subjects[0]) if env.subjects else []
        last = next((r for r in reversed(trace) if r["step"] == "retrying"), None)
        last_error = (last or {}).get("detail", {}).get("error", "unknown")
    done = Done()
    detail = {"queue": queue, "gave_up_at": dt.datetime.now(dt.UTC).isoformat(), "last_error": last_error,
              "remedy": "fix the cause, then POST /api/v1/documents/{id}/retry"}
    if env.kind == "file":
        done.step(env, None, "poisoned", detail)
    for enclosure in env.documents:
        done.step(env, enclosure, "poisoned", detail)
    try:
        settle(stores.tables, env, done.entries)
    except Overtaken:
        return
    log.error("envelope %s of %s/%s poisoned in %s", env.id, env.tenant, env.receipt, queue)
