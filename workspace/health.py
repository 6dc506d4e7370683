"""The daily re-test of every connected client's accounting system, so the clients page's health light says how
the connection is today and not how it was when someone last pressed the button.

Run by the timer `retest_connections` (function_app.py, schedule from the app setting CONNECTION_TEST_SCHEDULE):
each client of every organisation that is connected gets its connection test (pipeline.records.connections.check,
the same test the client page and the admin API run), stored beside the client (Directory.store_check, which keeps
since when a red test has been red). A test that was green and turns red raises the webhook event
`connection.unhealthy` (pipeline.webhook_events), once per client and system a day.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.errors import BilagsbroError
from pipeline.ports import Stores
from pipeline.records.names import TABLE_WORKSPACE
from pipeline.records.tenants import TenantRegistry
from pipeline.registry import Connectors
from workspace.identity import Directory

log = logging.getLogger(__name__)
Emit = Callable[..., int]


@dataclass(frozen=True)
class Retest:
    tenant: str
    target: str
    ok: bool
    turned_red: bool
    red_since: str | None = None


def retest_all(stores: Stores, connectors: Connectors, *, emit: Emit | None = None,
               now: dt.datetime | None = None) -> list[Retest]:
    """Every connected client's connection test, run and stored; the ones that turned red raise their event."""
    from pipeline.records.connections import check
    from workspace.pages_clients import connected

    directory, registry = Directory(stores.tables), TenantRegistry(stores.tables)
    day = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d")
    done = []
    for row in stores.tables.query(TABLE_WORKSPACE, "client"):
        tenant_id = str(row["RowKey"])
        try:
            tenant = registry.get(tenant_id)
        except BilagsbroError:
            continue  # a client whose tenant is gone
        if not connected(tenant):
            continue
        before: dict[str, Any] | None = directory.client_facts(tenant_id)["check"]
        result = check(stores, connectors, tenant)
        directory.store_check(tenant_id, {**result, "by": "daily re-test"})
        stored = directory.client_facts(tenant_id)["check"] or {}
        turned_red = not result["ok"] and bool(before and before.get("ok"))
        if turned_red and emit is not None:
            emit(stores, tenant_id, "connection.unhealthy", f"{tenant_id}.{tenant.target}.retest.{day}",
                 {"target": tenant.target, "error": result.get("error"), "red_since": stored.get("red_since"),
                  "by": "daily re-test"})
        if not result["ok"]:
            log.warning("connection test of %s (%s) is red%s: %s", tenant_id, tenant.target,
                        " (was green)" if turned_red else f" since {stored.get('red_since')}",
                        (result.get("error") or {}).get("message"))
        done.append(Retest(tenant_id, tenant.target, bool(result["ok"]), turned_red, stored.get("red_since")))
    return done
