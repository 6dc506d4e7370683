"""The nightly sweep of expired sign-in rows (workspace/sweep.py) run by the `retention` timer on the local host
and Azurite: expired sessions, reset links and throttle rows go; live ones stay."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.records.names import TABLE_SESSIONS, TABLE_WORKSPACE
from workspace.sessions import Sessions, digest, new_reset

pytestmark = pytest.mark.e2e


def _age(tables, table, partition, row, **fields):
    entity = tables.get(table, partition, row)
    tables.upsert(table, {**{k: v for k, v in entity.items() if k != "etag"}, **fields})


def test_the_retention_timer_sweeps_expired_sessions_reset_links_and_throttle_rows(stack):
    tables = stack.stores.tables
    sessions = Sessions(tables)
    long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).isoformat()
    live, idle, old = (sessions.start(email=f"{n}@sweep.example", org="o-sweep", stage="full") for n in "abc")
    key = {s: (digest(s.token)[:2], digest(s.token)) for s in (live, idle, old)}
    _age(tables, TABLE_SESSIONS, *key[idle], SeenAt=(dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat())
    _age(tables, TABLE_SESSIONS, *key[old], CreatedAt=long_ago, SeenAt=long_ago)
    fresh_link, old_link = new_reset(tables, "a@sweep.example"), new_reset(tables, "b@sweep.example")
    _age(tables, TABLE_WORKSPACE, "reset", digest(old_link), ExpiresAt=long_ago)
    tables.upsert(TABLE_WORKSPACE, {"PartitionKey": "throttle", "RowKey": "ip-sweep-old", "Count": 7,
                                    "WindowStart": long_ago})
    tables.upsert(TABLE_WORKSPACE, {"PartitionKey": "throttle", "RowKey": "ip-sweep-now", "Count": 3,
                                    "WindowStart": dt.datetime.now(dt.UTC).isoformat()})

    stack.invoke_timer("retention")

    assert tables.get(TABLE_SESSIONS, *key[live]) is not None
    assert tables.get(TABLE_SESSIONS, *key[idle]) is None and tables.get(TABLE_SESSIONS, *key[old]) is None
    assert sessions.get(live.token) is not None
    assert tables.get(TABLE_WORKSPACE, "reset", digest(fresh_link)) is not None
    assert tables.get(TABLE_WORKSPACE, "reset", digest(old_link)) is None
    assert tables.get(TABLE_WORKSPACE, "throttle", "ip-sweep-now") is not None
    assert tables.get(TABLE_WORKSPACE, "throttle", "ip-sweep-old") is None
