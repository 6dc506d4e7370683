"""Adapted: documents in the tenant's terms for its accounting system, checked against that system first.

The tenant's rules (pipeline/rules.py) rename accounts, VAT codes and dimensions; the target's preflight then
checks everything the document needs in the accounting system — accounts, VAT codes, customers, dimensions —
and reports every problem at once (`blocked`). What passes goes on to delivery with the exact payload the
target would send in its trace.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from pipeline.envelope import Enclosure, Envelope, pack
from pipeline.errors import ConfigError, DataError, Problem
from pipeline.failed import retry_alone
from pipeline.inflight import Done
from pipeline.model import Document
from pipeline.ports import Stores, Target
from pipeline.problems import annotated
from pipeline.records.history import enclose, load
from pipeline.records.names import QUEUE_TRANSLATED
from pipeline.records.tenants import Tenant, TenantRegistry, through
from pipeline.registry import Connectors
from pipeline.rules import apply
from pipeline.webhook_events import unhealthy


def preflight(stores: Stores, connectors: Connectors, tenant: Tenant, documents: list[Document],
              trace_as: str) -> tuple[Target, list[Document], list[Problem]]:
    """The documents in the tenant's terms and everything its accounting system would refuse in them.

    `trace_as` names the history folder any requests the check makes are kept under.
    """
    target = connectors.target_for(stores, tenant, trace_as)
    adapted = [apply(d, tenant.rules) for d in documents]
    return target, adapted, (target.preflight(adapted) if adapted else [])


def adapt(stores: Stores, connectors: Connectors, env: Envelope, *, dequeue_count: int | None = None) -> Done:
    done = Done()
    tenant = TenantRegistry(stores.tables).current(env.tenant)
    if env.to:  # a resend to another of the tenant's systems: adapted for that one
        try:
            tenant = through(tenant, env.to, sending=True)
        except ConfigError as exc:
            for enclosure in env.documents:
                done.step(env, enclosure, "failed", {"stage": "adapt", "target": env.to, "error": exc.context()})
            return done
    adapted: list[Enclosure] = []
    for enclosure in env.documents:
        try:
            document = load(stores.blobs, stores.tables, env.tenant, enclosure)
        except ValueError as exc:  # a document we kept that the model refuses now: its data must be fixed
            done.step(env, enclosure, "failed", {"stage": "adapt", "target": tenant.target, "error": {"kind": "DataError", "message": str(exc)}})
            continue
        except Exception as exc:
            done.failures.append((enclosure, exc))
            continue
        try:
            result = apply(document, tenant.rules)
            target = connectors.target_for(stores, tenant, enclosure.id)
            problems = target.preflight([result])
        except (ConfigError, DataError) as exc:
            if isinstance(exc, ConfigError):
                unhealthy(stores, env.tenant, tenant.target, enclosure.id, exc)
            done.step(env, enclosure, "failed", {"stage": "adapt", "target": tenant.target, "error": exc.context()},
                      document.reference)
            continue
        except ValueError as exc:  # a rule produced something the model refuses
            done.step(env, enclosure, "failed", {"stage": "adapt", "target": tenant.target, "error": {"kind": "DataError", "message": str(exc)}},
                      document.reference)
            continue
        except Exception as exc:
            done.failures.append((enclosure, exc))
            continue
        if problems:
            done.step(env, enclosure, "blocked", {
                "stage": "preflight", "target": tenant.target,
                "problems": [annotated(p, document, result) for p in problems], "rules_version": tenant.rules_version,
                "remedy": "fix the accounting system or the tenant's rules, then POST .../retry",
            }, document.reference)
            continue
        carried, _ = enclose(stores.blobs, env.tenant, enclosure.id, result, form="adapted", attempt=enclosure.attempt)
        done.step(env, enclosure, "adapted", {
            "target": tenant.target, "adapted": carried.blob or "in the message", "preflight": "ok",
            "payload": _jsonable(target.render(result)), "rules_version": tenant.rules_version,
        }, document.reference)
        adapted.append(carried)
    retry_alone(env, done, "adapt", QUEUE_TRANSLATED, dequeue_count)
    done.onward = pack(replace(env, target=tenant.target), adapted)
    return done


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
