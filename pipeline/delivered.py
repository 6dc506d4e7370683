"""Delivered: each document posted to the tenant's accounting system once, through the idempotency ledger.

Drafts first where the system has a draft path; the ledger (pipeline/ledger.py) claims the reference before
posting, so a document sent twice — after a crash, a retry, a resend — is posted once. An envelope's
documents are delivered side by side, DELIVER_AT_ONCE at a time in this process. A tenant that switched
accounting systems after a document was adapted gets it adapted again for the new one.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from pipeline.envelope import Enclosure, Envelope, pack
from pipeline.errors import ClaimHeld, ConfigError, DataError
from pipeline.failed import retry_alone
from pipeline.inflight import Done, Overtaken, Send, alone, pending
from pipeline.ledger import LedgerOutcome, deliver_once
from pipeline.model import TARGET_TERMS, Document
from pipeline.ports import Stores
from pipeline.records.history import load
from pipeline.records.names import QUEUE_ADAPTED, QUEUE_TRANSLATED
from pipeline.records.tenants import TenantRegistry, through
from pipeline.registry import Connectors
from pipeline.webhook_events import unhealthy

CLAIM_RECHECK_SECONDS = 5
DELIVER_AT_ONCE = 8  # documents delivered at the same time (in this process), each through the ledger


def deliver(stores: Stores, connectors: Connectors, env: Envelope, *, dequeue_count: int | None = None) -> Done:
    done = Done()
    tenant = TenantRegistry(stores.tables).current(env.tenant)
    if env.to:  # a resend to another of the tenant's systems: delivered there, through that system's ledger
        try:
            tenant = through(tenant, env.to, sending=True)
        except ConfigError as exc:
            for enclosure in env.documents:
                done.step(env, enclosure, "failed", {"stage": "deliver", "target": env.to, "error": exc.context()})
            return done
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
            if isinstance(outcome, ConfigError):
                unhealthy(stores, env.tenant, tenant.target, enclosure.id, outcome)
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
            done.sends.append(Send(QUEUE_ADAPTED, alone(env, enclosure), delay=delay))
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
    retry_alone(env, done, "deliver", QUEUE_ADAPTED, dequeue_count)
    return done


@functools.cache
def _deliverers() -> ThreadPoolExecutor:
    """The threads that deliver documents side by side, shared by the process's deliver invocations."""
    return ThreadPoolExecutor(max_workers=DELIVER_AT_ONCE, thread_name_prefix="bilagsbro-deliver")
