"""`bilagsbro workspace …` as an operator types it, against the local stack's Azurite: an organisation, a client,
a user whose password comes from the environment (never an argument), a role, a reset link that works once in the
served workspace."""

from __future__ import annotations

import json
import re

import httpx

from pipeline.records.tenants import TenantRegistry
from tests.e2e.test_cli import bilagsbro
from workspace.identity import Directory


def test_organisation_client_user_role_and_a_reset_link_from_the_command_line(stack):
    env = {"BILAGSBRO_STORAGE": stack.settings["BILAGSBRO_STORAGE"]}
    tenant = TenantRegistry(stack.stores.tables).add("Sykkelverkstedet på Ørland AS")
    org = bilagsbro("workspace", "org-add", "--name", "Tall og Tråd Regnskap AS", env=env)
    assert org.returncode == 0, org.stderr
    org_id = json.loads(org.stdout)["org_id"]
    assert bilagsbro("workspace", "client-add", org_id, tenant.id, env=env).returncode == 0
    refused = bilagsbro("workspace", "user-add", org_id, "kari@tall.example", "--password", "hemmelig passord", env=env)
    assert refused.returncode == 2 and "hemmelig passord" not in refused.stderr + refused.stdout
    added = bilagsbro("workspace", "user-add", org_id, "kari@tall.example", "--password-env", "KARI_PASSORD",
                      env={**env, "KARI_PASSORD": "et passord fra miljøet"})
    assert added.returncode == 0, added.stderr
    assert "reset_link" not in json.loads(added.stdout)
    role = bilagsbro("workspace", "role", "kari@tall.example", tenant.id, "accountant", env=env)
    assert role.returncode == 0 and json.loads(role.stdout)["roles"] == {tenant.id: "accountant"}
    assert Directory(stack.stores.tables).user("kari@tall.example").role(tenant.id) == "accountant"

    link = bilagsbro("workspace", "reset-link", "kari@tall.example", "--base-url", stack.url, env=env)
    assert link.returncode == 0, link.stderr
    url = link.stdout.strip()
    assert url.startswith(f"{stack.url}/api/app/reset/")
    with httpx.Client(timeout=30) as browser:
        page = browser.get(url)
        assert page.status_code == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        browser.cookies.set("bb_session", page.cookies["bb_session"])
        done = browser.post(url, data={"csrf": csrf, "password": "et nytt passord fra lenken"})
        assert done.status_code == 200 and "Passordet er byttet" in done.text
        assert browser.get(url).status_code == 410  # once only
