"""One local stack (Azurite + the local Functions host running function_app.py) for the e2e tests.

No storage mocks here: everything goes over HTTP to the local host and through real Azurite queues,
tables and blobs. host.json is the project's, with a shorter visibilityTimeout so that the poison
test's five tries take seconds, not minutes, and a shorter maxPollingInterval so that no step waits for a poll.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from bilagsbro.azurite import AzuriteNotInstalled, find_azurite

ROOT = Path(__file__).resolve().parents[2]


# Package scope: the stack (and its threads) stop before other packages run, so their background
# work cannot disturb, e.g., Hypothesis's check of the global random state.
@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    try:
        find_azurite()
    except AzuriteNotInstalled as exc:
        pytest.skip(f"Azurite is not installed ({exc}); `make test` installs it with npm ci")
    from bilagsbro.stack import local_stack, stores_for

    data = tmp_path_factory.mktemp("stack")
    host_json = json.loads((ROOT / "host.json").read_text("utf-8"))
    host_json["extensions"]["queues"]["visibilityTimeout"] = "00:00:00.200"
    # An idle queue is polled at least once a second (host.json: every 10 s at most, as in Azure). A message sent
    # through an output binding wakes its poller at once either way; one that comes back by itself (a retry whose
    # visibility ran out, a message the sweeper or a stage sent straight to storage) waits for the next poll.
    host_json["extensions"]["queues"]["maxPollingInterval"] = "00:00:01"
    (data / "host.json").write_text(json.dumps(host_json), "utf-8")
    # The stack puts its settings in the environment (as the Functions host does); they are put back afterwards, so
    # that whatever this process runs next (under xdist: any package, in any order) starts its own storage.
    environment = dict(os.environ)
    try:
        with local_stack(0, data_dir=data, in_memory=True, record=False, host_json=data / "host.json") as host:
            host.stores = stores_for(host.settings["BILAGSBRO_STORAGE"], data)
            yield host
    finally:
        os.environ.clear()
        os.environ.update(environment)


@pytest.fixture
def tenant(stack):
    from pipeline.records.tenants import TenantRegistry

    registry = TenantRegistry(stack.stores.tables)
    made = registry.add("Bakeriet på Røa AS", organization_number="999999999")
    return made, registry.issue_key(made.id)


@pytest.fixture
def client(stack, tenant):
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {tenant[1]}"}, timeout=30) as c:
        yield c
