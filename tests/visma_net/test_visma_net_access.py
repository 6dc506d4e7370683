"""Onboarding Visma.net: the connection test says what it reaches and, when it cannot, what is wrong in the words a
customer can act on — wrong secret, a tenant that has not approved Bilagsbro, the agreement's tenant id instead of
the company's, a scope not granted, a branch that does not exist, a resource the integration may not reach — and
`bilagsbro connect TENANT visma-net` takes Visma.net's settings and secret as the registry describes them."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from bilagsbro import cli
from pipeline.errors import ConfigError
from pipeline.memory import MemoryBlobs, MemorySecrets, MemoryTables
from pipeline.model import Voucher
from pipeline.ports import Stores
from pipeline.tenants import TenantRegistry
from sandboxes.visma_net.server import SCOPES
from tests.visma_net.visma_net_support import Wired

SALE = Voucher(reference="TILGANG-1", date="2026-11-04",
               lines=[{"account": "1920", "amount": "10.00"}, {"account": "3100", "amount": "-10.00"}])


def refused(target_of: Callable[[], object], *words: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        target_of()
    for text in words:
        assert text in caught.value.message, caught.value.message
    assert caught.value.connector == "visma-net"
    return caught.value


def test_the_connection_test_says_which_company_branch_scopes_and_periods(w: Wired) -> None:
    answer = w.target().check()
    assert answer["target"] == "visma-net" and answer["company"] == "Fjellbekk Handel AS" and answer["branch"] == "1"
    assert set(answer["scopes"]) == set(SCOPES[:2]) and answer["drafts"].startswith("on hold")
    assert answer["open_periods"].endswith("12") and answer["tenant_id"] == w.sandbox.tenant_id
    assert w.sandbox.batches == []


def test_a_wrong_client_secret(make: Callable[..., Wired]) -> None:
    wired = make()
    wired.context.secrets.set("visma-net-secret", "feil")
    error = refused(wired.target().check, "Visma Connect refused the client id or client secret")
    assert error.provider_message == "invalid_client"
    refused(lambda: wired.target().deliver(SALE), "client id or client secret")


def test_a_tenant_that_has_not_approved_bilagsbro(make: Callable[..., Wired]) -> None:
    wired = make(tenant_id="00000000-0000-4000-8000-000000000000")
    refused(wired.target().check, "refused the tenant id 00000000-0000-4000-8000-000000000000",
            "approve Bilagsbro in Visma App Store")


def test_the_customer_agreements_tenant_id_instead_of_the_companys(make: Callable[..., Wired]) -> None:
    wired = make(tenant_id=make().sandbox.customer_tenant_id)
    error = refused(wired.target().check, "No license for this company.", "the company's own tenant id")
    assert error.status == 403 and error.request_id and error.request_id.startswith("12027_")
    refused(lambda: wired.target().deliver(SALE), "No license for this company.")
    assert wired.sandbox.count("POST", "/connect/token") == 1  # a new token would not help: not asked twice


def test_a_scope_the_company_has_not_granted(make: Callable[..., Wired]) -> None:
    wired = make(direct_posting=True)
    wired.sandbox.granted.discard("vismanet_erp_service_api:update")
    refused(wired.target().check, "has not granted Bilagsbro's integration",
            "vismanet_erp_service_api:update", "Visma App Store")


def test_a_branch_the_company_does_not_have(make: Callable[..., Wired]) -> None:
    wired = make(branch="7")
    refused(wired.target().check, "no active branch 7", "branches: 1")


def test_a_resource_the_integration_may_not_reach(make: Callable[..., Wired]) -> None:
    wired = make()
    wired.sandbox.forbidden_paths.add("/v1/branch")
    error = refused(wired.target().check, "Visma.net refused GET /v1/branch", "lacks access")
    assert error.status == 403


def test_settings_are_checked_by_name(make: Callable[..., Wired]) -> None:
    wired = make(tenant_id="ikke-en-uuid", department_segment=0)
    with pytest.raises(ConfigError) as caught:
        wired.target()
    assert {p.field for p in caught.value.problems} == {"settings.tenant_id", "settings.department_segment"}


def test_bilagsbro_connect_takes_visma_nets_settings_and_secret(
        make: Callable[..., Wired], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    stores = Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())
    monkeypatch.setattr(cli, "_with_stores", lambda fn: fn(stores))
    tenant = TenantRegistry(stores.tables).add("Fjellbekk Handel AS")
    box = make().sandbox
    monkeypatch.setenv("VN_SECRET", box.client_secret)
    code = cli.main(["connect", tenant.id, "visma-net", "--tenant-id", box.tenant_id, "--client-id", box.client_id,
                     "--base-url", box.base_url, "--token-url", box.token_url, "--branch", "1",
                     "--department-segment", "1", "--client-secret-env", "VN_SECRET"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 0 and answer["activated"] and answer["check"]["company"] == "Fjellbekk Handel AS"
    after = TenantRegistry(stores.tables).get(tenant.id)
    assert after.target == "visma-net" and after.target_settings["tenant_id"] == box.tenant_id
    assert box.client_secret not in json.dumps(after.target_settings)  # the secret is in the secret store only


def test_bilagsbro_connect_with_a_wrong_secret_changes_nothing(
        make: Callable[..., Wired], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    stores = Stores(MemoryBlobs(), MemoryTables(), MemorySecrets())
    monkeypatch.setattr(cli, "_with_stores", lambda fn: fn(stores))
    tenant = TenantRegistry(stores.tables).add("Fjellbekk Handel AS")
    box = make().sandbox
    monkeypatch.setenv("VN_SECRET", "feil-hemmelighet")
    code = cli.main(["connect", tenant.id, "visma-net", "--tenant-id", box.tenant_id, "--client-id", box.client_id,
                     "--base-url", box.base_url, "--token-url", box.token_url, "--client-secret-env", "VN_SECRET"])
    said = capsys.readouterr()
    assert code != 0 and "client id or client secret" in said.out + said.err
    assert "feil-hemmelighet" not in said.out + said.err
    assert TenantRegistry(stores.tables).get(tenant.id).target == "file"
